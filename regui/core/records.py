"""What training produces: a frozen record per epoch, and a record per run.

numpy only, so the app can hold and show these without importing the training stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from regui.core.config import TrainConfig

# Where a run is: queued in a sweep, training, or how it ended.
WAITING, RUNNING = "waiting", "running"
FINISHED, STOPPED, DIVERGED, FAILED = "finished", "stopped", "diverged", "failed"


@dataclass(frozen=True)
class EpochResult:
    """What one epoch produced. Frozen values only, safe to hand to another thread.

    Equality compares the numbers; ``elapsed`` (wall time) and the weight arrays are left out
    of it (compare those with ``np.array_equal``).
    """

    epoch: int
    train_loss: float  # mean data loss on the training part
    test_loss: float  # mean data loss on the test part
    penalty: float  # alpha * R(W)
    objective: float  # train_loss + penalty: the lesson's L (see training.py on one-vs-rest)
    train_accuracy: float  # fraction correct, 0..1
    test_accuracy: float
    weight_l2: float  # sqrt(sum W^2), intercepts excluded
    weight_l1: float  # sum |W|
    zero_fraction: float  # share of weights exactly 0
    elapsed: float = field(compare=False)  # seconds since the run started
    coef: np.ndarray = field(compare=False, repr=False)  # float32 copy of W, (n_classes or 1, n_features)
    intercept: np.ndarray = field(compare=False, repr=False)  # float64 copy

    METRICS = (
        "train_loss", "test_loss", "penalty", "objective", "train_accuracy", "test_accuracy",
        "weight_l2", "weight_l1", "zero_fraction",
    )  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """The per-epoch numbers (no weights), e.g. for a history file."""
        values = {"epoch": self.epoch}
        values.update({name: getattr(self, name) for name in self.METRICS})
        values["elapsed"] = self.elapsed
        return values



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
    sweep: str = ""  # the sweep this run belongs to ("" for a single run)
    repeat: int = 0  # which repeat of its setting, within a sweep

    @property
    def final(self) -> EpochResult | None:
        return self.epochs[-1] if self.epochs else None

    def best_test(self) -> EpochResult | None:
        """The epoch with the highest test accuracy (the earliest one on a tie)."""
        if not self.epochs:
            return None
        return max(self.epochs, key=lambda e: (e.test_accuracy, -e.epoch))

    def status_text(self) -> str:
        if self.status == RUNNING and self.epochs:
            return f"running, epoch {len(self.epochs)}"
        if self.status == STOPPED and not self.epochs:
            return "stopped before it started"
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
            "sweep": self.sweep,
            "repeat": self.repeat,
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
            "sweep": self.sweep,
            "repeat": self.repeat,
            "dataset": self.dataset,
            "history": [e.metrics() for e in self.epochs],
        }
