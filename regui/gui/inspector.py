"""The inspection docks (weights, histogram, loss terms, confusion, mistakes) and the epoch bar:
which runs they show, at which epoch, and how often they redraw.

Runs shown: the rows selected in the results table; with none selected, the newest run (or
the whole penalty comparison it belongs to), so the views are never empty while training.
Streaming runs redraw the views at most a few times a second, and only the visible ones.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar

from regui.core import export
from regui.core.config import PENALTIES
from regui.core.errors import ReguiError
from regui.gui.epoch_bar import EpochBar
from regui.gui.results_model import RunsModel
from regui.gui.run_entry import RunEntry
from regui.gui.saving import ask_save_path, write_reporting
from regui.gui.thumbs import ThumbnailCache
from regui.gui.timers import single_shot
from regui.gui.views.base import InspectView
from regui.gui.views.confusion import ConfusionView
from regui.gui.views.histogram import HistogramView
from regui.gui.views.loss_terms import LossTermsView
from regui.gui.views.mistakes import MistakesView
from regui.gui.views.weights import WeightsView

_REDRAW_MS = 250  # while runs stream: at most four redraws a second
_STAGGER_MS = 30  # between two views' redraws: each one's painting gets a turn of its own
_COMPARISON_SIZE = len(PENALTIES)  # with nothing selected, a comparison is shown whole (none vs L1 vs L2 ...)


class Inspector(QObject):
    def __init__(self, window: QMainWindow, runs: RunsModel, report_error: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window, self.runs, self.report_error = window, runs, report_error
        self.thumbs = ThumbnailCache(parent=self)
        self.weights = WeightsView()
        self.histogram = HistogramView()
        self.loss_terms = LossTermsView()
        self.confusion = ConfusionView()
        self.mistakes = MistakesView(self.thumbs)
        self.views: list[InspectView] = [self.weights, self.histogram, self.loss_terms, self.confusion, self.mistakes]
        self.docks: dict[InspectView, QDockWidget] = {}
        for view in self.views:
            dock = QDockWidget(view.title, window)
            dock.setObjectName(f"dock-{view.title.lower().replace(' ', '-')}")
            dock.setWidget(view)
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[view] = dock
            view.export_requested.connect(self.export)
        first = self.docks[self.views[0]]
        for view in self.views[1:]:
            window.tabifyDockWidget(first, self.docks[view])
        first.raise_()
        # About a third of the window: the curves keep the middle (the docks' own contents
        # would take more).
        window.resizeDocks(
            [first], [max(first.minimumSizeHint().width(), window.width() * 3 // 10)], Qt.Orientation.Horizontal
        )
        self.bar = EpochBar()
        self.toolbar = QToolBar("Epoch")
        self.toolbar.setObjectName("toolbar-epoch")
        self.toolbar.setMovable(False)
        self.toolbar.addWidget(self.bar)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.bar.changed.connect(self.push)
        self.selected: list[RunEntry] = []
        self.entries: list[RunEntry] = []
        self.waiting = ""  # why nothing is shown yet, while a big sweep runs
        self._timer = single_shot(self, _REDRAW_MS, self.push)
        self._stagger: list[InspectView] = []
        self._stagger_timer = QTimer(self)
        self._stagger_timer.setInterval(_STAGGER_MS)
        self._stagger_timer.timeout.connect(self._next_view)
        # The weight view's rows (a colour bar, a view box: ~20 ms each) are made ahead, one per
        # idle moment after start-up, so the first comparison does not stall the window.
        self._prepare = QTimer(self)
        self._prepare.setInterval(150)
        self._prepare.timeout.connect(self._prepare_next)
        QTimer.singleShot(2000, self._prepare.start)

    # --- which runs -----------------------------------------------------------------------------

    def show_selected(self, entries: list[RunEntry]) -> None:
        """The table's selection changed: show those runs (none: the newest)."""
        self.selected = list(entries)
        self.push()

    # The session's run signals (see Session.follow).
    def run_started(self, run_id: int) -> None:
        self.run_progressed(run_id)

    def run_epoch(self, run_id: int, result) -> None:
        self.run_progressed(run_id)

    def run_ended(self, run_id: int) -> None:
        self.run_progressed(run_id)

    def run_progressed(self, run_id: int) -> None:
        """A run has a new epoch (or ended): redraw soon if it is, or may become, one shown."""
        if self.selected and all(e.run_id != run_id for e in self.selected):
            return
        if not self._timer.isActive():
            self._timer.start()

    def _following(self) -> list[RunEntry]:
        """With nothing selected: the newest run, or the comparison it belongs to. In a big sweep,
        whose runs keep their weights only when they end, its newest run that has them."""
        self.waiting = ""
        started = [e for e in self.runs.entries() if e.record.epochs]
        if not started:
            return []
        newest = max(started, key=lambda e: e.run_id)
        sweep = newest.record.sweep
        if not sweep:
            return [newest]
        # (a stored run's sweep name is from another session: "S1" then is not today's "S1")
        group = [
            e
            for e in self.runs.entries()
            if e.record.sweep == sweep and (e.stored_id is None) == (newest.stored_id is None)
        ]
        if len(group) <= _COMPARISON_SIZE:
            return group
        kept = [e for e in group if e.record.final is not None and e.record.final.has_snapshot]
        if kept:
            return [max(kept, key=lambda e: e.run_id)]
        self.waiting = (
            f"Sweep {sweep} keeps each run's weights when the run ends; none has ended yet. The numbers "
            "stream in the curves and the table meanwhile."
        )
        return []

    def push(self) -> None:
        """Hand the runs and the epoch to every view (hidden ones just remember them)."""
        self._timer.stop()
        self.entries = self.selected or self._following()
        for view in self.views:
            view.waiting = "" if self.selected else self.waiting
        self.bar.set_range(max((len(e.record.epochs) for e in self.entries), default=0))
        names = ", ".join(e.number for e in self.entries[:6]) + ("…" if len(self.entries) > 6 else "")
        how = "selected" if self.selected else "newest; select rows in the table to choose"
        self.bar.set_description(
            f"run{'s' if len(self.entries) != 1 else ''} {names} ({how})"
            if self.entries
            else "waiting for a sweep's first run to end"
            if self.waiting
            else "no run yet"
        )
        epoch = self.bar.epoch()
        for view in self.views:
            view.set_target(self.entries, epoch, draw=False)
        # One visible view now, the others one per turn of the event loop: drawing all five in
        # one go would freeze the window for their sum (hidden ones draw when they are shown).
        visible = [view for view in self.views if view.isVisible()]
        if visible:
            visible[0].refresh()
        self._stagger = visible[1:]
        if self._stagger:
            self._stagger_timer.start()

    def _prepare_next(self) -> None:
        if len(self.weights._rows) >= self.weights.MAX_RUNS:
            self._prepare.stop()
        else:
            self.weights.prepare_rows()

    def drawing(self) -> bool:
        """True while visible views still wait for their turn to redraw."""
        return bool(self._stagger)

    def _next_view(self) -> None:
        if self._stagger:
            self._stagger.pop(0).refresh()
        if not self._stagger:
            self._stagger_timer.stop()

    # --- export ---------------------------------------------------------------------------------

    def export(self, view: InspectView, kind: str, path: str | None = None) -> bool:
        """Save ``view`` as PNG, or the data behind it as CSV. Problems are reported, never raised."""
        suffix = f".{kind}"
        name = view.title.lower()
        filters = {"PNG image (*.png)" if kind == "png" else "CSV table (*.csv)": suffix}
        path = path or ask_save_path(self.window, f"Export {name}", name.replace(" ", "-") + suffix, filters)
        if not path:
            return False

        def write() -> None:
            if kind == "png":
                view.export_png(path)
                return
            rows = view.csv_rows()
            if not rows:
                raise ReguiError(f"The {name} view has nothing to export yet.")
            export.write_csv(path, rows)

        if not write_reporting(path, write, self.report_error, f"the {name} view"):
            return False
        self.window.statusBar().showMessage(f"{view.title} saved to {path}", 8000)
        return True

    def close(self) -> None:
        self.thumbs.close()
