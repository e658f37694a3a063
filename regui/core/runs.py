"""Training one run from start to end into a RunRecord.

``run_training`` is the one path every front end uses (command line, app, sweeps), so the
same settings and seed give the same numbers wherever they are shown.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from regui.core.config import TrainConfig
from regui.core.dataset import PreparedData
from regui.core.errors import TrainingDiverged
from regui.core.progress import StopCheck
from regui.core.records import (
    DIVERGED,
    FINISHED,
    STOPPED,
    DatasetSummary,
    EpochResult,
    RunRecord,
    keeps_snapshot,
    thin_snapshots,
)
from regui.core.training import train_epochs


def run_training(
    data: PreparedData,
    config: TrainConfig,
    *,
    name: str = "",
    dataset_summary: DatasetSummary | None = None,
    should_stop: StopCheck | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
    n_jobs: int | None = None,
    snapshots: int | None = None,
    overlap: bool = True,
) -> RunRecord:
    """Train one run to its end and return its record; divergence ends it with a message.

    ``on_epoch`` sees each epoch as it finishes, with its snapshot (weights and test
    predictions). The record keeps at most ``snapshots`` of those (None: all; 1: the last
    epoch's only), thinned as ``thin_snapshots`` says. Settings errors (ConfigError) are raised
    before any training (``train_epochs`` checks the settings before its first epoch), so
    callers can show them instead of an empty run. ``n_jobs`` and ``overlap``: see ``train_epochs``.
    """
    run = RunProgress(data, config, name, dataset_summary, on_epoch, snapshots)
    epochs = train_epochs(data, config, should_stop, n_jobs=n_jobs, overlap=overlap)
    try:
        for result in epochs:
            if not run.add(result):
                break
    except TrainingDiverged as exc:
        run.diverged(exc)
    finally:
        epochs.close()  # ends the engine now (early stopping leaves it between epochs)
    return run.end()


def run_block(
    data: PreparedData,
    configs: Sequence[TrainConfig],
    *,
    names: Sequence[str] = (),
    dataset_summary: DatasetSummary | None = None,
    should_stop: StopCheck | None = None,
    run_should_stop: Callable[[int], bool] | None = None,
    on_epoch: Callable[[int, EpochResult], None] | None = None,
    on_end: Callable[[int, RunRecord], None] | None = None,
    snapshots: int | None = None,
    overlap: bool = True,
) -> list[RunRecord]:
    """Train runs that share a pass (see ``blocks``) together; each run's record is exactly the one
    ``run_training`` gives it alone. ``run_should_stop(i)`` stops run i (its last whole epoch
    kept), ``should_stop()`` all of them; ``on_epoch(i, result)`` sees run i's epochs and
    ``on_end(i, record)`` its record as soon as it ends (stopped, diverged, done), while the
    others train on. One run alone (of either engine) is ``run_training``'s, ``overlap`` and all.
    """
    from regui.core.blocks import block_epochs

    def name(i: int) -> str:
        return names[i] if i < len(names) else ""

    if len(configs) == 1:
        stop = should_stop
        if run_should_stop is not None:
            stop = functools.partial(_either, should_stop, functools.partial(run_should_stop, 0))
        record = run_training(
            data,
            configs[0],
            name=name(0),
            dataset_summary=dataset_summary,
            should_stop=stop,
            on_epoch=None if on_epoch is None else functools.partial(on_epoch, 0),
            snapshots=snapshots,
            overlap=overlap,
        )
        if on_end is not None:
            on_end(0, record)
        return [record]

    runs = [
        RunProgress(
            data,
            config,
            name(i),
            dataset_summary,
            None if on_epoch is None else functools.partial(on_epoch, i),
            snapshots,
        )
        for i, config in enumerate(configs)
    ]
    records: dict[int, RunRecord] = {}

    def end(i: int) -> None:
        if i not in records:
            runs[i].done = True  # so block_epochs takes it out, if it has not
            records[i] = runs[i].end()
            if on_end is not None:
                on_end(i, records[i])

    def leaving(i: int) -> bool:
        if not runs[i].done and run_should_stop is not None and run_should_stop(i):
            end(i)  # at once, even mid-epoch: while a block is paused its epochs do not end
        return runs[i].done

    epochs = block_epochs(data, configs, should_stop, leaving, overlap=overlap)
    try:
        for results in epochs:
            for i, result in results:
                if isinstance(result, TrainingDiverged):
                    runs[i].diverged(result)
                    end(i)
                elif not runs[i].add(result):
                    end(i)
    finally:
        epochs.close()
    for i in range(len(runs)):
        end(i)
    return [records[i] for i in range(len(runs))]


def _either(first: StopCheck | None, second: StopCheck) -> bool:
    return (first is not None and first()) or second()


class RunProgress:
    """One run's record as its epochs arrive: the snapshots it keeps, its best epoch on
    validation, early stopping, and how it ended."""

    def __init__(
        self,
        data: PreparedData,
        config: TrainConfig,
        name: str,
        dataset_summary: DatasetSummary | None,
        on_epoch: Callable[[EpochResult], None] | None,
        snapshots: int | None,
    ) -> None:
        self.config, self.on_epoch, self.snapshots = config, on_epoch, snapshots
        self.record = RunRecord(
            config=config,
            name=name,
            dataset={
                **(dataset_summary or {}),
                "n_train": len(data.y_train),
                "n_val": len(data.y_val),
                "n_test": len(data.y_test),
            },
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self.started = time.perf_counter()
        self.best: EpochResult | None = None  # the best epoch on validation so far, weights and all
        self.early = False  # early stopping ended it
        self.done = False  # wants no more epochs

    def add(self, result: EpochResult) -> bool:
        """Take the next epoch; False once the run wants no more (its last epoch, early stopping)."""
        config, record, snapshots = self.config, self.record, self.snapshots
        record.epochs.append(result)
        best = self.best
        if best is None or result.val_accuracy > best.val_accuracy:  # as RunRecord.chosen()
            previous, best = best, result
            self.best = best
            if config.early_stopping and previous is not None:  # no longer kept for its own sake
                index = previous.epoch - 1
                if not keeps_snapshot(previous.epoch, len(record.epochs), snapshots):
                    record.epochs[index] = record.epochs[index].without_snapshot()
        thin_snapshots(record.epochs, snapshots, keep=best.epoch if config.early_stopping else None)
        if self.on_epoch is not None:
            self.on_epoch(result)
        if config.early_stopping and result.epoch - best.epoch >= config.patience:
            self.early = True
            return False
        return result.epoch < config.epochs

    def diverged(self, exc: TrainingDiverged) -> None:
        self.record.status, self.record.message = DIVERGED, str(exc)
        self.done = True

    def end(self) -> RunRecord:
        """The record, once no more epochs come: finished, stopped (on request) or diverged."""
        config, record, best = self.config, self.record, self.best
        if record.status != DIVERGED:
            finished = self.early or len(record.epochs) == config.epochs
            record.status = FINISHED if finished else STOPPED
            if finished and config.early_stopping and best is not None:
                record.epochs[best.epoch - 1] = best  # its weights restored: the run's result
                thin_snapshots(record.epochs, self.snapshots, everything=True, keep=best.epoch)
                ended = f"Stopped early after epoch {len(record.epochs)}" if self.early else "Trained every epoch"
                record.message = (
                    f"{ended}; validation accuracy was best at epoch {best.epoch} ({best.val_accuracy:.2%}), and "
                    f"the run's result is that epoch (its weights kept)."
                )
            elif not finished and record.epochs:
                record.message = f"Stopped on request after epoch {len(record.epochs)} of {config.epochs}."
            elif not finished:  # regui's engine stops between mini-batches: a part of an epoch is not kept
                record.message = f"Stopped on request before its first epoch (of {config.epochs}) ended."
        record.seconds = time.perf_counter() - self.started
        return record
