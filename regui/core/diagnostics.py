"""What the weight, histogram, confusion and mistakes views show, computed from a run's snapshot.

numpy only (no Qt), so the numbers behind every view can be tested, exported and reused
headless. The predictions come from the engine (``EpochResult.test_pred``); nothing here
re-runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regui.core.config import ImageSettings

# How a colour image's weights become one picture. The decoded pixels are BGR (OpenCV); the
# views speak of RGB.
CHANNEL_MODES = {
    "sum": "Sum of channels",
    "red": "Red channel",
    "green": "Green channel",
    "blue": "Blue channel",
    "rgb": "RGB (grey = 0)",
}
_CHANNEL = {"red": 0, "green": 1, "blue": 2}


def weight_images(coef: np.ndarray, image: ImageSettings) -> np.ndarray:
    """Each row of W as an image: (rows, H, W, 3) in RGB order for colour, (rows, H, W) for grey."""
    n = coef.shape[0]
    if image.color:
        return coef.reshape(n, image.height, image.width, 3)[..., ::-1]
    return coef.reshape(n, image.height, image.width)


def channel_view(images: np.ndarray, mode: str) -> np.ndarray:
    """What one mode draws from ``weight_images``: (rows, H, W), or (rows, H, W, 3) for "rgb".

    For "rgb" the values are left as they are; the view maps them with a shared symmetric scale.
    Grey images are returned as they are, whatever the mode.
    """
    if images.ndim == 3 or mode == "rgb":
        return images
    if mode == "sum":
        return images.sum(axis=-1, dtype=np.float32)
    return images[..., _CHANNEL[mode]]


def row_names(class_names: tuple[str, ...] | list[str], rows: int) -> list[str]:
    """What each of the ``rows`` rows of W scores: one class each, or (scikit-learn's engine, two
    classes) one row for the second class against the first."""
    if rows == 1 and len(class_names) == 2:
        return [f"{class_names[1]} vs {class_names[0]}"]
    return list(class_names)


def symmetric_limit(arrays) -> float:
    """The largest |value| over ``arrays`` (a colour scale from -limit to +limit centres 0)."""
    limit = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    return limit if limit > 0 else 1.0


# --- weight histograms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray  # bins + 1 edges, symmetric around 0 (0 is the middle bin's centre)
    counts: np.ndarray  # weights per bin
    zeros: int  # weights exactly 0
    total: int

    @property
    def zero_fraction(self) -> float:
        return self.zeros / self.total if self.total else 0.0


def weight_histogram(coef: np.ndarray, limit: float, bins: int = 81) -> Histogram:
    """Histogram of every weight over [-limit, limit] (pass the same limit for runs compared)."""
    bins = bins + (bins % 2 == 0)  # odd: a middle bin centred on 0 holds the zeros
    edges = np.linspace(-limit, limit, bins + 1)
    values = coef.ravel()
    counts, _ = np.histogram(np.clip(values, -limit, limit), bins=edges)
    return Histogram(edges, counts, int(np.count_nonzero(values == 0)), int(values.size))


def histogram_rows(run: str, epoch: int, hist: Histogram) -> list[dict]:
    """CSV rows: one per bin."""
    return [
        {
            "run": run,
            "epoch": epoch,
            "bin_from": float(lo),
            "bin_to": float(hi),
            "count": int(n),
            "exact_zeros_in_run": hist.zeros,
            "weights_in_run": hist.total,
        }
        for lo, hi, n in zip(hist.edges[:-1], hist.edges[1:], hist.counts)
    ]


# --- confusion matrix and mistakes --------------------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[i, j]: test images of class i predicted as class j."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row as fractions of that class's images (a row with no images stays 0)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Share of each class's test images predicted right (NaN for a class with none)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / np.maximum(totals, 1), np.nan)


def confusion_rows(run: str, epoch: int, counts: np.ndarray, class_names) -> list[dict]:
    """CSV rows: one per (true, predicted) pair, with counts and the share of the true class."""
    fractions = row_normalised(counts)
    return [
        {
            "run": run,
            "epoch": epoch,
            "true_class": class_names[i],
            "predicted_class": class_names[j],
            "count": int(counts[i, j]),
            "share_of_true_class": float(fractions[i, j]),
        }
        for i in range(len(class_names))
        for j in range(len(class_names))
    ]


@dataclass(frozen=True)
class Mistake:
    path: str
    true: int
    predicted: int
    confidence: float  # of the prediction: probability (log loss) or margin (hinge)


def mistakes(paths, y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray) -> list[Mistake]:
    """The misclassified test images, the most confident mistakes first."""
    wrong = np.flatnonzero(y_true != y_pred)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return [Mistake(paths[i], int(y_true[i]), int(y_pred[i]), float(confidence[i])) for i in order]


def mistake_rows(run: str, epoch: int, found: list[Mistake], class_names, confidence_name: str) -> list[dict]:
    return [
        {
            "run": run,
            "epoch": epoch,
            "file": m.path,
            "true_class": class_names[m.true],
            "predicted_class": class_names[m.predicted],
            confidence_name: m.confidence,
        }
        for m in found
    ]


def confidence_name(loss: str) -> str:
    """What ``EpochResult.test_confidence`` holds for a run with this loss."""
    return "probability" if loss == "log_loss" else "margin"
