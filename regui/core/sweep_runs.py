"""How a sweep's runs are run and report back while they run, whatever runs them.

Where the runs execute is the runner's business: ``run_serial`` / ``SerialRunner`` here (in
this process), ``regui.core.pool.ProcessPool`` (worker processes on this machine) and
``regui.core.dask_runner.DaskRunner`` (a Dask cluster), each a ``Runner``. All of them call
``run_training`` on the same arrays with the same settings, so they give the same numbers, and
share ``SweepBook``: the queue, the attempts, and what each run reported.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from regui.core.errors import ReguiError
from regui.core.records import STOPPED, DatasetSummary, EpochResult, RunRecord
from regui.core.run_book import RunBook
from regui.core.sweep import SweepItem


class SweepEvents:
    """What a runner reports while a sweep runs. Called from the runner's thread; override
    what you need (the app re-emits them as Qt signals, the command line prints)."""

    def started(self, index: int, attempt: int) -> None:
        """Run ``index`` started (attempt 2 and up: again, after its worker was lost)."""

    def epoch(self, index: int, result: EpochResult) -> None:
        """Run ``index`` finished an epoch."""

    def finished(self, index: int, record: RunRecord) -> None:
        """Run ``index`` ended (finished, stopped or diverged): its complete record."""

    def failed(self, index: int, message: str) -> None:
        """Run ``index`` could not be run (an error, or its worker died twice); its record says so."""


class BookEvents(SweepEvents):
    """A sweep's events into a front end's RunBook, keyed by item index (the command line's):
    the book keeps the records, its subscribers (the store, a printer) follow them. (The app's
    book lives on another thread: its sweep worker relays the events as Qt signals instead.)"""

    def __init__(self, book: RunBook) -> None:
        self.book = book

    def started(self, index: int, attempt: int) -> None:
        self.book.start(index, attempt)

    def epoch(self, index: int, result: EpochResult) -> None:
        self.book.epoch(index, result)

    def finished(self, index: int, record: RunRecord) -> None:
        self.book.finish(index, record)

    def failed(self, index: int, message: str) -> None:
        self.book.fail(index, message)


class SweepControl:
    """Pause, resume and stop a sweep from another thread (the app's buttons)."""

    def __init__(self) -> None:
        self.paused = threading.Event()  # while set, no run starts and those running hold
        self.stopped = threading.Event()  # no new runs start, running ones end after their epoch
        self._lock = threading.Lock()
        self._stop_runs: set[int] = set()

    def fresh(self) -> SweepControl:
        """A control for the sweep's next runner: paused if this one is, no run stopped."""
        control = SweepControl()
        if self.paused.is_set():
            control.pause()
        return control

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def stop(self) -> None:
        self.stopped.set()

    def stop_run(self, index: int) -> None:
        with self._lock:
            self._stop_runs.add(index)

    def run_stop_requested(self, index: int) -> bool:
        if self.stopped.is_set():
            return True
        with self._lock:
            return index in self._stop_runs

    def stop_requests(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._stop_runs)

    def hold(self, indices: Sequence[int]) -> bool:
        """Between steps of the runs ``indices`` (a block, or one run): wait while paused. Returns
        (at once) once the sweep is stopped or one of them is, True if all of them are stopped."""
        asked = self.stop_requests()
        while self.paused.is_set() and not self.stopped.is_set() and self.stop_requests() == asked:
            self.stopped.wait(HOLD_SECONDS)
        return all(self.run_stop_requested(i) for i in indices)


class SweepBook:
    """The bookkeeping every runner shares: the queue, the attempts, and each run's record (in a
    RunBook, which takes what each run reports and how it ended). Callbacks reach ``events``
    from here, so all runners report alike.

    By default sweeps keep a snapshot (weights, test predictions) only for each run's last
    epoch: a grid of many runs times many epochs of weight matrices would not fit in memory. A
    small sweep (the app's penalty comparison) may keep up to ``snapshots`` per run instead, as
    single runs do, and then streams them live.
    """

    def __init__(
        self,
        items: Sequence[SweepItem],
        events: SweepEvents,
        control: SweepControl,
        names: Sequence[str] | None,
        sweep: str,
        dataset_summary: DatasetSummary | None = None,
        snapshots: int | None = 1,
    ) -> None:
        self.events, self.control = events, control
        self.by_index = {item.index: item for item in items}
        self.order = [item.index for item in items]
        self.runs = RunBook(snapshots)
        for item in items:
            self.runs.add(item.index, item.config, item_name(item, names), dataset_summary, sweep, item.repeat)
        self.pending: deque[int] = deque(self.order)
        self.attempts: dict[int, int] = {}
        self._ended: set[int] = set()
        self._seen_stops: frozenset[int] = frozenset()
        self._blocks_given = False  # the first is small (blocks.FIRST_BLOCK)

    # -- the queue
    def drop_stopped(self) -> None:
        """Pending runs that were stopped (one by one, or the whole sweep) end as not started."""
        if self.control.stopped.is_set():
            while self.pending:
                self._not_started(self.pending.popleft())
        requests = self.control.stop_requests()
        if requests != self._seen_stops:  # only look through the queue when something changed
            self._seen_stops = requests
            for index in [i for i in self.pending if i in requests]:
                self.pending.remove(index)
                self._not_started(index)

    def next(self) -> int | None:
        """The next run to start, unless paused, stopped or none is left. A run whose worker was
        lost starts again while paused too (to hold where the others hold): it was running."""
        if not self.pending or self.control.stopped.is_set():
            return None
        if self.control.paused.is_set() and not self.attempts.get(self.pending[0]):
            return None
        index = self.pending.popleft()
        self.attempts[index] = self.attempts.get(index, 0) + 1
        self.runs.start(index, self.attempts[index])
        self.events.started(index, self.attempts[index])
        return index

    def mates(self, index: int, most: int) -> list[int]:
        """``index`` (just started) and up to ``most`` - 1 waiting runs that can share its pass
        (see ``blocks``) and are on the same attempt (runs of a lost block start again together),
        started with it: a block, in queue order."""
        from regui.core.blocks import pass_key

        key = pass_key(self.by_index[index].config)
        if key is None:
            return [index]
        attempt = self.attempts[index]
        block = [index]
        for other in list(self.pending):
            if len(block) >= most:
                break
            if pass_key(self.by_index[other].config) == key and self.attempts.get(other, 0) == attempt - 1:
                self.pending.remove(other)
                self.attempts[other] = attempt
                self.runs.start(other, attempt)
                self.events.started(other, attempt)
                block.append(other)
        return block

    def next_block(self, free: int, most: int) -> list[int]:
        """The next runs to start together (see ``next`` and ``mates``), [] if none may start: the
        waiting runs shared evenly among ``free`` workers, at most ``most`` (``blocks.block_size``)."""
        from regui.core.blocks import block_size

        first = self.next()
        if first is None:
            return []
        size = block_size(len(self.pending) + 1, free, most, first=not self._blocks_given)
        self._blocks_given = True
        return self.mates(first, size)

    def settings(self, indices: Sequence[int]) -> tuple[list, list[str]]:
        """The settings and the names of the runs ``indices``, as a runner sends them."""
        return [self.by_index[i].config for i in indices], [self.runs.record(i).name for i in indices]

    def restarted(self, index: int, attempt: int) -> None:
        """The run started over where its runner put it (Dask, after losing a worker)."""
        self.runs.start(index, attempt)
        self.events.started(index, attempt)

    def retry(self, index: int) -> bool:
        """Put a run whose worker was lost back in front of the queue, if it may try again."""
        if self.attempts.get(index, 0) >= MAX_ATTEMPTS or self.control.run_stop_requested(index):
            return False
        self.pending.appendleft(index)
        return True

    # -- what runs report
    @property
    def streams_snapshots(self) -> bool:
        return self.runs.snapshots is None or self.runs.snapshots > 1

    def epoch(self, index: int, result: EpochResult) -> None:
        if not self.streams_snapshots:
            result = result.without_snapshot()
        self.runs.epoch(index, result)
        self.events.epoch(index, result)

    def finish(self, index: int, outcome: RunRecord) -> None:
        """The run ended as ``outcome`` (its runner's record) says; its epochs are the ones it
        reported (or, if it reported none, the outcome's)."""
        self.runs.finish(index, outcome)
        self._ended.add(index)
        self.events.finished(index, self.runs.record(index))

    def fail(self, index: int, message: str) -> None:
        self.runs.fail(index, message)
        self._ended.add(index)
        self.events.failed(index, message)

    def lost(self, index: int, why: str) -> None:
        """Its worker died. Stopped on request: keep what it reported. Else retry once, or fail."""
        if self.control.run_stop_requested(index):
            done = len(self.runs.record(index).epochs)
            item = self.by_index[index]
            self.finish(index, RunRecord(config=item.config, status=STOPPED, message=f"Stopped after epoch {done}."))
        elif not self.retry(index):
            self.fail(index, f"{why} (tried {self.attempts.get(index, 0)} times).")

    def _not_started(self, index: int) -> None:
        item = self.by_index[index]
        done = len(self.runs.record(index).epochs)
        message = (
            f"Stopped after epoch {done}, while waiting to start again (its worker process was lost)."
            if self.attempts.get(index)
            else "Stopped before it started."
        )
        self.finish(index, RunRecord(config=item.config, status=STOPPED, message=message))

    def all_done(self) -> bool:
        return len(self._ended) == len(self.order)

    def results(self) -> list[RunRecord]:
        """Every run's record, in item order (call once all are done)."""
        assert self.all_done(), "results() before every run ended"
        return [self.runs.record(index) for index in self.order]


MAX_ATTEMPTS = 2  # a run whose worker dies is tried once more
HOLD_SECONDS = 0.05  # how often a paused run looks whether it is resumed or stopped


def run_serial(
    dataset,
    items: Sequence[SweepItem],
    events: SweepEvents,
    control: SweepControl | None = None,
    names: Sequence[str] | None = None,
    sweep: str = "",
    snapshots: int | None = 1,
    block: int = 1,
) -> list[RunRecord]:
    """Run the sweep here, one run (or one ``block`` of runs that share a pass, see ``blocks``)
    after another: the reference the other runners must match. Blocks give the same numbers."""
    from regui.core.blocks import data_shape, most_for
    from regui.core.runs import run_block

    control = control or SweepControl()
    book = SweepBook(items, events, control, names, sweep, dataset.summary(), snapshots)
    block = min(block, most_for(data_shape(dataset), [item.config for item in items], snapshots, 1))
    while not book.all_done():
        book.drop_stopped()
        indices = book.next_block(1, block)
        if not indices:
            if book.pending and not control.stopped.is_set():
                control.stopped.wait(0.05)  # paused
            continue
        configs, run_names = book.settings(indices)
        ended: set[int] = set()
        try:
            run_block(
                dataset.prepared(configs[0].split),
                configs,
                names=run_names,
                should_stop=functools.partial(control.hold, indices),
                run_should_stop=functools.partial(_in_block_stops, control, indices),
                on_epoch=functools.partial(_in_block_epoch, book, indices),
                on_end=functools.partial(_in_block_end, book, indices, ended),
                snapshots=snapshots,
            )
        except Exception as exc:  # noqa: BLE001 - one run's error fails that run, as on workers
            for i in indices:
                if i not in ended:
                    book.fail(i, error_text(exc))
    return book.results()


def error_text(exc: Exception) -> str:
    """What a run that raised ``exc`` says: a ReguiError's own words, else the exception's type too."""
    return str(exc) if isinstance(exc, ReguiError) else f"{type(exc).__name__}: {exc}"


def _in_block_stops(control: SweepControl, indices: list[int], k: int) -> bool:
    return control.run_stop_requested(indices[k])


def _in_block_epoch(book: SweepBook, indices: list[int], k: int, result: EpochResult) -> None:
    book.epoch(indices[k], result)


def _in_block_end(book: SweepBook, indices: list[int], ended: set[int], k: int, record: RunRecord) -> None:
    ended.add(indices[k])
    book.finish(indices[k], record)


class SerialRunner:
    """``run_serial`` with the interface of the other runners (ProcessPool, DaskRunner)."""

    def __init__(self, dataset, block: int = 1) -> None:
        self.dataset, self.block = dataset, block

    def run(self, items, events, control=None, names=None, sweep="", snapshots=1) -> list[RunRecord]:
        return run_serial(
            self.dataset, items, events, control, names=names, sweep=sweep, snapshots=snapshots, block=self.block
        )

    def close(self) -> None:
        pass


def item_name(item: SweepItem, names: Sequence[str] | None) -> str:
    from regui.core.config import run_label

    return names[item.index] if names is not None else run_label(item.index + 1, item.config)


class Runner(Protocol):
    """What runs a sweep: in this process, on worker processes, or on a Dask cluster."""

    def run(
        self,
        items: Sequence[SweepItem],
        events: SweepEvents,
        control: SweepControl | None = None,
        names: Sequence[str] | None = None,
        sweep: str = "",
        snapshots: int | None = 1,
    ) -> list[RunRecord]:
        """Run ``items``, reporting to ``events``; blocks until every run has ended, been
        stopped or failed, and returns their records in ``items`` order."""
        ...

    def close(self) -> None:
        """Let go of what it holds (processes, a cluster's client, shared files)."""
        ...
