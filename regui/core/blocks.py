"""Blocks: a sweep's runs that can share a pass, trained as one stack of models.

Runs of regui's engine that train on the same data (split) in the same shuffle (seed) with the
same batch size, loss and schedule see the same mini-batches; only their penalty, lambda, L1
ratio and learning rate differ. A block trains them together (``minibatch.SGDStack``): each
mini-batch is gathered once, their scores, gradient steps and measurements are one product each
(``wide.stack_row_product``, ``wide.subtract_row_products``, ``wide.stack_product``), and each run
gets exactly the numbers it has alone (a run alone is a block of one, by the same code). Runs
leave a block when they are stopped, diverge, stop early or reach their last epoch; the others
go on unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from regui.core import machine, progress
from regui.core.config import TrainConfig
from regui.core.dataset import PreparedData
from regui.core.errors import TrainingDiverged
from regui.core.minibatch import Settings, SGDStack
from regui.core.progress import StopCheck
from regui.core.records import EpochResult, snapshot_size
from regui.core.wide import WIDEST, check_shapes

# The most runs trained in one block: its weights, gradients and per-epoch snapshots grow with
# it, and a product of 32 models' columns already runs BLAS at full speed (wide.WIDEST).
MAX_BLOCK = WIDEST
# The share of the machine's memory that all the blocks training at once may take together.
BLOCK_MEMORY_SHARE = 0.25


def pass_key(config: TrainConfig) -> tuple | None:
    """What runs must share to train in one pass (None: a run that trains alone, as scikit-learn's
    engine does)."""
    if config.sklearn:
        return None
    return (config.image, config.split, config.loss, config.batch_size, config.seed, config.learning_rate)


# A sweep's first block, when the grid takes several rounds of blocks anyway: a block's epoch
# takes as long as its runs together (Animals, one core: 35 ms for 4 runs, 170 ms for 32), and
# the first epoch on screen should come within half a second of Start.
FIRST_BLOCK = 4


def block_size(waiting: int, free: int, most: int = MAX_BLOCK, first: bool = False) -> int:
    """How many runs the next block takes: the ``waiting`` runs shared evenly among the ``free``
    workers (a grid of 48 on two cores: two blocks of 24, both cores busy), at most ``most``.
    The ``first`` block of a grid that needs more than one round of full blocks takes at most
    FIRST_BLOCK; a grid done in one round keeps its even shares (a small first block there would
    leave a core idle at the end)."""
    if first and waiting > max(1, free) * most:
        most = min(most, FIRST_BLOCK)
    return max(1, min(most, -(-waiting // max(1, free))))


def model_bytes(n_features: int, n_classes: int, n_images: int, kept_snapshots: int) -> int:
    """Bytes one run takes in a block: its float64 weights with a step's gradient and temporaries
    (four weight-sized arrays), its scores on every image when the epoch is measured, and the
    snapshots its record keeps (the images' arrays are the block's, shared by all its runs)."""
    weights = n_features * n_classes * 8
    return 4 * weights + n_images * n_classes * 8 + kept_snapshots * snapshot_size(n_classes, n_features, n_images)


def most_in_memory(
    n_features: int, n_classes: int, n_images: int, epochs: int, snapshots: int | None, at_once: int
) -> int:
    """The most runs one of ``at_once`` blocks may hold so that together they stay within
    BLOCK_MEMORY_SHARE of this machine's memory (MAX_BLOCK where it cannot be read); a block too
    big for that is trained as several. ``snapshots``: how many each run's record keeps (see
    RunProgress; None: every epoch's), one more kept for early stopping's best epoch."""
    total = machine.physical_memory()
    if not total:
        return MAX_BLOCK
    kept = epochs if snapshots is None else min(snapshots, epochs) + 1
    budget = BLOCK_MEMORY_SHARE * total / max(1, at_once)
    return max(1, min(MAX_BLOCK, int(budget // model_bytes(n_features, n_classes, n_images, kept))))


def data_shape(dataset) -> tuple[int, int, int]:
    """What a block's memory grows with, of a Dataset: (features, classes, images)."""
    return dataset.image.n_features, len(dataset.class_names), dataset.n_images


def check_blas_for(dataset) -> None:
    """Check this machine's BLAS (``wide.check_shapes``) for the products runs on ``dataset``
    make at the default batch size, ahead of their first epoch: on a worker as it starts, in the
    app as a folder loads."""
    features, classes, _ = data_shape(dataset)
    check_shapes(TrainConfig().batch_size, features, classes)


def most_for(shape: tuple[int, int, int], configs: Sequence[TrainConfig], snapshots: int | None, at_once: int) -> int:
    """``most_in_memory`` for a sweep of ``configs`` on data of ``shape`` (``data_shape``)."""
    epochs = max((c.epochs for c in configs), default=1)
    return most_in_memory(*shape, epochs, snapshots, at_once)


def group(configs: Sequence[TrainConfig], most: int = MAX_BLOCK) -> list[list[int]]:
    """The runs (positions in ``configs``) in blocks of those that share a pass, at most ``most``
    each, in the order of their first run; a run that cannot share trains alone."""
    blocks: list[list[int]] = []
    open_blocks: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        key = pass_key(config)
        block = open_blocks.get(key) if key is not None else None
        if block is None or len(block) >= most:
            block = []
            blocks.append(block)
            if key is not None:
                open_blocks[key] = block
        block.append(index)
    return blocks


def block_epochs(
    data: PreparedData,
    configs: Sequence[TrainConfig],
    should_stop: StopCheck | None = None,
    leaving: Callable[[int], bool] | None = None,
    overlap: bool = False,
) -> Generator[list[tuple[int, EpochResult | TrainingDiverged]], None, None]:
    """Train ``configs`` (runs that share a pass) together, epoch by epoch. After each epoch,
    yields each run still training as (its position in ``configs``, its EpochResult, or the
    TrainingDiverged that ended it).

    ``should_stop()`` ends the whole block, ``leaving(position)`` one run, checked between
    mini-batches: an epoch cut short is not reported, as for a run alone. A run also leaves once
    it has trained its own number of epochs, or diverged. ``overlap``: a core is free, and
    measuring each epoch may share the work with a helper thread (the same numbers).
    """
    from regui.core.training import _measure, check_settings, stacked_decision_values

    if len({pass_key(c) for c in configs}) != 1 or pass_key(configs[0]) is None:
        raise ValueError("a block's runs use regui's engine and share a pass")
    for config in configs:
        check_settings(data, config)
    stack = SGDStack(data.X_train.shape[1], data.n_classes, [Settings.of(c) for c in configs])

    def leave(positions: Sequence[int]) -> None:
        stack.keep([k for k, run in enumerate(stack.ids) if run not in positions])

    def runs_leaving() -> bool:
        """Take out of the stack the runs that ``leaving`` says are leaving; True if any did."""
        gone = [run for run in stack.ids if leaving is not None and leaving(run)]
        leave(gone)
        return bool(gone)

    def stop_step() -> bool:
        """Between mini-batches: runs leave the block, or the whole block stops (asked at most
        every STOP_CHECK_SECONDS: on a cluster, asking is a round trip). Leaving is asked first:
        a paused block holds in ``should_stop``, and a run stopped meanwhile leaves at once."""
        if leaving_now is not None:
            leaving_now()
        if stop is not None and stop():
            return True
        return not len(stack)

    stop = None if should_stop is None else progress.every(progress.STOP_CHECK_SECONDS, should_stop)
    leaving_now = None if leaving is None else progress.at_most_every(progress.STOP_CHECK_SECONDS, runs_leaving)
    # Measuring shares its products with a helper thread when a core is free for it.
    helper = (
        ThreadPoolExecutor(1, thread_name_prefix="regui-measure") if overlap and machine.default_workers() > 1 else None
    )
    try:
        started = time.perf_counter()
        epoch = 0
        while len(stack):
            epoch += 1
            runs_leaving()  # between epochs, always asked (early stopping ends a run here)
            leave([run for run in stack.ids if configs[run].epochs < epoch])
            if not len(stack) or (should_stop is not None and should_stop()):
                return
            # Diverging weights pass through inf and NaN on their way; the check after the epoch says so.
            with np.errstate(all="ignore"):
                losses = stack.epoch(data.X_train, data.y_train, stop_step if (stop or leaving) else None)
            if losses is None or not len(stack):
                return
            results: list[tuple[int, EpochResult | TrainingDiverged]] = []
            with np.errstate(all="ignore"):  # a diverged model's values: said by _measure below
                parts = [
                    stacked_decision_values(X, stack.weights, stack.bias, helper) if len(X) else None
                    for X in (data.X_train, data.X_val, data.X_test)
                ]
            for k, run in enumerate(stack.ids):
                result: EpochResult | TrainingDiverged
                decisions = tuple(None if part is None else part[k] for part in parts)
                try:
                    result = _measure(
                        epoch, stack.weights[k].T, stack.bias[k], data, configs[run], started, losses[k], decisions
                    )
                except TrainingDiverged as exc:
                    result = exc
                results.append((run, result))
            leave([run for run, result in results if isinstance(result, TrainingDiverged)])
            yield results

    finally:
        if helper is not None:
            helper.shutdown(wait=False)
