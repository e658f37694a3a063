"""One product for a stack of models: each model's numbers are bit for bit those it gets alone
(a stack of one), in every slot, at every width and whatever BLAS's thread count outside, and
equal to numpy's own product of that model up to float64 rounding."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from regui.core import wide
from regui.core.wide import WIDEST, one_blas_thread, stack_product, stack_row_product, subtract_row_products

# (rows, features, classes): an Animals mini-batch and its epoch's last, smaller batch; a batch
# of the bundled digits (8x8 grey, 10 classes), padded the most.
SHAPES = [(64, 3072, 3), (10, 3072, 3), (64, 64, 10)]


def operand(kind: str, rows: int, features: int, rng) -> np.ndarray:
    """A as the engine passes it: a mini-batch, its transpose (a gradient's X.T @ G), or the
    images in blocks of rows (measuring)."""
    X = rng.standard_normal((rows * 2, features))
    if kind == "batch":
        return X[:rows]
    if kind == "transposed":
        return X[:rows].T
    return X.reshape(2, rows, features)


def stack_for(kind: str, A: np.ndarray, models: int, classes: int, rng) -> np.ndarray:
    inner = A.shape[-1]
    return rng.standard_normal((models, inner, classes)) * (0.01 if kind != "transposed" else 1.0)


@pytest.mark.parametrize("kind", ["batch", "transposed", "blocks"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_model_gets_its_numbers_alone_in_every_slot_and_width(kind, shape):
    rows, features, classes = shape
    rng = np.random.default_rng(7)
    A = operand(kind, rows, features, rng)
    B = stack_for(kind, A, WIDEST + 5, classes, rng)  # more than one product's worth
    together = stack_product(A, B)
    for k in range(len(B)):
        alone = stack_product(A, B[k : k + 1])[0]
        assert np.array_equal(together[k], alone), f"model {k} of {len(B)}"
        np.testing.assert_allclose(alone, np.matmul(A, B[k]), rtol=1e-10, atol=1e-12)
    # The same models in other stacks: later slots, narrower and wider products.
    for first, count in [(3, 1), (3, 2), (1, 7), (5, 19), (2, WIDEST)]:
        part = stack_product(A, B[first : first + count])
        assert np.array_equal(part, together[first : first + count])


@pytest.mark.parametrize("fortran", [False, True])  # a Fortran-ordered X reaches BLAS transposed
@pytest.mark.parametrize("shape", SHAPES)
def test_a_gradient_step_taken_from_one_product_gives_every_model_its_numbers_alone(shape, fortran):
    # G^T X with the models' rows stacked: (models, classes, rows) times a mini-batch (rows, features).
    rows, features, classes = shape
    rng = np.random.default_rng(11)
    X = rng.standard_normal((rows, features))
    X = np.asfortranarray(X) if fortran else X
    G = rng.standard_normal((WIDEST + 5, classes, rows))
    weights = rng.standard_normal((len(G), classes, features))
    together = weights.copy()
    subtract_row_products(together, G, X)
    np.testing.assert_allclose(together, weights - np.matmul(G, X), rtol=1e-10, atol=1e-12)
    from_view = weights.copy()  # G as the engine passes it: the transposed view of (models, rows, classes)
    subtract_row_products(from_view, np.ascontiguousarray(G.transpose(0, 2, 1)).transpose(0, 2, 1), X)
    assert np.array_equal(from_view, together)
    for k in range(len(G)):
        alone = weights[k : k + 1].copy()
        subtract_row_products(alone, G[k : k + 1], X)
        assert np.array_equal(alone[0], together[k]), f"model {k} of {len(G)}"
    for first, count in [(3, 2), (1, 7), (5, 19), (2, WIDEST)]:  # other stacks, other slots
        part = weights[first : first + count].copy()
        subtract_row_products(part, G[first : first + count], X)
        assert np.array_equal(part, together[first : first + count])


@pytest.mark.parametrize("shape", SHAPES)
def test_scores_from_one_product_of_stacked_weight_rows_give_every_model_its_numbers_alone(shape):
    # W^T X^T with the models' rows of W^T stacked: (models, classes, features) times a
    # mini-batch's transpose, gathered (a copy) or a slice of X in place (a full batch's chunk).
    rows, features, classes = shape
    rng = np.random.default_rng(13)
    X = rng.standard_normal((rows * 3, features))
    coef = rng.standard_normal((WIDEST + 5, classes, features)) * 0.01
    for batch in (X[rng.permutation(len(X))[:rows]], X[rows : 2 * rows]):
        together = stack_row_product(coef, batch.T)
        np.testing.assert_allclose(together, np.matmul(coef, batch.T), rtol=1e-10, atol=1e-12)
        for k in range(len(coef)):
            alone = stack_row_product(coef[k : k + 1], batch.T)[0]
            assert np.array_equal(alone, together[k]), f"model {k} of {len(coef)}"
        for first, count in [(3, 2), (1, 7), (5, 19), (2, WIDEST)]:  # other stacks, other slots
            part = stack_row_product(coef[first : first + count], batch.T)
            assert np.array_equal(part, together[first : first + count])
        # A stack that is not one contiguous array alike (copied into the stacked rows).
        kept = coef[::2]
        assert np.array_equal(stack_row_product(kept, batch.T), together[::2])


def test_the_numbers_do_not_depend_on_blas_threads_outside():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((64, 3072)), rng.standard_normal((19, 3072, 3))
    results = []
    for threads in (1, 2, 4):
        with threadpool_limits(threads, user_api="blas"):
            results.append((stack_product(A, B), stack_product(A[:10].copy(), B)))
    for product, other in results[1:]:
        assert np.array_equal(product, results[0][0]) and np.array_equal(other, results[0][1])


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_lasts_until_the_last_thread_inside_leaves():
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        first_in, second_in, first_out, second_out = (threading.Event() for _ in range(4))
        seen = {}

        def first() -> None:
            with one_blas_thread():
                first_in.set()
                second_in.wait(10)
            first_out.set()

        def second() -> None:
            first_in.wait(10)
            with one_blas_thread():
                second_in.set()
                first_out.wait(10)
                seen["after the first left"] = blas_threads()
            second_out.set()

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert second_out.is_set()
        assert seen["after the first left"] == [1] * len(before)
        assert blas_threads() == before  # given back once nobody is inside


def test_one_blas_thread_entered_again_inside_keeps_the_limit_until_the_outermost_leaves():
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with one_blas_thread():
            with one_blas_thread():
                assert blas_threads() == [1] * len(before)
            assert blas_threads() == [1] * len(before)  # the inner exit gave nothing back
            with pytest.raises(ValueError), one_blas_thread():
                raise ValueError("a product failed")
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
        with one_blas_thread():  # entered afresh after all that: limits again
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_a_blas_whose_rows_depend_on_the_width_gets_a_product_per_model(monkeypatch):
    monkeypatch.setattr(wide, "_rows_agree", lambda *args: False)
    rng = np.random.default_rng(4)
    X, coef = rng.standard_normal((64, 3072)), rng.standard_normal((5, 3, 3072))
    assert wide.padded_rows(3, 3072, 64, transposed=True) is None
    scores = stack_row_product(coef, X.T)
    steps = coef.copy()
    subtract_row_products(steps, scores * 1e-3, X)
    for k in range(len(coef)):
        assert np.array_equal(scores[k], coef[k] @ X.T)
        assert np.array_equal(steps[k], coef[k] - (scores[k] * 1e-3) @ X)


def test_a_product_left_unfinished_inside_another_holder_leaves_the_limit_to_it():
    # A stack's products hold the limit around their loop, not across a generator's yields: a
    # generator closed inside another holder once left this thread counted as holding it for good.
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        rng = np.random.default_rng(5)
        products = wide.row_products(rng.standard_normal((40, 3, 3072)), rng.standard_normal((3072, 64)))
        next(products)
        with one_blas_thread():
            products.close()
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
        with one_blas_thread():  # still limits afresh
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_a_blas_whose_columns_depend_on_the_width_gets_a_product_per_model(monkeypatch):
    monkeypatch.setattr(wide, "_columns_agree", lambda *args: False)
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((64, 3072)), rng.standard_normal((5, 3072, 3))
    assert wide.padded_width(64, 3072, 3) is None
    together = stack_product(A, B)
    for k in range(len(B)):
        assert np.array_equal(together[k], np.matmul(A, B[k]))
        assert np.array_equal(together[k], stack_product(A, B[k : k + 1])[0])
    blocks = A.reshape(2, 32, 3072)
    assert np.array_equal(stack_product(blocks, B)[3], np.matmul(blocks, B[3]))
