"""The controller: owns every worker thread and re-emits their results in the GUI thread.

Pattern (each fact here aborts or hangs the process when ignored):
- a worker is a parentless QObject moved to its own QThread; the controller keeps Python
  references to both until the thread has finished;
- worker signals connect only to this controller's slots (a QObject living in the GUI thread),
  so everything downstream runs in the GUI thread;
- ``done`` quits the thread through a direct connection (it runs in the worker thread), so
  a GUI thread blocked in ``wait()`` cannot deadlock it;
- ``shutdown()`` sets every stop event, quits and waits for every thread: no QThread is ever
  destroyed while running.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, QTimer, Signal, Slot

from regui.core.config import ImageSettings, SplitSettings, TrainConfig
from regui.core.sweep_runs import SweepControl
from regui.gui.paced_news import PacedNews
from regui.gui.workers import LoadWorker, SweepWorker, TrainWorker

# How long nothing must have run after a dataset loads before its worker processes start.
WARM_AFTER_IDLE_MS = 1000


@dataclass
class _Job:
    thread: QThread
    worker: QObject
    stop: threading.Event
    kind: str  # "load", "train" or "sweep"


class Controller(QObject):
    load_progress = Signal(int, int)  # done, total
    loaded = Signal(object)  # LoadResult
    load_failed = Signal(str)
    load_cancelled = Signal()
    run_started = Signal(int, int)  # run id, attempt (a sweep's run leaving the queue)
    run_epoch = Signal(int, object)  # run id, EpochResult
    run_finished = Signal(int, object)  # run id, RunRecord
    run_failed = Signal(int, str)  # run id, message
    sweep_ended = Signal(str, str)  # sweep name, problem ("" if none)
    activity_changed = Signal()  # a load or a run started or ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._current_load: int | None = None
        self._closing = False
        self._pool_lock = threading.Lock()
        self._spare_pool = None  # worker processes kept for the next sweep on the same data
        self._warming: threading.Thread | None = None  # starting a spare pool for a new dataset
        self._to_warm = None  # the dataset whose workers start once nothing has run for a moment
        self.activity_changed.connect(self._warm_when_idle)
        # A sweep's messages, passed on a few a turn (paced_news); activity_changed again once
        # the last is, if that leaves the controller idle (mid-sweep the news drains after every
        # few messages, and the window's state is the same as before).
        self._sweep_news = PacedNews(self)
        self._sweep_news.drained.connect(self._news_drained)

    # --- loading ----------------------------------------------------------------------------

    def load(self, folder: str, image: ImageSettings, split: SplitSettings | None = None) -> None:
        """Start loading ``folder`` (and preparing ``split`` of it for the first run, after it is
        shown); a load already running is dropped in favour of this one."""
        if self._closing:
            return
        self._drop_current_load()
        job_id = next(self._ids)
        stop = threading.Event()
        worker = LoadWorker(job_id, str(folder), image, stop, split)
        worker.progress.connect(self._on_load_progress)
        worker.loaded.connect(self._on_loaded)
        worker.failed.connect(self._on_load_failed)
        self._current_load = job_id
        self._start(job_id, worker, stop, "load")

    def cancel_load(self) -> None:
        """The person's Cancel: stop the load and say so."""
        if self._current_load is not None:
            self._drop_current_load()
            self.load_cancelled.emit()
            self.activity_changed.emit()

    def _drop_current_load(self) -> None:
        job = self._jobs.get(self._current_load) if self._current_load is not None else None
        if job is not None:
            job.stop.set()  # its thread winds down on its own; its results are ignored
        self._current_load = None

    def is_loading(self) -> bool:
        return self._current_load is not None

    def _news_drained(self) -> None:
        if not self._jobs:
            self.activity_changed.emit()

    def is_idle(self) -> bool:
        """No worker thread alive (a cancelled load or stopped run may still be winding down),
        and every message of a sweep passed on."""
        return not self._jobs and not self._sweep_news.pending()

    @Slot(int, int, int)
    def _on_load_progress(self, job_id: int, done: int, total: int) -> None:
        if job_id == self._current_load:
            self.load_progress.emit(done, total)

    @Slot(int, object)
    def _on_loaded(self, job_id: int, result) -> None:
        if job_id == self._current_load:
            self._current_load = None
            self.loaded.emit(result)
            self.activity_changed.emit()

    @Slot(int, str)
    def _on_load_failed(self, job_id: int, message: str) -> None:
        if job_id == self._current_load:
            self._current_load = None
            self.load_failed.emit(message)
            self.activity_changed.emit()

    # --- training ---------------------------------------------------------------------------

    def start_run(self, run_id: int, dataset, config: TrainConfig, name: str, snapshots: int | None = None) -> None:
        """Train ``config`` on ``dataset`` on a new thread; results arrive as run_* signals.
        The run keeps up to ``snapshots`` weight snapshots (None: every epoch's)."""
        if self._closing:
            return
        stop = threading.Event()
        worker = TrainWorker(run_id, dataset, config, name, stop, snapshots)
        worker.epoch.connect(self._on_epoch)
        worker.finished.connect(self._on_run_finished)
        worker.failed.connect(self._on_run_failed)
        self._start(-run_id, worker, stop, "train")  # runs use negative keys: ids come from the window
        self.activity_changed.emit()

    def stop_run(self, run_id: int) -> None:
        """Stop a single run (a sweep's runs are stopped through its SweepControl)."""
        job = self._jobs.get(-run_id)
        if job is not None:
            job.stop.set()

    def stop_all(self) -> None:
        """Every run and every sweep (its queue too) ends after its current epoch."""
        for job in self._jobs.values():
            if job.kind in ("train", "sweep"):
                job.stop.set()

    # --- sweeps -----------------------------------------------------------------------------

    def start_sweep(
        self,
        name: str,
        dataset,
        items,
        run_ids: list[int],
        names: list[str],
        control: SweepControl,
        jobs: int | None = None,
        scheduler: str | None = None,
        snapshots: int | None = 1,
    ) -> None:
        """Run ``items`` on worker processes (or the Dask ``scheduler``), paused and stopped
        through ``control``. Results arrive as run_* signals with the ids in ``run_ids``, then
        ``sweep_ended``. ``snapshots``: how many weight snapshots each run keeps (1: its last
        epoch's)."""
        if self._closing:
            control.stop()
            self.sweep_ended.emit(name, "The window is closing.")
            return
        self._to_warm = None  # the sweep starts (and then keeps) its own

        def make_runner():  # on the sweep's thread
            if scheduler:
                from regui.core.dask_runner import DaskRunner

                return DaskRunner(dataset, scheduler)
            return self._take_pool(dataset, jobs)

        worker = SweepWorker(
            name, list(items), list(run_ids), list(names), control, make_runner, self._give_back, snapshots
        )
        worker.started.connect(self._on_sweep_run_started)
        worker.epoch.connect(self._on_sweep_epoch)
        worker.finished.connect(self._on_sweep_run_finished)
        worker.failed.connect(self._on_sweep_run_failed)
        worker.ended.connect(self._on_sweep_ended)
        # The sweep's stop event is its job's: shutdown() stops it like any other job.
        self._start(-(10**9) - next(self._ids), worker, control.stopped, "sweep")
        self.activity_changed.emit()

    def warm_pool_when_idle(self, dataset, split: SplitSettings | None = None) -> None:
        """``warm_pool`` once nothing has run for WARM_AFTER_IDLE_MS: starting the workers takes
        both cores for a second, which a run started meanwhile would wait for."""
        self._to_warm = (dataset, split)
        self._warm_when_idle()

    @Slot()
    def _warm_when_idle(self) -> None:
        if self._to_warm is not None and self.is_idle():
            QTimer.singleShot(WARM_AFTER_IDLE_MS, self._warm_if_still_idle)

    @Slot()
    def _warm_if_still_idle(self) -> None:
        if self._to_warm is not None and self.is_idle() and not self._closing:
            (dataset, split), self._to_warm = self._to_warm, None
            self.warm_pool(dataset, split)

    def warm_pool(self, dataset, split: SplitSettings | None = None) -> None:
        """Start worker processes for ``dataset`` in the background, as the spare pool, so that
        the first comparison or sweep on it does not wait a second or more for them to start
        (nor for ``split`` to be prepared in them). Never waits here (the window's thread): with
        workers still starting for another dataset, it tries again a moment later."""
        if self._closing:
            return
        with self._pool_lock:
            if self._spare_pool is not None and self._spare_pool.serves(dataset):
                return  # a sweep on it has already left its workers
            busy = self._warming is not None and self._warming.is_alive()
        if busy:
            self._to_warm = (dataset, split)
            QTimer.singleShot(WARM_AFTER_IDLE_MS, self._warm_if_still_idle)
            return

        def warm() -> None:
            from regui.core.pool import ProcessPool

            try:
                pool = ProcessPool(dataset, warm_split=split)
                pool.start_workers()
            except Exception:  # noqa: BLE001 - no disk space, no processes: a sweep will say why
                return
            with self._pool_lock:
                if self._closing:
                    spare = pool
                else:
                    spare, self._spare_pool = self._spare_pool, pool
            if spare is not None:
                spare.close()

        # A closing window does not wait for it: it closes its pool itself when it sees that.
        self._warming = threading.Thread(target=warm, name="regui-warm-pool", daemon=True)
        self._warming.start()

    def _wait_for_warming(self) -> None:
        """On a sweep's thread (never the window's): let workers being started for the spare
        pool finish starting, so that the sweep takes them rather than starting others."""
        warming = self._warming
        if warming is not None:
            warming.join()

    def _take_pool(self, dataset, jobs):
        """Worker processes for ``dataset``: the spare ones if they fit, else new ones."""
        from regui.core.pool import ProcessPool

        self._wait_for_warming()
        with self._pool_lock:
            pool, self._spare_pool = self._spare_pool, None
        if pool is not None and pool.serves(dataset) and pool.jobs == (jobs or pool.jobs):
            return pool
        if pool is not None:
            pool.close()
        return ProcessPool(dataset, jobs)

    def _give_back(self, runner) -> None:
        """Keep a pool for the next sweep (starting workers costs seconds); close anything else."""
        from regui.core.pool import ProcessPool

        if isinstance(runner, ProcessPool) and not self._closing:
            with self._pool_lock:
                runner, self._spare_pool = self._spare_pool, runner
        if runner is not None:
            runner.close()

    # A sweep's messages wait their turn (paced_news), in the order they came.
    @Slot(int, int)
    def _on_sweep_run_started(self, run_id: int, attempt: int) -> None:
        self._sweep_news.add(self.run_started, run_id, attempt)

    @Slot(int, object)
    def _on_sweep_epoch(self, run_id: int, result) -> None:
        self._sweep_news.add(self.run_epoch, run_id, result)

    @Slot(int, object)
    def _on_sweep_run_finished(self, run_id: int, record) -> None:
        self._sweep_news.add(self.run_finished, run_id, record)

    @Slot(int, str)
    def _on_sweep_run_failed(self, run_id: int, message: str) -> None:
        self._sweep_news.add(self.run_failed, run_id, message)

    @Slot(str, str)
    def _on_sweep_ended(self, name: str, problem: str) -> None:
        self._sweep_news.add(self.sweep_ended, name, problem)

    @Slot(int, object)
    def _on_epoch(self, run_id: int, result) -> None:
        self.run_epoch.emit(run_id, result)

    @Slot(int, object)
    def _on_run_finished(self, run_id: int, record) -> None:
        self.run_finished.emit(run_id, record)

    @Slot(int, str)
    def _on_run_failed(self, run_id: int, message: str) -> None:
        self.run_failed.emit(run_id, message)

    # --- threads ----------------------------------------------------------------------------

    def _start(self, key: int, worker: QObject, stop: threading.Event, kind: str) -> None:
        thread = QThread()
        thread.setObjectName(f"regui-{kind}-{abs(key)}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: quit() is called from the worker thread as run() ends, even if the GUI thread is
        # blocked in shutdown()'s wait().
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        # A method of this GUI-thread object, so it runs queued in the GUI thread (a lambda would
        # run in the ending thread and race with the GUI over self._jobs).
        thread.finished.connect(self._on_thread_finished)
        self._jobs[key] = _Job(thread, worker, stop, kind)
        thread.start()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        key = next((k for k, job in self._jobs.items() if job.thread is thread), None)
        if key is None:  # already collected by shutdown()
            return
        job = self._jobs.pop(key)
        job.worker.deleteLater()
        job.thread.deleteLater()
        self.activity_changed.emit()

    def shutdown(self, timeout_ms: int = 5_000) -> bool:
        """Stop everything and wait up to ``timeout_ms`` for the threads to end.

        Returns True when none is left. If one is still busy (a long epoch, a slow disk), the
        caller must not let this object (and with it the QThread) be destroyed yet: it waits for
        ``activity_changed`` and asks again.
        """
        self._closing = True
        self._current_load = None
        for job in self._jobs.values():
            job.stop.set()
        deadline = time.monotonic() + timeout_ms / 1000
        for key, job in list(self._jobs.items()):
            job.thread.quit()
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if job.thread.wait(left_ms):
                self._jobs.pop(key, None)
        if not self._jobs:
            with self._pool_lock:
                pool, self._spare_pool = self._spare_pool, None
            if pool is not None:
                pool.close()  # the idle worker processes
            # The workers' last words (a final epoch, how each run ended, with its final weights)
            # are queued for this thread: take them in, and pass on every message of a sweep.
            QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
            self._sweep_news.flush()
        return not self._jobs
