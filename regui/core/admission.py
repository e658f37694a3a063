"""Whether a run or a sweep can start, checked once before any work, the same for every front end.

The command line checks what it can before loading the images (a bad setting should not wait
for 3,000 files) and the rest after; the app checks everything before enabling Run. Both call
these, so a setting is refused in the same words wherever it is typed.
"""

from __future__ import annotations

from collections.abc import Sequence

from regui.core.config import TrainConfig, check_split
from regui.core.sweep import SweepItem, SweepSpec, check_sweep_size, count_runs, expand


def admit_run(config: TrainConfig, class_names: Sequence[str] | None = None, counts: list[int] | None = None) -> None:
    """Raise ConfigError (or DatasetError) if ``config`` cannot run, on these classes if given."""
    config.validate()
    if class_names is not None and counts is not None:
        check_split(class_names, counts, config.split)


def spec_size(spec: SweepSpec) -> int:
    """How many runs ``spec`` makes (counted, not made: a grid may be huge)."""
    return count_runs(
        spec.penalties,
        len(spec.alphas or (spec.base.alpha,)),
        len(spec.learning_rates or (spec.base.eta0,)),
        spec.repeats,
        spec.base.learning_rate,
    )


def admit_sweep(
    spec: SweepSpec,
    class_names: Sequence[str] | None = None,
    counts: list[int] | None = None,
    weights_per_run: int = 0,
) -> list[SweepItem]:
    """The sweep's runs, once its size, every run's settings and (given the classes) every split
    are checked; ConfigError or DatasetError saying what to change otherwise. The size is
    checked before a single run is made. ``weights_per_run``: bytes of one run's final weights,
    for the memory check (once the images are known)."""
    check_sweep_size(spec_size(spec), spec.base.epochs, weights_per_run)
    items = expand(spec)
    for item in items:
        item.config.validate()
    if class_names is not None and counts is not None:
        for split in dict.fromkeys(item.config.split for item in items):
            check_split(class_names, counts, split)
    return items


def weights_size(n_classes: int, n_features: int) -> int:
    """Bytes of one run's final weights (float32; one row for two classes)."""
    return (1 if n_classes == 2 else n_classes) * n_features * 4
