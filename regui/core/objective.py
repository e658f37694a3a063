"""The lesson's objective, L = mean data loss + lambda * R(W), and its gradient. numpy only.

Scores are s = x W + b with W of shape (features, classes), so a batch's scores are one matrix
product ``X @ W + b`` (the estimator's ``coef_`` is ``W.T``, as scikit-learn lays it out).

- Cross-entropy (softmax): L_i = -log(exp(s_y) / sum_j exp(s_j)), computed with log-sum-exp so
  raw 0-255 pixels never overflow.
- Multi-class SVM (Weston-Watkins, the lesson's and cs231n's): L_i = sum over j != y of
  max(0, s_j - s_y + 1). Not Crammer-Singer (scikit-learn's multi-class ``hinge_loss``).
- R(W) as scikit-learn defines it, so lambda means the same in both engines: L2 0.5 ||W||^2,
  L1 ||W||_1, elastic net (1 - r)/2 ||W||^2 + r ||W||_1. The intercepts are not penalized.

The smooth part of R is descended by its gradient; the L1 part by a proximal (soft-threshold)
step, which puts weights at exactly zero.
"""

from __future__ import annotations

import numpy as np

CROSS_ENTROPY = "log_loss"  # SGDClassifier's name for it; its name for the SVM loss is "hinge"


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """log of the softmax of each row, stable for any finite scores (log-sum-exp)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Class probabilities of each row (rows sum to 1)."""
    return np.exp(log_softmax(scores))


def loss_and_gradient(
    scores: np.ndarray, y: np.ndarray, loss: str, total: int | None = None
) -> tuple[float, np.ndarray]:
    """The data loss summed over these rows divided by ``total`` (default: the row count, i.e.
    the mean), and its gradient with respect to the scores (same scaling).

    ``total`` lets a large batch be taken in chunks whose parts add up to the batch's mean.
    """
    values, grad = stacked_loss_and_gradient(scores[None], y, loss, total)
    return float(values[0]), grad[0]


def stacked_loss_and_gradient(
    scores: np.ndarray, y: np.ndarray, loss: str, total: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``loss_and_gradient`` for the scores of several models on the same rows, (models, rows,
    classes): each model's value (an array) and gradient. Every sum is over one model's own
    contiguous part (``model_sums``), so a model's numbers are the same whatever the other
    models."""
    n = scores.shape[1]
    total = n if total is None else total
    rows = np.arange(n)
    if loss == CROSS_ENTROPY:
        shifted = scores - scores.max(axis=2, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        values = -model_sums(log_p[:, rows, y]) / total
        grad = np.exp(log_p)
        grad[:, rows, y] -= 1.0
    else:
        margins = scores - scores[:, rows, y][:, :, None] + 1.0
        margins[:, rows, y] = 0.0
        np.maximum(margins, 0.0, out=margins)
        values = model_sums(margins) / total
        grad = (margins > 0).astype(scores.dtype)
        grad[:, rows, y] = -grad.sum(axis=2)
    grad /= total
    return values, grad


def model_sums(stacked: np.ndarray) -> np.ndarray:
    """The sum of each model's part of a C-contiguous (models, ...) array: numpy adds each
    model's contiguous part on its own, in the order it adds that part alone (a stack of one);
    checked on many shapes in the tests. (Summing over several axes of a model's part at once
    may take another order than over its flattened part: they are flattened first.)"""
    return np.ascontiguousarray(stacked).reshape(len(stacked), -1).sum(axis=1)


def one_row_loss_and_gradient(scores: np.ndarray, label: int, loss: str) -> tuple[float, np.ndarray]:
    """``loss_and_gradient`` for one sample's score vector: the same values, fewer steps."""
    if loss == CROSS_ENTROPY:
        shifted = scores - scores.max()
        exp = np.exp(shifted)
        total = exp.sum()
        value = float(np.log(total) - shifted[label])
        exp /= total
        exp[label] -= 1.0
        return value, exp
    margins = scores - scores[label] + 1.0
    margins[label] = 0.0
    np.maximum(margins, 0.0, out=margins)
    grad = (margins > 0).astype(scores.dtype)
    grad[label] = -grad.sum()
    return float(margins.sum()), grad


def mean_data_loss(scores: np.ndarray, y: np.ndarray, loss: str) -> float:
    """The mean data loss of these scores (no gradient)."""
    rows = np.arange(scores.shape[0])
    if loss == CROSS_ENTROPY:
        return -float(np.mean(log_softmax(scores)[rows, y]))
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    return float(np.maximum(margins, 0.0).sum() / scores.shape[0])


def penalty_value(coef: np.ndarray, penalty: str, alpha: float, l1_ratio: float) -> float:
    """alpha * R(W) with R as scikit-learn defines it for ``penalty``."""
    if penalty == "none":
        return 0.0
    sq = float(np.sum(np.square(coef, dtype=np.float64)))
    ab = float(np.sum(np.abs(coef), dtype=np.float64))
    return penalty_from_sums(penalty, alpha, l1_ratio, sq, ab)


def penalty_from_sums(penalty: str, alpha: float, l1_ratio: float, sq: float, ab: float) -> float:
    """``penalty_value`` from the sum of the squared weights ``sq`` and of their magnitudes
    ``ab`` (a stack of models sums all of its models' weights at once)."""
    if penalty == "none":
        return 0.0
    if penalty == "l2":
        r = 0.5 * sq
    elif penalty == "l1":
        r = ab
    else:
        r = (1.0 - l1_ratio) * 0.5 * sq + l1_ratio * ab
    return alpha * r


def l2_part(penalty: str, alpha: float, l1_ratio: float) -> float:
    """The weight of the smooth (squared) part of alpha * R: its gradient is this times W."""
    return {"l2": alpha, "elasticnet": alpha * (1.0 - l1_ratio)}.get(penalty, 0.0)


def l1_part(penalty: str, alpha: float, l1_ratio: float) -> float:
    """The weight of the L1 part of alpha * R (taken by the proximal step)."""
    return {"l1": alpha, "elasticnet": alpha * l1_ratio}.get(penalty, 0.0)


def soft_threshold(weights: np.ndarray, threshold: float | np.ndarray) -> None:
    """The proximal step of threshold * ||W||_1, in place: every weight moves ``threshold``
    towards 0 and stops there, so small weights become exactly 0 (+0.0).

    Taken as W minus its part within [-threshold, threshold]: the same numbers as
    sign(w) max(|w| - threshold, 0) (round-to-nearest is symmetric in sign), in two passes over
    the weights rather than four."""
    weights -= np.clip(weights, -threshold, threshold)
