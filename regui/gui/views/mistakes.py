"""The test images the run got wrong, as a gallery: true and predicted class and the model's
confidence, the most confident mistakes first; a click opens the image larger."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QComboBox, QDialog, QLabel, QListView, QVBoxLayout

from regui.core import diagnostics as dg
from regui.core.images import UnreadableImage, cv2
from regui.core.thumbnails import thumbnail
from regui.gui.thumbs import ThumbnailCache, to_qimage
from regui.gui.views.base import InspectView, class_names
from regui.gui.views.common_run import RunChooser, predictions

_ALL = -1


class MistakesModel(QAbstractListModel):
    def __init__(self, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.items: list[dg.Mistake] = []
        self.class_names: list[str] = []
        self.confidence_name = "probability"
        self._placeholder = QPixmap(thumbs.size, thumbs.size)
        self._placeholder.fill(QColor("#eeeeee"))
        thumbs.ready.connect(self._thumbs_arrived)

    def set_items(self, items: list[dg.Mistake], class_names: list[str], confidence_name: str) -> None:
        self.beginResetModel()
        self.items, self.class_names, self.confidence_name = items, class_names, confidence_name
        self.endResetModel()

    def confidence_text(self, m: dg.Mistake) -> str:
        return f"{m.confidence:.0%} sure" if self.confidence_name == "probability" else f"margin {m.confidence:.3g}"

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        m = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{self.class_names[m.true]} → {self.class_names[m.predicted]}\n{self.confidence_text(m)}"
        if role == Qt.ItemDataRole.DecorationRole:
            image = self.thumbs.get(m.path)
            return QPixmap.fromImage(image) if image is not None else self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            why = self.thumbs.failed.get(m.path)
            return m.path + (f"\nCannot be shown: {why}" if why else "")
        return None

    def _thumbs_arrived(self) -> None:
        if self.items:
            self.dataChanged.emit(self.index(0), self.index(len(self.items) - 1), [Qt.ItemDataRole.DecorationRole])


class MistakesView(InspectView):
    title = "Mistakes"
    has_csv = True

    def __init__(self, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.run_box = RunChooser()
        self.true_box, self.pred_box = QComboBox(), QComboBox()
        self.options.add(QLabel("Run:"), self.run_box)
        self.options.add(QLabel("True:"), self.true_box)
        self.options.add(QLabel("Predicted:"), self.pred_box)
        for box in (self.run_box, self.true_box, self.pred_box):
            box.currentIndexChanged.connect(self.refresh)
        self.model = MistakesModel(thumbs, self)
        self.gallery = QListView()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setUniformItemSizes(True)  # no per-item size queries: hundreds lay out at once
        self.gallery.setLayoutMode(QListView.LayoutMode.Batched)
        self.gallery.setIconSize(QSize(thumbs.size, thumbs.size))
        self.gallery.setGridSize(QSize(thumbs.size + 40, thumbs.size + 44))
        self.gallery.setWordWrap(True)
        self.gallery.setModel(self.model)
        self.gallery.clicked.connect(self.open_larger)
        self.gallery.activated.connect(self.open_larger)
        self.set_body(self.gallery)
        self._class_names: tuple = ()
        self.shown: tuple[str, int] | None = None

    def redraw(self) -> None:
        entry = self.run_box.set_entries(self.entries)
        self.shown = None
        if entry is None:
            self._show([], [], self.waiting or "Train a run to see the test images it gets wrong.")
            return
        names = class_names(entry)
        self._offer_classes(names)
        shown, why = predictions(self, entry)
        if shown is None:
            self._show([], names, f"{entry.label}: {why}.")
            return
        wanted, snap, labels = shown.wanted, shown.snap, shown.labels
        found = dg.mistakes(shown.paths, labels, snap.test_pred, snap.test_confidence)
        self.shown = (entry.label, snap.epoch)
        true, pred = self.true_box.currentData(), self.pred_box.currentData()
        chosen = [m for m in found if true in (_ALL, m.true) and pred in (_ALL, m.predicted)]
        note = self.snapshot_note(entry, wanted, snap)
        text = (
            f"{entry.label}, epoch {snap.epoch}{f' ({note})' if note else ''}: {len(found):,} of {len(labels):,} "
            f"test images misclassified"
            + (f", {len(chosen):,} shown" if len(chosen) != len(found) else "")
            + ". Most confident mistakes first; click one to see it larger."
        )
        self._show(chosen, names, text, dg.confidence_name(entry.record.config.loss))

    def _show(self, items, names, text, confidence_name="probability") -> None:
        self.model.set_items(items, names, confidence_name)
        self.note.setText(text)

    def _offer_classes(self, names: list[str]) -> None:
        if tuple(names) == self._class_names:
            return
        self._class_names = tuple(names)
        for box in (self.true_box, self.pred_box):
            box.blockSignals(True)
            box.clear()
            box.addItem("any", _ALL)
            for k, name in enumerate(names):
                box.addItem(name, k)
            box.blockSignals(False)

    def open_larger(self, index) -> None:
        if not index.isValid():
            return
        m = self.model.items[index.row()]
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(Path(m.path).name)
        layout = QVBoxLayout(dialog)
        picture = QLabel()
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        try:
            picture.setPixmap(QPixmap.fromImage(to_qimage(thumbnail(m.path, 384))))
        except (UnreadableImage, cv2.error, OSError) as exc:
            picture.setText(f"Cannot show this file now: {exc}")
        names = self.model.class_names
        info = QLabel(
            f"<b>True:</b> {escape(names[m.true])} &nbsp; <b>Predicted:</b> {escape(names[m.predicted])} "
            f"({self.model.confidence_text(m)})<br><small>{escape(m.path)}</small>"
        )
        info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        info.setWordWrap(True)
        layout.addWidget(picture, 1)
        layout.addWidget(info)
        dialog.open()
        self.last_dialog = dialog

    def export_png(self, path: str) -> None:
        # Paint once so the visible cells ask for their thumbnails, let those arrive, then save.
        self.content.grab()
        self.model.thumbs.wait_idle()
        super().export_png(path)

    def csv_rows(self) -> list[dict]:
        self.refresh_now()
        if self.shown is None:
            return []
        label, epoch = self.shown
        entry = self.run_box.set_entries(self.entries)
        name = dg.confidence_name(entry.record.config.loss) if entry else "confidence"
        return dg.mistake_rows(label, epoch, self.model.items, self.model.class_names, name)
