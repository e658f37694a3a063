"""What training produces: a frozen record per epoch, and a record per run.

numpy only, so the app can hold and show these without importing the training stack.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np

from regui.core.config import TrainConfig

# Where a run is: queued in a sweep, training, or how it ended.
WAITING, RUNNING = "waiting", "running"
FINISHED, STOPPED, DIVERGED, FAILED = "finished", "stopped", "diverged", "failed"


def _empty(dtype) -> np.ndarray:
    array = np.empty(0, dtype=dtype)
    array.setflags(write=False)
    return array


_NO_WEIGHTS = np.empty((0, 0), dtype=np.float32)
_NO_WEIGHTS.setflags(write=False)
_NO_INTERCEPT = _empty(np.float64)
_NO_PRED = _empty(np.int32)
_NO_CONFIDENCE = _empty(np.float32)


@dataclass(frozen=True)
class EpochResult:
    """What one epoch produced. Frozen values only, safe to hand to another thread.

    Besides the numbers, an epoch may carry a *snapshot*: the weights and the model's
    prediction for every test image. Snapshots are what the weight, confusion and mistakes views
    draw; runs keep only some of them (see ``thin_snapshots``), and an epoch without one has
    empty arrays there.

    Equality compares the numbers; ``elapsed`` (wall time) and the arrays are left out of it
    (compare those with ``np.array_equal``).
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
    # Per test image, in the order of the split's test part: the predicted class, and how sure
    # the model was (probability of that class for log loss, score margin for hinge).
    test_pred: np.ndarray = field(default_factory=lambda: _NO_PRED, compare=False, repr=False)
    test_confidence: np.ndarray = field(default_factory=lambda: _NO_CONFIDENCE, compare=False, repr=False)
    # regui's engine: the objective on mini-batches of this epoch, before each step, at most
    # minibatch.BATCH_LOSSES_PER_EPOCH of them evenly spaced (float32; empty for scikit-learn's).
    # Numbers, not a snapshot: kept when the snapshot is dropped.
    batch_losses: np.ndarray = field(default_factory=lambda: _NO_CONFIDENCE, compare=False, repr=False)
    # On the validation part (carved from the training part, never trained on): what choices read.
    # NaN for a run without one (the lesson's two-way split; runs stored before it existed).
    val_loss: float = math.nan
    val_accuracy: float = math.nan

    METRICS = (
        "train_loss",
        "test_loss",
        "penalty",
        "objective",
        "train_accuracy",
        "test_accuracy",
        "val_loss",
        "val_accuracy",
        "weight_l2",
        "weight_l1",
        "zero_fraction",
    )

    def __eq__(self, other) -> bool:
        # The numbers, with NaN equal to NaN: a run without a validation part has NaN there, and
        # the same run read back from the store or another process must still compare equal.
        if not isinstance(other, EpochResult):
            return NotImplemented
        return self.epoch == other.epoch and all(
            a == b or (a != a and b != b) for a, b in ((getattr(self, m), getattr(other, m)) for m in self.METRICS)
        )

    __hash__ = None  # type: ignore[assignment]  # compared by value (NaN = NaN): not a key

    def metrics(self) -> dict[str, float]:
        """The per-epoch numbers (no weights), e.g. for a history file."""
        values: dict[str, float] = {"epoch": self.epoch}
        values.update({name: getattr(self, name) for name in self.METRICS})
        values["elapsed"] = self.elapsed
        return values

    @property
    def has_snapshot(self) -> bool:
        return self.coef.size > 0

    def without_snapshot(self) -> EpochResult:
        """The same numbers without the arrays (what sweeps stream, what thinning leaves)."""
        if not self.has_snapshot:
            return self
        return replace(
            self, coef=_NO_WEIGHTS, intercept=_NO_INTERCEPT, test_pred=_NO_PRED, test_confidence=_NO_CONFIDENCE
        )


# --- keeping snapshots affordable ---------------------------------------------------------------
# A run keeps the snapshot of epoch 1, of every ``stride``-th epoch and of its newest epoch, with
# the stride the smallest power of two that keeps at most ``limit`` of them: every epoch while
# a run is short, then every 2nd, 4th, ... The choice depends only on the epoch count, so the
# engine's record and the app's live copy of a run thin alike.


def weights_size(n_classes: int, n_features: int) -> int:
    """Bytes of one epoch's weights at most (float32, a row per class: regui's engine; scikit-learn's
    keeps one row for two classes)."""
    return n_classes * n_features * 4


def snapshot_size(n_classes: int, n_features: int, n_test: int) -> int:
    """Bytes one epoch's snapshot takes at most: float32 weights, float64 intercepts, and an
    int32 prediction and a float32 confidence per test image."""
    return weights_size(n_classes, n_features) + n_classes * 8 + 8 * n_test


def _kept_count(n: int, stride: int) -> int:
    return n if stride == 1 else n // stride + 1 + (n % stride != 0)


def snapshot_stride(n: int, limit: int) -> int:
    """The stride for a run of ``n`` epochs keeping at most ``limit`` snapshots (``limit`` >= 3)."""
    if limit < 3:
        raise ValueError("a snapshot limit below 3 keeps only the newest: no stride")
    stride = 1
    while _kept_count(n, stride) > limit:
        stride *= 2
    return stride


def keeps_snapshot(epoch: int, n: int, limit: int | None, keep: int | None = None) -> bool:
    """Whether epoch ``epoch`` of a run now ``n`` epochs long keeps its snapshot (epoch ``keep``
    always does: an early-stopped run's result)."""
    if limit is None or epoch == n or epoch == keep:
        return True
    if limit < 3:
        return False  # only the newest
    stride = snapshot_stride(n, limit)
    return epoch == 1 or epoch % stride == 0


def thin_snapshots(
    epochs: list[EpochResult], limit: int | None, everything: bool = False, keep: int | None = None
) -> None:
    """Drop the snapshots ``limit`` no longer keeps, after an epoch was appended to ``epochs``.

    ``limit`` None keeps every snapshot. Cheap per epoch: only when the stride grows (a
    handful of times over a run) is the whole list looked through; ``everything`` looks
    through it always (after the limit itself was lowered).
    """
    n = len(epochs)
    if limit is None or n < 2:
        return
    candidates: Iterable[int]
    if everything or (limit >= 3 and snapshot_stride(n, limit) != snapshot_stride(n - 1, limit)):
        candidates = range(n - 1)
    else:
        candidates = (n - 2,)  # the previous newest epoch
    for i in candidates:
        if epochs[i].has_snapshot and not keeps_snapshot(epochs[i].epoch, n, limit, keep):
            epochs[i] = epochs[i].without_snapshot()


def batch_loss_positions(epoch: int, count: int) -> np.ndarray:
    """Where an epoch's ``count`` kept batch losses sit on an epoch axis (epoch k ends at k): each
    at about the share of the epoch done before its step, from epoch - 1 on (to within one step:
    steps are spread evenly, though the last batch may be smaller; see minibatch._kept_steps). A
    full batch's one loss sits at epoch - 1, where the previous epoch's objective is: the same weights."""
    return epoch - 1 + np.arange(count) / max(count, 1)


def kept_epochs(record: RunRecord) -> list[EpochResult]:
    """What a worker sends back at a run's end, its epochs having been streamed one by one: those
    that kept their weights (the last one, and an early-stopped run's result)."""
    return [e for e in record.epochs if e.has_snapshot] or record.epochs[-1:]


class DatasetSummary(TypedDict, total=False):
    """What a run records about its data: ``Dataset.summary()`` plus the split's sizes. A stored
    run may lack any of these (an older store, an imported file): read them with ``.get``."""

    folder: str  # the dataset folder, absolute
    n_images: int
    class_names: list[str]
    class_counts: list[int]
    n_skipped: int  # files that could not be read
    n_reduced: int  # large JPEGs decoded at reduced scale (missing: none, or an older regui)
    fingerprint: str  # of the folder's files (names, sizes, times): "the same data"
    image: str  # "32x32x3"
    n_train: int
    n_val: int  # the validation part (0 or missing: none)
    n_test: int


@dataclass
class RunRecord:
    config: TrainConfig
    name: str = ""
    status: str = RUNNING
    message: str = ""
    epochs: list[EpochResult] = field(default_factory=list)
    dataset: DatasetSummary = field(default_factory=lambda: DatasetSummary())
    started_at: str = ""
    seconds: float = 0.0
    sweep: str = ""  # the sweep this run belongs to ("" for a single run)
    repeat: int = 0  # which repeat of its setting, within a sweep

    @property
    def final(self) -> EpochResult | None:
        """The last epoch trained."""
        return self.epochs[-1] if self.epochs else None

    @property
    def result(self) -> EpochResult | None:
        """What the run gives: its last epoch, or with early stopping the epoch chosen on
        validation (whose weights it keeps). The numbers a run is reported by."""
        if self.config.early_stopping:
            return self.chosen() or self.final
        return self.final

    def result_at(self, epoch: int) -> EpochResult | None:
        """The numbers of epoch ``epoch`` (or of the last epoch, if the run is shorter)."""
        if not self.epochs:
            return None
        return self.epochs[min(max(epoch, 1), len(self.epochs)) - 1]

    def snapshot_at(self, epoch: int) -> EpochResult | None:
        """The nearest epoch at or before ``epoch`` that kept its snapshot, if any."""
        for result in reversed(self.epochs[: max(epoch, 1)]):
            if result.has_snapshot:
                return result
        return None

    def chosen(self) -> EpochResult | None:
        """The epoch chosen on the validation part: the highest validation accuracy, the earliest
        on a tie. None without a validation part (nothing can be chosen without looking at the
        test part) or before any epoch. Test labels play no part in it."""
        measured = [e for e in self.epochs if not math.isnan(e.val_accuracy)]
        if not measured:
            return None
        return max(measured, key=lambda e: (e.val_accuracy, -e.epoch))

    def status_text(self) -> str:
        if self.status == RUNNING and self.epochs:
            return f"running, epoch {len(self.epochs)}"
        if self.status == STOPPED and not self.epochs:
            return "stopped before it started"
        kept = f", kept epoch {self.result.epoch}" if self.config.early_stopping and self.result else ""
        if self.status == STOPPED:
            return f"stopped at epoch {len(self.epochs)}{kept}"
        if self.status == DIVERGED:
            return f"diverged at epoch {len(self.epochs) + 1}{kept}"
        if self.status == FINISHED and self.config.early_stopping and self.result is not None:
            stopped = "stopped early, " if self.message.startswith("Stopped early") else ""
            return f"finished: {stopped}kept epoch {self.result.epoch} of {len(self.epochs)}"
        return self.status

    def summary_row(self) -> dict:
        """One row of a results table: settings, then final metrics (None where there are none)."""
        c = self.config
        final, chosen = self.result, self.chosen()
        row = {
            "run": self.name,
            "sweep": self.sweep,
            "repeat": self.repeat,
            "engine": c.engine,
            "batch_size": c.batch_text,
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
            "validation": c.validation,
            "fold": f"{c.fold + 1}/{c.folds}" if c.folds else None,
            "early_stopping": c.early_stopping,
            "patience": c.patience if c.early_stopping else None,
            "split_seed": c.split_seed,
            "stratify": c.stratify,
            "status": self.status,
        }
        # "penalty" already names the setting; the final alpha * R(W) is "penalty_term".
        for metric in EpochResult.METRICS:
            row["penalty_term" if metric == "penalty" else metric] = getattr(final, metric) if final else None
        # The epoch chosen on validation, and its test accuracy: reported, never chosen on.
        row["result_epoch"] = final.epoch if final else None  # whose numbers these are
        row["chosen_epoch"] = chosen.epoch if chosen else None
        row["chosen_val_accuracy"] = chosen.val_accuracy if chosen else None
        row["chosen_test_accuracy"] = chosen.test_accuracy if chosen else None
        row["seconds"] = round(self.seconds, 3)
        row["dataset"] = self.dataset.get("folder", "")
        row["n_train"] = self.dataset.get("n_train")
        row["n_val"] = self.dataset.get("n_val")
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
            "history": [_history_entry(e) for e in self.epochs],
        }


def _history_entry(result: EpochResult) -> dict:
    """An epoch's numbers for a history file, with its mini-batch losses where it has them."""
    entry: dict = result.metrics()
    if result.batch_losses.size:
        entry["batch_losses"] = [float(v) for v in result.batch_losses]
    return entry
