"""The dataset panel: choose a folder, watch it load, see what was found."""

from __future__ import annotations

import html

from PySide6.QtCore import QDir, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCompleter,
    QFileDialog,
    QFileSystemModel,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

THUMB_SIZE = 44
_CLASSES_SHOWN = 3  # rows of thumbnails in view; more scroll


def pixmap_from_rgb(array) -> QPixmap:
    """A QPixmap from an RGB uint8 array (H, W, 3). GUI thread only."""
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage must not outlive the array's buffer


class DatasetPanel(QWidget):
    folder_chosen = Signal(str)
    cancel_requested = Signal()
    reload_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.path = QLineEdit()
        self.path.setPlaceholderText("Folder with one sub-folder per class")
        self.path.setToolTip("Type or paste a folder and press Enter, or drop a folder on the window")
        self.path.returnPressed.connect(lambda: self._choose(self.path.text()))
        dirs = QFileSystemModel(self)
        dirs.setFilter(QDir.Filter.AllDirs | QDir.Filter.NoDotAndDotDot)
        dirs.setRootPath("")
        self.path.setCompleter(QCompleter(dirs, self))

        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        self.reload_button = QToolButton()
        self.reload_button.setText("Reload")
        self.reload_button.setToolTip("Load the folder again (after its files or the image settings changed)")
        self.reload_button.clicked.connect(self.reload_requested)
        self.recent = QToolButton()
        self.recent.setText("Recent")
        self.recent.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent.setMenu(QMenu(self.recent))
        self.recent.setEnabled(False)

        self.progress = QProgressBar()
        self.progress.setFormat("Loading %v / %m images")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel("No dataset loaded.")
        self.summary.setWordWrap(True)

        self.classes = QWidget()
        self.classes_layout = QGridLayout(self.classes)
        self.classes_layout.setContentsMargins(0, 0, 0, 0)
        self.classes_area = QScrollArea()
        self.classes_area.setWidget(self.classes)
        self.classes_area.setWidgetResizable(True)
        self.classes_area.setMaximumHeight(_CLASSES_SHOWN * (THUMB_SIZE + 10))
        self.classes_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.classes_hint = QLabel()  # the strip shows three classes: say that it scrolls
        self.classes_hint.setStyleSheet("color: #666;")
        self.classes_hint.hide()

        self.skipped_toggle = QToolButton()
        self.skipped_toggle.setCheckable(True)
        self.skipped_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.skipped_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.skipped_toggle.setAutoRaise(True)
        self.skipped_toggle.toggled.connect(self._toggle_skipped)
        self.skipped = QTreeWidget()
        self.skipped.setHeaderLabels(["File", "Why it was skipped"])
        self.skipped.setRootIsDecorated(False)
        self.skipped.setMaximumHeight(160)
        self.skipped.hide()

        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.reload_button)
        row.addWidget(self.recent)
        loading = QHBoxLayout()
        loading.addWidget(self.progress, 1)
        loading.addWidget(self.cancel)
        self.loading = QWidget()
        self.loading.setLayout(loading)
        loading.setContentsMargins(0, 0, 0, 0)
        # The progress row takes the summary's place while loading, in a stack that keeps its
        # size: nothing else is laid out again, which matters because a relayout calls Python
        # code (the spin boxes) while a busy loader competes for the GIL.
        self.status = QStackedWidget()
        self.status.addWidget(self.summary)
        self.status.addWidget(self.loading)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addWidget(self.classes_area)
        layout.addWidget(self.classes_hint)
        layout.addWidget(self.skipped_toggle)
        layout.addWidget(self.skipped)
        self.error.hide()
        self.skipped_toggle.hide()
        self.classes_area.hide()

    # --- what the window tells the panel ------------------------------------------------------

    def set_recent(self, folders: list[str]) -> None:
        menu = self.recent.menu()
        menu.clear()
        for folder in folders:
            action = menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self._choose(f))
        self.recent.setEnabled(bool(folders))

    def show_loading(self, folder: str) -> None:
        self.path.setText(folder)
        self.error.hide()
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.status.setCurrentWidget(self.loading)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def show_loaded(self, result) -> None:
        self.status.setCurrentWidget(self.summary)
        self.error.hide()
        ds = result.dataset
        counts = ds.counts()
        source = "from cache" if ds.from_cache else "decoded"
        image = f"{ds.image.width}×{ds.image.height} {'colour' if ds.image.color else 'grayscale'}"
        reduced = f" · {ds.n_reduced:,} decoded reduced" if ds.n_reduced else ""
        self.summary.setText(
            f"<b>{ds.n_images:,} images</b> in <b>{len(ds.class_names)} classes</b> · {len(ds.skipped)} skipped · "
            f"{image}{reduced} · {source} in {ds.seconds:.1f} s"
        )
        # The full sentence (the "exact" box under Channels turns it off) where the line has no room.
        self.summary.setToolTip("\n".join(filter(None, [str(ds.root), ds.reduced_text()])))
        self._show_classes(ds.class_names, counts, result.thumbnails)
        self._show_skipped(ds.skipped)
        if ds.notes:
            self.show_error("\n".join(ds.notes))

    def show_error(self, message: str) -> None:
        """Shown under the path; whatever dataset was loaded before stays loaded and shown."""
        self.status.setCurrentWidget(self.summary)
        self.error.setText(message)
        self.error.show()

    def show_cancelled(self) -> None:
        self.status.setCurrentWidget(self.summary)

    # --- inside -------------------------------------------------------------------------------

    def _choose(self, folder: str) -> None:
        folder = folder.strip()
        if folder:
            self.folder_chosen.emit(folder)

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a dataset folder (one sub-folder per class)", self.path.text()
        )
        if folder:
            self._choose(folder)

    def _show_classes(self, names, counts, thumbnails) -> None:
        while self.classes_layout.count():
            item = self.classes_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for row, (name, count, thumbs) in enumerate(zip(names, counts, thumbnails)):
            label = QLabel(f"{html.escape(name)}<br><span style='color:#666'>{count:,}</span>")
            label.setTextFormat(Qt.TextFormat.RichText)
            self.classes_layout.addWidget(label, row, 0)
            for col, thumb in enumerate(thumbs, start=1):
                picture = QLabel()
                pixmap = pixmap_from_rgb(thumb)
                picture.setPixmap(
                    pixmap.scaled(
                        THUMB_SIZE,
                        THUMB_SIZE,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
                picture.setToolTip(html.escape(name))
                self.classes_layout.addWidget(picture, row, col)
        self.classes_layout.setColumnStretch(6, 1)
        self.classes_area.show()
        self.classes_hint.setText(f"{len(names)} classes: scroll the strip for all of them")
        self.classes_hint.setVisible(len(names) > _CLASSES_SHOWN)

    def _show_skipped(self, skipped) -> None:
        self.skipped.clear()
        for item in skipped:
            entry = QTreeWidgetItem([item.relpath, item.reason])
            entry.setToolTip(0, item.relpath)
            entry.setToolTip(1, item.reason)
            self.skipped.addTopLevelItem(entry)
        self.skipped.resizeColumnToContents(0)
        self.skipped_toggle.setText(f"Skipped files ({len(skipped)})")
        self.skipped_toggle.setVisible(bool(skipped))
        self.skipped.setVisible(bool(skipped) and self.skipped_toggle.isChecked())

    def _toggle_skipped(self, shown: bool) -> None:
        self.skipped_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.skipped.setVisible(shown)
