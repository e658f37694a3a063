"""The results of a sweep: mean and spread over the repeats of each setting, and the setting
per penalty chosen on the validation part (its test accuracy reported beside it, never chosen on)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from regui.core.config import uses_lambda
from regui.core.records import FINISHED, RUNNING, WAITING, RunRecord


@dataclass
class SettingSummary:
    """Mean and spread over the repeats of one setting (penalty, lambda, l1_ratio, lr, batch size)."""

    penalty: str
    alpha: float | None  # None for runs without a penalty (lambda plays no part)
    l1_ratio: float | None
    eta0: float
    batch: str = "64"  # the batch size in words ("64", "full"; "1" for SGDClassifier)
    engine: str = "minibatch"
    runs: list[int] = field(default_factory=list)  # indices of its finished runs in the records given
    others: dict[str, int] = field(default_factory=dict)  # repeats that did not finish, by status
    test: tuple[float, float] = (math.nan, math.nan)  # mean, std of final test accuracy
    val: tuple[float, float] = (math.nan, math.nan)  # of final validation accuracy (NaN without one)
    train: tuple[float, float] = (math.nan, math.nan)
    zeros: tuple[float, float] = (math.nan, math.nan)

    @property
    def n(self) -> int:
        """Finished repeats: the ones the means are over."""
        return len(self.runs)

    def sem(self, stat: tuple[float, float]) -> float:
        """The standard error of a mean over this setting's finished runs: std / sqrt(n). It says
        how far the mean itself may be off, where the std says how far a single run may be."""
        return stat[1] / math.sqrt(self.n) if self.n > 1 else math.nan

    def count_text(self) -> str:
        """For example "3", or "2 of 3 (1 diverged)" when some repeats did not finish."""
        if not self.others:
            return str(self.n)
        why = ", ".join(f"{n} {status}" for status, n in self.others.items())
        return f"{self.n} of {self.n + sum(self.others.values())} ({why})"

    def row(self) -> dict:
        """For tables and CSV: plain numbers; std is that of the runs (ddof=1; 0 for a single run), sem
        the standard error of their mean (empty for a single run)."""
        return {
            "penalty": self.penalty,
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "eta0": self.eta0,
            "batch_size": self.batch,
            "engine": self.engine,
            "runs": self.n,
            "not_finished": sum(self.others.values()),
            "test_accuracy_mean": self.test[0],
            "test_accuracy_std": self.test[1],
            "test_accuracy_sem": self.sem(self.test),
            "val_accuracy_mean": self.val[0],
            "val_accuracy_std": self.val[1],
            "val_accuracy_sem": self.sem(self.val),
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
        key = (
            c.penalty,
            c.alpha if uses_lambda(c.penalty, c.learning_rate) else None,
            c.l1_ratio if c.penalty == "elasticnet" else None,
            c.eta0,
            c.batch_text,
            c.engine,
        )
        if key not in groups:
            groups[key] = SettingSummary(*key)
        if record.status == FINISHED and record.result is not None:
            groups[key].runs.append(index)
        else:
            groups[key].others[record.status] = groups[key].others.get(record.status, 0) + 1
    for summary in groups.values():
        finals = [e for e in (records[i].result for i in summary.runs) if e is not None]
        if not finals:
            continue
        summary.test = _mean_std([e.test_accuracy for e in finals])
        summary.val = _mean_std([e.val_accuracy for e in finals])
        summary.train = _mean_std([e.train_accuracy for e in finals])
        summary.zeros = _mean_std([e.zero_fraction for e in finals])
    return list(groups.values())


def chosen_per_penalty(summaries: Sequence[SettingSummary]) -> list[SettingSummary]:
    """For each penalty, the setting with the highest mean validation accuracy (the first on a
    tie). Test accuracy plays no part: choosing on it would report an optimistic number. Without
    a validation part nothing is chosen: []."""
    chosen: dict[str, SettingSummary] = {}
    for s in summaries:
        if not s.n or math.isnan(s.val[0]):
            continue
        if s.penalty not in chosen or s.val[0] > chosen[s.penalty].val[0]:
            chosen[s.penalty] = s
    return list(chosen.values())


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation (ddof=1; 0 for one value) of a handful of values, in plain
    Python: the Sweep tab recomputes a few thousand of these as a sweep's runs end, and numpy's
    overhead on arrays of 2-5 values made that several milliseconds of a frozen window."""
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
