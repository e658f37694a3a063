"""Sweep runs on a Dask distributed cluster (optional: ``pip install regui[dask]``).

The dataset is scattered to the cluster once; each run is one task that trains on it and
returns its complete record. While it trains, every epoch is also put on a distributed Queue
so the sweep can be watched live. Stop requests travel as distributed Events checked between
epochs. If a worker dies, Dask runs its task again elsewhere (the run starts over: its epochs
so far are dropped) and reports it failed only if that keeps happening. The workers must have
regui installed; they import only ``regui.core`` (no Qt).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from regui.core.errors import ReguiError
from regui.core.records import RunRecord, kept_epochs
from regui.core.sweep import SweepItem
from regui.core.sweep_runs import SweepBook, SweepControl, SweepEvents, item_name

CONNECT_TIMEOUT = 10  # seconds
_NETWORK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def connect(address: str, timeout: float | None = None):
    """A Dask client for the scheduler at ``address``, or ReguiError saying why not."""
    try:
        from distributed import Client
    except ImportError:
        raise ReguiError("Running on a Dask cluster needs the dask extra: pip install 'regui[dask]'.") from None
    # A malformed address makes Client fail half-built; its clean-up then hangs for 20 s at
    # exit and prints a traceback. Read the address first, with distributed's own parser.
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address if "://" in address else f"tcp://{address}")
        if scheme not in _NETWORK_SCHEMES:
            raise ValueError(f"a scheduler elsewhere is reached by {', '.join(_NETWORK_SCHEMES)}, not {scheme}")
        parse_host_port(location)
    except ValueError as exc:
        raise ReguiError(f"'{address}' is not a Dask scheduler address (like tcp://host:8786): {exc}") from None
    try:
        return Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ReguiError(f"Could not connect to the Dask scheduler at {address}: {exc}") from None


class DaskRunner:
    """Runs sweeps on a Dask cluster on one dataset.

    Give it the scheduler's ``address`` (``tcp://host:port``), or a connected ``client``;
    with ``owns_client`` the runner closes that client when it is closed.
    """

    def __init__(
        self,
        dataset,
        address: str | None = None,
        *,
        client=None,
        owns_client: bool = False,
        timeout: float | None = None,
    ) -> None:
        self._own_client = owns_client or client is None
        if client is None:
            if address is None:
                raise ReguiError("A Dask runner needs the scheduler's address or a connected client.")
            client = connect(address, timeout)
        self.client = client
        self.summary = dataset.summary()
        payload = {
            "X": dataset.X,
            "y": dataset.y,
            "root": str(dataset.root),
            "class_names": list(dataset.class_names),
            "paths": list(dataset.paths),
            "width": dataset.image.width,
            "height": dataset.image.height,
            "color": dataset.image.color,
            "fingerprint": dataset.fingerprint,
            "id": uuid.uuid4().hex,
        }
        # Once, to every worker: runs then find it there instead of carrying it in each task.
        self._payload = payload
        self._reshare()

    @property
    def slots(self) -> int:
        """How many runs the cluster can train at once (its worker threads)."""
        return max(1, sum(self.client.nthreads().values()))

    def run(
        self,
        items: Sequence[SweepItem],
        events: SweepEvents,
        control: SweepControl | None = None,
        names: Sequence[str] | None = None,
        sweep: str = "",
        snapshots: int | None = 1,
    ) -> list[RunRecord]:
        from distributed import Event, Queue

        control = control or SweepControl()
        book = SweepBook(items, events, control, names, sweep, self.summary, snapshots)
        tag = f"regui-{uuid.uuid4().hex[:12]}"
        queue = Queue(f"{tag}-epochs", client=self.client)
        stop_all = Event(f"{tag}-stop", client=self.client)
        stop_events: dict[int, Any] = {}  # run index -> distributed.Event
        running: dict = {}  # future -> run index
        starts: dict[int, int] = {}  # run index -> times a task began it

        def drain() -> None:
            for kind, index, value in queue.get(batch=True):  # what is waiting, without blocking
                if index not in running.values():
                    continue  # from an attempt that was already given up on
                if kind == "started":
                    starts[index] = starts.get(index, 0) + 1
                    if starts[index] > 1:  # Dask runs it again elsewhere (its worker died)
                        book.restarted(index, starts[index])
                elif kind == "epoch":
                    book.epoch(index, value)

        # as_current: the client need not be the process's default one (the app's is not).
        with self.client.as_current():
            try:
                while not book.all_done():
                    book.drop_stopped()
                    if control.stopped.is_set():
                        stop_all.set()
                    for index in running.values():
                        if index not in stop_events and control.run_stop_requested(index):
                            stop_events[index] = Event(f"{tag}-stop-{index}", client=self.client)
                            stop_events[index].set()
                    while len(running) < self.slots:
                        index = book.next()
                        if index is None:
                            break
                        item = book.by_index[index]
                        future = self.client.submit(
                            _remote_run,
                            self._data,
                            item.config,
                            item_name(item, names),
                            index,
                            tag,
                            book.streams_snapshots,
                            key=f"{tag}-run-{index}-{book.attempts[index]}",
                            pure=False,
                            retries=1,
                        )
                        running[future] = index
                    drain()
                    done = self._wait(list(running))
                    drain()  # epochs put before a run ended are shown before its end
                    for future in done:
                        self._collect(future, running.pop(future), book)
                    if not running and book.pending:
                        control.stopped.wait(0.05)  # paused
            finally:
                stop_all.set()  # runs still going on the cluster end after their epoch
                for future in running:
                    future.cancel()
                queue.close()
        return book.results()

    @staticmethod
    def _wait(futures: list) -> list:
        """Futures that ended within 0.1 s (raising is not ending: a lost dependency fails one run)."""
        from distributed import wait

        if not futures:
            return []
        try:
            wait(futures, timeout=0.1, return_when="FIRST_COMPLETED")
        except Exception:  # noqa: BLE001 - TimeoutError, or a future cancelled under us
            pass
        return [f for f in futures if f.done()]

    def _collect(self, future, index: int, book: SweepBook) -> None:
        try:
            record = future.result()
        except ReguiError as exc:
            book.fail(index, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a worker killed again and again, the data lost
            if future.status == "cancelled" and self._data.status != "finished":
                self._reshare()  # the workers holding the dataset are gone: send it again
                if book.retry(index):
                    return
            book.fail(index, f"On the cluster: {type(exc).__name__}: {exc}")
            return
        book.finish(index, record)

    def _reshare(self) -> None:
        [self._data] = self.client.scatter([self._payload], broadcast=True, hash=False)

    def close(self) -> None:
        try:
            self.client.cancel([self._data])
        except Exception:  # noqa: BLE001 - the cluster may be gone already
            pass
        if self._own_client:
            self.client.close()


_cache_lock = threading.Lock()
_dataset_cache: dict = {}


def _remote_run(payload: dict, config, name: str, index: int, tag: str, with_snapshots: bool = False) -> RunRecord:
    """One run, on a Dask worker."""
    from distributed import Event, Queue

    from regui.core.dataset import prepare
    from regui.core.runs import run_training

    queue = Queue(f"{tag}-epochs")
    stop_all, stop_this = Event(f"{tag}-stop"), Event(f"{tag}-stop-{index}")
    queue.put(("started", index, None))
    dataset = _dataset_from(payload)
    record = run_training(
        prepare(dataset, config.split),
        config,
        name=name,
        should_stop=lambda: stop_all.is_set() or stop_this.is_set(),
        on_epoch=lambda e: queue.put(("epoch", index, e if with_snapshots else e.without_snapshot())),
        snapshots=1,
    )
    record.epochs = kept_epochs(record)  # the rest went through the queue
    return record


def _dataset_from(payload: dict):
    from pathlib import Path

    from regui.core.config import ImageSettings
    from regui.core.dataset import Dataset

    with _cache_lock:  # one Dataset object per scattered payload and worker process
        if payload["id"] not in _dataset_cache:
            _dataset_cache.clear()
            _dataset_cache[payload["id"]] = Dataset(
                root=Path(payload["root"]),
                class_names=tuple(payload["class_names"]),
                X=payload["X"],
                y=payload["y"],
                paths=tuple(payload["paths"]),
                skipped=(),
                image=ImageSettings(payload["width"], payload["height"], payload["color"]),
                fingerprint=payload["fingerprint"],
            )
        return _dataset_cache[payload["id"]]
