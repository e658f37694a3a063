"""Training one run epoch by epoch, with either engine, and the numbers measured after each epoch.

Both engines train the same linear model (scores W x + b) and are measured alike after every
epoch, with the objective as the lesson writes it and scikit-learn defines it:

    L = mean data loss + alpha * R(W)
    R(W) = 0.5 * ||W||^2 (L2),  ||W||_1 (L1),  (1 - r)/2 * ||W||^2 + r * ||W||_1 (elastic net)

- regui's engine (``minibatch``) descends exactly that, with the softmax cross-entropy or the
  multi-class SVM loss (see ``objective`` and ``minibatch``): the plotted objective is the one
  being descended.
- scikit-learn's SGDClassifier (one ``partial_fit`` per epoch) trains K one-vs-rest binary
  models, each minimizing its own binary loss plus alpha * R(w_k). Its curves use the data loss
  of ``predict_proba`` (log loss) or the multi-class hinge loss of ``decision_function``: they
  show how the penalty and the data loss move, but their sum is not what its steps descend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from scipy.special import expit
from sklearn import config_context
from sklearn.linear_model import SGDClassifier

from regui.core.config import TrainConfig
from regui.core.dataset import PreparedData
from regui.core.errors import ConfigError, TrainingDiverged
from regui.core.objective import mean_data_loss, penalty_value, softmax
from regui.core.progress import StopCheck
from regui.core.records import EpochResult
from regui.core.wide import MEASURE_ROWS, one_blas_thread, stack_product

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def penalty_term(coef: np.ndarray, config: TrainConfig) -> float:
    """alpha * R(W) with R as scikit-learn defines it for ``config.penalty``."""
    return penalty_value(coef, config.penalty, config.alpha, config.l1_ratio)


def decision_values(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``SGDClassifier.decision_function``, X @ coef.T + intercept, computed MEASURE_ROWS rows at
    a time: equal to scikit-learn's up to float64 rounding (a few units in the last place, as
    the blocked products add in another order), and the same on every run of the same data.

    The blocks go to numpy as one stack of matrices, so the whole product is one call that
    releases the GIL: a Python loop over blocks would keep taking the GIL back and starve the
    SGD pass running on the other thread (it needs the GIL between its one-vs-rest problems).
    """
    n = X.shape[0]
    whole = n - n % MEASURE_ROWS
    out = np.empty((n, coef.shape[0]))
    if whole:
        blocks = X[:whole].reshape(whole // MEASURE_ROWS, MEASURE_ROWS, X.shape[1])
        np.matmul(blocks, coef.T, out=out[:whole].reshape(whole // MEASURE_ROWS, MEASURE_ROWS, -1))
    if whole < n:
        np.matmul(X[whole:], coef.T, out=out[whole:])
    out += intercept
    return out


def stacked_decision_values(
    X: np.ndarray, weights: np.ndarray, bias: np.ndarray, helper: ThreadPoolExecutor | None = None
) -> np.ndarray:
    """``decision_values`` of each model of a stack (``weights`` (models, features, classes), as
    ``SGDStack`` keeps them), as (models, rows, classes), MEASURE_ROWS rows at a time: each block
    of rows is multiplied by all the models in one product, padded so that a model's numbers are
    those it has in a stack of one (``wide.stack_product``).

    With a ``helper`` thread, it multiplies the first half of the blocks meanwhile (BLAS
    releases the GIL): the same products, so the same numbers, in about half the time when a
    core is free."""
    n = X.shape[0]
    whole = n - n % MEASURE_ROWS
    out = np.empty((len(weights), n, weights.shape[2]))

    errors = np.geterr()  # the caller's, for the helper thread too (numpy's are per thread)

    def multiply(first: int, last: int) -> None:  # rows first..last, a whole number of blocks
        with np.errstate(**errors):
            if last > first:
                blocks = X[first:last].reshape((last - first) // MEASURE_ROWS, MEASURE_ROWS, X.shape[1])
                out[:, first:last] = stack_product(blocks, weights).reshape(len(weights), last - first, -1)

    half = whole // MEASURE_ROWS // 2 * MEASURE_ROWS if helper is not None else 0
    first_half = helper.submit(multiply, 0, half) if helper is not None and half else None
    multiply(half, whole)
    if whole < n:
        out[:, whole:] = stack_product(X[whole:], weights)
    if first_half is not None:
        first_half.result()
    out += bias[:, None, :]
    return out


def ovr_proba(decision: np.ndarray) -> np.ndarray:
    """``predict_proba`` of a one-vs-rest linear model from its decision values, computed exactly
    as scikit-learn does: the per-class sigmoids normalized to sum to 1, and a row whose
    sigmoids all underflow to 0 (easy with raw pixels) made uniform."""
    prob = expit(decision)
    if prob.ndim == 1:
        return np.stack([1 - prob, prob], axis=1)
    prob_sum = prob.sum(axis=1)
    all_zero = prob_sum == 0
    if all_zero.any():
        prob[all_zero, :] = 1
        prob_sum[all_zero] = prob.shape[1]
    prob /= prob_sum.reshape((prob.shape[0], -1))
    return prob


def predict_from_decision(decision: np.ndarray) -> np.ndarray:
    """Class index per row, as ``SGDClassifier.predict`` with classes 0..K-1."""
    if decision.ndim == 1:
        return (decision > 0).astype(np.int64)
    return decision.argmax(axis=1)


def prediction_confidence(
    decision: np.ndarray, pred: np.ndarray, loss: str, proba: np.ndarray | None = None
) -> np.ndarray:
    """How sure the model is of each prediction: the ``predict_proba`` of the predicted class
    for log loss (pass ``proba`` if it is at hand); for hinge (no probabilities) the margin of
    the winning score over the next best (multi-class) or over the decision boundary (binary)."""
    if loss == "log_loss":
        return (ovr_proba(decision) if proba is None else proba)[np.arange(len(pred)), pred]
    if decision.ndim == 1:
        return np.abs(decision)
    top_two = np.partition(decision, -2, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


# As scikit-learn's log_loss: probabilities are clipped to [eps, 1 - eps], so one badly wrong
# sample adds at most -log(eps) ~ 36 to the sum.
_EPS = np.finfo(np.float64).eps


def data_loss(decision: np.ndarray, y: np.ndarray, loss: str, proba: np.ndarray | None = None) -> float:
    """Mean data loss, as scikit-learn's ``log_loss(y, predict_proba(X))`` or
    ``hinge_loss(y, decision_function(X))`` compute it.

    Written out rather than calling those: scikit-learn's binary hinge_loss infers the classes
    from ``y`` alone and gets the signs wrong when a (small) test part holds only one class.
    """
    rows = np.arange(len(y))
    if loss == "log_loss":
        p_true = np.clip((ovr_proba(decision) if proba is None else proba)[rows, y], _EPS, 1 - _EPS)
        return float(-np.mean(np.log(p_true)))
    if decision.ndim == 1:  # binary: labels 0/1 as -1/+1
        losses = 1 - (2 * y - 1) * decision
    else:  # Crammer-Singer: true class score against the best other class
        others = decision.copy()
        others[rows, y] = -np.inf
        losses = 1 - (decision[rows, y] - others.max(axis=1))
    return float(np.mean(np.clip(losses, 0, None)))


def make_classifier(config: TrainConfig, n_jobs: int | None = None) -> SGDClassifier:
    """The scikit-learn model for ``config``.

    The seed goes in as a RandomState *instance*: with a plain int, every ``partial_fit`` call
    re-seeds and visits the samples in the same order each epoch; an instance advances, so each
    epoch is shuffled afresh (as ``fit`` does), and the run is still reproducible from the seed.
    """
    return SGDClassifier(
        loss=config.loss,
        penalty=None if config.penalty == "none" else config.penalty,
        alpha=config.alpha,
        l1_ratio=config.l1_ratio,
        learning_rate=config.learning_rate,
        eta0=config.eta0,
        random_state=np.random.RandomState(config.seed),
        n_jobs=n_jobs,
    )


def train_epochs(
    data: PreparedData,
    config: TrainConfig,
    should_stop: StopCheck | None = None,
    *,
    n_jobs: int | None = None,
    overlap: bool = True,
) -> Generator[EpochResult, None, None]:
    """Train ``config.epochs`` epochs, yielding an EpochResult after each.

    ``should_stop()`` is checked between epochs: when it turns true the generator ends after
    the epoch in progress. Divergence raises TrainingDiverged (with what to change).
    ``n_jobs`` sets the threads for the one-vs-rest sub-problems; it does not change the numbers.

    With ``overlap``, while epoch k's metrics are computed here, epoch k+1's SGD pass already
    runs on a helper thread (scikit-learn's SGD loop releases the GIL), so the metrics cost
    little wall time when a core is free. Each pass hands over a copy of the weights it
    produced, so the overlap cannot mix epochs. Where every core is already training (a full
    sweep pool), pass ``overlap=False``: the extra thread would only compete for the same cores
    and memory. The numbers are the same either way.
    """
    if not config.sklearn:  # regui's engine: a block of one (it checks the settings)
        yield from _minibatch_epochs(data, config, should_stop, overlap)
        return
    check_settings(data, config)
    classes = np.arange(data.n_classes)
    clf = make_classifier(config, n_jobs)

    def sgd_pass() -> tuple[np.ndarray, np.ndarray]:
        # The arrays are finite (they come from pixels); skip scikit-learn's per-call scan of them.
        with config_context(assume_finite=True):
            clf.partial_fit(data.X_train, data.y_train, classes=classes)
        return clf.coef_.copy(), clf.intercept_.copy()

    def stop_requested() -> bool:
        return should_stop is not None and bool(should_stop())

    if stop_requested():
        return
    started = time.perf_counter()
    trainer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="regui-sgd") if overlap else None
    try:
        pending = trainer.submit(sgd_pass) if trainer else _run_now(sgd_pass)
        for epoch in range(1, config.epochs + 1):
            try:
                coef, intercept = pending.result()
            except ValueError as exc:
                if "overflow" not in str(exc).lower():
                    raise
                raise TrainingDiverged(_divergence_advice(config, epoch), epoch) from None
            last = epoch == config.epochs
            pending = None  # type: ignore[assignment]  # until the next pass is handed out
            if trainer and not last and not stop_requested():
                pending = trainer.submit(sgd_pass)  # runs while this epoch is measured
            # One core may be busy with SGD: keep BLAS off it (oversubscribed, both run slower).
            # The same thread count every epoch and either way, as BLAS results can differ in
            # the last bit with it.
            with one_blas_thread():
                record = _measure(epoch, coef, intercept, data, config, started)
            yield record
            if last or stop_requested():
                return
            if pending is None:  # not overlapping: the next pass runs here and now
                pending = _run_now(sgd_pass)
    finally:
        # Not waiting: a pass already started for the next epoch finishes on its own and is
        # dropped, so stopping (or an error) ends the run now rather than one epoch later.
        if trainer:
            trainer.shutdown(wait=False, cancel_futures=True)


def check_settings(data: PreparedData, config: TrainConfig) -> None:
    """ConfigError, before any training, if ``config`` is not valid or ``data`` was prepared
    with other image or split settings."""
    config.validate()
    if config.image != data.image or config.split != data.split:
        raise ConfigError("The prepared data was made with other image or split settings than this run's.")


def _minibatch_epochs(
    data: PreparedData, config: TrainConfig, should_stop: StopCheck | None, overlap: bool = True
) -> Iterator[EpochResult]:
    """regui's engine: ``config.epochs`` epochs of mini-batch SGD, measured after each one.

    ``should_stop()`` is checked between mini-batches as well as epochs: an epoch cut short is
    not reported (its weights are a mix of two epochs), so the run ends at the last whole epoch.
    The steps run in this thread (a step cannot overlap the next); with ``overlap``, the
    measuring after each epoch is shared with a helper thread. The numbers are the same in
    every process and whatever BLAS's thread count (the engine's products run on one thread,
    see ``wide``; checked in the tests).
    """
    from regui.core.blocks import block_epochs

    # A block of one: the same code as in a sweep's.
    for results in block_epochs(data, [config], should_stop, overlap=overlap):
        [(_, result)] = results
        if isinstance(result, TrainingDiverged):
            raise result
        yield result


def _run_now(work: Callable[[], tuple[np.ndarray, np.ndarray]]) -> Future:
    """``work()`` run in this thread, as a finished Future (its result or its error)."""
    done: Future = Future()
    try:
        done.set_result(work())
    except Exception as exc:  # noqa: BLE001 - handed over exactly as the helper thread would
        done.set_exception(exc)
    return done


def _measure(
    epoch: int,
    coef: np.ndarray,
    intercept: np.ndarray,
    data: PreparedData,
    config: TrainConfig,
    started: float,
    batch_losses: np.ndarray | None = None,
    decisions: tuple | None = None,
) -> EpochResult:
    """The EpochResult for weights ``coef``/``intercept``; raises TrainingDiverged if they blew up.
    ``decisions``: their decision values on the training, validation and test parts, if at hand
    (a block computes them for all its runs at once; see ``stacked_decision_values``)."""
    # Weights beyond float32's range are as good as infinite (and could not be snapshotted).
    if not (np.all(np.abs(coef) <= _FLOAT32_MAX) and np.all(np.isfinite(intercept))):
        raise TrainingDiverged(_divergence_advice(config, epoch), epoch)
    with np.errstate(over="ignore", invalid="ignore"):
        if decisions is not None:
            d_train, d_val, d_test = decisions
        else:
            d_train = decision_values(data.X_train, coef, intercept)
            d_test = decision_values(data.X_test, coef, intercept)
            d_val = decision_values(data.X_val, coef, intercept) if len(data.y_val) else None
        if config.sklearn:
            if d_train.shape[1] == 1:  # binary problems have one decision value per sample
                d_train, d_test = d_train.ravel(), d_test.ravel()
                d_val = None if d_val is None else d_val.ravel()
            train_loss = data_loss(d_train, data.y_train, config.loss)
            test_proba = ovr_proba(d_test) if config.loss == "log_loss" else None  # for the loss and the confidence
            test_loss = data_loss(d_test, data.y_test, config.loss, test_proba)
            val_loss = math.nan if d_val is None else data_loss(d_val, data.y_val, config.loss)
        else:  # one score per class, always: the engine's own losses, exactly
            train_loss = mean_data_loss(d_train, data.y_train, config.loss)
            test_proba = softmax(d_test) if config.loss == "log_loss" else None
            test_loss = mean_data_loss(d_test, data.y_test, config.loss)
            val_loss = math.nan if d_val is None else mean_data_loss(d_val, data.y_val, config.loss)
        penalty = penalty_term(coef, config)
        objective = train_loss + penalty
        weight_l2 = float(np.sqrt(np.sum(np.square(coef))))
    if not all(np.isfinite(v) for v in (objective, test_loss, weight_l2)):
        raise TrainingDiverged(_divergence_advice(config, epoch), epoch)

    test_pred = predict_from_decision(d_test)
    with np.errstate(over="ignore", invalid="ignore"):
        confidence = prediction_confidence(d_test, test_pred, config.loss, test_proba).astype(np.float32)
    frozen_coef = coef.astype(np.float32)
    frozen = test_pred.astype(np.int32)
    intercept = intercept.copy()
    with np.errstate(over="ignore"):  # a loss beyond float32 is divergence, said just below
        steps = np.empty(0, np.float32) if batch_losses is None else batch_losses.astype(np.float32)
    if not np.all(np.isfinite(steps)):  # a mini-batch's loss blew up on the way, even if the end looks finite
        raise TrainingDiverged(_divergence_advice(config, epoch), epoch)
    for array in (frozen_coef, intercept, frozen, confidence, steps):
        array.setflags(write=False)
    return EpochResult(
        epoch=epoch,
        train_loss=train_loss,
        test_loss=test_loss,
        penalty=penalty,
        objective=objective,
        train_accuracy=float(np.mean(predict_from_decision(d_train) == data.y_train)),
        test_accuracy=float(np.mean(test_pred == data.y_test)),
        weight_l2=weight_l2,
        weight_l1=float(np.sum(np.abs(coef))),
        zero_fraction=float(np.mean(coef == 0)),
        elapsed=time.perf_counter() - started,
        coef=frozen_coef,
        intercept=intercept,
        test_pred=frozen,
        test_confidence=confidence,
        batch_losses=steps,
        val_loss=val_loss,
        val_accuracy=math.nan if d_val is None else float(np.mean(predict_from_decision(d_val) == data.y_val)),
    )


def _divergence_advice(config: TrainConfig, epoch: int) -> str:
    if config.learning_rate == "optimal":  # its step is 1 / (lambda (t + t0)): eta0 plays no part
        advice = (
            f"raise lambda (now {config.alpha:g}: the 'optimal' schedule's steps grow as it shrinks), or "
            "choose the constant schedule with a small learning rate"
        )
    else:
        advice = f"lower the learning rate (now {config.eta0:g})"
    if config.scaling == "raw":
        advice += ", or scale pixels to [0, 1] or standardize them"
    return f"Training diverged at epoch {epoch}: the weights or the loss became infinite or NaN. Try to {advice}."
