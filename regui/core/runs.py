"""A run from start to end: its settings, its epochs as they arrive, and how it ended.

``run_training`` is the one path every front end uses (command line, app, sweeps), so the
same settings and seed give the same numbers wherever they are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from regui.core.config import TrainConfig
from regui.core.dataset import PreparedData
from regui.core.errors import TrainingDiverged
from regui.core.training import EpochResult, StopCheck, train_epochs

# How a run ended (or that it has not yet).
RUNNING, FINISHED, STOPPED, DIVERGED, FAILED = "running", "finished", "stopped", "diverged", "failed"


@dataclass
class RunRecord:
    config: TrainConfig
    name: str = ""
    status: str = RUNNING
    message: str = ""
    epochs: list[EpochResult] = field(default_factory=list)
    dataset: dict = field(default_factory=dict)  # Dataset.summary() plus split sizes
    started_at: str = ""
    seconds: float = 0.0

    @property
    def final(self) -> EpochResult | None:
        return self.epochs[-1] if self.epochs else None

    def best_test(self) -> EpochResult | None:
        """The epoch with the highest test accuracy (the earliest one on a tie)."""
        if not self.epochs:
            return None
        return max(self.epochs, key=lambda e: (e.test_accuracy, -e.epoch))

    def status_text(self) -> str:
        if self.status == STOPPED:
            return f"stopped at epoch {len(self.epochs)}"
        if self.status == DIVERGED:
            return f"diverged at epoch {len(self.epochs) + 1}"
        return self.status

    def summary_row(self) -> dict:
        """One row of a results table: settings, then final metrics (None where there are none)."""
        c = self.config
        final, best = self.final, self.best_test()
        row = {
            "run": self.name,
            "penalty": c.penalty,
            "alpha": c.alpha,
            "l1_ratio": c.l1_ratio,
            "loss": c.loss,
            "learning_rate": c.learning_rate,
            "eta0": c.eta0,
            "epochs": c.epochs,
            "epochs_done": len(self.epochs),
            "seed": c.seed,
            "scaling": c.scaling,
            "image": f"{c.width}x{c.height}x{3 if c.color else 1}",
            "test_size": c.test_size,
            "split_seed": c.split_seed,
            "stratify": c.stratify,
            "status": self.status,
        }
        # "penalty" already names the setting; the final alpha * R(W) is "penalty_term".
        for metric in EpochResult.METRICS:
            row["penalty_term" if metric == "penalty" else metric] = getattr(final, metric) if final else None
        row["best_test_accuracy"] = best.test_accuracy if best else None
        row["best_epoch"] = best.epoch if best else None
        row["seconds"] = round(self.seconds, 3)
        row["dataset"] = self.dataset.get("folder", "")
        row["n_train"] = self.dataset.get("n_train")
        row["n_test"] = self.dataset.get("n_test")
        row["message"] = self.message
        return row

    def to_dict(self) -> dict:
        """Settings, outcome and full per-epoch history (no weights): for JSON files."""
        return {
            "name": self.name,
            "config": self.config.to_dict(),
            "status": self.status,
            "message": self.message,
            "started_at": self.started_at,
            "seconds": self.seconds,
            "dataset": self.dataset,
            "history": [e.metrics() for e in self.epochs],
        }


def run_training(
    data: PreparedData,
    config: TrainConfig,
    *,
    name: str = "",
    dataset_summary: dict | None = None,
    should_stop: StopCheck | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
    n_jobs: int | None = None,
) -> RunRecord:
    """Train one run to its end and return its record; divergence ends it with a message.

    ``on_epoch`` sees each epoch as it finishes. Settings errors (ConfigError) are raised
    before any training, so callers can show them instead of an empty run.
    """
    config.validate()
    record = RunRecord(
        config=config,
        name=name,
        dataset=dict(dataset_summary or {}, n_train=len(data.y_train), n_test=len(data.y_test)),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    started = time.perf_counter()
    try:
        for result in train_epochs(data, config, should_stop, n_jobs=n_jobs):
            record.epochs.append(result)
            if on_epoch is not None:
                on_epoch(result)
    except TrainingDiverged as exc:
        record.status, record.message = DIVERGED, str(exc)
    else:
        finished = len(record.epochs) == config.epochs
        record.status = FINISHED if finished else STOPPED
        if not finished:
            record.message = f"Stopped on request after epoch {len(record.epochs)} of {config.epochs}."
    record.seconds = time.perf_counter() - started
    return record
