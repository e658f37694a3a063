"""Sweeps: a grid of runs (penalties x lambdas x learning rates x batch sizes x repeats), counted and
checked before it is made.

How a sweep's runs are run and report back is in ``sweep_runs``, and the mean and spread of
their results in ``sweep_summary``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from regui.core.config import TrainConfig, uses_lambda
from regui.core.errors import ConfigError

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
    batch_sizes: tuple[int, ...] = ()  # () means base.batch_size only
    repeats: int = 1
    cv: int = 0  # k-fold cross-validation: each run once per fold (0: the base's validation part)
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
# An EpochResult's numbers as Python objects, kept per run and epoch, with up to 128 float32
# mini-batch losses (regui's engine).
_EPOCH_BYTES = 1024 + 512


def count_runs(
    penalties: Sequence[str],
    n_alphas: int,
    n_learning_rates: int,
    repeats: int,
    schedule: str = "constant",
    n_batch_sizes: int = 1,
    folds: int = 0,
) -> int:
    """How many runs ``expand`` makes of such a grid, without making them (a grid can be huge)."""
    total = 0
    for penalty in dict.fromkeys(penalties):
        total += (n_alphas if uses_lambda(penalty, schedule) else 1) * n_learning_rates * n_batch_sizes * repeats
    return total * max(folds, 1)


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
    """Every run of the grid, in order: penalty, then lambda, learning rate, batch size, repeat and
    fold (with cross-validation).

    A run without a penalty does not depend on lambda (unless the schedule is 'optimal', which
    derives its step from it), so it is run once per learning rate and repeat, not per lambda.
    """
    configs: list[tuple[TrainConfig, int]] = []
    seen = set()
    all_alphas = spec.alphas or (spec.base.alpha,)
    for penalty in dict.fromkeys(spec.penalties):
        alphas = all_alphas if uses_lambda(penalty, spec.base.learning_rate) else all_alphas[:1]
        for alpha in alphas:
            for lr, batch in itertools.product(
                spec.learning_rates or (spec.base.eta0,), spec.batch_sizes or (spec.base.batch_size,)
            ):
                for repeat, fold in itertools.product(range(spec.repeats), range(max(spec.cv, 1))):
                    config = spec.base.with_(
                        penalty=penalty,
                        alpha=alpha,
                        eta0=lr,
                        batch_size=batch,
                        seed=spec.base.seed + repeat,
                        split_seed=spec.base.split_seed + repeat if spec.vary == "split" else spec.base.split_seed,
                        folds=spec.cv,
                        fold=fold,
                    )
                    if config not in seen:
                        seen.add(config)
                        configs.append((config, repeat))
    return [SweepItem(i, config, repeat) for i, (config, repeat) in enumerate(configs)]
