"""regui's own engine: the lesson's objective descended by mini-batch SGD. numpy only.

Each step takes the next mini-batch of a fresh seeded shuffle and moves the weights against the
gradient of the batch's mean data loss plus lambda times the gradient of R's smooth part; R's L1
part is then taken by a soft-threshold (proximal) step, so weights reach exactly 0:

    W <- prox(W - eta (grad mean batch loss + lambda grad R_smooth)),   b <- b - eta grad b

Batch size 1 is per-sample SGD; a batch of the whole training part (``FULL_BATCH``) is vanilla
gradient descent, one step per epoch. The last, smaller batch of an epoch is used, not dropped.
The model starts from zeros, in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
from scipy.linalg.blas import dger as _dger

from regui.core.config import FULL_BATCH, TrainConfig
from regui.core.objective import (
    l1_part,
    l2_part,
    loss_and_gradient,
    one_row_loss_and_gradient,
    penalty_value,
    soft_threshold,
)

# SGDClassifier's invscaling exponent (its default power_t): eta = eta0 / t ** POWER_T, t counting
# the images seen, so that the schedule means the same in both engines. Under it a full batch's
# second step is already eta0 / (n + 1) ** 0.5: the clock counts images, not steps.
POWER_T = 0.5
# A batch's gradient is summed over chunks of at most this many rows: a full batch of a large
# folder needs no (rows x classes) arrays of its size, and a stop request is seen between chunks.
CHUNK_ROWS = 64
# Batch losses kept per epoch, evenly spaced over its steps: enough to show SGD's noise on a
# plot, small enough for thousands of runs (a per-sample epoch of 2,250 images keeps 1 in 18).
BATCH_LOSSES_PER_EPOCH = 128


@dataclass(frozen=True)
class Settings:
    """What the engine needs of a run's settings (TrainConfig's names where they are the same)."""

    loss: str = "log_loss"
    penalty: str = "l2"
    alpha: float = 1e-4
    l1_ratio: float = 0.15
    eta0: float = 0.01
    learning_rate: str = "constant"  # or "invscaling": eta0 / t ** POWER_T, t = images seen + 1
    batch_size: int = 64  # FULL_BATCH for all
    seed: int = 0

    @classmethod
    def of(cls, config: TrainConfig) -> Settings:
        """A run's settings, as the engine takes them."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


class MiniBatchSGD:
    """One model's weights and where its training is (step count, shuffle stream)."""

    def __init__(self, n_features: int, n_classes: int, settings: Settings) -> None:
        self.settings = settings
        self.weights = np.zeros((n_features, n_classes))  # W: scores are X @ W + b
        self.bias = np.zeros(n_classes)
        self.seen = 0  # images seen so far (the invscaling schedule's clock)
        self._rng = np.random.default_rng(settings.seed)
        self._l2 = l2_part(settings.penalty, settings.alpha, settings.l1_ratio)
        self._l1 = l1_part(settings.penalty, settings.alpha, settings.l1_ratio)

    def learning_rate(self) -> float:
        s = self.settings
        if s.learning_rate == "invscaling":
            return s.eta0 / (self.seen + 1) ** POWER_T
        return s.eta0

    def penalty(self) -> float:
        s = self.settings
        return penalty_value(self.weights, s.penalty, s.alpha, s.l1_ratio)

    def epoch(self, X: np.ndarray, y: np.ndarray, should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
        """One pass over ``X``/``y`` in a fresh shuffle. Returns the objective (batch mean data loss
        + lambda R(W), before the step) of up to BATCH_LOSSES_PER_EPOCH evenly spaced steps, or
        None if ``should_stop()`` turned true between steps (the epoch is then incomplete)."""
        n = X.shape[0]
        size = n if self.settings.batch_size == FULL_BATCH else min(self.settings.batch_size, n)
        # A full batch is one sum over every image, in any order: no shuffle, and the rows are
        # read in place rather than copied in shuffled order.
        order = self._rng.permutation(n) if size < n else None
        steps = -(-n // size)
        kept = _kept_steps(steps)
        losses = np.empty(len(kept))
        slot = 0
        for step in range(steps):
            batch = order[step * size : (step + 1) * size] if order is not None else slice(0, n)
            keep = slot < len(kept) and kept[slot] == step
            value = self.step(X, y, batch, should_stop, measure=keep)
            if value is None:
                return None
            if keep:
                losses[slot] = value
                slot += 1
        return losses

    def step(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch: np.ndarray | slice,
        should_stop: Callable[[], bool] | None = None,
        measure: bool = True,
    ) -> float | None:
        """One update on the rows ``batch``. Returns the batch's objective before it (nan unless
        ``measure``), or None if stopped (the weights are then left as they were)."""
        s = self.settings
        if should_stop is not None and should_stop():
            return None
        count = len(range(*batch.indices(X.shape[0]))) if isinstance(batch, slice) else len(batch)
        if count == 1 and not isinstance(batch, slice):  # per-sample SGD: thousands of steps an epoch
            return self._one_sample(X[batch[0]], int(y[batch[0]]), measure)
        if count <= CHUNK_ROWS:
            Xc = X[batch]
            value, grad_scores = loss_and_gradient(Xc @ self.weights + self.bias, y[batch], s.loss)
            grad_w = Xc.T @ grad_scores
            grad_b = grad_scores.sum(axis=0)
        else:
            grad_w = np.zeros_like(self.weights)
            grad_b = np.zeros_like(self.bias)
            value = 0.0
            for start in range(0, count, CHUNK_ROWS):
                if start and should_stop is not None and should_stop():
                    return None
                if isinstance(batch, slice):  # rows in place: a view, not a copy
                    first = (batch.start or 0) + start
                    rows: np.ndarray | slice = slice(first, first + min(CHUNK_ROWS, count - start))
                else:
                    rows = batch[start : start + CHUNK_ROWS]
                Xc = X[rows]
                part, grad_scores = loss_and_gradient(Xc @ self.weights + self.bias, y[rows], s.loss, count)
                value += part
                grad_w += Xc.T @ grad_scores
                grad_b += grad_scores.sum(axis=0)
        value = value + self.penalty() if measure else float("nan")
        eta = self.learning_rate()
        if self._l2:  # W - eta (g + l2 W), as (1 - eta l2) W - eta g
            self.weights *= 1.0 - eta * self._l2
        grad_w *= eta
        self.weights -= grad_w
        self.bias -= eta * grad_b
        if self._l1:
            soft_threshold(self.weights, eta * self._l1)
        self.seen += count
        return value

    def _one_sample(self, x: np.ndarray, label: int, measure: bool) -> float:
        """``step`` for a batch of one: the same update, with the weight change as one BLAS
        rank-1 update (W += -eta x g) in place rather than an outer product and a subtraction."""
        s = self.settings
        value, grad_scores = one_row_loss_and_gradient(x @ self.weights + self.bias, label, s.loss)
        value = value + self.penalty() if measure else float("nan")
        eta = self.learning_rate()
        if self._l2:
            self.weights *= 1.0 - eta * self._l2
        # W.T is (classes x features) and Fortran-ordered, as dger needs to update it in place.
        updated = _dger(-eta, grad_scores, x, a=self.weights.T, overwrite_a=True)
        assert np.shares_memory(updated, self.weights), "dger copied the weights instead of updating them"
        self.bias -= eta * grad_scores
        if self._l1:
            soft_threshold(self.weights, eta * self._l1)
        self.seen += 1
        return value


def _kept_steps(steps: int) -> np.ndarray:
    """Which of an epoch's steps keep their batch loss: all up to BATCH_LOSSES_PER_EPOCH, else
    that many spread evenly, the first step (the weights the epoch starts from) among them."""
    if steps <= BATCH_LOSSES_PER_EPOCH:
        return np.arange(steps)
    return np.arange(BATCH_LOSSES_PER_EPOCH) * steps // BATCH_LOSSES_PER_EPOCH
