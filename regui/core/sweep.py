"""Sweeps: a grid of runs (penalties x lambdas x learning rates x repeats), how they report
back while they run, and the mean and spread of their results.

Where the runs execute is the runner's business: ``run_serial`` here (in this process),
``regui.core.pool.ProcessPool`` (worker processes on this machine) and
``regui.core.dask_runner.DaskRunner`` (a Dask cluster). All three call ``run_training`` on the
same arrays with the same settings, so they give the same numbers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from regui.core.config import TrainConfig
from regui.core.records import FAILED, FINISHED, STOPPED, EpochResult, RunRecord

REPEAT_MODES = ("model", "split")  # repeats vary the model seed only, or the split seed too


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


def run_serial(
    dataset, items: Sequence[SweepItem], events: SweepEvents, control: SweepControl | None = None,
    names: Sequence[str] | None = None, sweep: str = "",
) -> list[RunRecord]:  # fmt: skip
    """Run the sweep here, one run after another (the reference the other runners must match)."""
    from regui.core.dataset import prepare
    from regui.core.errors import ReguiError
    from regui.core.runs import run_training

    control = control or SweepControl()
    records: list[RunRecord] = []
    prepared = {}
    for item in items:
        while control.paused.is_set() and not control.stopped.is_set():
            control.stopped.wait(0.05)
        if control.stopped.is_set() or control.run_stop_requested(item.index):
            records.append(not_started(item, names, sweep))
            events.finished(item.index, records[-1])
            continue
        events.started(item.index, 1)
        try:
            split = item.config.split
            if split not in prepared:
                prepared.clear()  # one split in memory at a time
                prepared[split] = prepare(dataset, split)
            record = run_training(
                prepared[split], item.config, name=item_name(item, names), dataset_summary=dataset.summary(),
                should_stop=lambda i=item.index: control.run_stop_requested(i),
                on_epoch=lambda e, i=item.index: events.epoch(i, e),
            )  # fmt: skip
        except ReguiError as exc:
            records.append(failed(item, names, sweep, str(exc)))
            events.failed(item.index, str(exc))
            continue
        record.sweep, record.repeat = sweep, item.repeat
        records.append(record)
        events.finished(item.index, record)
    return records


def not_started(item: SweepItem, names: Sequence[str] | None, sweep: str) -> RunRecord:
    return RunRecord(config=item.config, name=item_name(item, names), status=STOPPED,
                     message="Stopped before it started.", sweep=sweep, repeat=item.repeat)  # fmt: skip


def failed(item: SweepItem, names: Sequence[str] | None, sweep: str, message: str) -> RunRecord:
    return RunRecord(config=item.config, name=item_name(item, names), status=FAILED, message=message,
                     sweep=sweep, repeat=item.repeat)  # fmt: skip


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
    runs: list[int] = field(default_factory=list)  # indices into the records given
    test: tuple[float, float] = (math.nan, math.nan)  # mean, std of final test accuracy
    best_test: tuple[float, float] = (math.nan, math.nan)
    train: tuple[float, float] = (math.nan, math.nan)
    zeros: tuple[float, float] = (math.nan, math.nan)

    @property
    def n(self) -> int:
        return len(self.runs)

    def row(self) -> dict:
        """For tables and CSV: plain numbers, std over repeats (ddof=1; 0 for a single run)."""
        return {
            "penalty": self.penalty, "alpha": self.alpha, "l1_ratio": self.l1_ratio, "eta0": self.eta0,
            "runs": self.n,
            "test_accuracy_mean": self.test[0], "test_accuracy_std": self.test[1],
            "best_test_accuracy_mean": self.best_test[0], "best_test_accuracy_std": self.best_test[1],
            "train_accuracy_mean": self.train[0], "train_accuracy_std": self.train[1],
            "zero_fraction_mean": self.zeros[0], "zero_fraction_std": self.zeros[1],
        }  # fmt: skip


def summarize(records: Sequence[RunRecord]) -> list[SettingSummary]:
    """Group finished runs by setting (repeats together) with mean and std of their results."""
    groups: dict[tuple, SettingSummary] = {}
    for index, record in enumerate(records):
        if record.status != FINISHED or record.final is None:
            continue
        c = record.config
        uses_alpha = c.penalty != "none" or c.learning_rate == "optimal"
        key = (c.penalty, c.alpha if uses_alpha else None, c.l1_ratio if c.penalty == "elasticnet" else None, c.eta0)
        if key not in groups:
            groups[key] = SettingSummary(*key)
        groups[key].runs.append(index)
    for summary in groups.values():
        chosen = [records[i] for i in summary.runs]
        summary.test = _mean_std([r.final.test_accuracy for r in chosen])
        summary.best_test = _mean_std([r.best_test().test_accuracy for r in chosen])
        summary.train = _mean_std([r.final.train_accuracy for r in chosen])
        summary.zeros = _mean_std([r.final.zero_fraction for r in chosen])
    return list(groups.values())


def best_per_penalty(summaries: Sequence[SettingSummary]) -> list[SettingSummary]:
    """For each penalty, the setting with the highest mean test accuracy."""
    best: dict[str, SettingSummary] = {}
    for s in summaries:
        if s.penalty not in best or s.test[0] > best[s.penalty].test[0]:
            best[s.penalty] = s
    return list(best.values())


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
