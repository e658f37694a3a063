"""The Sweep tab: a sweep's queue and progress, its validation curves and summary table."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from regui.core.formatting import duration
from regui.core.records import RUNNING, WAITING
from regui.core.sweep_summary import SettingSummary, summarize
from regui.gui.results_columns import COLUMN_INDEX
from regui.gui.results_model import SORT_ROLE, RunsModel
from regui.gui.results_table import ColumnFitter
from regui.gui.sweep_plots import SweepPlots
from regui.gui.sweep_table import SummaryTable, retrained_by_setting, verdict
from regui.gui.timers import single_shot
from regui.gui.widgets import WrappingRow

_REFRESH_MS = 250


class _SweepFilter(QSortFilterProxyModel):
    """Rows of one sweep."""

    def __init__(self, runs: RunsModel, parent=None) -> None:
        super().__init__(parent)
        self.runs = runs
        self.ids: dict[int, int] = {}  # the shown sweep's run ids (its SweepRun.index_of)
        self.setSourceModel(runs)
        self.setSortRole(SORT_ROLE)

    def show_sweep(self, sweep) -> None:
        """The rows of ``sweep`` (a SweepRun of this session; None: none). By run id, not by
        sweep name: a stored run's "S1" was another session's."""
        ids = sweep.index_of if sweep is not None else {}
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self.ids = ids
            self.endFilterChange()
        else:
            self.ids = ids
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        return self.runs.entry_at(row).run_id in self.ids


class SweepPanel(QWidget):
    """Shows the session's sweeps (``regui.gui.session.SweepRun``, owned by the session) one at a
    time; its Pause and Stop buttons ask the session."""

    runs_selected = Signal(list)  # run ids to select everywhere
    pause_requested = Signal(str, bool)  # sweep name, paused
    stop_requested = Signal(str)  # sweep name

    def __init__(self, runs: RunsModel, parent=None) -> None:
        super().__init__(parent)
        self.runs = runs
        self.sweeps: dict = {}  # name -> SweepRun, as the session added them

        self.chooser = QComboBox()
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "S1 (20 runs)" in full
        self.chooser.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.chooser.currentIndexChanged.connect(self._show_chosen)
        self.progress = QProgressBar()
        self.progress.setFormat("%v/%m")
        self.eta = ""  # the time left, in words: shown inside the progress bar
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold every run at its next step and start no new ones; press again to resume")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause)
        self.stop_button = QPushButton("Stop sweep")
        self.stop_button.setToolTip(
            "Start no new runs and stop the running ones after their epoch; everything finished stays"
        )
        self.stop_button.clicked.connect(self._stop)

        self.queue = QTableView()
        self.filter = _SweepFilter(runs, self)
        self.queue.setModel(self.filter)
        self.queue.setSortingEnabled(True)
        self.queue.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.queue.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue.verticalHeader().hide()
        self.columns = ColumnFitter(self.queue, runs)
        for key in ("l1_ratio", "loss", "scaling", "data"):
            self.queue.hideColumn(COLUMN_INDEX[key])
        self.queue.selectionModel().selectionChanged.connect(self._queue_selection)

        self.measure = QComboBox()
        self.measure.addItem("validation accuracy (to choose on)", "val")
        self.measure.addItem("test accuracy (to report)", "test")
        self.measure.setToolTip(
            "Settings are compared on the validation part, held out of the training images; the test part is "
            "looked at once, for the setting chosen"
        )
        self.measure.currentIndexChanged.connect(self.refresh)
        self.show_train = QCheckBox("train accuracy (dashed)")
        self.show_train.setChecked(True)
        self.show_train.toggled.connect(self.refresh)
        self.canvas = SweepPlots()
        self.canvas.points_clicked.connect(self.runs_selected)
        self.acc_plot, self.zero_plot, self.legend = self.canvas.acc_plot, self.canvas.zero_plot, self.canvas.legend

        # A cross-validated sweep's last step, and its outcome: the test accuracies to report.
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.hide()

        self.summary = SummaryTable()
        self.summary.runs_selected.connect(self.runs_selected)

        # Which sweep, how far (the time left inside the bar) and its buttons on one line, what to
        # plot on another that wraps when narrow: on a laptop the plots and tables keep room.
        which = QHBoxLayout()
        which.addWidget(QLabel("Sweep"))
        which.addWidget(self.chooser)
        which.addWidget(self.progress, 1)
        which.addWidget(self.pause_button)
        which.addWidget(self.stop_button)
        controls = WrappingRow()
        controls.add(QLabel("Plot"), self.measure)
        controls.add(self.show_train)
        header = QVBoxLayout()
        header.addLayout(which)
        header.addWidget(controls)
        header.addWidget(self.verdict)
        curves = QWidget()
        curves_layout = QVBoxLayout(curves)
        curves_layout.setContentsMargins(0, 0, 0, 0)
        curves_layout.addWidget(self.canvas, 1)
        # The tables one at a time, each the whole width: side by side on a laptop they showed
        # three columns and two rows each.
        self.tables = QTabWidget()
        self.tables.addTab(self.summary, "Summary per setting")
        self.tables.addTab(self.queue, "Queue")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(curves)
        split.addWidget(self.tables)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 400])  # the plots a little more than the table, whatever the height
        self.empty = QLabel("No sweep yet. Use “Compare penalties” or “Sweep…” on the left.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.empty)
        layout.addWidget(split, 1)
        self.body = split
        self.body.hide()

        self._summaries: list[tuple[SettingSummary, list[int]]] = []
        self._timer = single_shot(self, _REFRESH_MS, self._refresh_in_turns)
        self._show_timer = single_shot(self, 0, self._show_chosen)
        self._table_timer = single_shot(self, 0, self._draw_table)
        self._progress_timer = single_shot(self, _REFRESH_MS, self._update_progress)
        self._clock = QTimer(self)  # the time left moves even when no run reports
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._update_progress)
        self._update_controls()

    # --- what the window tells the panel ---------------------------------------------------------

    def add_sweep(self, sweep) -> None:
        """A sweep the session started (a ``SweepRun``): shown from now on, its rows and curves
        from the next turn of the event loop (filtering and sorting a few hundred new rows
        took 25 ms, on top of the session adding them, in the turn that Start was pressed)."""
        self.sweeps[sweep.name] = sweep
        self.chooser.blockSignals(True)
        self.chooser.addItem(f"{sweep.name} ({len(sweep.run_ids)} runs)", sweep.name)
        self.chooser.setCurrentIndex(self.chooser.count() - 1)
        self.chooser.blockSignals(False)
        self._table_timer.stop()  # a table for the sweep shown before: the new one's comes with its curves
        self._show_timer.start()
        self.empty.hide()
        self.body.show()
        self._clock.start()

    def sweep_grown(self, name: str) -> None:
        """Runs were added to sweep ``name`` (cross-validation's retraining): count and show them."""
        index = self.chooser.findData(name)
        if index >= 0:
            self.chooser.setItemText(index, f"{name} ({len(self.sweeps[name].run_ids)} runs)")
        if self.current() is self.sweeps.get(name):
            self.filter.show_sweep(self.sweeps[name])
            self._refresh_in_turns()

    def sweep_ended(self, name: str) -> None:
        if all(s.ended for s in self.sweeps.values()):
            self._clock.stop()
        self._refresh_in_turns()

    def run_started(self, run_id: int) -> None:
        self.run_progressed(run_id)

    def run_epoch(self, run_id: int, result) -> None:
        self.run_progressed(run_id)

    def run_progressed(self, run_id: int) -> None:
        """A run started or finished an epoch: the progress line may change (cheap, coalesced)."""
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def run_ended(self, run_id: int) -> None:
        """A run ended: if it belongs to the sweep shown, redraw its curves and summary soon."""
        state = self.current()
        if state is not None and run_id in state.index_of:
            if not self._timer.isActive():
                self._timer.start(_REFRESH_MS)
        self.run_progressed(run_id)

    def current(self):
        """The SweepRun shown, or None."""
        name = self.chooser.currentData()
        return self.sweeps.get(name)

    # --- drawing ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Summarize the sweep shown and draw its curves, table and verdict, now."""
        self._draw_curves()
        self._draw_table()

    def _refresh_in_turns(self) -> None:
        """``refresh`` as runs end: the curves now, the table and verdict in the next turn of the
        event loop, so that the window answers in between (together they took up to 50 ms)."""
        self._draw_curves()
        self._table_timer.start()

    def _draw_curves(self) -> None:
        self._timer.stop()
        self._update_progress()
        state = self.current()
        self._summaries = []
        if state is None:
            self.canvas.clear_plots()
            return
        run_ids = state.grid_ids
        summaries = summarize([self.runs.entry(r).record for r in run_ids])
        self._summaries = [(s, [run_ids[i] for i in s.runs]) for s in summaries]
        alphas = list(state.alphas)
        measure = self.measure.currentData()
        self.canvas.draw(self._summaries, alphas, measure, self.show_train.isChecked())

    def _draw_table(self) -> None:
        """The summary table and the verdict, from the summaries ``_draw_curves`` made."""
        self._table_timer.stop()
        state = self.current()
        if state is None:
            self.summary.show_summaries([])
            self.verdict.hide()
            return
        record_of = self._record_of
        self.summary.show_summaries(self._summaries, state.folds, retrained_by_setting(state, record_of))
        text = verdict(state, record_of)
        self.verdict.setText(text)
        self.verdict.setVisible(bool(text))

    def _record_of(self, run_id: int):
        return self.runs.entry(run_id).record

    # --- progress and controls --------------------------------------------------------------------

    def progress_of(self, state) -> tuple[int, int, int, int]:
        """(ended, ended after training, running, total) runs."""
        records = [self.runs.entry(r).record for r in state.run_ids]
        running = sum(r.status == RUNNING for r in records)
        ended = sum(r.status not in (RUNNING, WAITING) for r in records)
        ran = sum(r.status not in (RUNNING, WAITING) and bool(r.epochs) for r in records)
        return ended, ran, running, len(records)

    def _update_progress(self) -> None:
        state = self.current()
        self._update_controls()
        if state is None:
            return
        ended, ran, running, total = self.progress_of(state)
        self.progress.setRange(0, total)
        self.progress.setValue(ended)
        if state.ended or ended == total:
            self.eta = "done"
        elif state.paused:
            self.eta = f"paused, {running} held"
        elif ran:
            # Wall time per run that actually trained, parallel workers included; pauses left out.
            left = state.working_seconds() / ran * (total - ended)
            self.eta = f"~{duration(left)} left"
        else:
            self.eta = "starting…" if not running else "running…"
        self.progress.setFormat(f"%v/%m · {self.eta}")  # "164/380 · ~13 s left": a laptop's bar holds that
        # The retraining still to come is in the tooltip: on a laptop's screen the bar holds one short line.
        then = state.folds and not state.retrained and not state.ended
        said = f"{ended} of {total} runs ended · {self.eta.replace('~', 'about ')}"
        self.progress.setToolTip(
            f"{said}, then the chosen settings are trained on the whole training part" if then else said
        )

    def _update_controls(self) -> None:
        state = self.current()
        live = state is not None and not state.ended
        self.pause_button.setEnabled(live)
        self.stop_button.setEnabled(live)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(bool(live and state.paused))
        self.pause_button.setText("Resume" if self.pause_button.isChecked() else "Pause")
        self.pause_button.blockSignals(False)

    def _pause(self, paused: bool) -> None:
        state = self.current()
        if state is not None:
            self.pause_requested.emit(state.name, paused)
        self._update_progress()

    def _stop(self) -> None:
        state = self.current()
        if state is not None:
            self.stop_requested.emit(state.name)
        self._update_progress()

    def _show_chosen(self) -> None:
        """The chosen sweep's rows now; its curves in the next turn of the event loop and its
        table in the one after (at a 380-run sweep's start the three took 50-75 ms together)."""
        state = self.current()
        self.filter.show_sweep(state)
        # Meanwhile no other sweep's points or rows to click (they would select its runs).
        self._summaries = []
        self.canvas.clear_plots()
        self.summary.show_summaries([])
        self._table_timer.stop()
        self._timer.start(0)  # (a later start as runs end waits _REFRESH_MS again, unless this is pending)

    # --- selection -------------------------------------------------------------------------------

    def _queue_selection(self, *_) -> None:
        rows = {self.filter.mapToSource(i).row() for i in self.queue.selectionModel().selectedRows()}
        if rows:
            self.runs_selected.emit([self.runs.entry_at(r).run_id for r in rows])
