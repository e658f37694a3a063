"""One BLAS product for a whole stack of models, each model getting exactly its numbers alone.

A block's models all multiply the same rows (a mini-batch, or the images being measured):
``A @ [W_1 W_2 ... W_K]`` reads ``A`` once and runs at BLAS's full speed, where K products of
a few columns each run at a fraction of it. But BLAS's rounding may depend on the product's
shape. OpenBLAS multiplies a product of at most SMALL_PRODUCT multiply-adds with its
small-matrix kernel, whose numbers for one column change with the width; larger products go to
its blocked kernel, where on one thread each column's numbers are the same at every width and
in every slot (measured here on OpenBLAS 0.3.31). SGD amplifies a last-bit difference, so the
small kernel would make a run's numbers depend on its block.

So every product here, a lone run's included, is made large enough for the blocked kernel by
padding the stack with zero columns (or rows), is one of at most WIDEST models, and runs on one BLAS
thread (with two, OpenBLAS shares a product's columns out between its threads, and a column's
numbers then depend on the width again; at these sizes a second thread adds no speed anyway,
and a sweep's parallelism is its worker processes). Whether this machine's BLAS really gives
every width the same columns is checked once per shape on random numbers
(``_columns_agree``); where it does not, each model is multiplied on its own, which is exact
everywhere (and what a lone run then does too).

An SGD step stacks the models the other way, in the rows of its products: its scores
``W^T X^T`` (``stack_row_product``) and its gradient steps ``G^T X``
(``subtract_row_products``). Each model's rows of ``W^T`` are then contiguous, as its weights
are, and are the product's rows without a copy. Those widths are checked the same way
(``_rows_agree``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
from collections.abc import Callable, Iterator

import numpy as np

# OpenBLAS's limit for its small-matrix kernel: rows * inner * columns multiply-adds.
SMALL_PRODUCT = 100**3
# The most models in one product: a bigger stack is multiplied in slices of this many, so that
# only widths the check below has tried occur.
WIDEST = 32
# The rows per product when scores on many images are measured (training.py's decision values):
# OpenBLAS multiplies blocks this small without first copying them into its packed layout; one
# product over a large X copies all of it and takes about twice as long (memory-bound).
MEASURE_ROWS = 64
# Padding beyond this many models costs more than multiplying model by model saves (products of
# a handful of rows on small images).
MOST_PADDED = 64


_threads_lock = threading.Lock()
_holders = 0  # threads inside one_blas_thread
_original: list[tuple[object, int]] = []  # each BLAS library's thread count before the first came in
_warned = False
# How deep this thread is inside one_blas_thread: once in, a product inside needs nothing more
# (setting the count again cost 5% of a lone run's epoch, a product at a time).
_depth = threading.local()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while inside, for every thread of this process. The thread count is
    process-wide (for OpenBLAS's own threads): the first thread in sets it, the last one out
    restores it, so runs training at once in several threads never undo each other's limit.

    threadpoolctl's ``limit`` is not used: it lets only one Python thread ever control
    OpenBLAS (the first that limited it, while that thread lives) and silently ignores the
    others, so a run training in a second thread would keep two BLAS threads."""
    global _holders
    if getattr(_depth, "level", 0) > 0:  # this thread already holds the limit
        _depth.level += 1
        try:
            yield
        finally:
            _depth.level -= 1
        return
    with _threads_lock:
        libraries = _blas_libraries()
        if not _holders:
            _original[:] = [(library, library.get_num_threads()) for library in libraries]
        _holders += 1
        for library in libraries:  # again in each thread: an OpenMP build's count is per thread
            _set_threads(library, 1)
    _depth.level = 1
    try:
        yield
    finally:
        _depth.level -= 1
        with _threads_lock:
            _holders -= 1
            if not _holders:
                for library, threads in _original:
                    _set_threads(library, threads)
                _original.clear()


def _set_threads(library, threads: int | None) -> None:
    global _warned
    if threads is None:
        return
    # threadpoolctl's own setter, without its one-controlling-thread rule (older versions have
    # only the plain setter, which has no such rule).
    getattr(library, "_real_set_num_threads", library.set_num_threads)(threads)
    if threads == 1 and library.get_num_threads() not in (1, None) and not _warned:
        _warned = True
        warnings.warn(
            f"{library.internal_api} could not be limited to one thread: a run's numbers may differ in their "
            "last digits between a run alone and the same run in a sweep's block.",
            RuntimeWarning,
            stacklevel=4,
        )


@functools.cache
def _blas_libraries() -> list:
    from threadpoolctl import ThreadpoolController

    return [library for library in ThreadpoolController().lib_controllers if library.user_api == "blas"]


def stack_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B[k]`` for each model k of the stack ``B`` (models, inner, columns), as (models,
    ..., columns) with each model's part contiguous: ``np.matmul(A, B)`` for a 2-D ``A`` (rows,
    inner), or for a stack of row blocks (blocks, rows, inner) that of each block, bit for bit
    what each model gets multiplied alone here (a stack of one)."""
    with one_blas_thread():
        return _stack_product(A, B)


def _stack_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    models, inner, columns = B.shape
    rows = A.shape[-2]
    width = padded_width(rows, inner, columns, A.strides[-1] != A.itemsize, A.ndim > 2)
    out = np.empty((models, *A.shape[:-1], columns))
    if width is None:
        if A.ndim == 2:
            np.matmul(A, B, out=out)
        else:  # each block times each model: (blocks, 1, rows, inner) @ (models, inner, columns)
            out[...] = np.moveaxis(np.matmul(A[:, None], B), 1, 0)
        return out
    for first in range(0, models, WIDEST):
        part = B[first : first + WIDEST]
        count = len(part)
        padded = np.empty((inner, max(width, count) * columns))
        padded[:, : count * columns] = part.transpose(1, 0, 2).reshape(inner, count * columns)
        padded[:, count * columns :] = 0.0
        product = A @ padded  # (..., rows, padded columns)
        by_model = product[..., : count * columns].reshape(*product.shape[:-1], count, columns)
        out[first : first + count] = np.moveaxis(by_model, -2, 0)
    return out


def subtract_row_products(target: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    """``target[k] -= A[k] @ B`` for each model k, in place: ``A`` (models, per_model, inner),
    any layout (a transposed view is copied once, into the stacked rows), ``target`` (models,
    per_model, columns). The models' rows are stacked into one product (``row_products``), so
    each model's rows get the numbers they have alone. An SGD step's weights, laid out as
    (classes, features) per model, take their gradient step straight from the product ``G^T X``."""
    with one_blas_thread():
        for models, product in row_products(A, B):
            rows = target[models]
            np.subtract(rows, product.reshape(rows.shape), out=rows)


def stack_row_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A[k] @ B`` for each model k, as (models, per_model, columns): ``A`` (models, per_model,
    inner) stacked into the rows of one product (``row_products``), bit for bit what each model
    gets multiplied alone here (a stack of one). An SGD step's scores, transposed: the weights
    laid out as (classes, features) per model times the mini-batch's rows as columns."""
    out = np.empty((*A.shape[:2], B.shape[1]))
    with one_blas_thread():
        for models, product in row_products(A, B):
            out[models] = product.reshape(-1, *out.shape[1:])
    return out


def row_products(A: np.ndarray, B: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """``A[k] @ B`` for the models k of ``A`` (models, per_model, inner), as (models, product)
    pairs: slices of at most WIDEST models whose rows are stacked into one product, padded with
    zero rows where the shape needs it (``padded_rows``), or one model at a time where this
    machine's BLAS gives no shape the same numbers at every width. The caller holds
    ``one_blas_thread`` around the loop (a generator holding it between its yields could be
    closed out of turn, inside another holder)."""
    models, per_model, inner = A.shape
    columns = B.shape[1]
    least = padded_rows(per_model, inner, columns, B.strides[-1] != B.itemsize)
    if least is None:  # model by model
        for k in range(models):
            yield slice(k, k + 1), A[k] @ B
        return
    for first in range(0, models, WIDEST):
        part = A[first : first + WIDEST]
        count = len(part)
        if count >= least and part.flags.c_contiguous:  # already the stacked rows, unpadded
            stacked = part.reshape(count * per_model, inner)
        else:
            stacked = np.empty((max(least, count) * per_model, inner))
            stacked[: count * per_model].reshape(part.shape)[...] = part
            stacked[count * per_model :] = 0.0
        yield slice(first, first + count), (stacked @ B)[: count * per_model]


def padded_rows(per_model: int, inner: int, columns: int, transposed: bool = False) -> int | None:
    """``padded_width`` for models stacked in the rows of ``A`` (``per_model`` rows each) times
    one ``B`` of ``inner`` x ``columns`` (``transposed``: a transposed view, such as the rows of
    a Fortran-ordered array): the fewest models a product is padded to."""
    return _fewest(per_model * inner * columns, lambda least: _rows_agree(per_model, inner, columns, transposed, least))


def padded_width(rows: int, inner: int, columns: int, transposed: bool = False, blocks: bool = False) -> int | None:
    """The fewest models a product of ``rows`` x ``inner`` rows by ``columns`` columns per model
    is padded to (None: multiply model by model), the shape's BLAS checked first.
    ``transposed``: ``A`` is a transposed view (a Fortran-ordered array), which BLAS may take by
    another kernel; ``blocks``: ``A`` is a stack of row blocks, which numpy multiplies block by
    block."""
    return _fewest(
        rows * inner * columns, lambda least: _columns_agree(rows, inner, columns, transposed, blocks, least)
    )


def _fewest(size: int, agree: Callable[[int], bool]) -> int | None:
    """The fewest models a stacked product of ``size`` multiply-adds per model is padded to, as
    ``agree(least)`` finds this machine's BLAS exact from ``least`` models up; None: model by
    model. A lone model unpadded, if BLAS already gives it the same numbers at every width (it
    may multiply some operands without a small-matrix kernel); else padded past that kernel."""
    if size == 0:
        return None
    for least in (1, SMALL_PRODUCT // size + 1):
        if least <= MOST_PADDED and agree(least):
            return least
    return None


def _widths(least: int) -> list[int]:
    """The stack sizes a check tries: the narrowest and widest products a stack makes, and two
    between (trying every width would take a lone run's first epoch several times as long as
    the epoch itself)."""
    most = max(least, WIDEST)
    return sorted({least, least + 1, (least + most) // 2, most - 1, most} & set(range(least, most + 1)))


def check_shapes(batch: int, features: int, classes: int) -> None:
    """Check BLAS for the products a stack training on mini-batches of ``batch`` rows makes
    (its scores and gradient steps, and measuring in blocks of MEASURE_ROWS), ahead of the first epoch."""
    with one_blas_thread():
        padded_rows(classes, features, batch, transposed=True)
        padded_rows(classes, batch, features)
        padded_width(MEASURE_ROWS, features, classes, blocks=True)


@functools.cache
def _columns_agree(rows: int, inner: int, columns: int, transposed: bool, blocks: bool, least: int) -> bool:
    """Whether this machine's BLAS gives every model's columns of a product of this shape the
    same numbers at the widths a stack can take (``least`` models up to WIDEST) and in another
    slot, tried on random numbers (once per shape and process)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((inner, rows)).T if transposed else rng.standard_normal((rows, inner))
    if blocks:
        A = np.stack([A, A[::-1]])
    B = rng.standard_normal((inner, max(least, WIDEST) * columns))
    whole = A @ B
    for models in _widths(least):
        part = B[:, : models * columns]
        if not np.array_equal(A @ part, whole[..., : models * columns]):
            return False
    # The same models one slot further on (the first moved to the end).
    moved = np.roll(B, -columns, axis=1)
    return bool(np.array_equal(A @ moved, np.roll(whole, -columns, axis=-1)))


@functools.cache
def _rows_agree(per_model: int, inner: int, columns: int, transposed: bool, least: int) -> bool:
    """``_columns_agree`` for models stacked in rows (``padded_rows``)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((max(least, WIDEST) * per_model, inner))
    B = rng.standard_normal((columns, inner)).T if transposed else rng.standard_normal((inner, columns))
    whole = A @ B
    for models in _widths(least):
        if not np.array_equal(A[: models * per_model] @ B, whole[: models * per_model]):
            return False
    moved = np.roll(A, -per_model, axis=0)
    return bool(np.array_equal(moved @ B, np.roll(whole, -per_model, axis=0)))
