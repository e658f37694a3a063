"""Live loss and accuracy curves for every run (pyqtgraph).

Each run gets its curves once; new epochs only call ``setData`` (coalesced by a short timer, so
a fast run does not redraw for every epoch). All of it runs in the GUI thread. (It is over 400 lines:
the curves, their drawing within the window's time budget, the markers and the legend all
read and change the one set of per-run curves this panel owns.)
"""

from __future__ import annotations

import html
import time
from collections import defaultdict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from regui.core.export import ExportError
from regui.gui.draw_budget import DrawBudget
from regui.gui.merged_curves import Group, MergedCurves, pen
from regui.gui.plot_series import Series
from regui.gui.plot_style import epoch_plot, set_title, settle, tame
from regui.gui.results_model import RunsModel
from regui.gui.run_entry import RunEntry
from regui.gui.run_styles import COLORS, MARKERS
from regui.gui.timers import single_shot
from regui.gui.widgets import WrappingRow

# Style per curve: objective/test are the main (solid) lines.
_STYLES = {
    "objective": Qt.PenStyle.SolidLine,
    "data": Qt.PenStyle.DashLine,
    "penalty": Qt.PenStyle.DotLine,
    "batches": Qt.PenStyle.SolidLine,
    "test": Qt.PenStyle.SolidLine,
    "train": Qt.PenStyle.DashLine,
    "val": Qt.PenStyle.DotLine,
}
_LOSS_KEYS = ("objective", "data", "penalty", "batches")  # the curves on the loss plot
_NORMAL_WIDTH, _HIGHLIGHT_WIDTH, _FADED_WIDTH = 1.6, 3.4, 1.0
# Past _MARKED_RUNS_UP_TO runs, curves are 1 pixel wide: Qt draws 1-pixel lines, dashed ones too,
# on a fast path (760 runs' curves of 10 epochs in two plots: 105 ms a repaint at 1.6 px, 33 at 1).
_CROWDED_WIDTH = 1.0
_FADED_ALPHA = 45  # runs not selected while some are: in the background
_BATCH_ALPHA = 110  # mini-batch losses: lighter than the run's own curves
_REFRESH_MS = 40
# Crowded, the merged curves are drawn again at most this often: each time costs some 10 ms to
# join and 20 ms to paint with 380 runs, and so many curves need not move 25 times a second.
_MERGE_MS = 250
_THIN_FROM = 1000  # points in a curve (epochs, or mini-batch losses) from which it is thinned
# More runs than this waiting for their curves (a sweep's, on showing the panel): the plots are
# held, their curves out of sight, until all are made, then drawn once. Drawn as they were made,
# each turn's repaint of ever more curves took longer: 37 s and stalls of 0.3 s for 380 runs.
_HOLD_FROM = 20
_MARKERS_UP_TO = 40  # epochs; with few points a marker per epoch shows them (one epoch has no line)
_MARKS_ON_LONG_RUNS = 12  # beyond that, a run's marker at this many epochs along its main curves
_LEGEND_UP_TO = 8  # runs shown: more, and the table's swatches say which curve is which
# Runs shown beyond which no curve carries markers: past the 80 styles (colour x marker) they
# repeat and no longer tell runs apart, and a sweep's markers took 0.25 s of each repaint
# (380 runs: 306 ms with markers, 63 without).
_MARKED_RUNS_UP_TO = len(COLORS) * len(MARKERS)


class PlotsPanel(QWidget):
    options_changed = Signal()

    def __init__(self, runs: RunsModel | None = None, parent=None) -> None:
        super().__init__(parent)
        self.runs = runs  # where the rows of the runs the session reports are (see run_started)
        self.show_parts = QCheckBox("Data loss and penalty parts")
        self.show_parts.setToolTip("Dashed: mean data loss on the training part. Dotted: the penalty term λ·R(W).")
        self.show_train = QCheckBox("Train accuracy")
        self.show_train.setToolTip("Dashed: accuracy on the training part. Solid: on the test part.")
        self.show_train.setChecked(True)
        self.show_val = QCheckBox("Validation accuracy")
        self.show_val.setToolTip(
            "Dotted: accuracy on the validation part (held out of the training images), with a star at the\n"
            "epoch chosen on it: the test accuracy of that epoch is the one to report."
        )
        self.show_val.setChecked(True)
        self.show_batches = QCheckBox("Mini-batch losses")
        self.show_batches.setToolTip(
            "Thin: the objective on each mini-batch before its step (regui's engine; up to 128 per epoch):\n"
            "per-sample SGD is noisy, full-batch gradient descent is smooth."
        )
        self.log_loss = QCheckBox("Log scale for loss")
        for box in (self.show_parts, self.show_batches, self.show_train, self.show_val, self.log_loss):
            box.toggled.connect(self._options_toggled)

        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("plots-canvas")
        self.canvas.setBackground("w")
        self.loss_plot = epoch_plot(self.canvas, 0, 0, "Loss")
        self.acc_plot = epoch_plot(self.canvas, 0, 1, "Accuracy", units="%")
        # One legend for both plots (they show the same runs), in its own row below them so it
        # never covers a curve or squeezes a plot; it takes as many columns as the width allows.
        self.legend = pg.LegendItem(labelTextSize="8pt", labelTextColor="k", frame=False, horSpacing=12)
        self.canvas.addItem(self.legend, row=1, col=0, colspan=2)
        self.canvas.ci.geometryChanged.connect(self._fit_legend)
        # Before the first run: the axes a first run will have (epochs 1-10, accuracy in %).
        self.loss_plot.setRange(xRange=(1, 10), yRange=(0, 1))
        self.acc_plot.setRange(xRange=(1, 10), yRange=(0, 100))
        self.placeholder = pg.TextItem(
            "Press Run:\nthe curves grow here,\nepoch by epoch.", color=(120, 120, 120), anchor=(0.5, 0.5)
        )
        self.loss_plot.addItem(self.placeholder)
        self.placeholder.setPos(5.5, 0.5)
        self._titles()
        # Over the plots while they are held (_hold): how many runs' curves are still to make.
        self._progress = QLabel(self.canvas)
        self._progress.setStyleSheet("background: #fff8e1; color: #555; padding: 4px;")
        self._progress.move(60, 50)
        self._progress.hide()

        options = WrappingRow()  # on a narrow screen the boxes take two lines, not more width
        for box in (self.show_parts, self.show_batches, self.log_loss, self.show_train, self.show_val):
            options.add(box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(options)
        layout.addWidget(self.canvas, 1)

        self._entries: dict[int, RunEntry] = {}
        self._curves: dict[int, dict[str, pg.PlotDataItem]] = {}
        self._series: dict[int, Series] = {}
        self._highlighted: set[int] = set()
        self._legend_ids: list[int] | None = []  # the runs the legend names (None: it says to look at the table)
        self._crowded = False  # more than _MARKED_RUNS_UP_TO runs shown: no markers, curves merged
        # Crowded, the runs not selected are drawn in merged items, their own curves hidden:
        # always exactly the runs restyled so (a run is drawn one way or the other, never both).
        self._merged = MergedCurves({key: self.loss_plot if key in _LOSS_KEYS else self.acc_plot for key in _STYLES})
        self._merged_runs: set[int] = set()
        self._merge_due = False  # the merged items are to be drawn again (by _merge_timer)
        self._stale: set[int] = set()  # merged runs whose own (hidden) curves lag their records
        self._dirty: set[int] = set()
        self._restyle_later: set[int] = set()  # runs to restyle when next redrawn
        # Runs started whose curves are not made yet (over budget, or the panel hidden), in order.
        self._waiting: dict[int, None] = {}
        self._timer = single_shot(self, _REFRESH_MS, self._refresh_some)
        self._merge_timer = single_shot(self, _MERGE_MS, self._merge_in_turn)
        self._held = False  # curves out of sight while many runs' are made (see _hold)
        # A sweep's block starts and ends dozens of runs at once (a run's curves take some 15 ms
        # to make): what is over the budget waits for the next turn, and the window stays live.
        self._budget = DrawBudget(self)

    # --- runs -------------------------------------------------------------------------------

    def add_run(self, entry: RunEntry) -> None:
        """Curves for a new run, in its style (colour and marker)."""
        curves = {}
        # The objective; its parts, the mini-batch curve, a long run's marks and the star are made
        # when first shown (many runs never show them, and each item costs time to make and to
        # lay out among thousands).
        curves["objective"] = self.loss_plot.plot()
        for key in ("test", "train", "val"):
            curves[key] = self.acc_plot.plot()
        if not self._curves:  # the first run: the plots follow the curves from now on
            self.loss_plot.enableAutoRange()
            self.acc_plot.enableAutoRange()
        self._entries[entry.run_id] = entry
        self._curves[entry.run_id] = curves
        self._series[entry.run_id] = Series()
        self.placeholder.hide()
        self._restyle(entry.run_id)
        self._update_legend()
        self.update_run(entry.run_id, now=True)

    # What the session reports (slots): a run gets its curves when it starts, or when it is
    # added already ended (opened from the store); a queued sweep run has none yet.

    def runs_added(self, runs: list) -> None:
        assert self.runs is not None
        for run in runs:
            if run.record.epochs and not self.has_run(run.run_id):
                if self.isVisible():
                    self.add_run(self.runs.entry(run.run_id))
                else:
                    self._wait_for(run.run_id)

    def run_started(self, run_id: int) -> None:
        assert self.runs is not None
        if self.has_run(run_id):
            self.update_run(run_id)  # started again: its curves restart
        elif self._budget.over() or not self.isVisible():
            self._wait_for(run_id)
        else:
            with self._budget.spending():
                self.add_run(self.runs.entry(run_id))  # drawn at once

    def _wait_for(self, run_id: int) -> None:
        """Make the run's curves in a later turn, once the panel is shown. Hidden behind another
        tab, it makes none: a 380-run sweep's curves took 4.5 s of the window's thread while the
        Sweep tab was the one on screen (about 5 ms a run to make, and redrawing them)."""
        self._waiting[run_id] = None
        self._soon()

    def run_epoch(self, run_id: int, result) -> None:
        self.update_run(run_id)

    def run_ended(self, run_id: int) -> None:
        if self.has_run(run_id):
            self.update_run(run_id, now=not self._budget.over())

    def update_run(self, run_id: int, now: bool = False) -> None:
        """New epochs for ``run_id``: redraw it soon (or now)."""
        self._dirty.add(run_id)
        if now and self.isVisible():
            with self._budget.spending():
                # Not settled: with thousands of curves, fitting the axes for each run's change
                # costs more than the second paint it saves.
                self._redraw([run_id])
        else:
            self._soon()

    def _soon(self) -> None:
        """The next turn for the waiting and changed runs: at once while runs wait for their
        curves (each turn keeps to the budget, the window's events go in between), else after
        _REFRESH_MS, coalescing a fast run's epochs. None while hidden (see showEvent)."""
        if not self.isVisible():
            return
        interval = 0 if self._waiting else _REFRESH_MS
        if not self._timer.isActive() or self._timer.remainingTime() > interval:
            self._timer.start(interval)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        # Runs that started while hidden are held until all are made. (Not runs that wait on
        # screen, a block's over one turn's budget: those are drawn as they are made.)
        if len(self._waiting) > _HOLD_FROM:
            self._hold(True)
        if self._waiting or self._dirty:
            self._soon()
        if self._merge_due:
            self._merge_soon()

    def _add_waiting(self) -> None:
        run_id = next(iter(self._waiting))
        del self._waiting[run_id]
        entry = None if self.runs is None else self.runs.entry(run_id)
        if entry is not None and not self.has_run(run_id):  # (it may have been removed meanwhile)
            self.add_run(entry)

    def _refresh_some(self) -> None:
        """The timer's turn: make waiting runs' curves, redraw changed ones, within the budget."""
        if not self.isVisible():
            return  # hidden meanwhile: the rest when shown again
        self._budget.new_turn()
        started = time.perf_counter()
        with self._budget.spending():
            while self._waiting and not self._budget.over(started):
                self._add_waiting()
            while self._dirty and not self._budget.over(started):
                self._redraw([self._dirty.pop()])
            if self._merge_due and self._held and not self._waiting:  # shown with the rest, at once
                self._merge()
            if self._held:
                self._hold(bool(self._waiting))
            settle(self.canvas)
        if self._waiting or self._dirty:
            self._soon()

    def _hold(self, held: bool) -> None:
        """Keep the curves out of sight (``held``) while many runs' curves are made, saying how
        many are left; show them all again once made."""
        if held:
            self._progress.setText(f"Drawing the curves of {len(self._waiting)} more runs…")
            self._progress.adjustSize()
        if held == self._held:
            return
        self._held = held
        for plot in (self.loss_plot, self.acc_plot):
            plot.getViewBox().childGroup.setVisible(not held)  # (out of sight, they cost no repaint)
        self._progress.setVisible(held)
        if not held:  # the axes that follow the curves take them in (a zoomed one stays as it is)
            for plot in (self.loss_plot, self.acc_plot):
                plot.getViewBox().updateAutoRange()

    def has_run(self, run_id: int) -> bool:
        return run_id in self._curves

    def set_visible(self, run_id: int, visible: bool) -> None:
        if run_id in self._curves:  # a queued run has no curves yet; they start as it says
            self._restyle(run_id)
            self._update_legend()
            self.follow_visible()

    def follow_visible(self) -> None:
        """Fit the axes to the curves shown: a hidden raw-pixel run's losses of 600 must not
        flatten the [0, 1] runs left on screen."""
        for plot in (self.loss_plot, self.acc_plot):
            plot.enableAutoRange()
            plot.getViewBox().updateAutoRange()

    def highlight(self, run_ids: set[int]) -> None:
        self._highlighted = set(run_ids)
        for run_id in self._curves:
            self._restyle(run_id)
        # A click: the selected runs' own curves, brought up to date, and the others merged,
        # faded (or no longer), at once rather than at the next turns.
        self._redraw([run_id for run_id in self._highlighted if run_id in self._dirty])
        if self._merge_due and self.isVisible() and not self._held:
            self._merge()

    def curves(self, run_id: int) -> dict[str, pg.PlotDataItem]:
        """The run's curves, as drawn now (those not made or redrawn yet are, first)."""
        if run_id in self._waiting or run_id in self._dirty:
            self._refresh()
        if run_id in self._stale:
            self._stale.discard(run_id)
            self._redraw([run_id], whole=True)
        return self._curves[run_id]

    def export_png(self, path: str, width: int = 1800) -> None:
        """Both plots, as shown, into one PNG. Raises ExportError if it cannot be written."""
        from pyqtgraph.exporters import ImageExporter

        self._refresh()
        exporter = ImageExporter(self.canvas.ci)
        exporter.parameters()["width"] = width
        image = exporter.export(toBytes=True)
        if image is None or image.isNull() or not image.save(str(path), "PNG"):
            raise ExportError(f"Cannot write {path}: the image could not be saved there.")

    # --- drawing ----------------------------------------------------------------------------

    def _options_toggled(self) -> None:
        self.loss_plot.setLogMode(y=self.log_loss.isChecked())
        self._titles()
        for run_id in self._curves:
            self._restyle(run_id)
            self._dirty.add(run_id)
        self._merge_due = True  # the options changed what is merged (or, no longer crowded, emptied)
        if self.isVisible():
            self._refresh()  # (hidden, as the window's options are restored: when shown)
        self.options_changed.emit()

    def _update_legend(self) -> None:
        """The legend names the runs shown when there are few; with more, the swatch in each
        row of the results table is the key (a legend of 50 entries would hide the plots).
        A run added to a short legend is appended (each entry costs a few ms to lay out)."""
        shown = [run_id for run_id, entry in self._entries.items() if entry.visible]
        # Runs still waiting for their curves count too: a sweep's runs made at last are crowded
        # from the first (marked first and unmarked past the 80th, each would be drawn twice).
        if self._crowded != (len(shown) + len(self._waiting) > _MARKED_RUNS_UP_TO):  # markers on or off: all redrawn
            self._crowded = not self._crowded
            self._dirty.update(self._curves)
            self._restyle_later.update(self._curves)  # its pens' width too, a few runs a turn
            self._soon()
        named = shown if len(shown) <= _LEGEND_UP_TO else None
        count = f"{len(shown)} runs shown: the table's swatches say which curves are whose"
        if self._crowded:  # as short: on a laptop a longer line widens the plots past the window
            count = f"{len(shown)} runs shown, no markers: the table's swatches tell them apart"
        if named is None and self._legend_ids is None and self.legend.items:  # a big sweep's next run
            self.legend.items[0][1].setText(count)
            return
        if named is not None and self._legend_ids is not None and named[: len(self._legend_ids)] == self._legend_ids:
            for run_id in named[len(self._legend_ids) :]:  # the legend reads simple HTML: a name shows as typed
                self.legend.addItem(self._legend_sample(run_id), html.escape(self._entries[run_id].label))
        else:
            self.legend.clear()
            if named is not None:
                for run_id in named:
                    self.legend.addItem(self._legend_sample(run_id), html.escape(self._entries[run_id].label))
            else:
                self.legend.addItem(pg.PlotDataItem(pen=None), count)
        self._legend_ids = named
        self._fit_legend()

    def _legend_sample(self, run_id: int) -> pg.PlotDataItem:
        """What the legend shows of a run: its colour and marker, whatever its length."""
        entry = self._entries[run_id]
        # One point of data: the legend draws the marker with the colours of the item's points.
        return pg.PlotDataItem(
            [0],
            [0],
            pen=pg.mkPen(entry.color, width=_NORMAL_WIDTH),
            symbol=entry.style.marker,
            symbolBrush=entry.color,
            symbolPen=None,
            symbolSize=6,
        )

    def _fit_legend(self) -> None:
        labels = [label for _, label in self.legend.items]
        if not labels:
            return
        entry_width = max(label.boundingRect().width() for label in labels) + 40  # the line sample and a gap
        self.legend.setColumnCount(max(1, min(len(labels), int(self.canvas.ci.width() // entry_width))))

    def _titles(self) -> None:
        parts = self.show_parts.isChecked()
        if parts:
            loss_key = "objective ─── data loss ╌╌╌ λ·R(W) ┈┈┈"
        elif self.show_batches.isChecked():
            loss_key = "objective ───"
        else:
            loss_key = "objective L = data loss + λ·R(W)"
        if self.show_batches.isChecked():
            loss_key += " mini-batches: thin"
        set_title(self.loss_plot, "Loss", loss_key)
        # Two-dash samples: with all three parts the key fits the plot's width on a 1366x768 screen.
        key = "test ──" + (" train ╌╌" if self.show_train.isChecked() else "")
        key += " val ┈┈ ★ chosen" if self.show_val.isChecked() else ""
        set_title(self.acc_plot, "Accuracy", key)

    def _restyle(self, run_id: int) -> None:
        """Pen, marker and visibility of a run's curves. With some runs selected, those are
        thick and on top and every other run fades into the background."""
        self._restyle_later.discard(run_id)
        entry = self._entries[run_id]
        color = QColor(entry.color)
        selected = run_id in self._highlighted
        faded = bool(self._highlighted) and not selected
        if faded:
            color.setAlpha(_FADED_ALPHA)
        width = (
            _HIGHLIGHT_WIDTH
            if selected
            else _FADED_WIDTH
            if faded
            else _CROWDED_WIDTH
            if self._crowded
            else _NORMAL_WIDTH
        )
        shown = self._shown(entry)
        shown["chosen"] = self.show_val.isChecked()
        shown["objective_marks"], shown["test_marks"] = shown["objective"], shown["test"]
        merged = self._crowded and entry.visible and not selected
        if merged != (run_id in self._merged_runs):
            (self._merged_runs.add if merged else self._merged_runs.discard)(run_id)
            self._merge_soon()
            if not merged and run_id in self._stale:  # its own curves take its epochs in again
                self._stale.discard(run_id)
                self._dirty.add(run_id)
                self._soon()
        for key, curve in self._curves[run_id].items():
            if key.endswith("_marks"):
                curve.setSymbol(entry.style.marker)
            elif key == "chosen":
                curve.setSymbol("star")
            elif key == "batches":  # behind the run's curves, thin and light: a texture, not a line
                light = QColor(color)
                light.setAlpha(min(color.alpha(), _BATCH_ALPHA))
                curve.setPen(pg.mkPen(light, width=1))
            else:
                curve.setPen(pg.mkPen(color, width=width, style=_STYLES[key]))
            curve.setSymbolBrush(color)
            curve.setSymbolPen(None)
            curve.setSymbolSize((9 if selected else 4 if faded else 6) * (2 if key == "chosen" else 1))
            curve.setVisible(entry.visible and shown[key] and not merged)  # marks and star too
            curve.setZValue(-5 if key == "batches" else 10 if selected else 0)

    def _shown(self, entry: RunEntry) -> dict[str, bool]:
        """Which of a run's curves the options show."""
        return {
            "batches": self.show_batches.isChecked(),
            "objective": True,
            "data": self.show_parts.isChecked(),
            "penalty": self.show_parts.isChecked() and entry.record.config.penalty != "none",
            "test": True,
            "train": self.show_train.isChecked(),
            "val": self.show_val.isChecked(),
        }

    def _merge_soon(self) -> None:
        self._merge_due = True
        if self.isVisible() and not self._merge_timer.isActive():
            self._merge_timer.start()

    def _merge_in_turn(self) -> None:
        if self._merge_due and self.isVisible() and not self._held:  # (held: merged at the release)
            with self._budget.spending():
                self._merge()
                settle(self.canvas)

    def _merge(self) -> None:
        """Draw the merged runs' curves again (see ``merged_curves``): each run's as its own
        curves would show it, in the order the runs came."""
        self._merge_due = False
        faded = bool(self._highlighted)
        log_y = self.log_loss.isChecked()
        pieces: dict[Group, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        for run_id in self._curves:
            if run_id not in self._merged_runs:
                continue
            entry, series = self._entries[run_id], self._series[run_id]
            x = series.view("epoch")
            for key, shown in self._shown(entry).items():
                if not shown:
                    continue
                if key == "batches":  # every k-th: a texture of up to _THIN_FROM / 4 points a run
                    bx, y = series.batches(entry.record.epochs)
                    step = max(1, -(-len(y) // (_THIN_FROM // 4)))
                    bx, y = bx[::step], y[::step]
                else:
                    bx, y = x, series.view(key)
                    if key == "val" and not np.isfinite(y).any():  # no validation part
                        continue
                if log_y and key in _LOSS_KEYS:
                    y = np.where(y > 0, y, np.nan)
                pieces[(key, entry.style.color, faded)].append((bx, y))
        self._merged.draw(pieces, self._merged_pen, lambda key: -5 if key == "batches" else 0)

    @staticmethod
    def _merged_pen(group: Group):
        key, color, faded = group
        alpha = _FADED_ALPHA if faded else 255
        if key == "batches":
            return pen(color, min(alpha, _BATCH_ALPHA), 1, Qt.PenStyle.SolidLine)
        return pen(color, alpha, _FADED_WIDTH if faded else _CROWDED_WIDTH, _STYLES[key])

    def _refresh(self) -> None:
        """Redraw every changed run now (and make the waiting runs' curves)."""
        self._timer.stop()
        while self._waiting:
            self._add_waiting()
        self._redraw(list(self._dirty))
        if self._merge_due:
            self._merge()
        self._hold(False)
        settle(self.canvas)

    def _make_curves(self, run_id: int, *groups: list[str]) -> bool:
        """Make the run's curves named in ``groups`` that it does not have yet (they are made on
        first use); True if any was made (the caller styles them as its others)."""
        curves = self._curves[run_id]
        wanted = [key for group in groups for key in group if key not in curves]
        for key in wanted:
            plot = self.loss_plot if key in ("objective_marks", "data", "penalty", "batches") else self.acc_plot
            curves[key] = plot.plot(pen=None) if key in ("objective_marks", "test_marks", "chosen") else plot.plot()
        return bool(wanted)

    def _redraw(self, run_ids, whole: bool = False) -> None:
        """Give the runs' curves their epochs so far. A merged run's own curves are hidden: only
        its series is brought up to date, for the merged curves, unless ``whole``."""
        self._dirty.difference_update(run_ids)
        if not self._merged_runs.isdisjoint(run_ids):
            self._merge_soon()
        log_y = self.log_loss.isChecked()
        for run_id in run_ids:
            curves = self._curves.get(run_id)
            if curves is None:
                continue
            series = self._series[run_id]
            series.sync(self._entries[run_id].record.epochs)
            if not whole and run_id in self._merged_runs and run_id not in self._restyle_later:
                self._stale.add(run_id)
                continue
            self._stale.discard(run_id)  # drawn whole now (a restyle below need not ask again)
            x = series.view("epoch")
            marker = self._entries[run_id].style.marker
            every_epoch = len(x) <= _MARKERS_UP_TO and not self._crowded
            symbol = marker if every_epoch else None
            # Each run's marks a little apart from the others', so they do not line up in columns.
            spacing = (len(x) - 1) / _MARKS_ON_LONG_RUNS
            start = spacing * (run_id % 5) / 5
            marks = np.unique(np.linspace(start, len(x) - 1, _MARKS_ON_LONG_RUNS).astype(int)) if len(x) else []
            marks = [] if self._crowded else marks
            val = series.view("val")
            starred = bool(np.isfinite(val).any()) and not self._crowded  # a star is a marker too
            # Long runs show no marker per epoch (a blur): their main curves carry a few marks,
            # so that runs of the same colour stay apart.
            made = self._make_curves(
                run_id,
                ["objective_marks", "test_marks"] if not every_epoch and len(marks) else [],
                ["data", "penalty"] if self.show_parts.isChecked() else [],
                ["batches"] if self.show_batches.isChecked() else [],
                ["chosen"] if starred else [],
            )
            if made or run_id in self._restyle_later:  # once, the curves just made included
                self._restyle(run_id)
            if made or curves["objective"].opts["symbol"] != symbol:
                for key, curve in curves.items():
                    if key not in ("batches", "chosen", "val"):  # validation: a plain dotted line, cheap to paint
                        curve.setSymbol(marker if key.endswith("_marks") else symbol)
            if self.show_batches.isChecked():
                bx, by = series.batches(self._entries[run_id].record.epochs)
                if log_y:
                    by = np.where(by > 0, by, np.nan)
                _thin(curves["batches"], by)
                curves["batches"].setData(bx, by)
            # The epoch chosen on validation, as RunRecord.chosen(): the highest, the earliest on a tie.
            if starred:
                best = int(np.nanargmax(val))
                curves["chosen"].setData([x[best]], [val[best]])
            elif "chosen" in curves:
                curves["chosen"].setData([], [])
            for key, curve in curves.items():
                if key in ("batches", "chosen"):
                    continue
                source = key.removesuffix("_marks")
                y = series.view(source)
                if source == "val" and not np.isfinite(y).any():  # no validation part
                    curve.setData([], [])
                    continue
                if log_y and source in _LOSS_KEYS:
                    y = np.where(y > 0, y, np.nan)  # no log of 0 (a run without penalty has a 0 penalty term)
                if key == source:
                    _thin(curve, y)
                    curve.setData(x, y)
                elif every_epoch:
                    curve.setData([], [])  # the curve itself has a marker at every epoch
                else:
                    curve.setData(x[marks], y[marks])


def _thin(curve: pg.PlotDataItem, y: np.ndarray) -> None:
    """A long curve draws only what is in view, thinned to the pixels available; a short one is
    drawn whole (clipping and thinning cost work at every change of the axes' range, for every
    curve that has them). Huge values are clipped (``tame``)."""
    long = len(y) > _THIN_FROM
    curve.setClipToView(long)
    curve.setDownsampling(auto=long, method="peak")
    tame(curve, y)
