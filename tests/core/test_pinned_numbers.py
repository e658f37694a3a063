"""A few runs on the bundled sample, pinned: a change to how runs are set up, split, seeded,
trained or measured shows here as a changed number, even when every other test still passes.

The values were produced by this code and checked to be bit-identical to those of the code
before the run book (one record per run) was introduced. Accuracies and the share of zero
weights are counts over counts and must match exactly. Losses and norms are sums of products
whose last bits can depend on the BLAS build numpy uses, so they are held to 1e-12 (relative),
far tighter than any real change would move them.
"""

import pytest

from regui.core.config import LESSON
from regui.core.dataset import load_dataset, prepare
from regui.core.locations import sample_dataset_dir
from regui.core.runs import run_training

BASE = LESSON.with_(width=8, height=8, epochs=3, scaling="unit", eta0=0.01)  # scikit-learn's engine

PINNED = [
    # settings, test accuracy per epoch (of 450), final train accuracy (of 1347), objective,
    # data loss, zero share, ‖W‖
    (
        dict(penalty="none"),
        [406, 417, 424],
        1278,
        "0x1.973c745135b66p-2",
        "0x1.973c745135b66p-2",
        0.046875,
        "0x1.0b66ee8c0f6b3p+3",
    ),
    (
        dict(penalty="l1", alpha=1e-3),
        [406, 416, 424],
        1278,
        "0x1.491e1466966a0p-1",
        "0x1.b7747d18f52a9p-2",
        0.3203125,
        "0x1.f0ab5166832c4p+2",
    ),
    (
        dict(penalty="l2", alpha=1e-2),
        [406, 416, 424],
        1276,
        "0x1.7388fc2f094b4p-1",
        "0x1.e33054c58a142p-2",
        0.046875,
        "0x1.c7f7550969d37p+2",
    ),
    (
        dict(penalty="elasticnet", alpha=1e-3, loss="hinge", l1_ratio=0.5),
        [410, 419, 428],
        1290,
        "0x1.b2b25d520822cp-3",
        "0x1.c44c908836c08p-4",
        0.259375,
        "0x1.9b2c90c81c7bdp+2",
    ),
    (
        dict(penalty="l2", alpha=1e-4, learning_rate="optimal", scaling="standard"),
        [402, 417, 412],
        1301,
        "0x1.53326f3762f2ap+5",
        "0x1.eeb4a613bd38ap-1",
        0.046875,
        "0x1.c727f24174138p+9",
    ),
]


@pytest.fixture(scope="module")
def sample():
    return load_dataset(sample_dataset_dir(), BASE.image)


@pytest.mark.parametrize("changes, test_right, train_right, objective, data_loss, zeros, norm", PINNED)
def test_runs_on_the_sample_give_the_pinned_numbers(
    sample, changes, test_right, train_right, objective, data_loss, zeros, norm
):
    config = BASE.with_(**changes)
    record = run_training(prepare(sample, config.split), config)
    assert (record.dataset["n_train"], record.dataset["n_test"]) == (1347, 450)
    assert [e.test_accuracy for e in record.epochs] == [n / 450 for n in test_right]
    final = record.final
    assert final.train_accuracy == train_right / 1347 and final.zero_fraction == zeros
    for value, pinned in ((final.objective, objective), (final.train_loss, data_loss), (final.weight_l2, norm)):
        assert value == pytest.approx(float.fromhex(pinned), rel=1e-12, abs=0)
