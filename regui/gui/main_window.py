"""The main window: dataset and settings on the left, live curves and the results table on the right."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from regui import __version__
from regui.core import export
from regui.core.admission import admit_run, admit_sweep
from regui.core.config import PENALTIES, TrainConfig, run_label, test_count
from regui.core.errors import ReguiError
from regui.core.health import learned_nothing
from regui.core.records import DIVERGED, FAILED, FINISHED, RUNNING, STOPPED, WAITING, RunRecord
from regui.core.run_log import BackgroundRunLog
from regui.core.sweep import SNAPSHOTS_UP_TO, SweepSpec
from regui.gui.controller import Controller
from regui.gui.dataset_panel import DatasetPanel
from regui.gui.garbage import collect_garbage_in_gui_thread
from regui.gui.inspector import Inspector
from regui.gui.params_panel import ParamsPanel
from regui.gui.plots import PlotsPanel
from regui.gui.results_model import COLUMNS, SORT_ROLE, ColumnFitter, RunEntry, RunsModel
from regui.gui.saving import ask_save_path, write_reporting
from regui.gui.sweep_dialog import SweepDialog
from regui.gui.sweep_panel import SweepPanel

MAX_RECENT = 10
# Room for what a window manager adds around the window (title bar, borders): not known until
# the window is shown, and the first size must already fit.
_FRAME_WIDTH, _FRAME_HEIGHT = 12, 40
SNAPSHOTS_DEFAULT = 100  # weight snapshots kept per run before thinning (see README: memory)
EXPORT_FILTERS = {
    "CSV table (*.csv)": ".csv",
    "JSON with every epoch (*.json)": ".json",
    "Markdown table (*.md)": ".md",
}


def sweep_title(name: str) -> str:
    """ "Comparison C1" for the penalty comparisons, "Sweep S1" for sweeps."""
    return f"{'Comparison' if name.startswith('C') else 'Sweep'} {name}"


class MainWindow(QMainWindow):
    store_problem = Signal(str)  # from the store's thread: shown in the window

    def __init__(
        self, initial_folder: str | Path | None = None, settings: QSettings | None = None, reopen_last: bool = False
    ) -> None:
        super().__init__()
        collect_garbage_in_gui_thread()
        self.setWindowTitle("regui: regularization explorer")
        self.settings = settings if settings is not None else QSettings()
        self.controller = Controller(self)
        self.dataset = None  # the loaded regui.core.dataset.Dataset
        self.last_message = ""  # the last error or warning shown (tests read it)
        self._run_ids = itertools.count(1)
        self._pending_folder: str | None = None
        self._closing = False

        self.dataset_panel = DatasetPanel()
        self.params = ParamsPanel()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Train with these settings (Ctrl+R)")
        self.run_button.setDefault(True)
        self.compare_button = QPushButton("Compare penalties")
        self.compare_button.setToolTip("Run none, L1, L2 and elastic net with these settings side by side")
        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip("Penalties x a range of λ x learning rates x repeats, in parallel")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the selected running runs, or all of them, after their current epoch (Ctrl+.)"
        )
        self.ready = QLabel()
        self.ready.setWordWrap(True)

        self.runs = RunsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.runs)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.columns = ColumnFitter(self.table, self.runs)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.plots = PlotsPanel()
        self.sweep_panel = SweepPanel(self.runs)
        self._sweep_counts = {"S": itertools.count(1), "C": itertools.count(1)}

        self._build_layout()
        self.inspector = Inspector(self, self.runs, self._export_failed)
        # Every run is written to the run store as it happens, from a thread of its own.
        self.store_problem.connect(self.show_notice)
        self.run_log = BackgroundRunLog(None, self.store_problem.emit)
        self._build_actions()
        self._connect()
        self._restore_settings()
        self.fit_to_screen()
        self.setAcceptDrops(True)
        self._update_state()
        if initial_folder is None and reopen_last:
            initial_folder = self.last_folder()
        if initial_folder is not None:
            # After the window is up: the first paint must not wait for anything.
            QTimer.singleShot(0, lambda: self.load_folder(str(initial_folder)))

    def load_folder(self, folder: str) -> None:
        """Load ``folder`` (typed, browsed, dropped or recent) with the current image settings."""
        if self._closing:
            return
        folder = str(Path(folder).expanduser())
        self._pending_folder = folder
        self.dataset_panel.show_loading(folder)
        self.controller.load(folder, self.params.config().image)
        self.statusBar().showMessage(f"Loading {folder}…")
        self._update_state()

    def reload(self) -> None:
        """Load the folder again: its files may have changed, or the image settings have."""
        folder = self.dataset_panel.path.text().strip() or (str(self.dataset.root) if self.dataset else "")
        if folder:
            self.load_folder(folder)

    # --- layout -----------------------------------------------------------------------------

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.stop_button)
        more = QHBoxLayout()
        more.addWidget(self.compare_button, 1)
        more.addWidget(self.sweep_button, 1)
        form = QWidget()
        form_layout = QVBoxLayout(form)
        form_layout.addWidget(self.dataset_panel)
        form_layout.addWidget(self.params)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Never narrower than the form needs: with no horizontal scroll bar it would be cut off.
        scroll.setMinimumWidth(form.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 6)
        # Run and Stop stay in view below the scrolling form.
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 6)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addLayout(more)
        left_layout.addWidget(self.ready)

        # A run that diverged or failed says so here until dismissed: the status bar forgets.
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #fdecea; color: #8e1b13; padding: 4px 6px; border-radius: 3px;")
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(lambda: self.notice_row.hide())
        self.notice_row = QWidget()
        notice_layout = QHBoxLayout(self.notice_row)
        notice_layout.setContentsMargins(0, 0, 0, 0)
        notice_layout.addWidget(self.notice, 1)
        notice_layout.addWidget(dismiss)
        self.notice_row.hide()
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.notice_row)
        results_layout.addWidget(self.table, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.plots, "Training curves")
        self.tabs.addTab(self.sweep_panel, "Sweep")
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.tabs)
        self.right_split.addWidget(results)
        self.right_split.setStretchFactor(0, 3)
        self.right_split.setStretchFactor(1, 2)
        self.right_split.setSizes([700, 300])  # the same shares at any height (a laptop's too)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(left)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([scroll.minimumWidth(), 1000])
        self.setCentralWidget(self.main_split)
        self.activity = QLabel()
        self.statusBar().addPermanentWidget(self.activity)
        self.resize(1400, 860)

    def fit_to_screen(self) -> None:
        """Keep the window within its screen's free area (a laptop's 1366x768 less its panel),
        also when a size saved on a bigger screen was restored."""
        from PySide6.QtGui import QGuiApplication

        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        # The window manager's title bar and borders come on top of the window's own size.
        width = min(self.width(), free.width() - _FRAME_WIDTH)
        height = min(self.height(), free.height() - _FRAME_HEIGHT)
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, self.minimumSizeHint().width()), max(height, self.minimumSizeHint().height()))
        if not free.contains(self.frameGeometry().topLeft()):
            self.move(free.topLeft())

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, tip=None) -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            if tip:
                act.setStatusTip(tip)
            return act

        self.open_action = action("&Open dataset folder…", self.dataset_panel.browse, QKeySequence.StandardKey.Open)
        self.export_action = action(
            "&Export results…",
            lambda: self.export_results(),
            "Ctrl+E",
            "Save the results table as CSV or Markdown, or every epoch as JSON",
        )
        self.export_plots_action = action("Export &plots as PNG…", lambda: self.export_plots(), "Ctrl+Shift+E")
        self.browse_runs_action = action(
            "Stored &runs…",
            self.open_run_browser,
            "Ctrl+Shift+O",
            "Every run kept in the run store: find, open, annotate, share, delete",
        )
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.run_action = action("&Run", self.start_run, "Ctrl+R")
        self.compare_action = action("&Compare penalties", self.compare_penalties, "Ctrl+Shift+R")
        self.sweep_action = action("S&weep…", self.open_sweep_dialog)
        self.stop_action = action("&Stop", self.stop_runs, "Ctrl+.")
        about = action("&About regui", self._about)

        menu = self.menuBar().addMenu("&File")
        menu.addActions([self.open_action, self.browse_runs_action])
        menu.addSeparator()
        menu.addActions([self.export_action, self.export_plots_action])
        menu.addSeparator()
        menu.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&Run")
        menu.addActions([self.run_action, self.compare_action, self.sweep_action, self.stop_action])
        menu = self.menuBar().addMenu("&View")
        for dock in self.inspector.docks.values():
            menu.addAction(dock.toggleViewAction())
        menu.addAction(self.inspector.toolbar.toggleViewAction())
        menu.addSeparator()
        menu.addAction(
            action(
                "Weight &snapshots kept per run…",
                self.ask_snapshot_limit,
                tip="How many epochs' weights each run keeps for the views",
            )
        )
        self.menuBar().addMenu("&Help").addAction(about)
        self.addActions([self.run_action, self.stop_action])

    def _connect(self) -> None:
        c = self.controller
        c.load_progress.connect(self.dataset_panel.show_progress)
        c.loaded.connect(self._on_loaded)
        c.load_failed.connect(self._on_load_failed)
        c.load_cancelled.connect(self._on_load_cancelled)
        c.run_started.connect(self._on_run_started)
        c.run_epoch.connect(self._on_epoch)
        c.run_finished.connect(self._on_run_finished)
        c.run_failed.connect(self._on_run_failed)
        c.sweep_ended.connect(self._on_sweep_ended)
        c.activity_changed.connect(self._update_state)
        self.dataset_panel.folder_chosen.connect(self.load_folder)
        self.dataset_panel.cancel_requested.connect(c.cancel_load)
        self.dataset_panel.reload_requested.connect(self.reload)
        self.params.changed.connect(self._update_state)
        self.params.image_changed.connect(self._on_image_settings_changed)
        self.run_button.clicked.connect(self.start_run)
        self.compare_button.clicked.connect(self.compare_penalties)
        self.sweep_button.clicked.connect(self.open_sweep_dialog)
        self.sweep_panel.runs_selected.connect(self.select_runs)
        self.stop_button.clicked.connect(self.stop_runs)
        self.runs.visibility_changed.connect(self.plots.set_visible)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.plots.options_changed.connect(self._save_plot_options)

    # --- loading ----------------------------------------------------------------------------

    def _on_loaded(self, result) -> None:
        self.dataset = result.dataset
        self._pending_folder = None
        self.dataset_panel.show_loaded(result)
        self._mark_stored_runs()
        self._remember_folder(str(self.dataset.root))
        self.statusBar().showMessage(f"Loaded {self.dataset.root}: {self.dataset.describe()}", 10_000)
        self._update_state()

    def _mark_stored_runs(self) -> None:
        """Stored runs on the folder now loaded: same files, or changed since they ran."""
        for entry in self.runs.entries():
            if entry.stored_id is None or self.dataset is None:
                continue
            if not self.dataset.is_folder(entry.record.dataset.get("folder", "")):
                continue
            same = entry.record.dataset.get("fingerprint") == self.dataset.fingerprint
            entry.data_changed = not same
            entry.files = self.dataset.files if same else None
            self.runs.refresh_row(entry.run_id)

    def _on_load_failed(self, message: str) -> None:
        self._pending_folder = None
        if self.dataset is not None:
            message += f"\nStill using {self.dataset.root}."
        self.dataset_panel.show_error(message)  # the path stays as typed, to be corrected
        self._show_message(message.splitlines()[0])
        self._update_state()

    def _on_load_cancelled(self) -> None:
        self._pending_folder = None
        self.dataset_panel.show_cancelled()
        self.statusBar().showMessage(
            "Loading cancelled." + (f" Still using {self.dataset.root}." if self.dataset is not None else ""), 8000
        )
        self._update_state()

    def _on_image_settings_changed(self) -> None:
        folder = self._pending_folder or (str(self.dataset.root) if self.dataset is not None else None)
        if folder is not None:
            self.load_folder(folder)  # decoded again (or read from the cache) at the new size
        else:
            self._update_state()

    # --- training ---------------------------------------------------------------------------

    def run_problem(self, config: TrainConfig) -> str | None:
        """Why ``config`` cannot be run now, or None. Checked before Run, not after."""
        if self.controller.is_loading():
            return "Loading images…"
        if self.dataset is None:
            return "Load a dataset to start (a folder with one sub-folder per class)."
        try:
            admit_run(config, self.dataset.class_names, self.dataset.counts())
        except ReguiError as exc:
            return str(exc)
        if config.image != self.dataset.image:
            now, then = config.image, self.dataset.image
            return (
                f"The images were loaded at {then.width}×{then.height}{'' if then.color else ' grayscale'}: "
                f"press Reload to decode them at {now.width}×{now.height}{'' if now.color else ' grayscale'}."
            )
        return None

    def start_run(self) -> int | None:
        """Start a run with the current settings; returns its id (None if it cannot start)."""
        config = self.params.config()
        problem = self.run_problem(config)
        if problem is not None:
            self._show_message(problem)
            return None
        entry = self._new_entry(config, RUNNING)
        run_id = entry.run_id
        self.runs.add(entry)
        self.plots.add_run(entry)
        self.controller.start_run(run_id, self.dataset, config, entry.label, self.runs.snapshot_limit)
        self.run_log.started(run_id, entry.record)
        self.settings.setValue("config", json.dumps(config.to_dict()))
        self.statusBar().showMessage(f"Run #{run_id} started: {config.describe()}", 5000)
        self._update_state()
        return run_id

    def _new_entry(
        self,
        config: TrainConfig,
        status: str,
        sweep: str = "",
        repeat: int = 0,
        ahead: int = 0,
        summary: dict | None = None,
    ) -> RunEntry:
        """A table entry for a run about to start (or be queued) on the loaded dataset."""
        run_id = next(self._run_ids)
        n_test = test_count(self.dataset.n_images, config.test_size)
        dataset = dict(summary or self.dataset.summary(), n_train=self.dataset.n_images - n_test, n_test=n_test)
        record = RunRecord(
            config=config, name=run_label(run_id, config), status=status, dataset=dataset, sweep=sweep, repeat=repeat
        )
        return RunEntry(
            run_id,
            record,
            self.runs.next_style(ahead),
            files=self.dataset.files,
            started_clock=time.monotonic() if status == RUNNING else None,
        )

    def stop_runs(self) -> None:
        """Stop the selected runs that are running or queued; with none of those selected, stop
        everything: every run, and every sweep with its queue. What ran is kept."""
        active = {e.run_id for e in self.runs.entries() if e.record.status in (RUNNING, WAITING)}
        chosen = self.selected_run_ids() & active
        if chosen:
            for run_id in chosen:
                self.controller.stop_run(run_id)
            self.statusBar().showMessage(f"Stopping {len(chosen)} run(s) after their current epoch…", 5000)
        elif active:
            self.controller.stop_all()
            self.statusBar().showMessage("Stopping all runs and sweeps after their current epoch…", 5000)

    def _on_epoch(self, run_id: int, result) -> None:
        self.runs.add_epoch(run_id, result)
        self.run_log.epoch(run_id, result)
        self.plots.update_run(run_id)
        self.sweep_panel.run_progressed(run_id)
        self.inspector.run_progressed(run_id)

    def _on_run_started(self, run_id: int, attempt: int) -> None:
        self.runs.start(run_id, attempt)
        entry = self.runs.entry(run_id)
        if entry is not None:
            self.run_log.started(run_id, entry.record)  # a retry starts the stored run over
        if entry is not None and not self.plots.has_run(run_id):
            self.plots.add_run(entry)
        self.plots.update_run(run_id)
        self.sweep_panel.run_progressed(run_id)
        self.inspector.run_progressed(run_id)

    def _on_run_finished(self, run_id: int, record) -> None:
        entry = self.runs.entry(run_id)
        if entry is None:
            return
        record.name = entry.label
        self.runs.finish(run_id, record)
        self.run_log.finished(run_id, entry.record)
        self.plots.update_run(run_id, now=True)
        self.sweep_panel.run_ended(run_id)
        self.inspector.run_progressed(run_id)
        if record.sweep:
            return  # a sweep reports at its end, not run by run
        nothing = learned_nothing(record) if record.status == FINISHED else ""
        if record.status == DIVERGED:
            self.show_notice(f"Run #{run_id}: {record.message}")
        elif nothing:
            self.show_notice(f"Run #{run_id} learned nothing: {nothing}")
        elif record.status == STOPPED:
            self.statusBar().showMessage(f"Run #{run_id} {record.status_text()}.", 8000)
        elif record.final is not None:
            self.statusBar().showMessage(
                f"Run #{run_id} finished: test accuracy {record.final.test_accuracy:.2%}", 8000
            )

    def _on_run_failed(self, run_id: int, message: str) -> None:
        self.runs.fail(run_id, message)
        self.sweep_panel.run_ended(run_id)
        entry = self.runs.entry(run_id)
        if entry is not None:
            self.run_log.failed(run_id, entry.record)
        if entry is not None and not entry.record.sweep:
            self.show_notice(f"Run #{run_id} failed: {message}")

    # --- sweeps -------------------------------------------------------------------------------

    def compare_penalties(self) -> str | None:
        """The lesson's loop in one action: none, L1, L2 and elastic net with these settings."""
        config = self.params.config()
        spec = SweepSpec(config, penalties=PENALTIES, alphas=(config.alpha,), learning_rates=(config.eta0,))
        return self.start_sweep(spec, kind="C")

    def open_sweep_dialog(self) -> None:
        problem = self.run_problem(self.params.config())
        if problem is not None:
            self._show_message(problem)
            return
        dialog = SweepDialog(self.params.config(), self)
        try:
            dialog.set_grid(json.loads(self.settings.value("sweep/grid", "{}", type=str)))
        except (TypeError, ValueError):
            pass  # a damaged entry: the dialog's defaults
        if dialog.exec() == SweepDialog.DialogCode.Accepted and dialog.spec() is not None:
            self.settings.setValue("sweep/grid", json.dumps(dialog.grid()))
            self.start_sweep(dialog.spec(), jobs=dialog.jobs.value(), scheduler=dialog.scheduler.text().strip() or None)

    def start_sweep(
        self, spec: SweepSpec, jobs: int | None = None, scheduler: str | None = None, kind: str = "S"
    ) -> str | None:
        """Queue every run of ``spec`` (shown at once as waiting) and start them in parallel.
        Returns the sweep's name ("S1", or "C1" for a comparison), None if it cannot start."""
        problem = self.run_problem(spec.base)
        items = []
        if problem is None:
            try:
                items = admit_sweep(spec, self.dataset.class_names, self.dataset.counts())
            except ReguiError as exc:
                problem = str(exc)
        if problem is not None or not items:
            self._show_message(problem or "The sweep has no runs.")
            return None
        name = f"{kind}{next(self._sweep_counts[kind])}"
        summary = self.dataset.summary()
        entries = [
            self._new_entry(item.config, WAITING, name, item.repeat, ahead=n, summary=summary)
            for n, item in enumerate(items)
        ]
        self.runs.add_many(entries)  # curves come when each run starts: a big grid adds none at once
        run_ids = [e.run_id for e in entries]
        names = [e.record.name for e in entries]
        # A comparison's few runs keep their weights epoch by epoch, as single runs do, for the views.
        snapshots = self.runs.snapshot_limit if len(items) <= SNAPSHOTS_UP_TO else 1
        control = self.controller.start_sweep(name, self.dataset, items, run_ids, names, jobs, scheduler, snapshots)
        self.sweep_panel.add_sweep(name, run_ids, control, spec.alphas or (spec.base.alpha,))
        if kind == "S":
            self.tabs.setCurrentWidget(self.sweep_panel)
        where = f"on {scheduler}" if scheduler else "in worker processes"
        self.statusBar().showMessage(f"{sweep_title(name)}: {len(items)} runs started {where}.", 8000)
        self._update_state()
        return name

    def _on_sweep_ended(self, name: str, problem: str) -> None:
        left = 0
        for entry in self.runs.entries():
            if entry.record.sweep == name and entry.record.status in (WAITING, RUNNING):  # never ran
                self.runs.fail(entry.run_id, problem or "The sweep ended before this run.")
                left += 1
        self.sweep_panel.sweep_ended(name)
        statuses = [e.record.status for e in self.runs.entries() if e.record.sweep == name]
        trouble = {s: statuses.count(s) for s in (DIVERGED, FAILED) if statuses.count(s)}
        if problem:
            self.show_notice(f"{sweep_title(name)} could not run {left} run(s): {problem}")
        elif trouble:
            counts = " and ".join(f"{n} run(s) {status}" for status, n in trouble.items())
            self.show_notice(f"{sweep_title(name)}: {counts}; their rows (and tooltips) say why.")
        else:
            self.statusBar().showMessage(f"{sweep_title(name)} done.", 8000)

    def select_runs(self, run_ids) -> None:
        """Select these runs in the results table (and so highlight their curves)."""
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
        for run_id in run_ids:
            row = self.runs.row_of(run_id)
            if row is not None:
                selection.select(self.proxy.mapFromSource(self.runs.index(row, 0)), flags)
        rows = [self.runs.row_of(r) for r in run_ids if self.runs.row_of(r) is not None]
        if rows:
            self.table.scrollTo(self.proxy.mapFromSource(self.runs.index(rows[0], 0)))

    # --- state --------------------------------------------------------------------------------

    def _update_state(self) -> None:
        config = self.params.config()
        problem = self.run_problem(config)
        for widget in (
            self.run_button,
            self.run_action,
            self.compare_button,
            self.compare_action,
            self.sweep_button,
            self.sweep_action,
        ):
            widget.setEnabled(problem is None)
        if problem is None:
            n_test = test_count(self.dataset.n_images, config.test_size)
            self.ready.setText(f"Ready: {self.dataset.n_images - n_test:,} training and {n_test:,} test images.")
            self.ready.setStyleSheet("color: #2e7d32;")
        else:
            self.ready.setText(problem)
            self.ready.setStyleSheet(
                "color: #666;" if self.dataset is None or "Loading" in problem else "color: #c62828;"
            )
        running = len(self.controller.running_runs())
        busy = running > 0 or self.controller.sweep_running()
        self.stop_button.setEnabled(busy)
        self.stop_action.setEnabled(busy)
        if self.controller.sweep_running():  # one sweep at a time: they would share the cores anyway
            for widget in (self.compare_button, self.compare_action, self.sweep_button, self.sweep_action):
                widget.setEnabled(False)
            self.compare_button.setToolTip("A sweep is running: wait for it, or stop it")
        else:
            self.compare_button.setToolTip("Run none, L1, L2 and elastic net with these settings side by side")
        parts = []
        if self.controller.is_loading():
            parts.append("loading")
        if running:
            parts.append(f"{running} run{'s' if running > 1 else ''} training")
        self.activity.setText(" · ".join(parts) if parts else "idle")

    def selected_run_ids(self) -> set[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return {self.runs.entry_at(r).run_id for r in rows}

    def _on_selection(self, *_) -> None:
        chosen = self.selected_run_ids()
        self.plots.highlight(chosen)
        self.inspector.show_selected([e for e in self._entries_in_view_order() if e.run_id in chosen])

    # --- stored runs ----------------------------------------------------------------------------

    def store_path(self):
        return self.run_log.path

    def open_run_browser(self):
        from regui.gui.run_browser import RunBrowser

        browser = RunBrowser(self.store_path(), self)
        browser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser.open_requested.connect(self.open_stored_runs)
        browser.settings_requested.connect(self.use_stored_settings)
        browser.show()
        self.run_browser = browser
        return browser

    def use_stored_settings(self, run) -> None:
        """Train a stored run again: its settings in the panel, and a word if its data changed."""
        self.params.set_config(run.config)
        folder, then = run.dataset.get("folder", ""), run.dataset.get("fingerprint", "")
        here = self.dataset is not None and self.dataset.is_folder(folder)
        if here and then and then != self.dataset.fingerprint:
            self.show_notice(
                f"Stored run {run.id}'s settings are set. The folder {folder} has changed since it ran "
                "(files added, removed or modified): a new run will not be on the same data."
            )
        elif not here:
            self.statusBar().showMessage(
                f"Stored run {run.id}'s settings are set; it ran on {folder}: load that "
                "folder to train it again on the same data.",
                15_000,
            )
        else:
            self.statusBar().showMessage(
                f"Stored run {run.id}'s settings are set: press Run to train it again.", 10_000
            )

    def open_stored_runs(self, stored_ids) -> list[int]:
        """Show stored runs in the table and plots next to this session's; returns their ids here.
        A run that cannot be read is named in a notice; the others open."""
        from regui.core.store import RunStore

        here = {e.stored_id for e in self.runs.entries()} | self.run_log.stored_ids()
        opened, problems = [], []
        try:
            with RunStore(self.store_path(), check_interrupted=False, mode="read") as store:
                for stored_id in stored_ids:
                    if stored_id in here:
                        continue  # already in the window (opened, or trained in this session)
                    try:
                        record = store.load(stored_id)
                    except ReguiError as exc:
                        problems.append(str(exc))
                        continue
                    entry = RunEntry(next(self._run_ids), record, self.runs.next_style(), stored_id=stored_id)
                    entry.recompute_best()
                    self.runs.add(entry)
                    self.plots.add_run(entry)
                    opened.append(entry.run_id)
        except ReguiError as exc:
            problems.append(str(exc))
        if problems:
            self.show_notice("Could not open stored runs: " + " ".join(problems))
        self._mark_stored_runs()
        self.inspector.push()
        if opened:
            self.statusBar().showMessage(f"Opened {len(opened)} stored run(s).", 8000)
        return opened

    def ask_snapshot_limit(self) -> None:
        from regui.gui.preferences import ask_snapshot_limit

        limit = ask_snapshot_limit(self, self.runs.snapshot_limit, self.dataset)
        if limit is not None:
            self.set_snapshot_limit(limit)

    def set_snapshot_limit(self, limit: int) -> None:
        self.runs.set_snapshot_limit(limit)
        self.settings.setValue("snapshots/per_run", limit)
        self.inspector.push()

    def _show_message(self, message: str) -> None:
        self.last_message = message
        self.statusBar().showMessage(message, 15_000)

    def show_notice(self, message: str) -> None:
        self._show_message(message)
        self.notice.setText(message)
        self.notice_row.show()

    # --- export -------------------------------------------------------------------------------

    def export_results(self, path: str | None = None) -> bool:
        """Write the results table (CSV, Markdown) or every run with its epochs (JSON), by extension."""
        path = path or ask_save_path(self, "Export results", "results.csv", EXPORT_FILTERS)
        if not path:
            return False
        suffix = Path(path).suffix.lower()
        entries = self._entries_in_view_order()
        records = [e.record for e in entries]

        def write() -> None:
            if suffix == ".json":
                export.write_json(path, export.results_document(records))
            elif suffix in (".md", ".markdown"):
                rows = [self.runs_display_row(e) for e in entries]
                export.write_markdown(path, rows, [c.header for c in COLUMNS])
            else:
                export.write_csv(path, [r.summary_row() for r in records])

        if not write_reporting(path, write, self._export_failed, "the results"):
            return False
        self.statusBar().showMessage(f"Exported {len(records)} run(s) to {path}", 8000)
        return True

    def _entries_in_view_order(self) -> list[RunEntry]:
        rows = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]
        return [self.runs.entry_at(r) for r in rows]

    @staticmethod
    def runs_display_row(entry: RunEntry) -> dict:
        return {c.header: c.text(entry) for c in COLUMNS}

    def export_plots(self, path: str | None = None) -> bool:
        path = path or ask_save_path(self, "Export plots", "plots.png", {"PNG image (*.png)": ".png"})
        if not path or not write_reporting(path, lambda: self.plots.export_png(path), self._export_failed, "the plots"):
            return False
        self.statusBar().showMessage(f"Plots saved to {path}", 8000)
        return True

    def _export_failed(self, message: str) -> None:
        self._show_message(message)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Export failed",
            f"{message}\n\nNothing was lost: the runs are still here; choose another place.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): the app (and any training) carries on

    # --- settings, drops, close ----------------------------------------------------------------

    def _remember_folder(self, folder: str) -> None:
        recent = [f for f in self._recent() if f != folder]
        recent.insert(0, folder)
        recent = recent[:MAX_RECENT]
        self.settings.setValue("recent", json.dumps(recent))
        self.dataset_panel.set_recent(recent)

    def last_folder(self) -> str:
        """Where the person left off: the last folder loaded, if it is still there; else the
        bundled sample."""
        from regui.core.locations import sample_dataset_dir

        recent = self._recent()
        if recent and Path(recent[0]).is_dir():
            return recent[0]
        return str(sample_dataset_dir())

    def _recent(self) -> list[str]:
        try:
            value = json.loads(self.settings.value("recent", "[]", type=str))
            return [str(f) for f in value] if isinstance(value, list) else []
        except (TypeError, ValueError):
            return []

    def _restore_settings(self) -> None:
        try:
            saved = json.loads(self.settings.value("config", "{}", type=str))
            config = TrainConfig.from_dict(saved) if isinstance(saved, dict) else TrainConfig()
            config.validate()
        except (TypeError, ValueError, ReguiError):
            config = TrainConfig()  # a damaged or outdated entry falls back to the defaults
        self.params.set_config(config)
        self.dataset_panel.set_recent(self._recent())
        # Anything damaged or from elsewhere in the settings file is ignored, never fatal.
        for key, restore in (
            ("geometry", self.restoreGeometry),
            ("split/main", self.main_split.restoreState),
            ("split/right", self.right_split.restoreState),
        ):
            try:
                value = self.settings.value(key)
                if value is not None:
                    restore(value)
            except (TypeError, ValueError):
                pass
        try:
            limit = int(self.settings.value("snapshots/per_run", SNAPSHOTS_DEFAULT, type=int))
        except (TypeError, ValueError):
            limit = SNAPSHOTS_DEFAULT
        self.runs.set_snapshot_limit(max(3, limit))
        try:
            state = self.settings.value("window/state")
            if state is not None:
                self.restoreState(state)
        except (TypeError, ValueError):
            pass
        for key, box, default in (
            ("plots/parts", self.plots.show_parts, False),
            ("plots/train", self.plots.show_train, True),
            ("plots/log", self.plots.log_loss, False),
        ):
            try:
                box.setChecked(bool(self.settings.value(key, default, type=bool)))
            except (TypeError, ValueError):
                box.setChecked(default)

    def _save_plot_options(self) -> None:
        self.settings.setValue("plots/parts", self.plots.show_parts.isChecked())
        self.settings.setValue("plots/train", self.plots.show_train.isChecked())
        self.settings.setValue("plots/log", self.plots.log_loss.isChecked())

    def dragEnterEvent(self, event) -> None:
        if self._dropped_folder(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folder = self._dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.load_folder(folder)

    @staticmethod
    def _dropped_folder(event) -> str | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        for url in urls:
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                return url.toLocalFile()
        return None

    def closeEvent(self, event) -> None:
        if not self._closing:
            self._closing = True
            self._save_settings()
        if self.controller.shutdown():
            self.inspector.close()
            self._store_runs_stopped_by_closing()
            self.run_log.close()
            event.accept()
            return
        # A thread is still finishing (a very long epoch, a slow disk). Destroying a running
        # QThread aborts the process, so the window stays until it ends, then closes itself.
        event.ignore()
        self.centralWidget().setEnabled(False)
        self.statusBar().showMessage("Closing: waiting for the current epoch or file to finish…")
        self.controller.activity_changed.connect(self._close_when_idle)

    def _store_runs_stopped_by_closing(self) -> None:
        """Runs still going are stopped by the closing (not killed): stored as stopped, with the
        time they ran. Their workers' own records arrive after the window has gone."""
        now = time.monotonic()
        for entry in self.runs.entries():
            record = entry.record
            if record.status != RUNNING:
                continue
            record.status = STOPPED
            done = len(record.epochs)
            record.message = (
                f"Stopped when the window was closed, after epoch {done}."
                if done
                else "Stopped when the window was closed, before its first epoch ended."
            )
            if entry.started_clock is not None:
                record.seconds = now - entry.started_clock
            self.run_log.finished(entry.run_id, record)

    def _close_when_idle(self) -> None:
        if self.controller.is_idle():
            self.close()

    def _save_settings(self) -> None:
        self.settings.setValue("config", json.dumps(self.params.config().to_dict()))
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("split/main", self.main_split.saveState())
        self.settings.setValue("split/right", self.right_split.saveState())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About regui",
            f"<b>regui {__version__}</b><p>Watch regularization shape a linear image classifier: "
            "scikit-learn's SGDClassifier, one epoch at a time.</p>",
        )
