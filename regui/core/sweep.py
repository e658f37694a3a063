"""Sweeps: a grid of runs (penalties x lambdas x learning rates x repeats), how they report
back while they run, and the mean and spread of their results.

Where the runs execute is the runner's business: ``run_serial`` here (in this process),
``regui.core.pool.ProcessPool`` (worker processes on this machine) and
``regui.core.dask_runner.DaskRunner`` (a Dask cluster). All three call ``run_training`` on the
same arrays with the same settings, so they give the same numbers.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from regui.core.config import TrainConfig
from regui.core.errors import ConfigError, ReguiError
from regui.core.records import FAILED, FINISHED, RUNNING, STOPPED, WAITING, EpochResult, RunRecord, thin_snapshots

REPEAT_MODES = ("model", "split")  # repeats vary the model seed only, or the split seed too
# A sweep of this many runs or fewer (a comparison of penalties) keeps its runs' weight
# snapshots epoch by epoch, as single runs do; a bigger one keeps each run's last only (memory).
SNAPSHOTS_UP_TO = 8


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep over; every other setting comes from ``base``."""

    base: TrainConfig
    penalties: tuple[str, ...] = ("none", "l1", "l2")
    alphas: tuple[float, ...] = ()  # () means base.alpha only
    learning_rates: tuple[float, ...] = ()  # () means base.eta0 only
    repeats: int = 1
    vary: str = "split"  # "model": seeds seed+r; "split": split_seed+r as well


@dataclass(frozen=True)
class SweepItem:
    index: int
    config: TrainConfig
    repeat: int


def log_space(low: float, high: float, points: int) -> tuple[float, ...]:
    """``points`` values from ``low`` to ``high`` evenly spaced on a log axis, rounded to 3
    significant digits so they read well (1e-06, 1e-05, ... or 0.000158)."""
    if not (low > 0 and high > 0 and points >= 1):
        raise ValueError("a log range needs positive ends and at least one point")
    if points == 1:
        return (float(f"{low:.3g}"),)
    values = np.logspace(math.log10(low), math.log10(high), points)
    return tuple(dict.fromkeys(float(f"{v:.3g}") for v in values))


# The most runs one sweep may have. Each run's numbers (about 1 KB an epoch) and final weights
# (37 KB on the Animals photos) stay in memory and in the run store; 10,000 runs of 10 epochs
# on the Animals photos are about 0.5 GB and an hour on two cores. A grid past that is almost
# always a typo (--seeds 1000000000 once filled memory at 50 MB/s before printing anything).
MAX_SWEEP_RUNS = 10_000
_EPOCH_BYTES = 1024  # an EpochResult's numbers as Python objects, kept per run and epoch


def count_runs(
    penalties: Sequence[str], n_alphas: int, n_learning_rates: int, repeats: int, schedule: str = "constant"
) -> int:
    """How many runs ``expand`` makes of such a grid, without making them (a grid can be huge)."""
    total = 0
    for penalty in dict.fromkeys(penalties):
        uses_alpha = penalty != "none" or schedule == "optimal"
        total += (n_alphas if uses_alpha else 1) * n_learning_rates * repeats
    return total


def check_sweep_size(n_runs: int, epochs: int, weights_per_run: int = 0) -> None:
    """Refuse, with the count, a sweep over MAX_SWEEP_RUNS runs or one whose records would not
    fit in half of this machine's memory (``weights_per_run``: bytes of one run's final weights)."""
    from regui.core.machine import physical_memory

    if n_runs > MAX_SWEEP_RUNS:
        raise ConfigError(
            f"This sweep has {n_runs:,} runs; a sweep may have at most {MAX_SWEEP_RUNS:,} (each run's "
            "numbers and weights are kept in memory and in the run store). Use fewer lambda points, "
            "learning rates or repeats."
        )
    needed = n_runs * (epochs * _EPOCH_BYTES + weights_per_run)
    total = physical_memory()
    if total and needed > total // 2:
        raise ConfigError(
            f"This sweep's {n_runs:,} runs of {epochs:,} epochs would keep about {needed / 2**30:.1f} GB "
            f"of results in memory, more than half of this machine's {total / 2**30:.1f} GB. Use "
            "fewer runs or epochs."
        )


def expand(spec: SweepSpec) -> list[SweepItem]:
    """Every run of the grid, in order: penalty, then lambda, learning rate and repeat.

    A run without a penalty does not depend on lambda (unless the schedule is 'optimal', which
    derives its step from it), so it is run once per learning rate and repeat, not per lambda.
    """
    configs: list[tuple[TrainConfig, int]] = []
    seen = set()
    all_alphas = spec.alphas or (spec.base.alpha,)
    for penalty in dict.fromkeys(spec.penalties):
        uses_alpha = penalty != "none" or spec.base.learning_rate == "optimal"
        alphas = all_alphas if uses_alpha else all_alphas[:1]
        for alpha in alphas:
            for lr in spec.learning_rates or (spec.base.eta0,):
                for repeat in range(spec.repeats):
                    config = spec.base.with_(
                        penalty=penalty,
                        alpha=alpha,
                        eta0=lr,
                        seed=spec.base.seed + repeat,
                        split_seed=spec.base.split_seed + repeat if spec.vary == "split" else spec.base.split_seed,
                    )
                    if config not in seen:
                        seen.add(config)
                        configs.append((config, repeat))
    return [SweepItem(i, config, repeat) for i, (config, repeat) in enumerate(configs)]


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


class SweepControl:
    """Pause, resume and stop a sweep from another thread (the app's buttons)."""

    def __init__(self) -> None:
        self.paused = threading.Event()  # no new runs start while set
        self.stopped = threading.Event()  # no new runs start, running ones end after their epoch
        self._lock = threading.Lock()
        self._stop_runs: set[int] = set()

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


class SweepBook:
    """The bookkeeping every runner shares: the queue, attempts, what each run streamed, and
    the records in item order. Callbacks reach ``events`` from here, so all runners report alike.

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
        dataset_summary: dict | None = None,
        snapshots: int | None = 1,
    ) -> None:
        self.events, self.control, self.names, self.sweep = events, control, names, sweep
        self.snapshots = snapshots
        self.dataset_summary = dataset_summary or {}
        self.by_index = {item.index: item for item in items}
        self._position = {item.index: n for n, item in enumerate(items)}
        self.records: list[RunRecord | None] = [None] * len(items)
        self.pending: deque[int] = deque(item.index for item in items)
        self.attempts: dict[int, int] = {}
        self.streamed: dict[int, list[EpochResult]] = {}
        self._seen_stops: frozenset[int] = frozenset()

    # -- the queue
    def drop_stopped(self) -> None:
        """Pending runs that were stopped (one by one, or the whole sweep) end as not started."""
        if self.control.stopped.is_set():
            while self.pending:
                index = self.pending.popleft()
                self.finish(index, not_started(self.by_index[index], self.names, self.sweep, self.dataset_summary))
        requests = self.control.stop_requests()
        if requests != self._seen_stops:  # only look through the queue when something changed
            self._seen_stops = requests
            for index in [i for i in self.pending if i in requests]:
                self.pending.remove(index)
                self.finish(index, not_started(self.by_index[index], self.names, self.sweep, self.dataset_summary))

    def next(self) -> int | None:
        """The next run to start, unless paused, stopped or none is left."""
        if not self.pending or self.control.paused.is_set() or self.control.stopped.is_set():
            return None
        index = self.pending.popleft()
        self.attempts[index] = self.attempts.get(index, 0) + 1
        self.streamed[index] = []
        self.events.started(index, self.attempts[index])
        return index

    def retry(self, index: int) -> bool:
        """Put a run whose worker was lost back in front of the queue, if it may try again."""
        if self.attempts.get(index, 0) >= MAX_ATTEMPTS or self.control.run_stop_requested(index):
            return False
        self.pending.appendleft(index)
        return True

    # -- what runs report
    @property
    def streams_snapshots(self) -> bool:
        return self.snapshots is None or self.snapshots > 1

    def epoch(self, index: int, result: EpochResult) -> None:
        if not self.streams_snapshots:
            result = result.without_snapshot()
        streamed = self.streamed.setdefault(index, [])
        streamed.append(result)
        thin_snapshots(streamed, self.snapshots)
        self.events.epoch(index, result)

    def finish(self, index: int, record: RunRecord) -> None:
        record.sweep, record.repeat = self.sweep, self.by_index[index].repeat
        if self.streams_snapshots:
            thin_snapshots(record.epochs, self.snapshots, everything=True)
        else:
            record.epochs = keep_last_weights(record.epochs)
        self.records[self._position[index]] = record
        self.streamed.pop(index, None)
        self.events.finished(index, record)

    def finish_streamed(self, index: int, record: RunRecord) -> None:
        """A record whose epochs were streamed: they are taken from the stream, the last one
        (with its weights) from the record."""
        epochs = self.streamed.get(index, [])
        record.epochs = epochs[:-1] + record.epochs[-1:] if record.epochs else epochs
        self.finish(index, record)

    def fail(self, index: int, message: str) -> None:
        self.records[self._position[index]] = failed(
            self.by_index[index], self.names, self.sweep, message, self.dataset_summary
        )
        self.streamed.pop(index, None)
        self.events.failed(index, message)

    def lost(self, index: int, why: str) -> None:
        """Its worker died. Stopped on request: keep what it streamed. Else retry once, or fail."""
        if self.control.run_stop_requested(index):
            item = self.by_index[index]
            epochs = self.streamed.get(index, [])
            self.finish(
                index,
                RunRecord(
                    config=item.config,
                    name=item_name(item, self.names),
                    status=STOPPED,
                    message=f"Stopped after epoch {len(epochs)}.",
                    epochs=epochs,
                    dataset=dict(self.dataset_summary),
                ),
            )
        elif not self.retry(index):
            self.fail(index, f"{why} (tried {self.attempts.get(index, 0)} times).")

    def all_done(self) -> bool:
        return all(r is not None for r in self.records)

    def results(self) -> list[RunRecord]:
        """Every run's record, in item order (call once all are done)."""
        records = [r for r in self.records if r is not None]
        assert len(records) == len(self.records), "results() before every run ended"
        return records


MAX_ATTEMPTS = 2  # a run whose worker dies is tried once more


def keep_last_weights(epochs: list[EpochResult]) -> list[EpochResult]:
    """Sweeps keep one snapshot per run, the last epoch's: a grid of 1,000 runs stays small."""
    return [e.without_snapshot() for e in epochs[:-1]] + epochs[-1:]


def run_serial(
    dataset,
    items: Sequence[SweepItem],
    events: SweepEvents,
    control: SweepControl | None = None,
    names: Sequence[str] | None = None,
    sweep: str = "",
    snapshots: int | None = 1,
) -> list[RunRecord]:
    """Run the sweep here, one run after another (the reference the other runners must match)."""
    from regui.core.dataset import prepare
    from regui.core.runs import run_training

    control = control or SweepControl()
    book = SweepBook(items, events, control, names, sweep, dataset.summary(), snapshots)
    prepared: dict = {}  # split settings -> PreparedData (one split at a time)
    while not book.all_done():
        book.drop_stopped()
        index = book.next()
        if index is None:
            if book.pending and not control.stopped.is_set():
                control.stopped.wait(0.05)  # paused
            continue
        item = book.by_index[index]
        try:
            split = item.config.split
            if split not in prepared:
                prepared.clear()  # one split in memory at a time
                prepared[split] = prepare(dataset, split)
            record = run_training(
                prepared[split],
                item.config,
                name=item_name(item, names),
                dataset_summary=dataset.summary(),
                should_stop=functools.partial(control.run_stop_requested, index),
                on_epoch=functools.partial(book.epoch, index),
                snapshots=snapshots,
            )
        except Exception as exc:  # noqa: BLE001 - one run's error fails that run, as on workers
            book.fail(index, str(exc) if isinstance(exc, ReguiError) else f"{type(exc).__name__}: {exc}")
            continue
        book.finish(index, record)
    return book.results()


class SerialRunner:
    """``run_serial`` with the interface of the other runners (ProcessPool, DaskRunner)."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def run(self, items, events, control=None, names=None, sweep="", snapshots=1) -> list[RunRecord]:
        return run_serial(self.dataset, items, events, control, names=names, sweep=sweep, snapshots=snapshots)

    def close(self) -> None:
        pass


# A run that never trained still says which data it was for, as every record does.


def not_started(item: SweepItem, names: Sequence[str] | None, sweep: str, dataset: dict | None = None) -> RunRecord:
    return RunRecord(
        config=item.config,
        name=item_name(item, names),
        status=STOPPED,
        message="Stopped before it started.",
        sweep=sweep,
        repeat=item.repeat,
        dataset=dict(dataset or {}),
    )


def failed(
    item: SweepItem, names: Sequence[str] | None, sweep: str, message: str, dataset: dict | None = None
) -> RunRecord:
    return RunRecord(
        config=item.config,
        name=item_name(item, names),
        status=FAILED,
        message=message,
        sweep=sweep,
        repeat=item.repeat,
        dataset=dict(dataset or {}),
    )


def item_name(item: SweepItem, names: Sequence[str] | None) -> str:
    from regui.core.config import run_label

    return names[item.index] if names is not None else run_label(item.index + 1, item.config)


# --- results -----------------------------------------------------------------------------------


@dataclass
class SettingSummary:
    """Mean and spread over the repeats of one setting (penalty, lambda, l1_ratio, lr)."""

    penalty: str
    alpha: float | None  # None for runs without a penalty (lambda plays no part)
    l1_ratio: float | None
    eta0: float
    runs: list[int] = field(default_factory=list)  # indices of its finished runs in the records given
    others: dict[str, int] = field(default_factory=dict)  # repeats that did not finish, by status
    test: tuple[float, float] = (math.nan, math.nan)  # mean, std of final test accuracy
    best_test: tuple[float, float] = (math.nan, math.nan)
    train: tuple[float, float] = (math.nan, math.nan)
    zeros: tuple[float, float] = (math.nan, math.nan)

    @property
    def n(self) -> int:
        """Finished repeats: the ones the means are over."""
        return len(self.runs)

    def count_text(self) -> str:
        """For example "3", or "2 of 3 (1 diverged)" when some repeats did not finish."""
        if not self.others:
            return str(self.n)
        why = ", ".join(f"{n} {status}" for status, n in self.others.items())
        return f"{self.n} of {self.n + sum(self.others.values())} ({why})"

    def row(self) -> dict:
        """For tables and CSV: plain numbers, std over repeats (ddof=1; 0 for a single run)."""
        return {
            "penalty": self.penalty,
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "eta0": self.eta0,
            "runs": self.n,
            "not_finished": sum(self.others.values()),
            "test_accuracy_mean": self.test[0],
            "test_accuracy_std": self.test[1],
            "best_test_accuracy_mean": self.best_test[0],
            "best_test_accuracy_std": self.best_test[1],
            "train_accuracy_mean": self.train[0],
            "train_accuracy_std": self.train[1],
            "zero_fraction_mean": self.zeros[0],
            "zero_fraction_std": self.zeros[1],
        }


def summarize(records: Sequence[RunRecord]) -> list[SettingSummary]:
    """Group runs by setting (repeats together): mean and std over the finished ones, and a
    count of those that did not finish (diverged, stopped, failed), so none vanishes unseen.
    Runs still waiting or running are left out."""
    groups: dict[tuple, SettingSummary] = {}
    for index, record in enumerate(records):
        if record.status in (WAITING, RUNNING):
            continue
        c = record.config
        uses_alpha = c.penalty != "none" or c.learning_rate == "optimal"
        key = (c.penalty, c.alpha if uses_alpha else None, c.l1_ratio if c.penalty == "elasticnet" else None, c.eta0)
        if key not in groups:
            groups[key] = SettingSummary(*key)
        if record.status == FINISHED and record.final is not None:
            groups[key].runs.append(index)
        else:
            groups[key].others[record.status] = groups[key].others.get(record.status, 0) + 1
    for summary in groups.values():
        finals = [e for e in (records[i].final for i in summary.runs) if e is not None]
        bests = [e for e in (records[i].best_test() for i in summary.runs) if e is not None]
        if not finals:
            continue
        summary.test = _mean_std([e.test_accuracy for e in finals])
        summary.best_test = _mean_std([e.test_accuracy for e in bests])
        summary.train = _mean_std([e.train_accuracy for e in finals])
        summary.zeros = _mean_std([e.zero_fraction for e in finals])
    return list(groups.values())


def best_per_penalty(summaries: Sequence[SettingSummary]) -> list[SettingSummary]:
    """For each penalty, the setting with the highest mean test accuracy."""
    best: dict[str, SettingSummary] = {}
    for s in summaries:
        if not s.n:
            continue
        if s.penalty not in best or s.test[0] > best[s.penalty].test[0]:
            best[s.penalty] = s
    return list(best.values())


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
