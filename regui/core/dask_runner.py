"""Sweep runs on a Dask distributed cluster (optional: ``pip install regui[dask]``).

The dataset is scattered to the cluster once; each block (runs of regui's engine that share a
pass, trained together, see ``blocks``; any other run is a block of one) is one task that
trains on it and returns its runs' complete records. While it trains, every epoch is also put
on a distributed Queue so the sweep can be watched live. Stop and pause requests travel in a
distributed Variable (the runs stopped, whether all are, whether paused), read between
mini-batches at most every STOP_CHECK_SECONDS: one round trip to the scheduler for a whole
block. If a worker dies, Dask runs its task again elsewhere (its runs start over: their epochs
so far are dropped) and reports them failed only if that keeps happening. The workers must have
regui installed; they import only ``regui.core`` (no Qt).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

from regui.core.blocks import MAX_BLOCK, data_shape, most_for
from regui.core.errors import ReguiError
from regui.core.records import RunRecord, kept_epochs
from regui.core.sweep import SweepItem
from regui.core.sweep_runs import SweepBook, SweepControl, SweepEvents

CONNECT_TIMEOUT = 10  # seconds
STOPS_TIMEOUT = 30  # seconds a task waits to read the stop requests before it gives up and stops
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
    with ``owns_client`` the runner closes that client when it is closed. ``block``: the most
    runs one task trains together (1: a task per run).
    """

    def __init__(
        self,
        dataset,
        address: str | None = None,
        *,
        client=None,
        owns_client: bool = False,
        timeout: float | None = None,
        block: int = MAX_BLOCK,
    ) -> None:
        self._own_client = owns_client or client is None
        if client is None:
            if address is None:
                raise ReguiError("A Dask runner needs the scheduler's address or a connected client.")
            client = connect(address, timeout)
        self.client = client
        self.summary = dataset.summary()
        self.block = block
        self._shape = data_shape(dataset)
        payload = {**dataset.parts(), "X": dataset.X, "y": dataset.y, "id": uuid.uuid4().hex}
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
        from distributed import Queue, Variable

        control = control or SweepControl()
        book = SweepBook(items, events, control, names, sweep, self.summary, snapshots)
        most = min(self.block, most_for(self._shape, [item.config for item in items], snapshots, self.slots))
        tag = f"regui-{uuid.uuid4().hex[:12]}"
        queue = Queue(f"{tag}-epochs", client=self.client)
        stops = Variable(f"{tag}-stops", client=self.client)
        stops.set((False, (), False))  # (all stopped, the runs stopped, paused): before any task asks
        told: tuple[bool, tuple[int, ...], bool] = (False, (), False)
        running: dict = {}  # future -> the indices of its block's runs
        starts: dict[int, int] = {}  # run index -> times a task began it

        def held() -> set[int]:
            return {index for indices in running.values() for index in indices}

        def drain() -> None:
            now = held()
            for kind, index, value in queue.get(batch=True):  # what is waiting, without blocking
                if index not in now:
                    continue  # from an attempt that was already given up on
                if kind == "started":  # a task began the block whose first run is index
                    for run in value:
                        starts[run] = starts.get(run, 0) + 1
                        if starts[run] > 1:  # Dask runs it again elsewhere (its worker died)
                            book.restarted(run, starts[run])
                elif kind == "epoch":
                    book.epoch(index, value)

        # as_current: the client need not be the process's default one (the app's is not).
        with self.client.as_current():
            try:
                while not book.all_done():
                    book.drop_stopped()
                    asked = {index for index in held() if control.run_stop_requested(index)} | set(told[1])
                    now = (control.stopped.is_set(), tuple(sorted(asked)), control.paused.is_set())
                    if now != told:
                        stops.set(now)
                        told = now
                    while len(running) < self.slots:
                        indices = book.next_block(self.slots - len(running), most)
                        if not indices:
                            break
                        future = self.client.submit(
                            _remote_block,
                            self._data,
                            *book.settings(indices),
                            indices,
                            tag,
                            book.streams_snapshots,
                            key=f"{tag}-block-{indices[0]}-{book.attempts[indices[0]]}",
                            pure=False,
                            retries=1,
                        )
                        running[future] = indices
                    drain()
                    done = self._wait(list(running))
                    drain()  # epochs put before a run ended are shown before its end
                    for future in done:
                        self._collect(future, running.pop(future), book)
                    if not running and book.pending:
                        control.stopped.wait(0.05)  # paused
            finally:
                stops.set((True, (), False))  # runs still going on the cluster end at their next step
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

    def _collect(self, future, indices: list[int], book: SweepBook) -> None:
        try:
            outcomes = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker killed again and again, the data lost
            if future.status == "cancelled" and self._data.status != "finished":
                self._reshare()  # the workers holding the dataset are gone: send it again
                indices = [i for i in reversed(indices) if not book.retry(i)][::-1]
            for index in indices:
                book.fail(index, f"On the cluster: {type(exc).__name__}: {exc}")
            return
        for index, outcome in zip(indices, outcomes):
            if isinstance(outcome, str):
                book.fail(index, outcome)
            else:
                book.finish(index, outcome)

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


class _Stops:
    """What a task last read of its sweep's stop requests."""

    everything: bool = False
    runs: frozenset[int] = frozenset()
    paused: bool = False


def _remote_block(
    payload: dict, configs, names: list[str], indices: list[int], tag: str, with_snapshots: bool = False
) -> list[RunRecord | str]:
    """One block of runs, on a Dask worker: each run's record, or why it failed."""
    from distributed import Queue, Variable

    from regui.core import progress
    from regui.core.runs import run_block
    from regui.core.sweep_runs import HOLD_SECONDS, error_text

    queue = Queue(f"{tag}-epochs")
    stops = Variable(f"{tag}-stops")
    asked = _Stops()
    # Said before any epoch: if Dask runs this task again (its worker was lost), the sweep then
    # starts these runs over rather than appending the new attempt's epochs to the old ones.
    queue.put(("started", indices[0], list(indices)))

    def read_stops() -> None:
        try:
            everything, runs, paused = stops.get(timeout=STOPS_TIMEOUT)
        except Exception:  # noqa: BLE001 - the sweep that set it is gone: so is the reason to train
            everything, runs, paused = True, (), False
        asked.everything, asked.runs, asked.paused = everything, frozenset(runs), paused

    read_now = progress.at_most_every(progress.STOP_CHECK_SECONDS, read_stops)

    def should_stop() -> bool:
        read_now()
        before = asked.runs
        while asked.paused and not asked.everything and asked.runs == before:  # paused: hold here
            time.sleep(HOLD_SECONDS)
            read_stops()
        return asked.everything or all(i in asked.runs for i in indices)

    def run_should_stop(k: int) -> bool:
        read_now()
        return indices[k] in asked.runs

    records: dict[int, RunRecord] = {}

    def on_end(k: int, record: RunRecord) -> None:
        record.epochs = kept_epochs(record)  # the rest went through the queue
        records[k] = record

    try:
        run_block(
            _dataset_from(payload).prepared(configs[0].split),  # once per worker process and split
            configs,
            names=names,
            should_stop=should_stop,
            run_should_stop=run_should_stop,
            on_epoch=lambda k, e: queue.put(("epoch", indices[k], e if with_snapshots else e.without_snapshot())),
            on_end=on_end,
            snapshots=1,
        )
    except Exception as exc:  # noqa: BLE001 - as on a pool's worker: the runs that had ended keep their records
        return [records.get(k, error_text(exc)) for k in range(len(indices))]
    return [records[k] for k in range(len(indices))]


def _dataset_from(payload: dict):
    from regui.core.dataset import Dataset

    with _cache_lock:  # one Dataset object per scattered payload and worker process
        if payload["id"] not in _dataset_cache:
            _dataset_cache.clear()
            _dataset_cache[payload["id"]] = Dataset.from_parts(payload, payload["X"], payload["y"])
        return _dataset_cache[payload["id"]]
