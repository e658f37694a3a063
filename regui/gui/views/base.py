"""What every inspection view shares: the runs and epoch it shows, drawing only while visible,
and export to PNG (and CSV for the views with data behind them)."""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from regui.core.export import ExportError
from regui.core.records import RUNNING, WAITING, EpochResult
from regui.gui.plot_style import settle
from regui.gui.run_entry import RunEntry
from regui.gui.widgets import WrappingRow


class InspectView(QWidget):
    """A view of some runs at one epoch. Subclasses build their widgets and implement ``redraw``;
    they are only redrawn while visible (a hidden tab costs nothing while runs stream)."""

    title = ""
    has_csv = False
    # Said instead of a view's "train a run" note while runs go on that have nothing to show
    # yet (a big sweep keeps each run's weights only when it ends); set by the inspector.
    waiting = ""
    export_requested = Signal(object, str)  # this view, "png" or "csv"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[RunEntry] = []
        self.epoch: int | None = None  # None: each run's newest epoch
        self._dirty = True
        self.options = WrappingRow()  # the view's own controls: they wrap in a narrow dock
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Image (PNG)…", lambda: self.export_requested.emit(self, "png"))
        if self.has_csv:
            menu.addAction("Data (CSV)…", lambda: self.export_requested.emit(self, "csv"))
        self.export_button.setMenu(menu)
        self.note = QLabel()  # what is shown, or why nothing is
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        top = QHBoxLayout()
        top.addWidget(self.options, 1)
        top.addWidget(self.export_button)
        # What exports as the picture: the caption and the drawing, not the controls.
        self.content = QWidget()
        self._content_layout = QVBoxLayout(self.content)
        self._content_layout.setContentsMargins(0, 0, 0, 0)
        self._content_layout.addWidget(self.note)
        self.content.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.content, 1)

    def set_body(self, widget: QWidget) -> None:
        self.body = widget
        self._content_layout.addWidget(widget, 1)

    # --- what to show -----------------------------------------------------------------------

    def set_target(self, entries: list[RunEntry], epoch: int | None, draw: bool = True) -> None:
        """Show ``entries`` at ``epoch``; ``draw=False``: remember, and draw at the next ``refresh``."""
        self.entries, self.epoch = list(entries), epoch
        if draw:
            self.refresh()
        else:
            self._dirty = True

    def refresh(self) -> None:
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        self._redraw_settled()

    def _redraw_settled(self) -> None:
        """``redraw``, then the plots' axes fitted to the new data at once (one paint, not two)."""
        self.redraw()
        for canvas in self.findChildren(pg.GraphicsView):
            settle(canvas)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def redraw(self) -> None:
        raise NotImplementedError

    def epoch_for(self, entry: RunEntry) -> int:
        """The epoch shown for ``entry``: the one chosen on the Inspect bar, or else its newest, or
        for an early-stopped run that has ended, its result (the epoch whose weights it kept)."""
        record = entry.record
        n = len(record.epochs)
        if self.epoch is not None:
            return min(self.epoch, n)
        if record.config.early_stopping and record.status not in (RUNNING, WAITING) and entry.result is not None:
            return entry.result.epoch
        return n

    def snapshot_for(self, entry: RunEntry) -> EpochResult | None:
        return entry.record.snapshot_at(self.epoch_for(entry))

    @staticmethod
    def snapshot_note(entry: RunEntry, wanted: int, snap: EpochResult | None) -> str:
        """Why the weights shown are not exactly epoch ``wanted``'s, or ""."""
        if not entry.record.epochs:
            return "no epoch yet"
        if snap is None and entry.record.sweep and entry.record.status == RUNNING:
            return "no weights until it ends"  # a big sweep keeps each run's last epoch only
        if snap is None:
            return f"no weights kept for epoch {wanted}" + (
                " (sweeps keep the last epoch's)" if entry.record.sweep else ""
            )
        if snap.epoch != wanted:
            return f"weights of epoch {snap.epoch}, the nearest kept"
        return ""

    # --- export -----------------------------------------------------------------------------

    def export_png(self, path: str) -> None:
        self.refresh_now()
        image = self.content.grab()
        if image.isNull() or not image.save(str(path), "PNG"):
            raise ExportError(f"Cannot write {path}: the image could not be saved there.")

    def refresh_now(self) -> None:
        self._dirty = False
        self._redraw_settled()

    def csv_rows(self) -> list[dict]:
        return []


def class_names(entry: RunEntry) -> list[str]:
    return list(entry.record.dataset.get("class_names") or [])


def run_color(entry: RunEntry, alpha: int = 255) -> QColor:
    color = QColor(entry.color)
    color.setAlpha(alpha)
    return color


def swatch_html(entry: RunEntry, text: str) -> str:
    return f'<span style="color:{QColor(entry.color).name()}">&#9632;</span> {escape(text)}'


class CurveSet:
    """Curves on a plot kept per key (run, role): made once, then only ``setData``; the ones no
    longer wanted are removed. Creating plot items every redraw would stall streaming runs."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.items: dict = {}
        self._used: set = set()

    def begin(self) -> None:
        self._used = set()

    def get(self, key, make):
        self._used.add(key)
        if key not in self.items:
            item = make()
            self.plot.addItem(item)
            self.items[key] = item
        return self.items[key]

    def end(self) -> None:
        for key in [k for k in self.items if k not in self._used]:
            self.plot.removeItem(self.items.pop(key))


def epoch_series(entry: RunEntry, attr: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    epochs = entry.record.epochs
    x = np.fromiter((e.epoch for e in epochs), float, len(epochs))
    y = np.fromiter((getattr(e, attr) for e in epochs), float, len(epochs)) * scale
    return x, y
