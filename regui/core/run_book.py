"""Every run of a session, each record made once and owned here.

A front end (the app, ``regui run``, ``regui sweep``) adds a run to its book when it queues or
starts it, and hands the book what the engine reports: the run began, each epoch, how it
ended. The book keeps one record per run, applies the snapshot policy (``thin_snapshots``) in
one place, and tells its subscribers: the store writes each run as it happens, the command
line prints, the app's table and plots redraw. What a front end shows, stores and exports is
this record.

How a run ended comes from the engine as its own record (``run_training``'s return, or what a
sweep's runner sends back); the book takes from it only the outcome (status, message, time)
and, where its own last epoch lacks them, the final weights: the epochs were reported one by
one already, and there is nothing to merge.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from datetime import datetime, timezone
from typing import Protocol

from regui.core.config import TrainConfig
from regui.core.records import FAILED, RUNNING, WAITING, DatasetSummary, EpochResult, RunRecord, thin_snapshots
from regui.core.splits import part_sizes

_OPEN = (WAITING, RUNNING)  # a run that has not ended: what the engine may still report on


class RunSubscriber(Protocol):
    """What follows a RunBook. Called in the thread that changes the book; each method gets the
    run's key and its record as the book has it now."""

    def started(self, key: Hashable, record: RunRecord) -> None:
        """The run began (again, for a retry: its epochs were cleared)."""

    def epoch(self, key: Hashable, record: RunRecord, result: EpochResult) -> None:
        """The run finished an epoch (``result``, already appended to ``record.epochs``)."""

    def ended(self, key: Hashable, record: RunRecord) -> None:
        """The run ended: finished, stopped, diverged or failed (or never started)."""


def run_dataset(summary: DatasetSummary, config: TrainConfig) -> DatasetSummary:
    """What a run records about its data: the dataset's summary and the sizes of its training,
    validation and test parts, as the split makes them (scikit-learn rounds those parts up)."""
    n_images = summary.get("n_images")
    if not isinstance(n_images, int):
        return {**summary}
    n_train, n_val, n_test = part_sizes(n_images, config.test_size, config.validation, config.folds, config.fold)
    return {**summary, "n_train": n_train, "n_val": n_val, "n_test": n_test}


class RunBook:
    """The runs of a front end, by key (the app's run number, a sweep's item index).

    ``snapshots``: how many epochs' weight snapshots each run keeps (None: all; 1: the last
    epoch's), thinned as ``records.thin_snapshots`` says.
    """

    def __init__(self, snapshots: int | None = None) -> None:
        self.snapshots = snapshots
        self._records: dict[Hashable, RunRecord] = {}
        self._clocks: dict[Hashable, float] = {}  # time.monotonic() when each run (last) started
        self._kept_epochs: dict[Hashable, int | None] = {}  # each early-stopping run's best epoch so far
        self._subscribers: list[RunSubscriber] = []

    def subscribe(self, subscriber: RunSubscriber) -> None:
        self._subscribers.append(subscriber)

    # --- the runs ---------------------------------------------------------------------------

    def add(
        self,
        key: Hashable,
        config: TrainConfig,
        name: str = "",
        dataset: DatasetSummary | None = None,
        sweep: str = "",
        repeat: int = 0,
    ) -> RunRecord:
        """A run to come (waiting); ``dataset``: the dataset's summary (the split's sizes are
        added here). Returns its record, the one the book keeps."""
        record = RunRecord(
            config=config,
            name=name,
            status=WAITING,
            dataset=run_dataset(dataset or {}, config),
            sweep=sweep,
            repeat=repeat,
        )
        self._records[key] = record
        return record

    def adopt(self, key: Hashable, record: RunRecord) -> RunRecord:
        """A run made elsewhere and ended there (opened from the run store): kept as it is."""
        self._records[key] = record
        return record

    def record(self, key: Hashable) -> RunRecord:
        return self._records[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._records)

    def records(self) -> list[RunRecord]:
        """Every run's record, in the order they were added."""
        return list(self._records.values())

    # --- what the engine reports ----------------------------------------------------------------

    def start(self, key: Hashable, attempt: int = 1) -> None:
        """The run began; attempt 2 and up: it starts over (its worker was lost). A run that has
        ended already (the window closed on it) stays as it ended."""
        record = self._records[key]
        if record.status not in _OPEN:
            return
        record.status = RUNNING
        record.epochs.clear()
        self._kept_epochs.pop(key, None)
        record.started_at = _now()
        self._clocks[key] = time.monotonic()
        record.message = f"Started again (attempt {attempt}): its worker process was lost." if attempt > 1 else ""
        for subscriber in self._subscribers:
            subscriber.started(key, record)

    def epoch(self, key: Hashable, result: EpochResult) -> None:
        record = self._records[key]
        if record.status != RUNNING:  # a late epoch of a run already ended (stopped, closed)
            return
        record.epochs.append(result)
        kept = self._kept_epochs.get(key)
        moved = False
        if record.config.early_stopping and (
            kept is None or result.val_accuracy > record.epochs[kept - 1].val_accuracy
        ):
            # The best so far, as RunRecord.chosen() (kept up to date here: no scan of every epoch);
            # the epoch it replaced may now lose its weights.
            kept, moved = result.epoch, kept is not None
            self._kept_epochs[key] = kept
        thin_snapshots(record.epochs, self.snapshots, everything=moved, keep=kept)
        for subscriber in self._subscribers:
            subscriber.epoch(key, record, result)

    def finish(self, key: Hashable, outcome: RunRecord) -> None:
        """The run ended as ``outcome`` says (the engine's record of it): its status, message and
        time; its final weights if the epochs reported here lacked them; its epochs only if none
        were reported here one by one. A run that has ended already (the window closed on it,
        and this is its worker's late word) stays as it ended."""
        record = self._records[key]
        if record.status not in _OPEN:
            return
        if not record.epochs and outcome.epochs:  # reported whole, at its end
            record.epochs = list(outcome.epochs)
        elif outcome.epochs and record.epochs:
            # The same numbers, with the weights the engine kept: the last epoch's, and an
            # early-stopped run's result (the epoch chosen on validation).
            # (An outcome may carry only some epochs, e.g. from a cluster: looked up by number.)
            kept = {outcome.epochs[-1].epoch} | ({outcome.result.epoch} if outcome.result else set())
            for theirs in outcome.epochs:
                if theirs.epoch in kept and theirs.epoch <= len(record.epochs):
                    mine = record.epochs[theirs.epoch - 1]
                    if theirs.epoch == mine.epoch and theirs.has_snapshot and not mine.has_snapshot:
                        record.epochs[theirs.epoch - 1] = theirs
        # The message says how it ended (a retry's note stays if the outcome has nothing to say);
        # the start time is the one the book gave it (the store has that one too).
        record.status, record.message = outcome.status, outcome.message or record.message
        record.seconds = outcome.seconds or self._running_for(key)
        record.started_at = record.started_at or outcome.started_at
        thin_snapshots(record.epochs, self.snapshots, everything=True, keep=_kept(record))
        for subscriber in self._subscribers:
            subscriber.ended(key, record)

    def fail(self, key: Hashable, message: str) -> None:
        """The run could not be run, or its worker died for good."""
        record = self._records[key]
        if record.status not in _OPEN:
            return
        record.status, record.message = FAILED, message
        record.seconds = record.seconds or self._running_for(key)
        for subscriber in self._subscribers:
            subscriber.ended(key, record)

    def end(self, key: Hashable, status: str, message: str) -> None:
        """End a run from here (the window closing on it): ``status`` with ``message``, and the
        time it ran since it started."""
        record = self._records[key]
        record.status, record.message = status, message
        record.seconds = self._running_for(key)
        for subscriber in self._subscribers:
            subscriber.ended(key, record)

    def _running_for(self, key: Hashable) -> float:
        """Seconds since the run (last) started here; 0 if it never did."""
        return time.monotonic() - self._clocks[key] if key in self._clocks else 0.0

    def set_snapshot_limit(self, limit: int | None) -> None:
        """Keep at most ``limit`` snapshots per run from now on, and thin the runs already here."""
        self.snapshots = limit
        for record in self._records.values():
            thin_snapshots(record.epochs, limit, everything=True, keep=_kept(record))


def _kept(record: RunRecord) -> int | None:
    """The epoch whose weights an early-stopping run keeps whatever the thinning (its result)."""
    if not record.config.early_stopping or record.result is None:
        return None
    return record.result.epoch


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
