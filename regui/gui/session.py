"""The window's runs: starting and stopping them, sweeps, and runs opened from the store.

The session owns what the window trains on (the loaded dataset), the run book (each run's one
record, see ``regui.core.run_book``) and, through the Controller, the worker threads. The store
is subscribed to the book once; the session itself is the book's Qt adapter: it re-emits the
book's events as signals that the results table, the plots, the Sweep tab and the inspector
follow. The window lays those out and forwards the person's actions here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from regui.core.admission import admit_run, admit_sweep
from regui.core.config import PENALTIES, TrainConfig, run_label
from regui.core.errors import ReguiError
from regui.core.records import RUNNING, STOPPED, WAITING, EpochResult, RunRecord
from regui.core.run_book import RunBook
from regui.core.run_log import BackgroundRunLog, Storing
from regui.core.sweep import SNAPSHOTS_UP_TO, SweepSpec
from regui.core.sweep_runs import SweepControl
from regui.gui.controller import Controller
from regui.gui.run_news import News, run_news, stopped_by_closing, sweep_news, where_it_ran
from regui.gui.sweep_state import SweepRun

SNAPSHOTS_DEFAULT = 100  # weight snapshots kept per run before thinning (see README: memory)


@dataclass(frozen=True)
class NewRun:
    """A run just added to the session: its record (the book's), the files of the dataset it
    trains on (where its test images are), and its id in the run store if it was opened there."""

    run_id: int
    record: RunRecord
    files: object = None
    stored_id: int | None = None


class Session(QObject):
    loaded = Signal(object)  # regui.gui.workers.LoadResult: the dataset runs train on from now on
    load_failed = Signal(str)  # why (and which dataset is still in use)
    load_cancelled = Signal(str)  # the same, when the person cancelled
    runs_added = Signal(list)  # [NewRun]: a run, a sweep's whole queue, or runs opened from the store
    run_started = Signal(int)  # run id (again, for a retry: its epochs were cleared)
    run_epoch = Signal(int, object)  # run id, EpochResult
    run_ended = Signal(int)  # run id: finished, stopped, diverged or failed
    sweep_added = Signal(object)  # SweepRun
    sweep_grown = Signal(str)  # sweep name: runs were added to it (cross-validation's retraining)
    sweep_ended = Signal(str)  # sweep name
    notice = Signal(str)  # to be read until dismissed: a run diverged, failed, learned nothing
    status = Signal(str, int)  # a passing word for the status bar: text, milliseconds
    activity_changed = Signal()  # a load, run or sweep started or ended
    _store_problem = Signal(str)  # from the store's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = Controller(self)
        self.dataset = None  # the loaded regui.core.dataset.Dataset: what runs train on
        self.loading_folder: str | None = None  # being loaded, to become the dataset
        self.book = RunBook(SNAPSHOTS_DEFAULT)
        self.sweeps: dict[str, SweepRun] = {}
        self._run_numbers = itertools.count(1)
        self._sweep_numbers = {kind: itertools.count(1) for kind in "SCV"}
        self._live: set[int] = set()  # runs started here that have not ended
        self._opened: set[int] = set()  # store ids of the runs opened from the store
        self.closing = False  # the window is closing: nothing new starts
        # Start worker processes for each dataset loaded, for comparisons and sweeps (the app
        # does; a window made for a test need not start processes it never uses).
        self.warm_workers = False
        # Every run is written to the run store as it happens, from a thread of its own.
        self._store_problem.connect(self.notice)
        self.run_log = BackgroundRunLog(None, self._store_problem.emit)
        self.book.subscribe(Storing(self.run_log))
        self.book.subscribe(self)

        c = self.controller
        c.loaded.connect(self._on_loaded)
        c.load_failed.connect(self._on_load_failed)
        c.load_cancelled.connect(self._on_load_cancelled)
        # What the workers report goes into the book (in this, the GUI thread).
        c.run_started.connect(self.book.start)
        c.run_epoch.connect(self.book.epoch)
        c.run_finished.connect(self._on_finished)
        c.run_failed.connect(self.book.fail)
        c.sweep_ended.connect(self._on_sweep_ended)
        c.activity_changed.connect(self.activity_changed)

    def follow(self, *views) -> None:
        """Connect each view's slots named like this session's run signals (``runs_added``,
        ``run_started``, ``run_epoch``, ``run_ended``), view by view in the order given: Qt calls
        slots in the order they were connected, so a view may read what an earlier one made."""
        for view in views:
            for name in ("runs_added", "run_started", "run_epoch", "run_ended"):
                slot = getattr(view, name, None)
                if slot is not None:
                    getattr(self, name).connect(slot)

    # --- the dataset ----------------------------------------------------------------------------

    def load(self, folder: str, image, split=None) -> str:
        """Load ``folder`` (``~`` expanded) with ``image`` settings, and prepare ``split`` for the
        first run; a load already going is dropped for this one. Returns the folder as loaded."""
        folder = str(Path(folder).expanduser())
        self.loading_folder = folder
        self.controller.load(folder, image, split)
        return folder

    def folder(self) -> str | None:
        """The folder being loaded, else the dataset's (what Reload or new image settings load)."""
        return self.loading_folder or (str(self.dataset.root) if self.dataset is not None else None)

    def _still_using(self) -> str:
        return f"Still using {self.dataset.root}." if self.dataset is not None else ""

    @Slot(object)
    def _on_loaded(self, result) -> None:
        self.dataset, self.loading_folder = result.dataset, None
        if self.warm_workers:
            self.controller.warm_pool_when_idle(result.dataset, result.split)
        self.loaded.emit(result)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.loading_folder = None
        self.load_failed.emit("\n".join(filter(None, (message, self._still_using()))))

    @Slot()
    def _on_load_cancelled(self) -> None:
        self.loading_folder = None
        self.load_cancelled.emit(" ".join(filter(None, ("Loading cancelled.", self._still_using()))))

    # --- what can run ---------------------------------------------------------------------------

    def run_problem(self, config: TrainConfig) -> str | None:
        """Why ``config`` cannot be run now, or None. Checked before Run, not after."""
        if self.closing:
            return "The window is closing."
        if self.controller.is_loading():
            return "Loading images…"
        if self.dataset is None:
            return "Load a dataset to start (a folder with one sub-folder per class)."
        try:
            admit_run(config, self.dataset.class_names, self.dataset.counts())
        except ReguiError as exc:
            return str(exc)
        if config.image != self.dataset.image:
            return (
                f"The images were loaded at {self.dataset.image.text()}: "
                f"press Reload to decode them at {config.image.text()}."
            )
        return None

    def running(self) -> list[int]:
        """Runs training now: single runs and the started runs of sweeps."""
        return sorted(self._live)

    def active(self) -> set[int]:
        """Runs training or waiting in a sweep's queue."""
        queued = [r for sweep in self.sweeps.values() if not sweep.ended for r in sweep.run_ids]
        return self._live | {r for r in queued if self.book.record(r).status == WAITING}

    def sweep_running(self) -> bool:
        return any(not sweep.ended for sweep in self.sweeps.values())

    # --- single runs ----------------------------------------------------------------------------

    def start_run(self, config: TrainConfig) -> int | None:
        """Train ``config`` on the loaded dataset; its run id (None, said why, if it cannot start)."""
        problem = self.run_problem(config)
        if problem is not None:
            self.status.emit(problem, 15_000)
            return None
        run_id = self._add([(config, "", 0)])[0]
        self.book.start(run_id)
        self.controller.start_run(run_id, self.dataset, config, self.book.record(run_id).name, self.book.snapshots)
        self.status.emit(f"Run #{run_id} started: {config.describe()}", 5000)
        return run_id

    def _add(self, runs: list[tuple[TrainConfig, str, int]], dataset=None, names: list[str] | None = None) -> list[int]:
        """Runs on ``dataset`` (the loaded one unless said) into the book (waiting), told to the
        views in one go. Each is named by its id and settings, or ``#id`` and its entry in ``names``."""
        dataset = dataset or self.dataset
        summary = dataset.summary()
        added = []
        for i, (config, sweep, repeat) in enumerate(runs):
            run_id = next(self._run_numbers)
            name = run_label(run_id, config) if names is None else f"#{run_id} {names[i]}"
            record = self.book.add(run_id, config, name, summary, sweep, repeat)
            added.append(NewRun(run_id, record, files=dataset.files))
        self.runs_added.emit(added)
        return [run.run_id for run in added]

    def stop(self, run_ids: Iterable[int]) -> None:
        """Stop these runs after their current epoch (a sweep's queued run: before it starts)."""
        for run_id in run_ids:
            sweep = next((s for s in self.sweeps.values() if run_id in s.index_of), None)
            if sweep is not None:
                sweep.control.stop_run(sweep.index_of[run_id])
            else:
                self.controller.stop_run(run_id)

    def stop_all(self) -> None:
        """Every run and every sweep (its queue too) ends after its current epoch."""
        self.controller.stop_all()

    # --- sweeps ---------------------------------------------------------------------------------

    def compare_penalties(self, config: TrainConfig) -> str | None:
        """The lesson's loop in one action: none, L1, L2 and elastic net with these settings (each
        cross-validated on ``config.folds`` folds, if set)."""
        return self.start_sweep(_at(config, PENALTIES), kind="C")

    def cross_validate(self, config: TrainConfig) -> str | None:
        """One setting, once per fold of ``config.folds``, then trained on the whole training part
        and tested once: a Run with k-fold cross-validation."""
        return self.start_sweep(_at(config, (config.penalty,)), kind="V")

    def start_sweep(
        self, spec: SweepSpec, jobs: int | None = None, scheduler: str | None = None, kind: str = "S"
    ) -> str | None:
        """Queue every run of ``spec`` (shown at once as waiting) and start them in parallel.
        Returns the sweep's name ("S1", or "C1" for a comparison), None if it cannot start."""
        problem = self.run_problem(spec.base)
        items = []
        if problem is None:
            try:
                dataset = self.dataset
                items = admit_sweep(spec, dataset.class_names, dataset.counts(), dataset.image.n_features)
            except ReguiError as exc:
                problem = str(exc)
        if problem is not None or not items:
            self.status.emit(problem or "The sweep has no runs.", 15_000)
            return None
        name = f"{kind}{next(self._sweep_numbers[kind])}"
        # Curves come when each run starts: a big grid adds none at once.
        run_ids = self._add([(item.config, name, item.repeat) for item in items])
        names = [self.book.record(run_id).name for run_id in run_ids]
        control = SweepControl()
        index_of = {run_id: item.index for run_id, item in zip(run_ids, items)}
        sweep = SweepRun(name, control, index_of, spec, (self.dataset, jobs, scheduler))
        self.sweeps[name] = sweep
        # A comparison's few runs keep their weights epoch by epoch, as single runs do, for the views.
        snapshots = self.book.snapshots if len(items) <= SNAPSHOTS_UP_TO else 1
        self.controller.start_sweep(name, self.dataset, items, run_ids, names, control, jobs, scheduler, snapshots)
        self.sweep_added.emit(sweep)
        where = f"on {scheduler}" if scheduler else "in worker processes"
        self.status.emit(f"{sweep.title}: {len(items)} runs started {where}.", 8000)
        self.activity_changed.emit()
        return name

    def _retrain(self, sweep: SweepRun) -> bool:
        """A cross-validated sweep's grid has ended: train the setting chosen per penalty on the
        whole training part, as runs of the same sweep. False if there is nothing to retrain (no
        folds, the sweep was stopped, no setting finished)."""
        from regui.core.cross_validation import retrainings
        from regui.core.sweep_summary import summarize

        if not sweep.folds or sweep.control.stopped.is_set() or self.closing:
            return False
        records = [self.book.record(r) for r in sweep.grid_ids]
        plans = retrainings(summarize(records), records, sweep.spec.base)
        if not plans:
            return False
        dataset, jobs, scheduler = sweep.launch
        run_ids = self._add([(p.config, sweep.name, 0) for p in plans], dataset, [p.name for p in plans])
        items = sweep.retrain(dict(zip(run_ids, plans)))
        self.sweep_grown.emit(sweep.name)
        names = [self.book.record(r).name for r in run_ids]
        # Few runs, the ones to report: they keep their weights epoch by epoch, for the views.
        self.controller.start_sweep(
            sweep.name, dataset, items, run_ids, names, sweep.control, jobs, scheduler, self.book.snapshots
        )
        self.status.emit(
            f"{sweep.title}: the setting chosen for each penalty is trained on the whole training part.", 8000
        )
        return True

    def pause_sweep(self, name: str, paused: bool) -> None:
        if name in self.sweeps:
            self.sweeps[name].pause(paused)

    def stop_sweep(self, name: str) -> None:
        """Start no new runs of the sweep; its running ones end after their epoch."""
        if name in self.sweeps:
            self.sweeps[name].control.stop()

    @Slot(str, str)
    def _on_sweep_ended(self, name: str, problem: str) -> None:
        sweep = self.sweeps[name]
        if not sweep.retrained and not problem and self._retrain(sweep):
            return  # it ends once the chosen settings are trained
        left = [r for r in sweep.run_ids if self.book.record(r).status in (WAITING, RUNNING)]
        for run_id in left:  # never ran, or its runner ended under it
            self.book.fail(run_id, problem or "The sweep ended before this run.")
        sweep.ended = True
        self._tell(sweep_news(sweep, [self.book.record(r) for r in sweep.run_ids], problem, len(left)))
        self.sweep_ended.emit(name)
        self.activity_changed.emit()

    # --- runs kept in the store -----------------------------------------------------------------

    def store_path(self):
        return self.run_log.path

    def open_stored(self, stored_ids: Iterable[int]) -> list[int]:
        """Stored runs next to this session's; returns their run ids here. A run that cannot be
        read is named in a notice; the others open. Runs already here are not opened twice."""
        from regui.core.store import RunStore

        here = self._opened | self.run_log.stored_ids()  # opened, or trained in this session
        records, problems = RunStore.read_each(
            self.store_path(), [i for i in dict.fromkeys(stored_ids) if i not in here]
        )
        added = []
        for stored_id, record in records:
            run_id = next(self._run_numbers)
            self.book.adopt(run_id, record)
            self._opened.add(stored_id)
            added.append(NewRun(run_id, record, stored_id=stored_id))
        if added:
            self.runs_added.emit(added)
            self.status.emit(f"Opened {len(added)} stored run(s).", 8000)
        if problems:
            self.notice.emit("Could not open stored runs: " + " ".join(problems))
        return [run.run_id for run in added]

    def say_where_it_ran(self, run) -> None:
        """A stored run's settings were taken to train it again: say whether it can be, here."""
        self._tell(where_it_ran(run, self.dataset), seconds=15)

    def set_snapshot_limit(self, limit: int | None) -> None:
        """Weight snapshots each run keeps from now on (None: all); runs here are thinned now."""
        self.book.set_snapshot_limit(limit)

    @Slot(int, object)
    def _on_finished(self, run_id: int, outcome: RunRecord) -> None:
        if self.closing and outcome.status == STOPPED:  # stopped by the closing, not by the person
            outcome.message = stopped_by_closing(len(outcome.epochs))
        self.book.finish(run_id, outcome)

    # --- the book's subscriber: its events as signals -------------------------------------------

    def started(self, key: Hashable, record: RunRecord) -> None:
        assert isinstance(key, int)
        self._live.add(key)
        for sweep in self.sweeps.values():
            if key in sweep.index_of and sweep.first_start is None:
                sweep.first_start = time.monotonic()
        self.run_started.emit(key)
        self.activity_changed.emit()

    def epoch(self, key: Hashable, record: RunRecord, result: EpochResult) -> None:
        self.run_epoch.emit(key, result)

    def ended(self, key: Hashable, record: RunRecord) -> None:
        assert isinstance(key, int)
        self._live.discard(key)
        self.run_ended.emit(key)
        self.activity_changed.emit()
        if not record.sweep:  # a sweep reports at its end, not run by run
            self._tell(run_news(key, record))

    def _tell(self, news: News | None, seconds: int = 8) -> None:
        if news is None:
            return
        if news.notice:
            self.notice.emit(news.text)
        else:
            self.status.emit(news.text, seconds * 1000)

    # --- closing --------------------------------------------------------------------------------

    def shutdown(self) -> bool:
        """Stop every run and wait for the threads; True when none is left (then runs still
        going are stored as stopped by the closing, with the time they ran, and the store is
        closed). False: a thread is still finishing; ask again on ``activity_changed``."""
        self.closing = True
        if not self.controller.shutdown():  # (which takes in the workers' last words first)
            return False
        for run_id in self.running():
            self.book.end(run_id, STOPPED, stopped_by_closing(len(self.book.record(run_id).epochs)))
        self.run_log.close()
        return True


def _at(config: TrainConfig, penalties: tuple[str, ...]) -> SweepSpec:
    """``penalties`` at the settings of ``config``, cross-validated on its folds if it has them."""
    return SweepSpec(config, penalties, alphas=(config.alpha,), learning_rates=(config.eta0,), cv=config.folds)
