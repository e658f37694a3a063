"""A sweep pool's worker process: the dataset memory-mapped from the pool's shared files, and
the blocks it is sent trained one after another, each run's epochs and record sent back.

No Qt here: a worker imports only the engine.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import numpy as np

from regui.core.config import SplitSettings
from regui.core.records import EpochResult, RunRecord, kept_epochs
from regui.core.sweep_runs import HOLD_SECONDS, error_text


def read_meta(shared: str) -> dict:
    """What the pool wrote about its dataset (``Dataset.parts``) and the split to expect."""
    return json.loads((Path(shared) / "meta.json").read_text(encoding="utf-8"))


def open_shared_dataset(shared: str, meta: dict):
    """The Dataset a pool shared (``meta``: ``read_meta``), its arrays memory-mapped read-only."""
    from regui.core.dataset import Dataset

    folder = Path(shared)
    return Dataset.from_parts(meta, np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r"))


def _warm_up(dataset) -> None:
    """What a worker's first block would otherwise wait for: the training modules (scikit-learn
    among them, most of a second) and the check of this machine's BLAS for the products a block
    of the default batch size makes on these images."""
    import regui.core.runs  # noqa: F401 - imported for its imports
    from regui.core.blocks import check_blas_for

    check_blas_for(dataset)


def _prepare_expected(dataset, split: dict | None) -> None:
    """The split the pool was told to expect (its meta's ``warm_split``), prepared once the
    worker said it is ready: the pool starts the next worker meanwhile, and a first block on
    that split finds it made (one on another split waits for it, 0.1-0.3 s on the Animals photos)."""
    if split:
        dataset.prepare_ahead(SplitSettings(**split))


class _ParentGone(Exception):
    """The process running the sweep is gone (killed): this worker leaves quietly."""


def worker_main(conn, folder: str) -> None:
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
    # Its priority was lowered by the pool as it started (machine.lower_priority): training in
    # the background must not starve the app's window.

    meta = read_meta(folder)
    dataset = open_shared_dataset(folder, meta)
    _warm_up(dataset)

    def send(message) -> None:
        try:
            conn.send(message)
        except (OSError, ValueError):  # the pipe is gone: so is the sweep's process
            raise _ParentGone from None

    send(("ready", None, None))  # started: the pool may start the next worker (start_workers)
    _prepare_expected(dataset, meta.get("warm_split"))
    inbox = _Inbox(conn, parent)
    while True:
        message = conn.recv()
        if message is None:
            return
        if not (isinstance(message, tuple) and message[0] == "block"):
            continue  # a stop for a run that had just ended: nothing to do
        _, indices, configs, names, with_snapshots, overlap = message
        inbox.stops.clear()
        inbox.paused = False
        try:
            data = dataset.prepared(configs[0].split)
        except Exception as exc:  # noqa: BLE001 - report it; the worker stays usable
            for index in indices:
                send(("failed", index, error_text(exc)))
            continue
        _train_block(data, indices, configs, names, with_snapshots, overlap, send, inbox)


class _Inbox:
    """What the pool tells a worker while it trains a block: runs to stop, pause and resume."""

    def __init__(self, conn, parent: int) -> None:
        self.conn, self.parent = conn, parent
        self.stops: set[int] = set()
        self.paused = False

    def read(self, wait: float = 0.0) -> None:
        """Take in the messages waiting (for up to ``wait`` seconds if none is)."""
        if os.getppid() != self.parent:
            raise _ParentGone
        try:
            while self.conn.poll(wait):
                wait = 0.0
                message = self.conn.recv()
                if isinstance(message, tuple) and message[0] == "stop":
                    self.stops.add(message[1])
                elif isinstance(message, tuple) and message[0] == "pause":
                    self.paused = message[1]
        except (EOFError, OSError):
            raise _ParentGone from None

    def hold(self, indices: list[int]) -> bool:
        """Between steps: wait while paused (until resumed, or a run of ``indices`` is stopped);
        True once all of them are stopped."""
        self.read()
        asked = len(self.stops)
        while self.paused and len(self.stops) == asked:
            self.read(HOLD_SECONDS)
        return all(i in self.stops for i in indices)


def _train_block(data, indices, configs, names, with_snapshots, overlap, send, inbox: _Inbox) -> None:
    """Train one block sent by the pool, each run's epochs and record sent back as they come; a
    run is stopped, and the block paused, as ``inbox`` says; an error fails the runs that had
    not ended."""
    from regui.core.runs import run_block

    light = (lambda e: e) if with_snapshots else EpochResult.without_snapshot  # the pipe carries what is kept
    ended: set[int] = set()

    def on_end(k: int, record: RunRecord) -> None:
        ended.add(indices[k])
        record.epochs = kept_epochs(record)  # the rest were streamed
        send(("finished", indices[k], record))

    try:
        run_block(
            data,
            configs,
            names=names,
            should_stop=functools.partial(inbox.hold, indices),
            run_should_stop=lambda k: indices[k] in inbox.stops,
            on_epoch=lambda k, result: send(("epoch", indices[k], light(result))),
            on_end=on_end,
            snapshots=1,
            overlap=overlap,
        )
    except _ParentGone:
        raise
    except Exception as exc:  # noqa: BLE001 - report it; the worker stays usable
        for index in indices:
            if index not in ended:
                send(("failed", index, error_text(exc)))
