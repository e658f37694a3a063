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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
from scipy.linalg.blas import dger as _dger

from regui.core.config import FULL_BATCH, TrainConfig
from regui.core.objective import (
    l1_part,
    l2_part,
    model_sums,
    one_row_loss_and_gradient,
    penalty_from_sums,
    penalty_value,
    soft_threshold,
    stacked_loss_and_gradient,
)
from regui.core.wide import one_blas_thread, stack_row_product, subtract_row_products

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


class SGDStack:
    """Several models trained on the same mini-batches in one pass: a block of a sweep's runs
    that share the data, the shuffle seed, the batch size, the loss and the schedule, and differ
    in penalty, lambda, L1 ratio and learning rate. ``weights`` shows them as ``(models,
    features, classes)``; they are kept as each model's transpose, (classes, features), as
    scikit-learn's ``coef_`` is: the gradient steps of all the models are then one product
    ``G^T X`` whose rows are the models' rows, each model's step contiguous, as its weights are.

    Each model's numbers are exactly those it has when trained alone (a stack of one), whatever
    the other models: the scores of all the models are one product, and so are their gradient
    steps, each made so that each model's rows come out the same however many models are
    stacked (``wide``, which pads a lone model to do so); every other operation is
    elementwise or reduces within one model. So a run's numbers never depend on which block it
    ran in.
    """

    def __init__(
        self, n_features: int, n_classes: int, settings: Sequence[Settings], ids: Sequence | None = None
    ) -> None:
        shared = {(s.loss, s.batch_size, s.seed, s.learning_rate) for s in settings}
        if len(shared) != 1:
            raise ValueError("models trained in one pass share the loss, batch size, seed and schedule")
        self.settings = list(settings)
        self.ids = list(range(len(settings)) if ids is None else ids)  # what the caller knows each model by
        self._coef = np.zeros((len(settings), n_classes, n_features))  # W_k^T: scores are X @ W_k + b_k
        self.bias = np.zeros((len(settings), n_classes))
        self.seen = 0  # images seen so far (the invscaling schedule's clock)
        first = self.settings[0]
        self._loss, self._batch_size, self._schedule = first.loss, first.batch_size, first.learning_rate
        self._rng = np.random.default_rng(first.seed)
        self._set_columns()

    def _set_columns(self) -> None:
        """Each model's step size and penalty weights, as arrays over the stack."""
        ss = self.settings
        self._eta0 = np.array([s.eta0 for s in ss], dtype=np.float64)
        self._l2 = np.array([l2_part(s.penalty, s.alpha, s.l1_ratio) for s in ss], dtype=np.float64)
        self._l1 = np.array([l1_part(s.penalty, s.alpha, s.l1_ratio) for s in ss], dtype=np.float64)
        # The models with an L1 part, as slices of neighbours (a grid's L1 and elastic-net runs
        # sit together): views of the weights, thresholded in place.
        self._l1_models = [slice(int(a), int(b)) for a, b in _runs_of(self._l1 > 0)]

    def __len__(self) -> int:
        return len(self.settings)

    @property
    def weights(self) -> np.ndarray:
        """Each model's W_k, as (models, features, classes): a view, written through."""
        return self._coef.transpose(0, 2, 1)

    def keep(self, models: Sequence[int]) -> None:
        """Train only these models (positions in the stack, in order) from now on: a run stopped,
        diverged or done leaves its block. The others' numbers do not change. May be called
        between the steps of an epoch (from ``epoch``'s ``should_stop``)."""
        models = list(models)
        self.ids = [self.ids[k] for k in models]
        self.settings = [self.settings[k] for k in models]
        self._coef = self._coef[models]
        self.bias = self.bias[models]
        self._set_columns()

    def learning_rates(self) -> np.ndarray:
        """Each model's step size now."""
        if self._schedule == "invscaling":
            # One divisor for every model, as a Python float: each model's rate is then one
            # correctly rounded division, whatever the stack.
            return self._eta0 / float((self.seen + 1) ** POWER_T)
        return self._eta0.copy()

    def penalties(self) -> np.ndarray:
        """alpha * R(W_k) of each model: ``penalty_value`` of each, its sums taken over the stack
        at once (each model's over its own contiguous weights, in the order they are alone)."""
        coef = self._coef
        ss = self.settings
        squares = model_sums(np.square(coef)) if any(s.penalty != "l1" for s in ss) else None
        absolute = model_sums(np.abs(coef)) if any(s.penalty != "l2" for s in ss) else None
        return np.array(
            [
                penalty_from_sums(
                    s.penalty,
                    s.alpha,
                    s.l1_ratio,
                    0.0 if squares is None else float(squares[k]),
                    0.0 if absolute is None else float(absolute[k]),
                )
                for k, s in enumerate(ss)
            ]
        )

    def epoch(self, X: np.ndarray, y: np.ndarray, should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
        """One pass over ``X``/``y`` in a fresh shuffle. Returns each model's objective (batch mean
        data loss + lambda R(W), before the step) at up to BATCH_LOSSES_PER_EPOCH evenly spaced
        steps, as (models, steps kept), or None if ``should_stop()`` turned true between steps
        (the epoch is then incomplete). ``should_stop`` may also take models out of the stack
        (``keep``): the rows returned are those of the models left, in ``ids`` order."""
        n = X.shape[0]
        size = n if self._batch_size == FULL_BATCH else min(self._batch_size, n)
        # A full batch is one sum over every image, in any order: no shuffle, and the rows are
        # read in place rather than copied in shuffled order.
        order = self._rng.permutation(n) if size < n else None
        steps = -(-n // size)
        kept = _kept_steps(steps)
        losses = np.empty((len(self), len(kept)))
        first_ids = list(self.ids)
        rows = slice(None)  # the rows of ``losses`` of the models still in the stack
        slot = 0
        with one_blas_thread():  # for the whole epoch, rather than taken and given back per product
            for step in range(steps):
                batch = order[step * size : (step + 1) * size] if order is not None else slice(0, n)
                keep = slot < len(kept) and kept[slot] == step
                values = self.step(X, y, batch, should_stop, measure=keep)
                if values is None:
                    return None
                if len(values) != losses[rows].shape[0]:  # models left between the steps
                    rows = [first_ids.index(i) for i in self.ids]  # type: ignore[assignment]
                if keep:
                    losses[rows, slot] = values
                    slot += 1
        return losses[rows]

    def step(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch: np.ndarray | slice,
        should_stop: Callable[[], bool] | None = None,
        measure: bool = True,
    ) -> np.ndarray | None:
        """One update of every model on the rows ``batch``. Returns each model's objective before
        it (nan unless ``measure``), or None if stopped (the weights are then left as they were)."""
        if should_stop is not None and should_stop():
            return None
        if not len(self):
            return np.empty(0)
        count = len(range(*batch.indices(X.shape[0]))) if isinstance(batch, slice) else len(batch)
        if count == 1 and not isinstance(batch, slice):  # per-sample SGD: thousands of steps an epoch
            return self._one_sample(X[batch[0]], int(y[batch[0]]), measure)
        # Each model's step size goes into its score gradients (models x rows x classes) before
        # the product rather than into the weight gradient after it: W^T - (eta G)^T X, a pass
        # over the weights fewer than W^T - eta (G^T X).
        eta = self.learning_rates()
        if count <= CHUNK_ROWS:
            Xc = X[batch]
            values, steps = self._scaled_gradient(Xc, y[batch], count, eta)
            grad_b = steps.sum(axis=1)  # each model's own rows, added in order (as alone)
            grad_w = None
        else:
            grad_w = np.zeros_like(self._coef)  # minus the weights' step, summed over the chunks
            grad_b = np.zeros_like(self.bias)
            values = np.zeros(len(self))
            for start in range(0, count, CHUNK_ROWS):
                if start and should_stop is not None and should_stop():
                    return None
                if isinstance(batch, slice):  # rows in place: a view, not a copy
                    first = (batch.start or 0) + start
                    rows: np.ndarray | slice = slice(first, first + min(CHUNK_ROWS, count - start))
                else:
                    rows = batch[start : start + CHUNK_ROWS]
                part, part_steps = self._scaled_gradient(X[rows], y[rows], count, eta)
                values += part
                subtract_row_products(grad_w, part_steps.transpose(0, 2, 1), X[rows])
                grad_b += part_steps.sum(axis=1)
        values = values + self.penalties() if measure else np.full(len(self), np.nan)
        if self._l2.any():  # W - eta (g + l2 W), as (1 - eta l2) W - eta g
            self._coef *= (1.0 - eta * self._l2)[:, None, None]
        if grad_w is None:  # all the models' gradient steps in one product
            subtract_row_products(self._coef, steps.transpose(0, 2, 1), Xc)
        else:
            self._coef += grad_w
        self.bias -= grad_b
        for models in self._l1_models:  # the L1 models' proximal step; the others have none
            soft_threshold(self._coef[models], (eta[models] * self._l1[models])[:, None, None])
        self.seen += count
        return values

    def _scaled_gradient(
        self, Xc: np.ndarray, yc: np.ndarray, total: int, eta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each model's data loss on these rows (summed, divided by ``total``) and the gradient
        of it with respect to its scores, times the model's step size ``eta``."""
        # The scores, transposed: every model's rows of W^T times the rows' columns X^T, as one
        # product (``wide``), then laid out as (models, rows, classes). On the Animals photos,
        # 19 models take 610 us a step this way against 950 as one small product per model; a
        # lone run, padded past BLAS's small-matrix kernel to get the numbers it has in a block,
        # takes 170 us against 50.
        scores = np.ascontiguousarray(stack_row_product(self._coef, Xc.T).transpose(0, 2, 1))
        scores += self.bias[:, None, :]
        values, grad_scores = stacked_loss_and_gradient(scores, yc, self._loss, total)
        grad_scores *= eta[:, None, None]
        return values, grad_scores

    def _one_sample(self, x: np.ndarray, label: int, measure: bool) -> np.ndarray:
        """``step`` for a batch of one, model by model: the same update, with the weight change as
        one BLAS rank-1 update (W += -eta x g) in place rather than an outer product and a
        subtraction (and no product of one row made wide)."""
        values = np.full(len(self), np.nan)
        eta = self.learning_rates()
        for k, s in enumerate(self.settings):
            weights, bias = self._coef[k].T, self.bias[k]
            value, grad_scores = one_row_loss_and_gradient(x @ weights + bias, label, s.loss)
            if measure:
                values[k] = value + penalty_value(weights, s.penalty, s.alpha, s.l1_ratio)
            if self._l2[k]:
                weights *= 1.0 - eta[k] * self._l2[k]
            # W is (features x classes) and Fortran-ordered, as dger needs to update it in place.
            updated = _dger(-eta[k], x, grad_scores, a=weights, overwrite_a=True)
            assert np.shares_memory(updated, weights), "dger copied the weights instead of updating them"
            bias -= eta[k] * grad_scores
            if self._l1[k]:
                soft_threshold(weights, eta[k] * self._l1[k])
        self.seen += 1
        return values


class MiniBatchSGD:
    """One model: a stack of one, with its weights (features, classes) and bias (classes)."""

    def __init__(self, n_features: int, n_classes: int, settings: Settings) -> None:
        self.settings = settings
        self.stack = SGDStack(n_features, n_classes, [settings])

    @property
    def weights(self) -> np.ndarray:
        return self.stack.weights[0]

    @property
    def bias(self) -> np.ndarray:
        return self.stack.bias[0]

    @property
    def seen(self) -> int:
        return self.stack.seen

    def epoch(self, X: np.ndarray, y: np.ndarray, should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
        """``SGDStack.epoch`` for this model: its batch losses, or None if stopped."""
        losses = self.stack.epoch(X, y, should_stop)
        return None if losses is None else losses[0]

    def step(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch: np.ndarray | slice,
        should_stop: Callable[[], bool] | None = None,
        measure: bool = True,
    ) -> float | None:
        """``SGDStack.step`` for this model: its objective before the step, or None if stopped."""
        values = self.stack.step(X, y, batch, should_stop, measure)
        return None if values is None else float(values[0])


def _runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """The (start, stop) of each run of consecutive True values in ``flags``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return list(zip(edges[::2], edges[1::2], strict=True))


def _kept_steps(steps: int) -> np.ndarray:
    """Which of an epoch's steps keep their batch loss: all up to BATCH_LOSSES_PER_EPOCH, else
    that many spread evenly, the first step (the weights the epoch starts from) among them."""
    if steps <= BATCH_LOSSES_PER_EPOCH:
        return np.arange(steps)
    return np.arange(BATCH_LOSSES_PER_EPOCH) * steps // BATCH_LOSSES_PER_EPOCH
