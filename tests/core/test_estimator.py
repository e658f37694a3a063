"""MiniBatchSGDClassifier: a scikit-learn estimator that passes scikit-learn's own checks and
trains exactly what the app and the command line train."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from regui.core.config import TrainConfig
from regui.core.dataset import load_folder
from regui.core.estimator import MiniBatchSGDClassifier
from regui.core.locations import sample_dataset_dir
from regui.core.training import train_epochs


# Every check passes; two are skipped by scikit-learn itself when pandas or SCIPY_ARRAY_API are
# absent (they test input types, not the model).
@parametrize_with_checks([MiniBatchSGDClassifier(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_fit_equals_the_engine_the_app_uses():
    config = TrainConfig(width=8, height=8, color=False, penalty="l1", alpha=0.01, epochs=3, batch_size=32)
    data = load_folder(sample_dataset_dir(), config)
    *_, last = train_epochs(data, config)
    clf = MiniBatchSGDClassifier(
        penalty="l1", alpha=0.01, batch_size=32, eta0=config.eta0, max_iter=3, random_state=config.seed
    ).fit(data.X_train, data.y_train)
    assert np.array_equal(clf.coef_.astype(np.float32), last.coef)
    assert np.array_equal(clf.intercept_, last.intercept)
    assert clf.score(data.X_test, data.y_test) == last.test_accuracy


def test_partial_fit_is_one_epoch_and_needs_the_classes_first():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), np.array(["a", "b"] * 20)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MiniBatchSGDClassifier().partial_fit(X, y)
    one = MiniBatchSGDClassifier(random_state=1, batch_size="full").partial_fit(X, y, classes=["a", "b"])
    two = MiniBatchSGDClassifier(random_state=1, batch_size="full", max_iter=1).fit(X, y)
    assert np.array_equal(one.coef_, two.coef_) and one.coef_.shape == (2, 4)
    proba = one.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1) and set(one.predict(X)) <= {"a", "b"}
    assert not hasattr(MiniBatchSGDClassifier(loss="hinge"), "predict_proba")  # the SVM has no probabilities


def test_importing_it_imports_neither_qt_nor_opencv():
    code = (
        "import sys; from regui import MiniBatchSGDClassifier; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'cv2', 'pyqtgraph'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
