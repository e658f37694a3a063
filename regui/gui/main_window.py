"""The main window: dataset and settings on the left, live curves and the results table on the
right. It lays out the panels and forwards the person's actions; the runs themselves (starting,
stopping, sweeps, stored runs, what each run's record says) are the session's business."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from regui.core.sweep import SweepSpec
from regui.gui.garbage import collect_garbage_in_gui_thread
from regui.gui.inspector import Inspector
from regui.gui.menus import WindowActions
from regui.gui.plots import PlotsPanel
from regui.gui.results_model import RunsModel
from regui.gui.results_table import RESULT_FILTERS, ResultsTable, write_results
from regui.gui.run_controls import RunControls
from regui.gui.saving import ask_save_path, show_save_failure, write_reporting
from regui.gui.session import SNAPSHOTS_DEFAULT, Session
from regui.gui.sweep_dialog import SweepDialog
from regui.gui.sweep_panel import SweepPanel
from regui.gui.widgets import NoticeBar, dropped_folder
from regui.gui.window_state import WindowState, fit_to_screen


class MainWindow(QMainWindow):
    def __init__(
        self,
        initial_folder: str | Path | None = None,
        settings: QSettings | None = None,
        reopen_last: bool = False,
        warm_workers: bool = False,
    ) -> None:
        """``warm_workers``: start worker processes for each dataset loaded (see Session)."""
        super().__init__()
        collect_garbage_in_gui_thread()
        self.setWindowTitle("regui: regularization explorer")
        self.settings = settings if settings is not None else QSettings()
        self.state = WindowState(self.settings)
        self.session = Session(self)
        self.session.warm_workers = warm_workers
        self.last_message = ""  # the last message shown (tests read it)

        self.controls = RunControls()
        # The left column's parts, named here for the actions and scripts that reach them.
        self.dataset_panel, self.params, self.ready = (
            self.controls.dataset_panel,
            self.controls.params,
            self.controls.ready,
        )
        self.run_button, self.stop_button = self.controls.run_button, self.controls.stop_button
        self.compare_button, self.sweep_button = self.controls.compare_button, self.controls.sweep_button
        self.runs = RunsModel(self)
        self.table = ResultsTable(self.runs)
        self.proxy, self.columns = self.table.proxy, self.table.columns
        self.plots = PlotsPanel(self.runs)
        self.sweep_panel = SweepPanel(self.runs)

        self._build_layout()
        self.inspector = Inspector(self, self.runs, self._save_failed)
        self.menu_actions = WindowActions(self)
        self._connect()
        self._restore_state()
        self.fit_to_screen()
        self.setAcceptDrops(True)
        self._update_state()
        if initial_folder is None and reopen_last:
            initial_folder = self.state.last_folder()
        if initial_folder is not None:
            # After the window is up: the first paint must not wait for anything.
            QTimer.singleShot(0, lambda: self.load_folder(str(initial_folder)))

    # The session's, named here for the panels and scripts that reach them through the window.
    @property
    def controller(self):
        return self.session.controller

    @property
    def dataset(self):
        return self.session.dataset

    @property
    def run_log(self):
        return self.session.run_log

    # --- layout -----------------------------------------------------------------------------

    def _build_layout(self) -> None:
        self.notice_row = NoticeBar()
        self.notice = self.notice_row.label
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
        self.main_split.addWidget(self.controls)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([self.controls.minimumSizeHint().width(), 1000])
        self.setCentralWidget(self.main_split)
        self.activity = QLabel()
        self.statusBar().addPermanentWidget(self.activity)
        self.resize(1400, 860)

    def fit_to_screen(self) -> None:
        fit_to_screen(self)

    def _connect(self) -> None:
        s, c = self.session, self.session.controller
        c.load_progress.connect(self.dataset_panel.show_progress)
        s.loaded.connect(self._on_loaded)
        s.load_failed.connect(self._on_load_failed)
        s.load_cancelled.connect(self._on_load_cancelled)
        self.dataset_panel.folder_chosen.connect(self.load_folder)
        self.dataset_panel.cancel_requested.connect(c.cancel_load)
        self.dataset_panel.reload_requested.connect(self.reload)
        self.params.changed.connect(self._update_state)
        self.params.image_changed.connect(self._on_image_settings_changed)
        self.run_button.clicked.connect(self.start_run)
        self.compare_button.clicked.connect(self.compare_penalties)
        self.sweep_button.clicked.connect(self.open_sweep_dialog)
        self.stop_button.clicked.connect(self.stop_runs)
        # The table's rows first: the others look runs up there.
        s.follow(self.runs, self.plots, self.sweep_panel, self.inspector, self)
        s.sweep_added.connect(self._on_sweep_added)
        s.sweep_ended.connect(self.sweep_panel.sweep_ended)
        s.sweep_grown.connect(self.sweep_panel.sweep_grown)
        s.notice.connect(self.show_notice)
        s.status.connect(self.say)
        s.activity_changed.connect(self._update_state)
        self.sweep_panel.runs_selected.connect(self.select_runs)
        self.sweep_panel.pause_requested.connect(s.pause_sweep)
        self.sweep_panel.stop_requested.connect(s.stop_sweep)
        self.runs.visibility_changed.connect(self.plots.set_visible)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.plots.options_changed.connect(lambda: self.state.save_plot_options(self.plots))

    # --- loading ----------------------------------------------------------------------------

    def load_folder(self, folder: str) -> None:
        """Load ``folder`` (typed, browsed, dropped or recent) with the current image settings."""
        if not self.session.closing:
            config = self.params.config()
            folder = self.session.load(folder, config.image, config.split)
            self.dataset_panel.show_loading(folder)
            self.statusBar().showMessage(f"Loading {folder}…")
            self._update_state()

    def reload(self) -> None:
        """Load the folder again: its files may have changed, or the image settings have."""
        folder = self.dataset_panel.path.text().strip() or self.session.folder()
        if folder:
            self.load_folder(folder)

    def _on_loaded(self, result) -> None:
        dataset = result.dataset
        self.dataset_panel.show_loaded(result)
        self.runs.mark_stored_runs(dataset)
        self.dataset_panel.set_recent(self.state.remember_folder(str(dataset.root)))
        self.statusBar().showMessage(f"Loaded {dataset.root}: {dataset.describe()}", 10_000)
        self._update_state()

    def _on_load_failed(self, message: str) -> None:
        self.dataset_panel.show_error(message)  # the path stays as typed, to be corrected
        self.say(message.splitlines()[0])
        self._update_state()

    def _on_load_cancelled(self, message: str) -> None:
        self.dataset_panel.show_cancelled()
        self.statusBar().showMessage(message, 8000)
        self._update_state()

    def _on_image_settings_changed(self) -> None:
        folder = self.session.folder()
        if folder is not None:
            self.load_folder(folder)  # decoded again (or read from the cache) at the new size
        else:
            self._update_state()

    def last_folder(self) -> str:
        return self.state.last_folder()

    # --- runs and sweeps: asked of the session --------------------------------------------------

    def start_run(self) -> int | str | None:
        """Start a run with the current settings; returns its id (None if it cannot start). With
        k-fold cross-validation set, the setting is cross-validated: the name of that sweep."""
        config = self.params.config()
        started = self.session.cross_validate(config) if config.folds else self.session.start_run(config)
        if started is not None:
            self.state.save_config(config)
        return started

    def compare_penalties(self) -> str | None:
        return self.session.compare_penalties(self.params.config())

    def open_sweep_dialog(self) -> None:
        problem = self.session.run_problem(self.params.config())
        if problem is not None:
            self.say(problem)
            return
        dialog = SweepDialog(self.params.config(), self)
        dialog.set_grid(self.state.sweep_grid())
        if dialog.exec() == SweepDialog.DialogCode.Accepted and dialog.spec() is not None:
            self.state.save_sweep_grid(dialog.grid())
            self.start_sweep(dialog.spec(), jobs=dialog.jobs.value(), scheduler=dialog.scheduler.text().strip() or None)

    def start_sweep(self, spec: SweepSpec, jobs: int | None = None, scheduler: str | None = None) -> str | None:
        return self.session.start_sweep(spec, jobs, scheduler)

    def _on_sweep_added(self, sweep) -> None:
        self.sweep_panel.add_sweep(sweep)
        if sweep.name.startswith("S"):
            self.tabs.setCurrentWidget(self.sweep_panel)

    def stop_runs(self) -> None:
        """Stop the selected runs that are running or queued; with none of those selected, stop
        everything: every run, and every sweep with its queue. What ran is kept."""
        active = self.session.active()
        chosen = self.selected_run_ids() & active
        if chosen:
            self.session.stop(chosen)
            self.statusBar().showMessage(f"Stopping {len(chosen)} run(s) after their current epoch…", 5000)
        elif active:
            self.session.stop_all()
            self.statusBar().showMessage("Stopping all runs and sweeps after their current epoch…", 5000)

    def open_stored_runs(self, stored_ids) -> list[int]:
        """Show stored runs in the table and plots next to this session's; returns their ids here."""
        return self.session.open_stored(stored_ids)

    def runs_added(self, runs) -> None:
        if any(run.stored_id is not None for run in runs):
            if self.dataset is not None:
                self.runs.mark_stored_runs(self.dataset)
            self.inspector.push()

    # --- state --------------------------------------------------------------------------------

    def _update_state(self) -> None:
        problem = self.session.run_problem(self.params.config())
        sweeping = self.session.sweep_running()
        running = len(self.session.running())
        self.controls.show_state(problem, self.dataset, sweeping, busy=running > 0 or sweeping)
        self.menu_actions.follow_buttons()
        parts = ["loading"] if self.controller.is_loading() else []
        if running:
            parts.append(f"{running} run{'s' if running > 1 else ''} training")
        self.activity.setText(" · ".join(parts) if parts else "idle")

    def selected_run_ids(self) -> set[int]:
        return self.table.selected_run_ids()

    def select_runs(self, run_ids) -> None:
        """Select these runs in the results table (and so highlight their curves)."""
        self.table.select_runs(run_ids)

    def _on_selection(self, *_) -> None:
        chosen = self.selected_run_ids()
        self.plots.highlight(chosen)
        self.inspector.show_selected([e for e in self.table.entries_in_view_order() if e.run_id in chosen])

    def say(self, message: str, milliseconds: int = 15_000) -> None:
        """A word in the status bar (it fades)."""
        self.last_message = message
        self.statusBar().showMessage(message, milliseconds)

    def show_notice(self, message: str) -> None:
        """Something to read above the table until dismissed (a run diverged, a store problem)."""
        self.say(message)
        self.notice_row.show_message(message)

    # --- stored runs and settings -----------------------------------------------------------------

    def open_run_browser(self):
        from regui.gui.run_browser import RunBrowser

        browser = RunBrowser(self.session.store_path(), self)
        browser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser.open_requested.connect(self.open_stored_runs)
        browser.settings_requested.connect(self.use_stored_settings)
        browser.show()
        self.run_browser = browser
        return browser

    def use_stored_settings(self, run) -> None:
        """Train a stored run again: its settings in the panel, and a word on its data."""
        self.params.set_config(run.config)
        self.session.say_where_it_ran(run)

    def ask_snapshot_limit(self) -> None:
        from regui.gui.preferences import ask_snapshot_limit

        limit = ask_snapshot_limit(self, self.session.book.snapshots, self.dataset)
        if limit is not None:
            self.set_snapshot_limit(limit)

    def set_snapshot_limit(self, limit: int) -> None:
        self.session.set_snapshot_limit(limit)
        self.state.save_snapshot_limit(limit)
        self.inspector.push()

    def _restore_state(self) -> None:
        self.params.set_config(self.state.config())
        self.dataset_panel.set_recent(self.state.recent())
        self.session.set_snapshot_limit(self.state.snapshot_limit(SNAPSHOTS_DEFAULT))
        self.state.restore_window(self)
        self.state.restore_plot_options(self.plots)

    # --- export -------------------------------------------------------------------------------

    def export_results(self, path: str | None = None) -> bool:
        """Write the results table (CSV, Markdown) or every run with its epochs (JSON), by extension."""
        path = path or ask_save_path(self, "Export results", "results.csv", RESULT_FILTERS)
        entries = self.table.entries_in_view_order()
        if not path or not write_reporting(
            path, lambda: write_results(path, entries), self._save_failed, "the results"
        ):
            return False
        self.statusBar().showMessage(f"Exported {len(entries)} run(s) to {path}", 8000)
        return True

    def export_plots(self, path: str | None = None) -> bool:
        path = path or ask_save_path(self, "Export plots", "plots.png", {"PNG image (*.png)": ".png"})
        if not path or not write_reporting(path, lambda: self.plots.export_png(path), self._save_failed, "the plots"):
            return False
        self.statusBar().showMessage(f"Plots saved to {path}", 8000)
        return True

    def _save_failed(self, message: str) -> None:
        self.say(message)
        show_save_failure(self, message)

    # --- drops, close -----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if dropped_folder(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folder = dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.load_folder(folder)

    def closeEvent(self, event) -> None:
        first = not self.session.closing  # (closing again, once a busy thread has ended)
        if first:
            self.state.save_config(self.params.config())
            self.state.save_window(self)
        if self.session.shutdown():
            self.inspector.close()
            event.accept()
            return
        # A thread is still finishing (a very long epoch, a slow disk). Destroying a running
        # QThread aborts the process, so the window stays until it ends, then closes itself.
        event.ignore()
        self.centralWidget().setEnabled(False)
        self._update_state()  # the menus' Run and Compare too: nothing new starts now
        self.statusBar().showMessage("Closing: waiting for the current epoch or file to finish…")
        if first:
            self.session.activity_changed.connect(self._close_when_idle)

    def _close_when_idle(self) -> None:
        if self.controller.is_idle():
            self.close()
