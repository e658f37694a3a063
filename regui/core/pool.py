"""Sweep runs on worker processes of this machine, the dataset shared once.

The decoded images are written once to ``.npy`` files in a private temporary folder, and every
worker memory-maps them read-only: the operating system keeps one copy in memory, nothing is
pickled per run. Each worker is a spawned process (safe next to Qt's threads) with its own pipe:
the pool sends it one run at a time and it streams back "started", each epoch, and the record.
Because the pool always knows which run each worker holds, a worker that dies costs only that
run, which is tried once more on a fresh worker and reported failed if it dies again.

No Qt here: workers import only the engine.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from regui.core.config import ImageSettings
from regui.core.machine import default_workers, process_alive
from regui.core.records import EpochResult, RunRecord, kept_epochs
from regui.core.sweep import SweepItem
from regui.core.sweep_runs import SweepBook, SweepControl, SweepEvents, item_name


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    index: int | None = None  # the run it holds
    stop_sent: bool = False


_PREFIX = "regui-pool-"


def limit_text(pool: ProcessPool) -> str:
    """Why a pool runs fewer workers than asked ("" if it does not), for a person."""
    if pool.limited_by == "cores":
        return f" (not {pool.wanted}: this machine has {default_workers()} cores, and more would only take turns)"
    if pool.limited_by == "memory":
        return f" (not {pool.wanted}: each worker needs its own copy of the data in memory)"
    return ""


def _remove_orphans() -> None:
    """Delete shared-data folders left by processes that are gone (killed, crashed)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        try:
            pid = int(folder.name[len(_PREFIX) :].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


class ProcessPool:
    """Worker processes bound to one dataset; reusable for several sweeps, then ``close()``."""

    def __init__(self, dataset, jobs: int | None = None) -> None:
        from regui.core.dataset import workers_that_fit

        cores = default_workers()
        self.wanted = cores if jobs is None or jobs == -1 else max(1, jobs)  # -1: all cores, as `run --jobs`
        # More processes than cores only take turns (64 on 2 cores: +5 GB, 25x slower); fewer if
        # memory would not hold each worker's float copy of the images.
        by_memory = workers_that_fit(dataset.n_images, dataset.image, self.wanted)
        self.jobs = min(cores, by_memory)
        self.limited_by = (
            "" if self.jobs == self.wanted else "memory" if by_memory < min(cores, self.wanted) else "cores"
        )
        self.summary = dataset.summary()
        self._serves = (str(dataset.root), dataset.fingerprint, dataset.image, dataset.n_images)
        _remove_orphans()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        try:
            np.save(self._dir / "X.npy", dataset.X)
            np.save(self._dir / "y.npy", dataset.y)
            meta = {
                "root": str(dataset.root),
                "class_names": list(dataset.class_names),
                "paths": list(dataset.paths),
                "width": dataset.image.width,
                "height": dataset.image.height,
                "color": dataset.image.color,
                "fingerprint": dataset.fingerprint,
            }
            (self._dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        except BaseException:  # a full disk, Ctrl-C: leave nothing behind
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    # --- one sweep ----------------------------------------------------------------------------

    def run(
        self,
        items: Sequence[SweepItem],
        events: SweepEvents,
        control: SweepControl | None = None,
        names: Sequence[str] | None = None,
        sweep: str = "",
        snapshots: int | None = 1,
    ) -> list[RunRecord]:
        """Run ``items`` on up to ``jobs`` workers; blocks until all are done (call it from a
        background thread). Records come back in ``items`` order (failed runs say so).
        ``snapshots``: see SweepBook."""
        control = control or SweepControl()
        book = SweepBook(items, events, control, names, sweep, self.summary, snapshots)
        busy = self._busy
        try:
            while not book.all_done():
                book.drop_stopped()
                for worker in busy:
                    if worker.index is not None and not worker.stop_sent and control.run_stop_requested(worker.index):
                        self._send(worker, ("stop", worker.index))
                        worker.stop_sent = True
                while len(busy) < self.jobs:
                    index = book.next()
                    if index is None:
                        break
                    worker = self._idle_worker() or self._spawn()
                    worker.index, worker.stop_sent = index, False
                    busy.append(worker)
                    item = book.by_index[index]
                    # Each run overlaps its metrics with its next SGD pass only if a core would
                    # otherwise stand idle (the last runs of a sweep, a pool smaller than the machine).
                    overlap = min(self.jobs, len(busy) + len(book.pending)) < default_workers()
                    self._send(
                        worker, ("run", index, item.config, item_name(item, names), book.streams_snapshots, overlap)
                    )
                if not busy:
                    control.stopped.wait(0.05)  # paused, or only finishing bookkeeping left
                    continue
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=0.1)
                for worker in list(busy):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        self._handle(worker, book)
        finally:
            for worker in busy:  # an error here: do not leave runs going in the background
                self._bury(worker)
            busy.clear()
        return book.results()

    def _handle(self, worker: _Worker, book: SweepBook) -> None:
        """Take in what ``worker`` sent; notice if it died."""
        try:
            while worker.conn.poll():
                kind, index, value = worker.conn.recv()
                if kind == "epoch":
                    book.epoch(index, value)
                    continue
                self._busy.remove(worker)
                worker.index = None
                self._idle.append(worker)
                if kind == "finished":
                    book.finish(index, value)
                else:
                    book.fail(index, value)
                return
        except (EOFError, OSError):
            pass
        if worker.process.is_alive() and not worker.conn.closed:
            return
        self._busy.remove(worker)
        self._bury(worker)
        if worker.index is not None:
            book.lost(worker.index, f"The worker process running it died (exit code {worker.process.exitcode})")

    def _idle_worker(self) -> _Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            self._bury(worker)  # died while idle (killed from outside): use another
        return None

    # --- workers --------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, str(self._dir)), daemon=True, name="regui-sweep-worker"
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    @staticmethod
    def _send(worker: _Worker, message) -> None:
        try:
            worker.conn.send(message)
        except (OSError, ValueError):  # it died: its sentinel will say so
            pass

    @staticmethod
    def _bury(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        worker.conn.close()

    def serves(self, dataset) -> bool:
        """True if this pool's workers hold ``dataset`` (same files, same image settings)."""
        return self._serves == (str(dataset.root), dataset.fingerprint, dataset.image, dataset.n_images)

    def running(self) -> dict[int, int]:
        """Run index -> process id of the worker training it, now."""
        return {w.index: w.process.pid for w in list(self._busy) if w.index is not None and w.process.pid is not None}

    def close(self) -> None:
        """Stop the idle workers and delete the shared files. Safe to call twice."""
        for worker in self._idle:
            self._send(worker, None)
        deadline = time.monotonic() + 5
        for worker in self._idle:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            self._bury(worker)
        self._idle.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_shared_dataset(shared: str):
    """The Dataset a pool shared, its arrays memory-mapped read-only."""
    from regui.core.dataset import Dataset

    folder = Path(shared)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return Dataset(
        root=Path(meta["root"]),
        class_names=tuple(meta["class_names"]),
        X=np.load(folder / "X.npy", mmap_mode="r"),
        y=np.load(folder / "y.npy", mmap_mode="r"),
        paths=tuple(meta["paths"]),
        skipped=(),
        image=ImageSettings(meta["width"], meta["height"], meta["color"]),
        fingerprint=meta["fingerprint"],
    )


def _epoch_sender(send: Callable[[tuple], None], index: int, light: Callable[[EpochResult], EpochResult]):
    """What streams each epoch of run ``index`` to the sweep (with or without its weights)."""
    return lambda result: send(("epoch", index, light(result)))


class _ParentGone(Exception):
    """The process running the sweep is gone (killed): this worker leaves quietly."""


def _worker_main(conn, folder: str) -> None:
    """A worker process: runs what it is sent until it is sent None (or its pipe closes).

    It leaves quietly, without a traceback, when the sweep's process is gone (killed, even with
    SIGKILL): it notices at its next message, or between epochs, and then removes the shared
    folder, which nobody else would.
    """
    import signal

    # Ctrl-C in a terminal, or a SIGTERM to the whole process group, reaches every process:
    # the parent decides what stops (after the epoch, keeping it), so the workers ignore both.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    try:
        _serve(conn, folder, parent)
    except (_ParentGone, EOFError, OSError):
        pass
    if os.getppid() != parent:
        shutil.rmtree(folder, ignore_errors=True)


def _serve(conn, folder: str, parent: int) -> None:
    from regui.core.machine import yield_to_the_interface

    yield_to_the_interface()  # training in the background must not starve the app's window
    from regui.core.dataset import prepare
    from regui.core.errors import ReguiError
    from regui.core.runs import run_training

    dataset = open_shared_dataset(folder)
    prepared: dict = {}
    current = None
    stop_requested = False

    def send(message) -> None:
        try:
            conn.send(message)
        except (OSError, ValueError):  # the pipe is gone: so is the sweep's process
            raise _ParentGone from None

    def should_stop() -> bool:
        nonlocal stop_requested
        if os.getppid() != parent:
            raise _ParentGone
        try:
            while not stop_requested and conn.poll():
                message = conn.recv()
                stop_requested = message == ("stop", current)
        except (EOFError, OSError):
            raise _ParentGone from None
        return stop_requested

    while True:
        message = conn.recv()
        if message is None:
            return
        if not (isinstance(message, tuple) and message[0] == "run"):
            continue  # a stop for a run that had just ended: nothing to do
        _, current, config, name, with_snapshots, overlap = message
        light = (lambda e: e) if with_snapshots else EpochResult.without_snapshot  # the pipe carries what is kept
        stop_requested = False
        try:
            split = config.split
            if split not in prepared:
                prepared.clear()  # keep one split's float arrays in memory, not one per seed
                prepared[split] = prepare(dataset, split)
            record = run_training(
                prepared[split],
                config,
                name=name,
                should_stop=should_stop,
                on_epoch=_epoch_sender(send, current, light),
                snapshots=1,
                overlap=overlap,
            )
            record.epochs = kept_epochs(record)  # the rest were streamed
        except _ParentGone:
            raise
        except ReguiError as exc:
            send(("failed", current, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - report it; the worker stays usable
            send(("failed", current, f"{type(exc).__name__}: {exc}"))
            continue
        send(("finished", current, record))
