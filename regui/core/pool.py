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
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from regui.core.config import ImageSettings
from regui.core.machine import default_workers
from regui.core.records import RunRecord
from regui.core.sweep import SweepControl, SweepEvents, SweepItem, failed, item_name, not_started

MAX_ATTEMPTS = 2  # a run whose worker dies is tried once more


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    index: int | None = None  # the run it holds
    stop_sent: bool = False


class ProcessPool:
    """Worker processes bound to one dataset; reusable for several sweeps, then ``close()``."""

    def __init__(self, dataset, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or default_workers())
        self.summary = dataset.summary()
        self._serves = (str(dataset.root), dataset.fingerprint, dataset.image, dataset.n_images)
        self._dir = Path(tempfile.mkdtemp(prefix="regui-pool-"))
        np.save(self._dir / "X.npy", dataset.X)
        np.save(self._dir / "y.npy", dataset.y)
        meta = {"root": str(dataset.root), "class_names": list(dataset.class_names), "paths": list(dataset.paths),
                "width": dataset.image.width, "height": dataset.image.height, "color": dataset.image.color,
                "fingerprint": dataset.fingerprint}  # fmt: skip
        (self._dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    # --- one sweep ----------------------------------------------------------------------------

    def run(
        self, items: Sequence[SweepItem], events: SweepEvents, control: SweepControl | None = None,
        names: Sequence[str] | None = None, sweep: str = "",
    ) -> list[RunRecord]:  # fmt: skip
        """Run ``items`` on up to ``jobs`` workers; blocks until all are done (call it from a
        background thread). Records come back in ``items`` order (failed runs say so)."""
        control = control or SweepControl()
        records: list[RunRecord | None] = [None] * len(items)
        by_index = {item.index: item for item in items}
        position = {item.index: n for n, item in enumerate(items)}
        pending = deque(item.index for item in items)
        attempts: dict[int, int] = {}
        epochs: dict[int, list] = {}
        busy = self._busy

        def finish(index: int, record: RunRecord) -> None:
            records[position[index]] = record
            events.finished(index, record)

        def fail(index: int, message: str) -> None:
            records[position[index]] = failed(by_index[index], names, sweep, message)
            events.failed(index, message)

        try:
            while pending or busy:
                if control.stopped.is_set():
                    while pending:  # nothing new starts; what runs ends after its epoch
                        index = pending.popleft()
                        finish(index, not_started(by_index[index], names, sweep))
                for worker in busy:
                    if not worker.stop_sent and control.run_stop_requested(worker.index):
                        self._send(worker, ("stop",))
                        worker.stop_sent = True
                for index in [i for i in pending if control.run_stop_requested(i)]:
                    pending.remove(index)
                    finish(index, not_started(by_index[index], names, sweep))
                while pending and not control.paused.is_set() and len(busy) < self.jobs:
                    index = pending.popleft()
                    attempts[index] = attempts.get(index, 0) + 1
                    epochs[index] = []
                    worker = self._idle.pop() if self._idle else self._spawn()
                    worker.index, worker.stop_sent = index, False
                    busy.append(worker)
                    self._send(worker, ("run", index, by_index[index].config, item_name(by_index[index], names)))
                    events.started(index, attempts[index])

                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=0.1)
                for worker in list(busy):
                    lost = False
                    try:
                        while worker.conn in ready and worker.conn.poll():
                            message = worker.conn.recv()
                            kind, index = message[0], message[1]
                            if kind == "epoch":
                                epochs[index].append(message[2])
                                events.epoch(index, message[2])
                            elif kind in ("finished", "failed"):
                                busy.remove(worker)
                                worker.index = None
                                self._idle.append(worker)
                                if kind == "finished":
                                    record = message[2]
                                    record.epochs = epochs.pop(index)  # they were streamed already
                                    record.sweep, record.repeat = sweep, by_index[index].repeat
                                    finish(index, record)
                                else:
                                    fail(index, message[2])
                                break
                    except (EOFError, OSError):
                        lost = True
                    if lost or (worker in busy and worker.process.sentinel in ready and not worker.process.is_alive()):
                        busy.remove(worker)
                        self._bury(worker)
                        index = worker.index
                        code = worker.process.exitcode
                        if attempts[index] < MAX_ATTEMPTS and not control.run_stop_requested(index):
                            pending.appendleft(index)  # its epochs so far are discarded: it starts over
                        else:
                            fail(index, f"The worker process running it died (exit code {code}).")
        finally:
            for worker in busy:  # an error here: do not leave runs going in the background
                self._bury(worker)
            busy.clear()
        return records

    # --- workers --------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, str(self._dir)), daemon=True,
                                        name="regui-sweep-worker")  # fmt: skip
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
        return {w.index: w.process.pid for w in list(self._busy) if w.index is not None}

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


def open_shared_dataset(folder: str):
    """The Dataset a pool shared, its arrays memory-mapped read-only."""
    from regui.core.dataset import Dataset

    folder = Path(folder)
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


def _worker_main(conn, folder: str) -> None:
    """A worker process: runs what it is sent until it is sent None (or its pipe closes)."""
    from regui.core.machine import yield_to_the_interface

    yield_to_the_interface()  # training in the background must not starve the app's window
    from regui.core.dataset import prepare
    from regui.core.errors import ReguiError
    from regui.core.runs import run_training

    dataset = open_shared_dataset(folder)
    summary = dataset.summary()
    prepared: dict = {}
    stop_requested = False

    def should_stop() -> bool:
        nonlocal stop_requested
        while not stop_requested and conn.poll():
            if conn.recv() == ("stop",):
                stop_requested = True
        return stop_requested

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _, index, config, name = message
        stop_requested = False
        try:
            split = config.split
            if split not in prepared:
                prepared.clear()  # keep one split's float arrays in memory, not one per seed
                prepared[split] = prepare(dataset, split)
            record = run_training(
                prepared[split], config, name=name, dataset_summary=summary, should_stop=should_stop,
                on_epoch=lambda e, i=index: conn.send(("epoch", i, e)),
            )  # fmt: skip
            record.epochs = []  # streamed one by one already
            conn.send(("finished", index, record))
        except ReguiError as exc:
            conn.send(("failed", index, str(exc)))
        except Exception as exc:  # noqa: BLE001 - report it; the worker stays usable
            conn.send(("failed", index, f"{type(exc).__name__}: {exc}"))
