"""Sweep runs on worker processes of this machine, the dataset shared once.

The decoded images are written once to ``.npy`` files in a private temporary folder, and every
worker memory-maps them read-only: the operating system keeps one copy in memory, nothing is
pickled per run. Each worker is a spawned process (safe next to Qt's threads) with its own pipe:
the pool sends it one block at a time (runs of regui's engine that share a pass, trained
together, see ``blocks``; any other run is a block of one) and it streams back each run's
epochs and record. Because the pool always knows which runs each worker holds, a worker that
dies costs only its block, whose runs are tried once more on a fresh worker (together again)
and reported failed if they die again.

No Qt here: workers (``pool_worker``) import only the engine.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from regui.core.blocks import MAX_BLOCK, data_shape, most_for
from regui.core.machine import default_workers, lower_priority, process_alive
from regui.core.pool_worker import worker_main
from regui.core.records import RunRecord
from regui.core.sweep import SweepItem
from regui.core.sweep_runs import SweepBook, SweepControl, SweepEvents


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    indices: list[int] = field(default_factory=list)  # the runs of its block that have not ended
    stops_sent: set[int] = field(default_factory=set)
    paused: bool = False  # as last told


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


# The longest start_workers waits for one worker to start before it starts the next anyway.
STARTING_SECONDS = 30


class ProcessPool:
    """Worker processes bound to one dataset; reusable for several sweeps, then ``close()``."""

    def __init__(self, dataset, jobs: int | None = None, block: int = MAX_BLOCK, warm_split=None) -> None:
        """``block``: the most runs a worker trains together (1: run by run). ``warm_split``: the
        split each worker prepares as it starts, before the first block asks for it."""
        from regui.core.memory_checks import workers_that_fit

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
        self.block = block
        self._shape = data_shape(dataset)
        self._serves = (str(dataset.root), dataset.fingerprint, dataset.image, dataset.n_images)
        _remove_orphans()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        try:
            np.save(self._dir / "X.npy", dataset.X)
            np.save(self._dir / "y.npy", dataset.y)
            meta = {
                **dataset.parts(),
                "warm_split": dataclasses.asdict(warm_split) if warm_split is not None else None,
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
        most = min(self.block, most_for(self._shape, [item.config for item in items], snapshots, self.jobs))
        busy = self._busy
        try:
            while not book.all_done():
                book.drop_stopped()
                paused = control.paused.is_set()
                for worker in busy:
                    if worker.paused != paused:
                        self._send(worker, ("pause", paused))
                        worker.paused = paused
                    for held in worker.indices:
                        if held not in worker.stops_sent and control.run_stop_requested(held):
                            self._send(worker, ("stop", held))
                            worker.stops_sent.add(held)
                while len(busy) < self.jobs:
                    indices = book.next_block(self.jobs - len(busy), most)
                    if not indices:
                        break
                    worker = self._idle_worker() or self._spawn()
                    worker.indices, worker.stops_sent, worker.paused = indices, set(), False
                    busy.append(worker)
                    # A run alone overlaps its metrics with its next SGD pass only if a core would
                    # otherwise stand idle (the last runs of a sweep, a pool smaller than the machine).
                    overlap = min(self.jobs, len(busy) + len(book.pending)) < default_workers()
                    self._send(worker, ("block", indices, *book.settings(indices), book.streams_snapshots, overlap))
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
                if kind == "ready":  # it has started (see start_workers)
                    continue
                if kind == "epoch":
                    book.epoch(index, value)
                    continue
                worker.indices.remove(index)
                if kind == "finished":
                    book.finish(index, value)
                else:
                    book.fail(index, value)
                if not worker.indices:  # its block is done
                    self._busy.remove(worker)
                    self._idle.append(worker)
                    return
        except (EOFError, OSError):
            pass
        if worker.process.is_alive() and not worker.conn.closed:
            return
        self._busy.remove(worker)
        self._bury(worker)
        why = f"The worker process running it died (exit code {worker.process.exitcode})"
        for index in reversed(worker.indices):  # retried in front of the queue, in their order
            book.lost(index, why)
        worker.indices = []

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
            target=worker_main, args=(child, str(self._dir)), daemon=True, name="regui-sweep-worker"
        )
        process.start()
        # At the interface's expense neither while it imports nor later while it trains (the
        # threads it starts inherit this).
        if process.pid is not None:
            lower_priority(process.pid)
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

    def start_workers(self) -> None:
        """Start the workers now, idle, so that the first sweep finds them ready (a worker takes
        about a second to start: Python, numpy, scikit-learn). One at a time, each once the one
        before has started: a run training meanwhile keeps a core to itself."""
        while len(self._idle) + len(self._busy) < self.jobs:
            worker = self._spawn()
            if worker.conn.poll(STARTING_SECONDS):
                try:
                    worker.conn.recv()  # its "ready"
                except (EOFError, OSError):
                    pass
            if not worker.process.is_alive():
                self._bury(worker)
                return  # a sweep will start its own, and say why if it cannot
            self._idle.append(worker)

    def serves(self, dataset) -> bool:
        """True if this pool's workers hold ``dataset`` (same files, same image settings)."""
        return self._serves == (str(dataset.root), dataset.fingerprint, dataset.image, dataset.n_images)

    def running(self) -> dict[int, int]:
        """Run index -> process id of the worker training it, now."""
        return {i: w.process.pid for w in list(self._busy) if w.process.pid is not None for i in list(w.indices)}

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
