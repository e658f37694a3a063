"""regui's engine: the lesson's losses and their gradients, checked against finite differences,
scikit-learn's optimum and the optimality conditions of L1, and its runs end to end."""

import threading

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from regui.core.config import FULL_BATCH, TrainConfig
from regui.core.dataset import load_folder, prepare
from regui.core.locations import sample_dataset_dir
from regui.core.minibatch import BATCH_LOSSES_PER_EPOCH, MiniBatchSGD, Settings, _kept_steps
from regui.core.objective import (
    loss_and_gradient,
    mean_data_loss,
    model_sums,
    one_row_loss_and_gradient,
    penalty_value,
    soft_threshold,
)
from regui.core.runs import run_training
from regui.core.training import train_epochs

# The bundled sample at its digits' own size, pixels in [0, 1]: small enough to converge in tests.
DIGITS = TrainConfig(width=8, height=8, color=False, scaling="unit")


@pytest.fixture(scope="module")
def digits():
    return load_folder(sample_dataset_dir(), DIGITS)


def objective(X, y, W, b, loss, penalty="none", alpha=0.0, l1_ratio=0.15):
    """L = mean data loss + alpha R(W), straight from the definitions (a loop over samples)."""
    total = 0.0
    for x, label in zip(X, y):
        s = x @ W + b
        if loss == "log_loss":
            total += -s[label] + np.log(np.sum(np.exp(s)))
        else:
            total += sum(max(0.0, s[j] - s[label] + 1) for j in range(len(s)) if j != label)
    return total / len(y) + penalty_value(W, penalty, alpha, l1_ratio)


@pytest.mark.parametrize("loss", ["log_loss", "hinge"])
@pytest.mark.parametrize("penalty", ["none", "l2", "elasticnet"])
def test_gradients_match_finite_differences(loss, penalty):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 4, 7)
    W, b = rng.normal(size=(5, 4)), rng.normal(size=4)
    alpha, r = 0.3, 0.4
    value, grad_scores = loss_and_gradient(X @ W + b, y, loss)
    assert value == pytest.approx(objective(X, y, W, b, loss), rel=1e-12)
    smooth = {"l2": alpha, "elasticnet": alpha * (1 - r)}.get(penalty, 0.0)
    grad_w = X.T @ grad_scores + smooth * W
    grad_b = grad_scores.sum(axis=0)

    def smooth_objective(W, b):  # the penalty's smooth part only: L1 is taken by the prox step
        return objective(X, y, W, b, loss) + 0.5 * smooth * np.sum(W**2)

    h = 1e-6
    for i in range(5):
        for j in range(4):
            step = np.zeros_like(W)
            step[i, j] = h
            numeric = (smooth_objective(W + step, b) - smooth_objective(W - step, b)) / (2 * h)
            assert grad_w[i, j] == pytest.approx(numeric, abs=1e-6)
    for j in range(4):
        step = np.zeros(4)
        step[j] = h
        numeric = (smooth_objective(W, b + step) - smooth_objective(W, b - step)) / (2 * h)
        assert grad_b[j] == pytest.approx(numeric, abs=1e-6)
    # One sample at a time (the per-sample path) gives the same values.
    one_value, one_grad = one_row_loss_and_gradient(X[0] @ W + b, int(y[0]), loss)
    many_value, many_grad = loss_and_gradient((X[0] @ W + b)[None, :], y[:1], loss)
    assert one_value == pytest.approx(many_value, rel=1e-12) and np.allclose(one_grad, many_grad[0])


def test_cross_entropy_is_stable_for_raw_pixel_scores():
    scores = np.array([[2.0e4, -3.0e4, 1.0e4]])  # exp() of these overflows
    value, grad = loss_and_gradient(scores, np.array([1]), "log_loss")
    assert value == pytest.approx(5.0e4) and np.all(np.isfinite(grad))


def test_the_svm_loss_at_zero_weights_is_classes_minus_one_and_descends(digits):
    X, y = digits.X_train, digits.y_train
    zero = np.zeros((X.shape[1], 10))
    assert mean_data_loss(X @ zero, y, "hinge") == 9.0  # C - 1: every wrong class's margin is 1
    model = MiniBatchSGD(X.shape[1], 10, Settings(loss="hinge", penalty="l2", alpha=1e-3, eta0=1e-3, batch_size=0))
    values = [objective(X[:200], y[:200], model.weights, model.bias, "hinge", "l2", 1e-3)]
    for _ in range(5):
        model.step(X[:200], y[:200], np.arange(200))
        values.append(objective(X[:200], y[:200], model.weights, model.bias, "hinge", "l2", 1e-3))
    assert values[0] == 9.0 and all(after < before for before, after in zip(values, values[1:]))


def test_full_batch_descent_with_l2_reaches_logistic_regressions_optimum(digits):
    lam = 0.05
    config = DIGITS.with_(penalty="l2", alpha=lam, eta0=1.0, batch_size=FULL_BATCH, epochs=1500)
    *_, last = train_epochs(digits, config)
    X, y = digits.X_train, digits.y_train
    # scikit-learn's multinomial LogisticRegression minimizes sum of losses + 1/(2C) ||W||^2:
    # with C = 1 / (lambda n) that is n times mean loss + lambda/2 ||W||^2, intercept unpenalized.
    reference = LogisticRegression(C=1 / (lam * len(y)), tol=1e-12, max_iter=10_000).fit(X, y)
    best = objective(X, y, reference.coef_.T, reference.intercept_, "log_loss", "l2", lam)
    assert last.objective == pytest.approx(best, rel=1e-6)
    assert last.objective >= best * (1 - 1e-9)  # never below the optimum
    # ... and the same weights (to float32, as the record keeps them), not just as good ones.
    W = last.coef.astype(np.float64)
    assert np.max(np.abs(W - reference.coef_)) <= 1e-3 * np.max(np.abs(reference.coef_))


def test_proximal_steps_reach_the_l1_optimum_with_exact_zeros(digits):
    lam = 0.02
    X, y = digits.X_train, digits.y_train
    model = MiniBatchSGD(X.shape[1], 10, Settings(penalty="l1", alpha=lam, eta0=1.5, batch_size=FULL_BATCH))
    for _ in range(2500):
        model.epoch(X, y)
    W, b = model.weights, model.bias
    _, grad_scores = loss_and_gradient(X @ W + b, y, "log_loss")
    grad = X.T @ grad_scores
    zero = W == 0
    assert 0.2 < zero.mean() < 0.95  # a real share of the weights, exactly 0
    # Optimality of mean loss + lambda ||W||_1: a zero weight's gradient is within [-lambda, lambda],
    # a non-zero weight's gradient is -lambda sign(w); the intercepts' gradient is 0.
    assert np.all(np.abs(grad[zero]) <= lam + 1e-5)
    assert np.allclose(grad[~zero], -lam * np.sign(W[~zero]), atol=1e-5)
    assert np.allclose(grad_scores.sum(axis=0), 0, atol=1e-5)


def test_soft_threshold_stops_at_exactly_zero():
    w = np.array([0.5, -0.5, 0.05, -0.05, 0.0])
    soft_threshold(w, 0.1)
    assert np.array_equal(w, [0.4, -0.4, 0.0, 0.0, 0.0])


def test_soft_threshold_is_the_textbook_formula_to_the_last_bit():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((50, 40)) * 10.0 ** rng.integers(-6, 2, (50, 40))
    threshold = 10.0 ** rng.integers(-6, 1, (50, 1))  # one per row, as one per model in a stack
    expected = np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0)
    soft_threshold(w, threshold)
    assert np.array_equal(w, expected)
    assert 0.1 < np.mean(w == 0) < 0.9  # both sides of the threshold were tried


def test_epochs_take_every_image_once_including_the_last_partial_batch():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    model = MiniBatchSGD(3, 2, Settings(batch_size=4, eta0=0.1))
    seen = []
    original = model.stack.step
    model.stack.step = lambda X, y, batch, *a, **k: seen.append(np.array(batch)) or original(X, y, batch, *a, **k)
    losses = model.epoch(X, y)
    assert [len(b) for b in seen] == [4, 4, 2] and sorted(np.concatenate(seen)) == list(range(10))
    assert len(losses) == 3 and model.seen == 10
    seen.clear()
    model.epoch(X, y)
    assert not np.array_equal(np.concatenate(seen), np.arange(10))  # a fresh shuffle each epoch


def test_batch_losses_are_the_objective_before_each_step(digits):
    # Full batch: one step an epoch, whose loss is the whole objective at the weights before it,
    # i.e. the previous epoch's reported objective (log 10 at zero weights, for the first).
    config = DIGITS.with_(penalty="l2", alpha=0.01, eta0=0.5, batch_size=FULL_BATCH, epochs=4)
    records = list(train_epochs(digits, config))
    assert records[0].batch_losses.tolist() == pytest.approx([np.log(10)], rel=1e-6)
    for before, now in zip(records, records[1:]):
        assert now.batch_losses.tolist() == pytest.approx([before.objective], rel=1e-6)
    # Per-sample SGD over 1,347 images keeps an evenly spread BATCH_LOSSES_PER_EPOCH of them.
    [one] = train_epochs(digits, config.with_(batch_size=1, eta0=0.01, epochs=1))
    assert len(one.batch_losses) == BATCH_LOSSES_PER_EPOCH and np.all(np.isfinite(one.batch_losses))


def test_same_seed_same_numbers_bit_for_bit_with_any_blas_threads(digits):
    config = DIGITS.with_(penalty="elasticnet", alpha=0.01, batch_size=32, epochs=3, eta0=0.1)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            runs.append(list(train_epochs(digits, config)))
    for a, b in zip(*runs):
        assert a == b and np.array_equal(a.coef, b.coef) and np.array_equal(a.batch_losses, b.batch_losses)
    other = list(train_epochs(digits, config.with_(seed=13)))
    assert other[-1].objective != runs[0][-1].objective  # the seed is the shuffle


def reference_step(W, b, Xb, yb, s, eta):
    """One step written out from the lesson's rule, with numpy only: (batch objective before, W, b)."""
    rows = np.arange(len(yb))
    S = Xb @ W + b
    if s.loss == "log_loss":
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(P[rows, yb]))
        G = P.copy()
        G[rows, yb] -= 1
    else:
        M = np.maximum(0, S - S[rows, yb][:, None] + 1)
        M[rows, yb] = 0
        value = M.sum() / len(yb)
        G = (M > 0).astype(float)
        G[rows, yb] = -G.sum(axis=1)
    G /= len(yb)
    value += penalty_value(W, s.penalty, s.alpha, s.l1_ratio)
    l2 = {"l2": s.alpha, "elasticnet": s.alpha * (1 - s.l1_ratio)}.get(s.penalty, 0.0)
    l1 = {"l1": s.alpha, "elasticnet": s.alpha * s.l1_ratio}.get(s.penalty, 0.0)
    W = W - eta * (Xb.T @ G + l2 * W)
    W = np.sign(W) * np.maximum(np.abs(W) - eta * l1, 0)  # the proximal step of eta * l1 * ||W||_1
    return value, W, b - eta * G.sum(axis=0)


@pytest.mark.parametrize("loss", ["log_loss", "hinge"])
@pytest.mark.parametrize("penalty", ["none", "l2", "l1", "elasticnet"])
@pytest.mark.parametrize("schedule", ["constant", "invscaling"])
@pytest.mark.parametrize("batch", [1, 7, 64, 200, FULL_BATCH])
def test_every_step_is_the_lessons_update(loss, penalty, schedule, batch):
    rng = np.random.default_rng(0)
    n, d, C = 150, 7, 4
    X, y = rng.normal(size=(n, d)), rng.integers(0, C, n)
    s = Settings(
        loss=loss, penalty=penalty, alpha=0.05, l1_ratio=0.3, eta0=0.1, learning_rate=schedule, batch_size=batch, seed=3
    )
    model = MiniBatchSGD(d, C, s)
    W, b, seen = np.zeros((d, C)), np.zeros(C), 0
    shuffles = np.random.default_rng(3)  # the engine's shuffle stream, as documented: the seed's Generator
    size = n if batch == FULL_BATCH else min(batch, n)
    for _ in range(3):
        order = shuffles.permutation(n) if size < n else np.arange(n)
        values = []
        for k in range(-(-n // size)):
            rows = order[k * size : (k + 1) * size]
            eta = 0.1 / (seen + 1) ** 0.5 if schedule == "invscaling" else 0.1
            value, W, b = reference_step(W, b, X[rows], y[rows], s, eta)
            values.append(value)
            seen += len(rows)
        kept = model.epoch(X, y)
        assert np.allclose(kept, np.array(values)[_kept_steps(len(values))], rtol=1e-10)
        assert np.allclose(model.weights, W, rtol=1e-9, atol=1e-12)
        assert np.allclose(model.bias, b, rtol=1e-9, atol=1e-12)


def test_stop_is_seen_between_mini_batches(digits, monkeypatch):
    monkeypatch.setattr("regui.core.progress.STOP_CHECK_SECONDS", 0.0)  # ask before every step
    asked = threading.Event()
    calls = []

    def should_stop():
        calls.append(1)
        if len(calls) == 50:
            asked.set()
        return asked.is_set()

    config = DIGITS.with_(batch_size=1, epochs=3, eta0=0.01)
    record = run_training(digits, config, should_stop=should_stop)
    # Stopped within the first epoch (1,347 steps): that half epoch is not reported as one.
    assert record.status == "stopped" and record.epochs == [] and len(calls) == 50
    assert record.message == "Stopped on request before its first epoch (of 3) ended."


def test_a_stop_request_is_asked_for_at_most_every_few_milliseconds(digits):
    calls = []
    record = run_training(digits, DIGITS.with_(batch_size=1, epochs=2, eta0=0.01), should_stop=lambda: calls.append(1))
    # 2 x 1,347 steps, asked before each epoch and then at most every STOP_CHECK_SECONDS.
    assert record.status == "finished" and 2 <= len(calls) < 2 * 1347 / 10


def test_the_engine_reports_exactly_its_own_numbers(digits):
    config = DIGITS.with_(penalty="l1", alpha=0.01, batch_size=64, epochs=3, eta0=0.1, loss="hinge")
    *_, last = train_epochs(digits, config)
    W, b = last.coef.astype(np.float64).T, last.intercept
    X, y = digits.X_train, digits.y_train
    # The weights are float32 in the record: the loss from them agrees to float32 precision.
    assert last.train_loss == pytest.approx(objective(X, y, W, b, "hinge"), rel=1e-5)
    assert last.penalty == pytest.approx(penalty_value(W, "l1", 0.01, 0.15), rel=1e-5)
    scores = digits.X_test @ W + b
    assert np.array_equal(last.test_pred, scores.argmax(axis=1))
    assert last.test_accuracy == np.mean(scores.argmax(axis=1) == digits.y_test)
    assert last.zero_fraction == np.mean(last.coef == 0) > 0


def test_two_classes_keep_a_row_per_class(make_folder):
    from regui.core.dataset import load_dataset

    config = TrainConfig(width=6, height=5, epochs=3, batch_size=8)
    data = prepare(load_dataset(make_folder({"cats": 10, "dogs": 10}), config.image), config.split)
    *_, last = train_epochs(data, config)
    assert last.coef.shape == (2, 90) and last.intercept.shape == (2,)
    # Probabilities of the softmax over both scores, the predicted one's as the confidence.
    scores = data.X_test @ last.coef.astype(np.float64).T + last.intercept
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.allclose(last.test_confidence, p.max(axis=1), rtol=1e-5)


def test_diverging_steps_end_the_run_with_advice(digits):
    # Decaying from a rate at which every L2 step multiplies W by 1 - 1e4 x 1: the weights blow up
    # within the first epoch, long before the rate is small enough.
    config = DIGITS.with_(eta0=1e4, alpha=1.0, penalty="l2", learning_rate="invscaling", epochs=5, batch_size=8)
    record = run_training(digits, config)
    assert record.status == "diverged" and record.epochs == []
    assert "lower the learning rate (now 10000)" in record.message and "epoch 1" in record.message


def test_a_rate_that_makes_every_l2_step_overshoot_is_refused():
    from regui.core.errors import ConfigError

    with pytest.raises(ConfigError, match="at 2 or more every step multiplies the weights by -1"):
        TrainConfig(penalty="l2", alpha=2.0, eta0=1.0).validate()
    TrainConfig(penalty="l2", alpha=1.9, eta0=1.0).validate()  # shrinks by a factor -0.9: it settles


def test_settings_only_scikit_learn_has_are_refused():
    from regui.core.errors import ConfigError

    with pytest.raises(ConfigError, match="'optimal' learning-rate schedule is scikit-learn's SGDClassifier's"):
        TrainConfig(learning_rate="optimal").validate()
    with pytest.raises(ConfigError, match="batch size"):
        TrainConfig(batch_size=-3).validate()
    assert TrainConfig(engine="sgdclassifier", batch_size=64).batch_size == 1  # it steps once per image


def test_kept_batch_losses_start_each_epoch_and_sit_where_their_step_began():
    from regui.core.records import batch_loss_positions

    assert _kept_steps(5).tolist() == [0, 1, 2, 3, 4]
    kept = _kept_steps(2250)  # per-sample SGD on the Animals photos' training part
    assert len(kept) == BATCH_LOSSES_PER_EPOCH and kept[0] == 0 and kept[-1] < 2250
    assert np.all(np.diff(kept) >= 17) and np.all(np.diff(kept) <= 18)  # evenly spread
    assert batch_loss_positions(3, 4).tolist() == [2.0, 2.25, 2.5, 2.75]


@pytest.mark.parametrize("batch_size", [1, 7, 64, 150, FULL_BATCH])
@pytest.mark.parametrize("loss", ["log_loss", "hinge"])
def test_a_model_in_a_stack_has_exactly_its_numbers_alone(batch_size, loss):
    """Bit for bit, wherever it sits and whatever else is in the stack (and after others leave)."""
    from regui.core.minibatch import SGDStack

    rng = np.random.default_rng(3)
    X = rng.normal(size=(203, 3072 if batch_size == 64 else 40))  # the Animals photos' width once
    classes = 10 if batch_size in (7, 150) else 3  # sums over classes: short and longer rows
    y = rng.integers(0, classes, 203)
    schedule = "invscaling" if batch_size == 7 else "constant"
    models = [
        Settings(loss=loss, penalty=p, alpha=a, eta0=e, batch_size=batch_size, seed=4, learning_rate=schedule)
        for p, a, e in [("none", 1e-4, 0.05), ("l1", 1e-2, 0.02), ("l2", 1e-1, 0.05), ("elasticnet", 1e-2, 0.01)]
    ]
    alone = []
    for settings in models:
        model = MiniBatchSGD(X.shape[1], classes, settings)
        losses = [model.epoch(X, y) for _ in range(2)]
        alone.append((model.weights.copy(), model.bias.copy(), losses))
    # A model may even sit twice; 19 models: a product as wide as a sweep's block.
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 2, 0], [k % 4 for k in range(19)]):
        stack = SGDStack(X.shape[1], classes, [models[k] for k in order])
        losses = [stack.epoch(X, y) for _ in range(2)]
        for slot, k in enumerate(order):
            assert np.array_equal(stack.weights[slot], alone[k][0]) and np.array_equal(stack.bias[slot], alone[k][1])
            assert all(np.array_equal(losses[e][slot], alone[k][2][e], equal_nan=True) for e in range(2))
    # A model leaving the stack (stopped, diverged) changes nothing for the others.
    stack = SGDStack(X.shape[1], classes, models)
    stack.epoch(X, y)
    stack.keep([1, 3])
    stack.epoch(X, y)
    assert np.array_equal(stack.weights[0], alone[1][0]) and np.array_equal(stack.weights[1], alone[3][0])


def test_a_stacks_penalties_are_each_models_penalty_value_bit_for_bit():
    from regui.core.minibatch import SGDStack

    rng = np.random.default_rng(5)
    settings = [
        Settings(penalty=p, alpha=a, l1_ratio=r)
        for p in ("none", "l1", "l2", "elasticnet")
        for a in (1e-3, 0.7)
        for r in (0.15, 0.6)
    ]
    for models in (settings, [s for s in settings if s.penalty == "l1"], [s for s in settings if s.penalty == "l2"]):
        stack = SGDStack(3072, 3, models)
        stack.weights[:] = rng.standard_normal(stack.weights.shape)
        expected = [penalty_value(w, s.penalty, s.alpha, s.l1_ratio) for w, s in zip(stack.weights, models)]
        assert stack.penalties().tolist() == expected


def test_a_stacks_sums_add_each_models_part_as_it_is_added_alone():
    # What lets a block sum all its models' losses and bias gradients in one call each: numpy
    # adds each model's part in the order it adds that part alone, whatever the stack's height.
    rng = np.random.default_rng(8)
    for models in (1, 2, 7, 19, 32):
        for rows in (1, 5, 10, 64, 150):
            for classes in (2, 3, 10):
                stacked = rng.standard_normal((models, rows, classes)) * 10.0 ** rng.integers(-8, 3)
                assert np.array_equal(model_sums(stacked), [np.sum(part) for part in stacked])
                assert np.array_equal(stacked.sum(axis=1), [part.sum(axis=0) for part in stacked])
                picked = np.ascontiguousarray(stacked[:, :, 0])
                assert np.array_equal(model_sums(picked), [np.sum(part) for part in picked])
