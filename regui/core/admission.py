"""Whether a run or a sweep can start, checked once before any work, the same for every front end.

The command line checks what it can before loading the images (a bad setting should not wait
for 3,000 files) and the rest after; the app checks everything before enabling Run. Both call
these, so a setting is refused in the same words wherever it is typed.
"""

from __future__ import annotations

from collections.abc import Sequence

from regui.core.config import TrainConfig
from regui.core.records import weights_size
from regui.core.splits import check_split
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
        1 if spec.base.sklearn else len(spec.batch_sizes or (spec.base.batch_size,)),  # its runs are all batch 1
        spec.cv,
    )


def admit_sweep(
    spec: SweepSpec,
    class_names: Sequence[str] | None = None,
    counts: list[int] | None = None,
    n_features: int = 0,
) -> list[SweepItem]:
    """The sweep's runs, once its size, every run's settings and (given the classes and the
    images' size) every split and the memory its runs need are checked; ConfigError or
    DatasetError saying what to change otherwise. The size is checked before a single run is
    made."""
    check_sweep_size(spec_size(spec), spec.base.epochs)
    items = expand(spec)
    for item in items:
        item.config.validate()
    if class_names is not None and counts is not None:
        admit_sweep_data(spec, items, class_names, counts, n_features)
    return items


def admit_sweep_data(
    spec: SweepSpec, items: Sequence[SweepItem], class_names: Sequence[str], counts: list[int], n_features: int
) -> None:
    """What only the loaded images tell of a sweep already admitted (``items``, from
    ``admit_sweep``): whether every split divides these classes, and whether the runs' results
    with their final weights fit in memory."""
    check_sweep_size(len(items), spec.base.epochs, weights_size(len(class_names), n_features))
    for split in dict.fromkeys(item.config.split for item in items):
        check_split(class_names, counts, split)
