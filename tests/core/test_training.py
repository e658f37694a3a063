import threading

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import hinge_loss, log_loss

from regui.core.config import LESSON
from regui.core.dataset import load_dataset, prepare
from regui.core.errors import ConfigError, TrainingDiverged
from regui.core.records import DIVERGED, FINISHED, STOPPED
from regui.core.runs import run_training
from regui.core.training import decision_values, train_epochs

SMALL = dict(width=6, height=5)


@pytest.fixture
def dataset(make_folder):
    from regui.core.config import ImageSettings

    return load_dataset(make_folder({"a": 20, "b": 16, "c": 14}), ImageSettings(**SMALL))


def data_for(dataset, config):
    return prepare(dataset, config.split)


def reference_epochs(data, config):
    """The same training written directly against scikit-learn, epoch by epoch."""
    clf = SGDClassifier(
        loss=config.loss,
        penalty=None if config.penalty == "none" else config.penalty,
        alpha=config.alpha,
        l1_ratio=config.l1_ratio,
        learning_rate=config.learning_rate,
        eta0=config.eta0,
        random_state=np.random.RandomState(config.seed),
    )
    classes = np.unique(data.y_train)
    for _ in range(config.epochs):
        clf.partial_fit(data.X_train, data.y_train, classes=classes)
        yield clf


@pytest.mark.parametrize(
    "changes",
    [
        dict(penalty="none"),
        dict(penalty="l2", alpha=0.01),
        dict(penalty="l1", alpha=0.003),
        dict(penalty="elasticnet", alpha=0.01, l1_ratio=0.3),
        dict(penalty="l2", alpha=0.001, loss="hinge"),
        dict(penalty="l2", alpha=0.001, learning_rate="invscaling", scaling="standard"),
        dict(penalty="l1", alpha=0.001, learning_rate="optimal"),
        dict(penalty="none", scaling="raw", eta0=0.01),  # the lesson: sigmoids underflow to 0
        dict(penalty="l2", scaling="raw", eta0=0.01, loss="hinge"),
    ],
)
def test_epoch_records_match_a_direct_scikit_learn_computation(dataset, changes):
    config = LESSON.with_(epochs=6, scaling="unit", eta0=0.05, **SMALL).with_(**changes)
    data = data_for(dataset, config)
    records = list(train_epochs(data, config))
    assert [r.epoch for r in records] == list(range(1, 7))
    for record, clf in zip(records, reference_epochs(data, config)):
        W = clf.coef_
        assert np.array_equal(record.coef, W.astype(np.float32))
        assert np.array_equal(record.intercept, clf.intercept_)
        assert record.train_accuracy == clf.score(data.X_train, data.y_train)
        assert record.test_accuracy == clf.score(data.X_test, data.y_test)
        if config.loss == "log_loss":
            train_loss = log_loss(data.y_train, clf.predict_proba(data.X_train), labels=[0, 1, 2])
            test_loss = log_loss(data.y_test, clf.predict_proba(data.X_test), labels=[0, 1, 2])
        else:
            train_loss = hinge_loss(data.y_train, clf.decision_function(data.X_train), labels=[0, 1, 2])
            test_loss = hinge_loss(data.y_test, clf.decision_function(data.X_test), labels=[0, 1, 2])
        assert record.train_loss == pytest.approx(train_loss, rel=1e-12)
        assert record.test_loss == pytest.approx(test_loss, rel=1e-12)
        r = {
            "none": 0.0,
            "l2": 0.5 * np.sum(W**2),
            "l1": np.sum(np.abs(W)),
            "elasticnet": 0.5 * (1 - config.l1_ratio) * np.sum(W**2) + config.l1_ratio * np.sum(np.abs(W)),
        }[config.penalty]
        assert record.penalty == pytest.approx(config.alpha * r, rel=1e-12)
        assert record.objective == pytest.approx(record.train_loss + record.penalty, rel=1e-15)
        assert record.weight_l2 == pytest.approx(np.linalg.norm(W), rel=1e-12)
        assert record.weight_l1 == pytest.approx(np.abs(W).sum(), rel=1e-12)
        assert record.zero_fraction == np.count_nonzero(W == 0) / W.size
        # The snapshot's predictions are scikit-learn's, and so is their confidence.
        assert np.array_equal(record.test_pred, clf.predict(data.X_test))
        if config.loss == "log_loss":
            proba = clf.predict_proba(data.X_test)
            expected = proba[np.arange(len(proba)), clf.predict(data.X_test)]
        else:
            ranked = np.sort(clf.decision_function(data.X_test), axis=1)
            expected = ranked[:, -1] - ranked[:, -2]
        assert np.allclose(record.test_confidence, expected, rtol=1e-6, atol=1e-30)


def test_each_epoch_reshuffles(dataset):
    # With an int seed scikit-learn would replay one order every epoch; check that it does not.
    config = LESSON.with_(epochs=2, scaling="unit", **SMALL)
    data = data_for(dataset, config)
    replay = SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant", eta0=0.01, random_state=12)
    for _ in range(2):
        replay.partial_fit(data.X_train, data.y_train, classes=[0, 1, 2])
    ours = list(train_epochs(data, config))[-1]
    assert not np.array_equal(ours.coef, replay.coef_.astype(np.float32))


def test_l1_with_a_large_lambda_zeroes_weights_and_l2_does_not(dataset):
    base = LESSON.with_(epochs=5, scaling="unit", alpha=0.05, **SMALL)
    l1 = list(train_epochs(data_for(dataset, base), base.with_(penalty="l1")))[-1]
    l2 = list(train_epochs(data_for(dataset, base), base.with_(penalty="l2")))[-1]
    assert l1.zero_fraction > 0.5
    assert l2.zero_fraction == 0.0


def test_same_config_and_seed_give_bit_identical_records(dataset):
    config = LESSON.with_(penalty="elasticnet", alpha=0.001, epochs=5, scaling="standard", **SMALL)
    one = list(train_epochs(data_for(dataset, config), config))
    two = list(train_epochs(data_for(dataset, config), config, n_jobs=2))
    assert one == two  # every metric, exactly (wall time and weights are compared below)
    for a, b in zip(one, two):
        assert np.array_equal(a.coef, b.coef) and np.array_equal(a.intercept, b.intercept)
    other_seed = list(train_epochs(data_for(dataset, config), config.with_(seed=13)))
    assert not np.array_equal(other_seed[-1].coef, one[-1].coef)


@pytest.mark.parametrize("overlap", [True, False])
def test_overlapping_the_next_pass_or_not_gives_the_same_numbers(dataset, overlap):
    config = LESSON.with_(penalty="l1", alpha=0.001, epochs=4, scaling="standard", **SMALL)
    helpers = set()

    def look_for_the_helper():
        helpers.update(t.name for t in threading.enumerate() if t.name.startswith("regui-sgd"))
        return False

    plain = list(train_epochs(data_for(dataset, config), config, look_for_the_helper, overlap=overlap))
    assert bool(helpers) == overlap
    reference = list(train_epochs(data_for(dataset, config), config, overlap=not overlap))
    assert plain == reference
    assert all(np.array_equal(a.coef, b.coef) for a, b in zip(plain, reference))


@pytest.mark.parametrize("n_rows, n_classes", [(1000, 3), (64, 4), (65, 2), (7, 3)])
def test_decision_values_in_blocks_equal_one_product_up_to_rounding(n_rows, n_classes):
    """Rows are multiplied in blocks; every row must be there, within float64 rounding of
    scikit-learn's single product (and of an exact long-double reference)."""
    rng = np.random.default_rng(n_rows)
    X = rng.integers(0, 256, size=(n_rows, 300)).astype(np.float64)  # raw pixels: large sums
    coef = rng.normal(scale=0.05, size=(1 if n_classes == 2 else n_classes, 300))
    intercept = rng.normal(size=len(coef))
    clf = SGDClassifier().fit(rng.normal(size=(8, 300)), np.arange(8) % n_classes)
    clf.coef_, clf.intercept_ = coef, intercept
    ours = decision_values(X, coef, intercept)
    theirs = clf.decision_function(X).reshape(n_rows, -1)
    exact = (X.astype(np.longdouble) @ coef.T.astype(np.longdouble) + intercept).astype(np.float64)
    scale = np.abs(X) @ np.abs(coef.T)  # the size of the terms summed: the rounding is relative to it
    assert np.all(np.abs(ours - exact) <= 1e-13 * scale)
    assert np.all(np.abs(ours - theirs) <= 1e-13 * scale)


def test_metrics_cover_more_rows_than_one_block(make_folder):
    from regui.core.config import ImageSettings

    ds = load_dataset(make_folder({"a": 70, "b": 60, "c": 50}), ImageSettings(**SMALL))
    config = LESSON.with_(epochs=3, penalty="l2", alpha=0.001, scaling="raw", **SMALL)
    data = data_for(ds, config)
    assert len(data.y_train) > 128
    record = list(train_epochs(data, config))[-1]
    clf = list(reference_epochs(data, config))[-1]
    assert record.train_accuracy == clf.score(data.X_train, data.y_train)
    assert record.test_accuracy == clf.score(data.X_test, data.y_test)
    assert record.train_loss == pytest.approx(log_loss(data.y_train, clf.predict_proba(data.X_train)), rel=1e-12)


def test_records_are_frozen_snapshots(dataset):
    config = LESSON.with_(epochs=3, scaling="unit", **SMALL)
    records = list(train_epochs(data_for(dataset, config), config))
    assert not np.array_equal(records[0].coef, records[-1].coef)  # not one shared array
    assert records[0].coef.dtype == np.float32 and not records[0].coef.flags.writeable
    with pytest.raises(AttributeError):
        records[0].test_accuracy = 1.0


@pytest.mark.parametrize("overlap", [True, False])
def test_stop_ends_after_the_current_epoch(dataset, overlap):
    config = LESSON.with_(epochs=50, scaling="unit", **SMALL)
    stop = threading.Event()
    record = run_training(
        data_for(dataset, config),
        config,
        should_stop=stop.is_set,
        on_epoch=lambda e: stop.set() if e.epoch == 3 else None,
        overlap=overlap,
    )
    assert record.status == STOPPED and len(record.epochs) == 3
    assert "after epoch 3 of 50" in record.message
    assert record.status_text() == "stopped at epoch 3"


@pytest.mark.parametrize("overlap", [True, False])
def test_divergence_ends_the_run_with_advice(dataset, overlap, allow_divergence):
    config = LESSON.with_(epochs=20, eta0=1e150, loss="hinge", scaling="raw", **SMALL)
    with pytest.raises(TrainingDiverged) as info:
        list(train_epochs(data_for(dataset, config), config, overlap=overlap))
    assert "learning rate" in str(info.value) and "scale pixels" in str(info.value)
    record = run_training(data_for(dataset, config), config)
    assert record.status == DIVERGED and "diverged at epoch" in record.message
    assert len(record.epochs) == info.value.epoch - 1


def test_a_finished_run_record(dataset):
    config = LESSON.with_(epochs=4, scaling="unit", penalty="l2", alpha=0.01, **SMALL)
    record = run_training(data_for(dataset, config), config, name="x", dataset_summary=dataset.summary())
    assert record.status == FINISHED and len(record.epochs) == 4
    row = record.summary_row()
    assert row["test_accuracy"] == record.final.test_accuracy
    assert row["penalty_term"] == record.final.penalty and row["penalty"] == "l2"
    assert row["chosen_epoch"] is None and row["chosen_test_accuracy"] is None  # no validation part: no choice
    assert row["n_train"] + row["n_test"] == dataset.n_images


def test_an_l2_step_that_zeroes_the_weights_is_refused_and_what_it_would_do(dataset):
    """lr x lambda >= 1: scikit-learn zeroes the weights before every sample (its L2 step would
    cross 0), so the model holds just the last sample's step. Refused with that explanation;
    just below it, training runs. Schedules that shrink the rate are left to run."""
    config = LESSON.with_(epochs=3, penalty="l2", eta0=1e4, alpha=1e-4, **SMALL)
    data = data_for(dataset, config)
    with pytest.raises(ConfigError, match="learns nothing"):
        config.validate()
    clf = list(reference_epochs(data, config))[-1]
    for row in clf.coef_:  # each class's weights: zero, or one training image times a step
        if np.any(row):
            cosines = data.X_train @ row / (np.linalg.norm(data.X_train, axis=1) * np.linalg.norm(row))
            assert np.abs(cosines).max() == pytest.approx(1.0, abs=1e-9)
    config.with_(eta0=0.9e4).validate()
    config.with_(learning_rate="invscaling").validate()
    config.with_(penalty="l1").validate()


def test_binary_problem(make_folder):
    from regui.core.config import ImageSettings

    ds = load_dataset(make_folder({"neg": 12, "pos": 12}), ImageSettings(**SMALL))
    config = LESSON.with_(epochs=3, scaling="unit", penalty="l2", **SMALL)
    data = data_for(ds, config)
    records = list(train_epochs(data, config))
    clf = list(reference_epochs(data, config))[-1]
    assert records[-1].coef.shape == (1, 90)
    assert records[-1].test_accuracy == clf.score(data.X_test, data.y_test)
    assert records[-1].test_loss == pytest.approx(log_loss(data.y_test, clf.predict_proba(data.X_test)), rel=1e-10)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(penalty="l3"), "Unknown penalty"),
        (dict(alpha=-1.0), r"Lambda \(alpha\) must be from 1e-7 to 1e4 \(got -1\)"),
        (dict(alpha=float("nan")), "Lambda"),
        (dict(alpha=5e4), r"Lambda \(alpha\) must be from 1e-7 to 1e4 \(got 5e4\)"),
        (dict(epochs=0), "Epochs must be from 1 to 100,000"),
        (dict(epochs=2.5), "Epochs must be a whole number"),
        (dict(eta0=0.0), "The learning rate must be from 1e-6 to 1e4"),
        (dict(eta0=1e9), r"The learning rate must be from 1e-6 to 1e4 \(got 1e9\)"),
        (dict(l1_ratio=1.5), "The L1 ratio must be from 0 to 1"),
        (dict(learning_rate="adaptive"), "schedule"),
        (dict(learning_rate="optimal", alpha=0.0), "Lambda"),
        (dict(test_size=0.0), "test fraction"),
        (dict(width=0), "width"),
        (dict(penalty="l2", eta0=1e4, alpha=1e-4), "learns nothing"),
        (dict(penalty="elasticnet", eta0=100.0, alpha=0.02, l1_ratio=0.5), "is 1: at 1 or more"),
    ],
)
def test_invalid_settings_are_explained(changes, message):
    with pytest.raises(ConfigError, match=message):
        LESSON.with_(**changes).validate()


def test_data_prepared_for_other_settings_is_refused(dataset):
    config = LESSON.with_(epochs=1, scaling="unit", **SMALL)
    with pytest.raises(ConfigError, match="other image or split settings"):
        list(train_epochs(data_for(dataset, config), config.with_(scaling="raw")))


def test_raw_pixel_runs_reach_the_underflow_case_the_loss_must_match(dataset):
    """With raw pixels some rows have every one-vs-rest sigmoid at 0; scikit-learn then makes the
    row uniform. The recorded loss must follow it (checked against log_loss above)."""
    config = LESSON.with_(epochs=3, scaling="raw", eta0=0.01, **SMALL)
    data = data_for(dataset, config)
    clf = list(reference_epochs(data, config))[-1]
    from scipy.special import expit

    assert (expit(clf.decision_function(data.X_train)).sum(axis=1) == 0).any()


def test_binary_hinge_loss_with_one_class_in_the_test_part():
    from regui.core.training import data_loss

    decision = np.array([2.0, 0.5, -1.0])
    y = np.array([1, 1, 1])  # every test sample is class 1 (+1)
    assert data_loss(decision, y, "hinge") == pytest.approx((0 + 0.5 + 2.0) / 3)
    y0 = np.array([0, 0, 0])  # every test sample is class 0 (-1)
    assert data_loss(decision, y0, "hinge") == pytest.approx((3.0 + 1.5 + 0.0) / 3)


def test_scikit_learns_overflow_error_becomes_divergence(dataset, monkeypatch):
    config = LESSON.with_(epochs=5, scaling="unit", **SMALL)
    calls = []

    def overflowing(self, X, y, classes=None, sample_weight=None):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("Floating-point under-/overflow occurred at epoch #1. Scaling input data ...")
        return original(self, X, y, classes=classes)

    original = SGDClassifier.partial_fit
    monkeypatch.setattr(SGDClassifier, "partial_fit", overflowing)
    record = run_training(data_for(dataset, config), config)
    assert record.status == DIVERGED and len(record.epochs) == 1
    assert "diverged at epoch 2" in record.message and "learning rate" in record.message


def test_other_value_errors_are_not_mistaken_for_divergence(dataset, monkeypatch):
    config = LESSON.with_(epochs=2, scaling="unit", **SMALL)

    def broken(self, *args, **kwargs):
        raise ValueError("something else entirely")

    monkeypatch.setattr(SGDClassifier, "partial_fit", broken)
    with pytest.raises(ValueError, match="something else"):
        run_training(data_for(dataset, config), config)


def test_stop_does_not_wait_for_the_next_pass(dataset, monkeypatch):
    """Stopping ends the run right after the epoch just reported, even if the next SGD pass
    (already started on the helper thread) is slow."""
    import time

    config = LESSON.with_(epochs=10, scaling="unit", **SMALL)
    original = SGDClassifier.partial_fit

    def slow_after_first(self, *args, **kwargs):
        if getattr(self, "t_", 1.0) > 1.0:
            time.sleep(3.0)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SGDClassifier, "partial_fit", slow_after_first)
    stop = threading.Event()
    started = time.perf_counter()
    record = run_training(data_for(dataset, config), config, should_stop=stop.is_set, on_epoch=lambda e: stop.set())
    assert record.status == STOPPED and len(record.epochs) == 1
    assert time.perf_counter() - started < 1.5


def test_divergence_under_the_optimal_schedule_advises_what_it_uses(make_folder, monkeypatch):
    from regui.core import config as settings

    monkeypatch.setitem(settings.LIMITS, "alpha", (1e-300, 1e4))  # no front end takes it: the engine's net
    from regui.core.dataset import load_dataset, prepare
    from regui.core.runs import run_training

    config = LESSON.with_(width=6, height=5, learning_rate="optimal", alpha=1e-200, epochs=3)
    dataset = load_dataset(make_folder({"a": 8, "b": 8}), config.image)
    record = run_training(prepare(dataset, config.split), config)
    assert record.status == "diverged"
    # Its step is 1 / (lambda (t + t0)): the learning rate eta0 plays no part in it.
    assert "raise lambda (now 1e-200" in record.message and "learning rate (now" not in record.message


def test_run_training_refuses_bad_settings_before_any_epoch(dataset):
    config = LESSON.with_(epochs=3, **SMALL)
    seen = []
    with pytest.raises(ConfigError, match="learning rate"):
        run_training(data_for(dataset, config), config.with_(eta0=-1.0), on_epoch=seen.append)
    assert seen == []
