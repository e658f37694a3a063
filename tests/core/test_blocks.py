"""Blocks: runs that share a pass trained as one stack, each with exactly its numbers alone."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from regui.core.blocks import MAX_BLOCK, group, pass_key
from regui.core.config import TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.locations import sample_dataset_dir
from regui.core.records import DIVERGED, FINISHED, STOPPED
from regui.core.runs import run_block, run_training
from regui.core.training import stacked_decision_values

BASE = TrainConfig(width=8, height=8, epochs=6, batch_size=32, validation=0.2)


@pytest.fixture(scope="module")
def data():
    return prepare(load_dataset(sample_dataset_dir(), BASE.image), BASE.split)


def same_numbers(a, b) -> bool:
    """Two records' epochs, bit for bit (every number but the wall time; weights and batch losses)."""
    return (a.status, len(a.epochs)) == (b.status, len(b.epochs)) and all(
        x == y  # the per-epoch numbers, NaN equal to NaN (EpochResult.__eq__; not the wall time)
        and np.array_equal(x.batch_losses, y.batch_losses)
        and all(np.array_equal(getattr(x, f), getattr(y, f)) for f in ("coef", "intercept", "test_pred"))
        for x, y in zip(a.epochs, b.epochs)
    )


CONFIGS = [
    BASE.with_(penalty="none"),
    BASE.with_(penalty="l1", alpha=1e-2, eta0=0.02),
    BASE.with_(penalty="l2", alpha=1e-1),
    BASE.with_(penalty="elasticnet", alpha=1e-3, eta0=0.5, early_stopping=True, patience=1),  # stops at 2
    BASE.with_(penalty="none", eta0=1e250),  # diverges (allowed by the fixture): the scores overflow
    BASE.with_(penalty="l1", alpha=1e-3, epochs=3),  # fewer epochs: leaves the block early
]


def test_every_run_of_a_block_has_exactly_its_numbers_alone(data, allow_divergence):
    alone = [run_training(data, c, snapshots=None) for c in CONFIGS]
    assert alone[4].status == DIVERGED and alone[3].status == FINISHED and "Stopped early" in alone[3].message
    seen = []
    block = run_block(data, CONFIGS, snapshots=None, on_epoch=lambda i, r: seen.append((i, r.epoch)))
    assert all(same_numbers(a, b) for a, b in zip(alone, block))
    assert [r.message for r in block] == [r.message for r in alone]
    # Each run's epochs were reported as they came, in lockstep (run 4 diverged in its first).
    assert seen[:5] == [(i, 1) for i in (0, 1, 2, 3, 5)] and len(seen) == sum(len(r.epochs) for r in block)
    # In another order, and with runs of another block around them: the same.
    again = run_block(data, CONFIGS[::-1], snapshots=None)[::-1]
    assert all(same_numbers(a, b) for a, b in zip(alone, again))


def test_measuring_with_a_helper_thread_gives_the_same_numbers(data, allow_divergence):
    # With a core free, each epoch's products on every image are shared with a helper thread.
    for config in CONFIGS:
        assert same_numbers(run_training(data, config, overlap=True), run_training(data, config, overlap=False))
    block, alone = run_block(data, CONFIGS, overlap=True), run_block(data, CONFIGS, overlap=False)
    assert all(same_numbers(a, b) for a, b in zip(block, alone))
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((64 * 5 + 9, 40)), rng.standard_normal((7, 40, 3)), rng.standard_normal((7, 3))
    with ThreadPoolExecutor(1) as helper:
        shared = stacked_decision_values(X, W, b, helper)
    assert np.array_equal(shared, stacked_decision_values(X, W, b))
    np.testing.assert_allclose(shared, np.matmul(X, W) + b[:, None, :], rtol=1e-12, atol=1e-12)


def test_stopping_one_run_in_a_block_leaves_the_others_numbers_unchanged(data):
    configs = CONFIGS[:3]
    alone = [run_training(data, c, snapshots=1) for c in configs]
    stop = threading.Event()

    def on_epoch(i, result):
        if i == 1 and result.epoch == 2:
            stop.set()  # asked while the block trains on: run 1 leaves at its next step

    block = run_block(data, configs, snapshots=1, on_epoch=on_epoch, run_should_stop=lambda i: i == 1 and stop.is_set())
    assert block[1].status == STOPPED and len(block[1].epochs) == 2
    assert same_numbers(block[0], alone[0]) and same_numbers(block[2], alone[2])
    first_two = run_training(data, configs[1].with_(epochs=2), snapshots=1)
    assert block[1].epochs[1].test_accuracy == first_two.epochs[1].test_accuracy


def test_runs_are_grouped_by_what_they_must_share():
    grid = [BASE.with_(penalty=p, alpha=a, seed=s) for s in (1, 2) for p in ("l1", "l2") for a in (1e-3, 1e-2)]
    grid.append(BASE.with_(engine="sgdclassifier", batch_size=1))
    grid.append(BASE.with_(batch_size=64))
    blocks = group(grid)
    assert blocks == [[0, 1, 2, 3], [4, 5, 6, 7], [8], [9]]
    assert pass_key(grid[8]) is None  # scikit-learn's engine trains alone
    assert [len(b) for b in group([BASE] * (MAX_BLOCK + 3))] == [MAX_BLOCK, 3]


def test_a_sweep_in_blocks_gives_every_run_the_numbers_it_has_run_by_run():
    from regui.core.sweep import SweepSpec, expand
    from regui.core.sweep_runs import SweepEvents, run_serial

    dataset = load_dataset(sample_dataset_dir(), BASE.image)
    spec = SweepSpec(BASE.with_(epochs=3), penalties=("none", "l1", "l2"), alphas=(1e-3, 1e-1), repeats=2)
    items = expand(spec)

    class Events(SweepEvents):
        def __init__(self):
            self.started_runs = []

        def started(self, index, attempt):
            self.started_runs.append(index)

    by_run, in_blocks = Events(), Events()
    one = run_serial(dataset, items, by_run, snapshots=None)
    blocked = run_serial(dataset, items, in_blocks, snapshots=None, block=MAX_BLOCK)
    assert len(items) == 10 and all(same_numbers(a, b) for a, b in zip(one, blocked))
    assert sorted(in_blocks.started_runs) == list(range(10))  # every run reported as started once
    assert [r.name for r in one] == [r.name for r in blocked]


def test_a_block_too_big_for_memory_is_trained_as_several(monkeypatch):
    import regui.core.runs as runs
    from regui.core import blocks, machine
    from regui.core.records import snapshot_size
    from regui.core.sweep import SweepSpec, expand
    from regui.core.sweep_runs import SweepEvents, run_serial

    dataset = load_dataset(sample_dataset_dir(), BASE.image)
    d, c, n = blocks.data_shape(dataset)
    assert (d, c, n) == (8 * 8 * 3, len(dataset.class_names), dataset.n_images)
    # One run: weights, gradient and temporaries; scores on every image; two snapshots (the last
    # epoch's and early stopping's best).
    one = blocks.model_bytes(d, c, n, 2)
    assert one == 4 * d * c * 8 + n * c * 8 + 2 * snapshot_size(c, d, n)
    memory = int(3.5 * one / blocks.BLOCK_MEMORY_SHARE)  # room for three runs in one block
    monkeypatch.setattr(machine, "physical_memory", lambda: memory)
    assert blocks.most_in_memory(d, c, n, epochs=6, snapshots=1, at_once=1) == 3
    assert blocks.most_in_memory(d, c, n, epochs=6, snapshots=1, at_once=3) == 1  # three blocks at once
    assert blocks.most_in_memory(d, c, n, epochs=20, snapshots=None, at_once=1) == 1  # every epoch's snapshot

    sizes = []
    real = runs.run_block
    monkeypatch.setattr(
        runs, "run_block", lambda data, configs, **kw: sizes.append(len(configs)) or real(data, configs, **kw)
    )
    items = expand(SweepSpec(BASE.with_(epochs=2), penalties=("l1", "l2"), alphas=(1e-3, 1e-2, 1e-1, 1.0)))
    records = run_serial(dataset, items, SweepEvents(), block=MAX_BLOCK)
    assert sizes == [3, 3, 2] and all(r.status == FINISHED for r in records)


def test_a_grid_of_several_rounds_starts_with_a_small_block_and_one_round_shares_evenly():
    from regui.core.blocks import FIRST_BLOCK, block_size
    from regui.core.sweep import SweepItem
    from regui.core.sweep_runs import SweepBook, SweepControl, SweepEvents

    assert block_size(380, 2, 32, first=True) == FIRST_BLOCK  # 380 runs: 12 rounds of 32 on 2 workers
    assert block_size(380, 2, 32) == 32
    assert block_size(38, 2, 32, first=True) == 19  # one round: the two workers' even shares
    assert block_size(3, 1, 32, first=True) == 3

    def sizes(n_runs: int, free: int) -> list[int]:
        config = TrainConfig(penalty="l2")
        items = [SweepItem(i, config.with_(alpha=10.0 ** (i / 10 - 5)), 0) for i in range(n_runs)]
        book = SweepBook(items, SweepEvents(), SweepControl(), None, "grid")
        out, idle = [], free
        while block := book.next_block(idle, MAX_BLOCK):  # as a pool asks: its idle workers
            out.append(len(block))
            idle = idle - 1 or free  # a round given out: all idle again (they train alike)
        return out

    many, one_round = sizes(100, 2), sizes(38, 2)
    assert many[:2] == [FIRST_BLOCK, 32] and sum(many) == 100  # then full blocks
    assert one_round[:2] == [19, 19] and sum(one_round) == 38
