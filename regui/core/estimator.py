"""regui's engine as a scikit-learn estimator, for notebooks and pipelines.

    from regui import MiniBatchSGDClassifier
    clf = MiniBatchSGDClassifier(penalty="l1", alpha=0.01, batch_size=64).fit(X_train, y_train)
    clf.score(X_test, y_test)

It trains exactly what regui's app and command line train (``minibatch.MiniBatchSGD``): the
softmax cross-entropy (``loss="log_loss"``) or the multi-class SVM loss (``loss="hinge"``), plus
``alpha * R(W)`` with R as SGDClassifier defines it, by mini-batch SGD. The parameter names are
SGDClassifier's where they mean the same; ``max_iter`` is the number of epochs (there is no
stopping on a tolerance: an epoch count is what the lesson varies). Unlike SGDClassifier it keeps
one row of ``coef_`` per class even for two classes (a softmax over both scores).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from regui.core.config import FULL_BATCH
from regui.core.minibatch import MiniBatchSGD, Settings
from regui.core.objective import log_softmax, softmax


class MiniBatchSGDClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier trained on the lesson's objective by mini-batch SGD.

    Parameters
    ----------
    loss : "log_loss" (softmax cross-entropy) or "hinge" (multi-class SVM, Weston-Watkins)
    penalty : "l2", "l1", "elasticnet" or None
    alpha : lambda, the weight of the penalty
    l1_ratio : elastic net's mix, 0 (L2) to 1 (L1)
    batch_size : images per step, or "full" for vanilla gradient descent (one step per epoch)
    eta0 : the learning rate (the first one, under "invscaling")
    learning_rate : "constant", or "invscaling" (eta0 / t ** 0.5, t counting the samples seen, as SGDClassifier)
    max_iter : epochs that ``fit`` trains
    random_state : seed of the shuffles (int, or None for a fresh one per fit)
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions({"log_loss", "hinge"})],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"full"})],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"constant", "invscaling"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        loss="log_loss",
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        batch_size=64,
        eta0=0.01,
        learning_rate="constant",
        max_iter=10,
        random_state=None,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.batch_size = batch_size
        self.eta0 = eta0
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.random_state = random_state

    def _settings(self) -> Settings:
        if isinstance(self.random_state, np.random.RandomState):
            seed = int(self.random_state.randint(np.iinfo(np.int32).max))
        elif self.random_state is None:
            seed = int(np.random.default_rng().integers(2**32))  # a fresh shuffle, as None means
        else:
            seed = int(self.random_state)
        return Settings(
            loss=self.loss,
            penalty=self.penalty or "none",
            alpha=float(self.alpha),
            l1_ratio=float(self.l1_ratio),
            eta0=float(self.eta0),
            learning_rate=self.learning_rate,
            batch_size=FULL_BATCH if self.batch_size == "full" else int(self.batch_size),
            seed=seed,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train ``max_iter`` epochs from zero weights."""
        X, y = validate_data(self, X, y, dtype=np.float64, reset=True)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        self._check_classes()
        self._model = MiniBatchSGD(X.shape[1], len(self.classes_), self._settings())
        for _ in range(self.max_iter):
            self._epoch(X, encoded)
        self.n_iter_ = self.max_iter
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, continuing from the weights so far (``classes`` on the first call)."""
        first = _check_partial_fit_first_call(self, classes)
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        check_classification_targets(y)
        if first:
            self._check_classes()
            self._model = MiniBatchSGD(X.shape[1], len(self.classes_), self._settings())
            self.n_iter_ = 0
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y has classes {unknown.tolist()} not in classes {self.classes_.tolist()}.")
        self._epoch(X, np.searchsorted(self.classes_, y))
        self.n_iter_ += 1
        return self

    def _check_classes(self) -> None:
        if len(self.classes_) < 2:
            raise ValueError(
                f"This solver needs samples of at least 2 classes in the data, but the data contains only one "
                f"class: {self.classes_[0]!r}."
            )

    def _epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        with np.errstate(all="ignore"):  # a diverging run shows as non-finite weights, checked here
            self._model.epoch(X, y)
        if not (np.all(np.isfinite(self._model.weights)) and np.all(np.isfinite(self._model.bias))):
            raise ValueError(
                "The weights became infinite or NaN: lower eta0, or scale the features (e.g. StandardScaler)."
            )
        self.coef_ = self._model.weights.T.copy()
        self.intercept_ = self._model.bias.copy()

    def _scores(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_.T + self.intercept_

    def decision_function(self, X):
        """Each class's score, W x + b; for two classes, as scikit-learn does, the second's minus the first's."""
        check_is_fitted(self)
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[self._scores(X).argmax(axis=1)]

    def _has_proba(self) -> bool:
        return self.loss == "log_loss"

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Softmax of the scores (cross-entropy only: the SVM loss has no probabilities)."""
        return softmax(self._scores(X))

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        return log_softmax(self._scores(X))
