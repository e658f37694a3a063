"""QObject workers that run engine calls on a QThread and report through signals.

Each worker has no parent, is moved to its own QThread by the controller, and checks a
``threading.Event`` so it can be stopped between files (loading) or epochs (training).
Signals carry frozen values (EpochResult, Dataset with read-only arrays) or a RunRecord the
worker never touches again after emitting it. ``done`` is always the last signal.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from regui.core.config import ImageSettings, SplitSettings, TrainConfig
from regui.core.errors import Cancelled, ReguiError
from regui.core.machine import yield_to_the_interface

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LoadResult:
    dataset: object  # regui.core.dataset.Dataset
    thumbnails: list  # per class, a list of RGB uint8 arrays
    split: SplitSettings | None = None  # the split set as it was asked for: prepared ahead for the first run


_settled = False


def _settle_after_first_load() -> None:
    """Once per session, after the first load, on the loading thread:

    - import the training stack now, while the person looks at what loaded: importing
      scikit-learn holds the GIL in long stretches, which would stall the window if the first
      run did it while curves are drawn;
    - then take everything alive (modules, widgets) out of the cyclic garbage collector's reach
      with gc.freeze(). Otherwise each full collection, set off by a burst of allocations on a
      worker (a scan, a run), walks those ~150,000 objects while holding the GIL and freezes
      the window for 50-100 ms. (No gc.collect() first: it would be such a stall itself.)
    """
    global _settled
    if _settled:
        return
    _settled = True
    import regui.core.runs  # noqa: F401

    gc.freeze()


class LoadWorker(QObject):
    progress = Signal(int, int, int)  # job id, done, total
    loaded = Signal(int, object)  # job id, LoadResult
    failed = Signal(int, str)
    done = Signal()

    def __init__(
        self, job_id: int, folder: str, image: ImageSettings, stop: threading.Event, split: SplitSettings | None = None
    ) -> None:
        super().__init__()
        self.job_id, self.folder, self.image, self.stop, self.split = job_id, folder, image, stop, split

    @Slot()
    def run(self) -> None:
        yield_to_the_interface()
        try:
            # Heavy modules are imported here, on the worker thread, never on the GUI thread.
            from regui.core.dataset import load_dataset
            from regui.core.thumbnails import class_thumbnails

            dataset = load_dataset(
                self.folder,
                self.image,
                should_stop=self.stop.is_set,
                progress=lambda done, total: self.progress.emit(self.job_id, done, total),
            )
            if self.stop.is_set():
                raise Cancelled()
            thumbs = class_thumbnails(dataset.root, dataset.class_names, dataset.paths, dataset.y)
            self.loaded.emit(self.job_id, LoadResult(dataset, thumbs, self.split))
            _settle_after_first_load()
            # While the person looks at what loaded, rather than in the first run's first epoch.
            from regui.core.blocks import check_blas_for

            check_blas_for(dataset)
            if self.split is not None and not self.stop.is_set():
                # The first run's split, scaled now (100-200 ms on the Animals photos) rather than after Run.
                dataset.prepare_ahead(self.split)
        except Cancelled:
            pass  # the controller has already moved on
        except ReguiError as exc:
            self.failed.emit(self.job_id, str(exc))
        except Exception as exc:  # a fault must reach the window, not kill the thread silently
            log.exception("loading %s failed", self.folder)
            self.failed.emit(self.job_id, f"Could not load {self.folder}: {type(exc).__name__}: {exc}")
        finally:
            self.done.emit()


class TrainWorker(QObject):
    epoch = Signal(int, object)  # run id, EpochResult
    finished = Signal(int, object)  # run id, RunRecord
    failed = Signal(int, str)
    done = Signal()

    def __init__(
        self, run_id: int, dataset, config: TrainConfig, name: str, stop: threading.Event, snapshots: int | None = None
    ) -> None:
        super().__init__()
        self.run_id, self.dataset, self.config, self.name, self.stop = run_id, dataset, config, name, stop
        self.snapshots = snapshots

    @Slot()
    def run(self) -> None:
        yield_to_the_interface()
        try:
            from regui.core.runs import run_training

            data = self.dataset.prepared(self.config.split)  # made while loading, for the split then set
            record = run_training(
                data,
                self.config,
                name=self.name,
                should_stop=self.stop.is_set,
                on_epoch=lambda e: self.epoch.emit(self.run_id, e),
                snapshots=self.snapshots,
            )
            self.finished.emit(self.run_id, record)
        except ReguiError as exc:
            self.failed.emit(self.run_id, str(exc))
        except Exception as exc:
            log.exception("run %s failed", self.name)
            self.failed.emit(self.run_id, f"{type(exc).__name__}: {exc}")
        finally:
            self.dataset = None  # let the arrays go as soon as the run ends
            self.done.emit()


class SweepWorker(QObject):
    """Runs a sweep through a runner (worker processes or a Dask cluster) and relays its events.

    ``run_ids[i]`` is the app's id for item i. The runner is made here, on this thread: starting
    processes, writing the shared arrays or connecting to a cluster never blocks the window.
    """

    started = Signal(int, int)  # run id, attempt
    epoch = Signal(int, object)  # run id, EpochResult
    finished = Signal(int, object)  # run id, RunRecord
    failed = Signal(int, str)  # run id, message
    ended = Signal(str, str)  # sweep name, problem ("" when all went through)
    done = Signal()

    def __init__(
        self,
        sweep: str,
        items,
        run_ids: list[int],
        names: list[str],
        control,
        make_runner,
        release_runner,
        snapshots: int | None = 1,
    ):
        super().__init__()
        self.sweep, self.items, self.run_ids, self.names, self.control = sweep, items, run_ids, names, control
        self.make_runner, self.release_runner = make_runner, release_runner
        self.snapshots = snapshots

    @Slot()
    def run(self) -> None:
        from regui.core.sweep_runs import SweepEvents

        worker = self

        class Relay(SweepEvents):
            def started(self, index, attempt):
                worker.started.emit(worker.run_ids[index], attempt)

            def epoch(self, index, result):
                worker.epoch.emit(worker.run_ids[index], result)

            def finished(self, index, record):
                worker.finished.emit(worker.run_ids[index], record)

            def failed(self, index, message):
                worker.failed.emit(worker.run_ids[index], message)

        yield_to_the_interface()
        runner = None
        problem = ""
        try:
            runner = self.make_runner()
            runner.run(self.items, Relay(), self.control, names=self.names, sweep=self.sweep, snapshots=self.snapshots)
        except ReguiError as exc:
            problem = str(exc)
        except Exception as exc:
            log.exception("sweep %s failed", self.sweep)
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            if runner is not None:
                self.release_runner(runner)
            self.ended.emit(self.sweep, problem)
            self.done.emit()
