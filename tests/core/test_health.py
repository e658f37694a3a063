"""A finished run that learned nothing is told from one that learned, with what to change."""

import pytest

from regui.core.config import LESSON
from regui.core.dataset import load_dataset, prepare
from regui.core.health import learned_nothing, majority_share
from regui.core.runs import run_training

SIZE = dict(width=12, height=10, epochs=5)


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 30, "dogs": 24, "panda": 20})


def train(folder, **settings):
    config = LESSON.with_(**{**SIZE, **settings})  # scikit-learn's engine, one step per image
    dataset = load_dataset(folder, config.image)
    return run_training(prepare(dataset, config.split), config, dataset_summary=dataset.summary())


def test_a_run_that_learned_says_nothing(folder):
    record = train(folder, scaling="unit", eta0=0.05, epochs=20)
    assert record.final.test_accuracy > majority_share(record) + 0.15 and learned_nothing(record) == ""


def test_a_penalty_that_zeroes_every_weight_is_named(folder):
    record = train(folder, scaling="unit", penalty="l1", alpha=1.0, eta0=0.5)
    assert (
        record.final.zero_fraction == 1.0 and record.final.weight_l2 == 0
    )  # an independent look: every weight is exactly 0
    share = majority_share(record)
    assert share == pytest.approx(30 / 74)
    assert record.final.test_accuracy <= share + 0.1
    said = learned_nothing(record)
    assert f"no better than always answering the largest class ({share:.1%}" in said
    assert "set every weight to exactly 0: lower lambda (now 1)" in said


def test_steps_that_overshoot_are_named_with_the_learning_rate(folder):
    import math

    record = train(folder, penalty="l2", alpha=0.005, eta0=100.0)  # raw pixels
    assert record.final.train_loss > 10 * math.log(3)  # a model with zero weights has log(3)
    said = learned_nothing(record)
    assert (
        f"Its data loss ({record.final.train_loss:.3g}) is far above the 1.1 of a model with every weight at 0" in said
    )
    assert "Lower the learning rate (now 100), or scale the pixels (now raw 0-255) to [0, 1]" in said


def test_a_loss_rising_from_its_first_epoch_is_named(folder):
    from dataclasses import replace

    record = train(folder, scaling="unit", penalty="l1", alpha=1.0, eta0=0.5)
    record.epochs[-1] = replace(record.epochs[-1], objective=50 * record.epochs[0].objective, zero_fraction=0.5)
    assert "Its loss rose from" in learned_nothing(record) and "Lower the learning rate (now 0.5)" in learned_nothing(
        record
    )
