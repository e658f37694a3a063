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
from collections import deque
from collections.abc import Sequence

from regui.core.errors import ReguiError
from regui.core.records import RunRecord
from regui.core.sweep import SweepControl, SweepEvents, SweepItem, failed, item_name, not_started


CONNECT_TIMEOUT = 10  # seconds


def connect(address: str, timeout: float | None = None):
    """A Dask client for the scheduler at ``address``, or ReguiError saying why not."""
    try:
        from distributed import Client
    except ImportError:
        raise ReguiError("Running on a Dask cluster needs the dask extra: pip install 'regui[dask]'.") from None
    try:
        return Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ReguiError(f"Could not connect to the Dask scheduler at {address}: {exc}") from None


class DaskRunner:
    """Runs sweeps on a Dask cluster on one dataset.

    Give it the scheduler's ``address`` (``tcp://host:port``), or a connected ``client``;
    with ``owns_client`` the runner closes that client when it is closed.
    """

    def __init__(self, dataset, address: str | None = None, *, client=None, owns_client: bool = False,
                 timeout: float | None = None) -> None:  # fmt: skip
        self._own_client = owns_client or client is None
        if client is None:
            client = connect(address, timeout)
        self.client = client
        self.summary = dataset.summary()
        payload = {
            "X": dataset.X, "y": dataset.y, "root": str(dataset.root), "class_names": list(dataset.class_names),
            "paths": list(dataset.paths), "width": dataset.image.width, "height": dataset.image.height,
            "color": dataset.image.color, "fingerprint": dataset.fingerprint, "id": uuid.uuid4().hex,
        }  # fmt: skip
        # Once, to every worker: runs then find it there instead of carrying it in each task.
        [self._data] = client.scatter([payload], broadcast=True, hash=False)

    @property
    def slots(self) -> int:
        """How many runs the cluster can train at once (its worker threads)."""
        return max(1, sum(self.client.nthreads().values()))

    def run(
        self, items: Sequence[SweepItem], events: SweepEvents, control: SweepControl | None = None,
        names: Sequence[str] | None = None, sweep: str = "",
    ) -> list[RunRecord]:  # fmt: skip
        from distributed import Event, Queue, wait

        control = control or SweepControl()
        tag = f"regui-{uuid.uuid4().hex[:12]}"
        queue = Queue(f"{tag}-epochs", client=self.client)
        stop_all = Event(f"{tag}-stop", client=self.client)
        stop_sent: set[int] = set()
        records: list[RunRecord | None] = [None] * len(items)
        position = {item.index: n for n, item in enumerate(items)}
        by_index = {item.index: item for item in items}
        pending = deque(item.index for item in items)
        running: dict = {}  # future -> run index
        attempts: dict[int, int] = {}

        def finish(index: int, record: RunRecord) -> None:
            records[position[index]] = record
            events.finished(index, record)

        def fail(index: int, message: str) -> None:
            records[position[index]] = failed(by_index[index], names, sweep, message)
            events.failed(index, message)

        def drain() -> None:
            for kind, index, value in queue.get(batch=True):  # what is waiting, without blocking
                if kind == "started":
                    attempts[index] = attempts.get(index, 0) + 1
                    events.started(index, attempts[index])
                elif kind == "epoch":
                    events.epoch(index, value)

        try:
            while pending or running:
                if control.stopped.is_set():
                    stop_all.set()
                    while pending:
                        index = pending.popleft()
                        finish(index, not_started(by_index[index], names, sweep))
                for index in [i for i in pending if control.run_stop_requested(i)]:
                    pending.remove(index)
                    finish(index, not_started(by_index[index], names, sweep))
                for index in running.values():
                    if index not in stop_sent and control.run_stop_requested(index):
                        Event(f"{tag}-stop-{index}", client=self.client).set()
                        stop_sent.add(index)
                while pending and not control.paused.is_set() and len(running) < self.slots:
                    index = pending.popleft()
                    item = by_index[index]
                    future = self.client.submit(
                        _remote_run, self._data, item.config, item_name(item, names), index, tag,
                        key=f"{tag}-run-{index}", pure=False,
                    )  # fmt: skip
                    running[future] = index
                drain()
                done = ()
                if running:
                    try:
                        done = wait(list(running), timeout=0.1, return_when="FIRST_COMPLETED").done
                    except TimeoutError:  # none ended within the timeout: look again
                        pass
                drain()  # epochs put before a run ended are shown before its end
                for future in done:
                    index = running.pop(future)
                    try:
                        record = future.result()
                    except ReguiError as exc:
                        fail(index, str(exc))
                        continue
                    except Exception as exc:  # noqa: BLE001 - a killed worker too often, a lost task
                        fail(index, f"{type(exc).__name__}: {exc}")
                        continue
                    record.sweep, record.repeat = sweep, by_index[index].repeat
                    finish(index, record)
        finally:
            for future in running:
                future.cancel()
            queue.close()
        return records

    def close(self) -> None:
        try:
            self.client.cancel([self._data])
        except Exception:  # noqa: BLE001 - the cluster may be gone already
            pass
        if self._own_client:
            self.client.close()


_cache_lock = threading.Lock()
_dataset_cache: dict = {}


def _remote_run(payload: dict, config, name: str, index: int, tag: str) -> RunRecord:
    """One run, on a Dask worker."""
    from distributed import Event, Queue

    from regui.core.dataset import prepare
    from regui.core.runs import run_training

    queue = Queue(f"{tag}-epochs")
    stop_all, stop_this = Event(f"{tag}-stop"), Event(f"{tag}-stop-{index}")
    queue.put(("started", index, None))
    dataset = _dataset_from(payload)
    record = run_training(
        prepare(dataset, config.split), config, name=name, dataset_summary=dataset.summary(),
        should_stop=lambda: stop_all.is_set() or stop_this.is_set(),
        on_epoch=lambda e: queue.put(("epoch", index, e)),
    )  # fmt: skip
    return record


def _dataset_from(payload: dict):
    from pathlib import Path

    from regui.core.config import ImageSettings
    from regui.core.dataset import Dataset

    with _cache_lock:  # one Dataset object per scattered payload and worker process
        if payload["id"] not in _dataset_cache:
            _dataset_cache.clear()
            _dataset_cache[payload["id"]] = Dataset(
                root=Path(payload["root"]), class_names=tuple(payload["class_names"]), X=payload["X"],
                y=payload["y"], paths=tuple(payload["paths"]), skipped=(),
                image=ImageSettings(payload["width"], payload["height"], payload["color"]),
                fingerprint=payload["fingerprint"],
            )  # fmt: skip
        return _dataset_cache[payload["id"]]
