"""Thumbnails of image files, decoded on background threads and kept in a bounded cache.

Views ask with ``get(path)``: a cached image comes back at once; otherwise None, the file is
queued, and ``ready`` fires once a batch has arrived, so the view repaints. Decoding never runs
on the GUI thread, and only the files a view actually shows are asked for.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from regui.core.thumbnails import thumbnail


def to_qimage(rgb) -> QImage:
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: own the pixels


def squared(rgb, side: int):
    """``rgb`` centred on a white square: every gallery cell the same size, whatever the photo's shape."""
    import numpy as np

    h, w = rgb.shape[:2]
    out = np.full((side, side, 3), 255, dtype=np.uint8)
    top, left = (side - min(h, side)) // 2, (side - min(w, side)) // 2
    out[top : top + min(h, side), left : left + min(w, side)] = rgb[:side, :side]
    return out


_RETRY_AFTER = 10.0  # seconds before a file that could not be read is tried again


class ThumbnailCache(QObject):
    ready = Signal()

    def __init__(self, size: int = 96, capacity: int = 1500, parent=None) -> None:
        super().__init__(parent)
        self.size, self.capacity = size, capacity
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self.failed: dict[str, str] = {}  # path -> why it could not be shown
        self._failed_at: dict[str, float] = {}  # tried again after a while: a read error may pass
        self._closed = False
        self._pending: dict[str, Future] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="regui-thumbs")
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._collect)

    def get(self, path: str) -> QImage | None:
        image = self._images.get(path)
        if image is not None:
            self._images.move_to_end(path)
            return image
        if path in self.failed and time.monotonic() - self._failed_at[path] > _RETRY_AFTER:
            del self.failed[path]
        if path not in self._pending and path not in self.failed and not self._closed:
            self._pending[path] = self._pool.submit(thumbnail, path, self.size)
            self._timer.start()
        return None

    def _collect(self) -> None:
        arrived = False
        for path, future in list(self._pending.items()):
            if not future.done():
                continue
            del self._pending[path]
            arrived = True
            try:
                self._images[path] = to_qimage(squared(future.result(), self.size))
            except Exception as exc:  # noqa: BLE001 - a file deleted or damaged since loading
                self.failed[path] = str(exc) or type(exc).__name__
                self._failed_at[path] = time.monotonic()
            while len(self._images) > self.capacity:
                self._images.popitem(last=False)
        if not self._pending:
            self._timer.stop()
        if arrived:
            self.ready.emit()

    def wait_idle(self) -> None:
        """Finish what is queued (tests, exports)."""
        for future in list(self._pending.values()):
            try:
                future.result()
            except Exception:  # noqa: BLE001 - recorded by _collect
                pass
        self._collect()

    def close(self) -> None:
        self._closed = True
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
