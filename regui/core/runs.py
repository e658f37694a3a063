"""Training one run from start to end into a RunRecord.

``run_training`` is the one path every front end uses (command line, app, sweeps), so the
same settings and seed give the same numbers wherever they are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    record = RunRecord(
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
    started = time.perf_counter()
    best: EpochResult | None = None  # the best epoch on validation so far, weights and all
    early = False  # early stopping ended it
    epochs = train_epochs(data, config, should_stop, n_jobs=n_jobs, overlap=overlap)
    try:
        for result in epochs:
            record.epochs.append(result)
            if best is None or result.val_accuracy > best.val_accuracy:  # as RunRecord.chosen()
                previous, best = best, result
                if config.early_stopping and previous is not None:  # no longer kept for its own sake
                    index = previous.epoch - 1
                    if not keeps_snapshot(previous.epoch, len(record.epochs), snapshots):
                        record.epochs[index] = record.epochs[index].without_snapshot()
            thin_snapshots(record.epochs, snapshots, keep=best.epoch if config.early_stopping else None)
            if on_epoch is not None:
                on_epoch(result)
            if config.early_stopping and result.epoch - best.epoch >= config.patience:
                early = True
                break
    except TrainingDiverged as exc:
        record.status, record.message = DIVERGED, str(exc)
    else:
        finished = early or len(record.epochs) == config.epochs
        record.status = FINISHED if finished else STOPPED
        if finished and config.early_stopping and best is not None:
            record.epochs[best.epoch - 1] = best  # its weights restored: the run's result
            thin_snapshots(record.epochs, snapshots, everything=True, keep=best.epoch)
            ended = f"Stopped early after epoch {len(record.epochs)}" if early else "Trained every epoch"
            record.message = (
                f"{ended}; validation accuracy was best at epoch {best.epoch} ({best.val_accuracy:.2%}), and the "
                f"run's result is that epoch (its weights kept)."
            )
        elif not finished and record.epochs:
            record.message = f"Stopped on request after epoch {len(record.epochs)} of {config.epochs}."
        elif not finished:  # regui's engine stops between mini-batches: a part of an epoch is not kept
            record.message = f"Stopped on request before its first epoch (of {config.epochs}) ended."
    finally:
        epochs.close()  # ends the engine now (early stopping leaves it between epochs)
    record.seconds = time.perf_counter() - started
    return record
