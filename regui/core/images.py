"""Decoding and resizing image files with OpenCV, one file at a time or many in parallel.

One documented behaviour for every kind of file:
- colour mode gives 3 channels in OpenCV's BGR order (as the lesson's script); grayscale, palette
  and 16-bit images are converted (16-bit scaled down to 8-bit), an alpha channel is dropped;
- grayscale mode gives 1 channel: the colour image converted with ``cv2.cvtColor(BGR2GRAY)``
  (decoders' own grayscale paths round differently from one format to another);
- EXIF orientation is applied, so a photo is used the way a viewer shows it;
- HEIC/HEIF photos are decoded by pillow-heif where it is installed (``heif``), the rest by OpenCV;
- a large JPEG is decoded at reduced scale (1/2, 1/4 or 1/8) when that keeps the result within a
  grey level of the full decode (``reduced_decode``), unless ``ImageSettings.exact_decode``;
- every image is resized to exactly width x height with ``INTER_AREA`` (aspect ratio not kept,
  as in the lesson) and flattened row by row: feature index = (row * width + col) * channels + c.
A file that cannot be decoded raises :class:`UnreadableImage` with a reason meant for a person.

Memory: a small file can declare a huge image (a 117 KB PNG of 11000 x 11000 decodes to 740
MB). So each file's header is read first (Pillow reads it without decoding): an image over
``MAX_IMAGE_PIXELS`` is refused as it is, and the rest are decoded within a memory budget
shared by every decoding thread (``decode_budget``), so that a folder of such files is decoded
one or two at a time instead of one per core at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from regui.core import heif
from regui.core.config import ImageSettings
from regui.core.errors import Cancelled
from regui.core.image_header import MAX_IMAGE_PIXELS, TOO_LARGE, Header, read_header
from regui.core.machine import default_workers, physical_memory
from regui.core.progress import ProgressCallback, StopCheck
from regui.core.reduced_decode import DECODE_BYTES_PER_PIXEL, decode_bytes_needed, reduction

# OpenCV reads its limit once, on first use: set it first (it is Pillow's, which reads headers).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
# Bad files are reported per file by regui; OpenCV's own stderr warnings would only be noise.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402

_UNREADABLE = "not a readable image (corrupt, truncated or unsupported format)"

#: Files larger than this are not read into memory at all.
MAX_FILE_BYTES = 256 * 1024 * 1024


class UnreadableImage(Exception):
    """One file could not be turned into pixels; ``str(exc)`` is the reason.

    ``transient`` marks failures that may not happen again (a read error, a permission, memory):
    those are retried next time rather than remembered in the cache.
    """

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


def read_bytes(path: str | os.PathLike) -> np.ndarray:
    """A file's bytes for ``cv2.imdecode``; raises UnreadableImage for empty, huge or unreadable files."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise UnreadableImage("empty file (0 bytes)")
        if size > MAX_FILE_BYTES:
            raise UnreadableImage(f"file too large ({size / 2**20:.0f} MB)")
        # np.fromfile + imdecode instead of imread: works for non-ASCII paths on Windows too.
        return np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UnreadableImage(f"cannot read: {exc.strerror or exc}", transient=True) from None


def decode_budget() -> int:
    """Bytes all decoding threads together may hold in images being decoded: an eighth of the
    memory, from 256 MB to 4 GB (1 GB where the memory is not known). An image needing more
    than all of it is decoded alone."""
    total = physical_memory()
    if not total:
        return 1 << 30
    return int(min(max(total // 8, 256 << 20), 4 << 30))


class _MemoryBudget:
    """Bytes handed out to decoding threads, and taken back; a thread waits while the rest is
    in use (one asking for more than all of it waits until it is the only one)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._used = 0

    def take(self, amount: int) -> int:
        with self._condition:
            budget = decode_budget()
            amount = min(amount, budget)
            while self._used and self._used + amount > budget:
                self._condition.wait()
            self._used += amount
        return amount

    def give(self, amount: int) -> None:
        with self._condition:
            self._used -= amount
            self._condition.notify_all()


_BUDGET = _MemoryBudget()


def _too_large(header: Header) -> str:
    count = f"over {MAX_IMAGE_PIXELS:,}" if header is TOO_LARGE else f"{header.pixels:,}"
    return f"image too large ({count} pixels; at most {MAX_IMAGE_PIXELS:,} are decoded)"


# OpenCV's flag for a colour decode at each reduction (reduced_decode.REDUCTIONS, and 1: in full).
_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_bytes(
    data: np.ndarray,
    shrink: Callable[[np.ndarray], np.ndarray],
    reduce_for: Callable[[Header | None], int] | None = None,
) -> tuple[np.ndarray, int]:
    """``shrink`` of the image in ``data`` (8-bit BGR, EXIF rotation applied), and the factor it
    was decoded at (1: in full; ``reduce_for(header)`` chooses, see ``reduced_decode``).

    The header is checked first, and the memory of both steps is taken from the budget all
    decoding threads share (only the small result leaves it). UnreadableImage for a file that
    cannot be used.
    """
    is_heif = heif.looks_like_heif(data)
    header = read_header(data, is_heif)
    if header is not None and header.pixels > MAX_IMAGE_PIXELS:
        raise UnreadableImage(_too_large(header))
    if is_heif and not heif.register():  # before taking memory for it: it will not be decoded
        raise UnreadableImage(heif.MISSING)
    factor = reduce_for(header) if reduce_for is not None else 1
    needed = DECODE_BYTES_PER_PIXEL * MAX_IMAGE_PIXELS if header is None else decode_bytes_needed(header, factor)
    taken = _BUDGET.take(needed)
    try:
        image = _decode(data, factor, is_heif)
        if image is None or image.size == 0:
            raise UnreadableImage(_UNREADABLE)
        return shrink(image), factor
    finally:
        _BUDGET.give(taken)


def _decode(data: np.ndarray, factor: int, is_heif: bool) -> np.ndarray | None:
    if is_heif:  # in full: pillow-heif has no reduced decode
        try:
            return heif.decode(data)
        except (OSError, ValueError, EOFError, SyntaxError):  # Pillow's "cannot identify image file <object>"
            raise UnreadableImage(_UNREADABLE) from None
        except Exception as exc:  # noqa: BLE001 - Pillow and libheif raise many kinds for a bad file
            raise UnreadableImage(f"could not decode: {str(exc)[:160] or type(exc).__name__}") from None
    try:
        return cv2.imdecode(data, _FLAGS[factor])
    except cv2.error as exc:
        raise UnreadableImage(_describe_cv2_error(exc)) from None


def decode_file(path: str | os.PathLike, settings: ImageSettings) -> tuple[np.ndarray, int]:
    """Read, decode, resize and flatten one file: uint8 of length ``settings.n_features``, and the
    factor it was decoded at (1: in full; a large JPEG is reduced unless ``settings.exact_decode``)."""

    def shrink(image: np.ndarray) -> np.ndarray:
        if not settings.color:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        resized = cv2.resize(image, (settings.width, settings.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(resized).reshape(-1)

    def reduce_for(header: Header | None) -> int:
        return 1 if settings.exact_decode else reduction(header, settings.width, settings.height)

    return decode_bytes(read_bytes(path), shrink, reduce_for)


def _describe_cv2_error(exc: cv2.error) -> str:
    text = str(exc)
    if "MAX_IMAGE_PIXELS" in text or "pixels" in text.lower() and "limit" in text.lower():
        return f"image too large (over {MAX_IMAGE_PIXELS:,} pixels)"
    # OpenCV messages are long and carry source paths; keep the part a person can use.
    detail = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    return f"could not decode: {detail[:160]}"


@dataclass
class Decoded:
    """What ``decode_files`` produced: one row of X per path (zeros where a file failed)."""

    X: np.ndarray
    failures: dict[int, str] = field(default_factory=dict)  # path index -> reason
    transient: set[int] = field(default_factory=set)  # failures worth retrying next time
    reduced: set[int] = field(default_factory=set)  # files decoded at reduced scale


def decode_files(
    paths: Sequence[str | os.PathLike],
    settings: ImageSettings,
    *,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    workers: int | None = None,
) -> Decoded:
    """Decode many files on a thread pool (OpenCV releases the GIL).

    ``progress(done, total)`` is called from the calling thread. If ``should_stop()`` becomes
    true, pending files are cancelled and :class:`~regui.core.errors.Cancelled` is raised
    within a file or two.
    """
    total = len(paths)
    result = Decoded(np.zeros((total, settings.n_features), dtype=np.uint8))
    if progress:
        progress(0, total)
    if total == 0:
        return result

    def work(index: int) -> None:
        try:
            result.X[index], factor = decode_file(paths[index], settings)
            if factor > 1:
                result.reduced.add(index)
        except UnreadableImage as exc:
            result.failures[index] = str(exc)
            if exc.transient:
                result.transient.add(index)
        except Exception as exc:  # noqa: BLE001 - one odd file must never stop the load
            result.failures[index] = f"could not decode: {type(exc).__name__}: {exc}"
            result.transient.add(index)

    workers = workers or default_workers()
    last_reported = 0
    report_every = max(1, total // 200)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regui-decode") as pool:
        futures = [pool.submit(work, i) for i in range(total)]
        try:
            for done, _ in enumerate(as_completed(futures), start=1):
                if should_stop and should_stop():
                    raise Cancelled("Loading cancelled.")
                if progress and (done - last_reported >= report_every or done == total):
                    last_reported = done
                    progress(done, total)
        finally:
            # On cancel (or any error) drop the queue; only files already being decoded finish.
            for future in futures:
                future.cancel()
    return result
