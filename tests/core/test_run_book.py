"""The run book: one record per run, the snapshot policy applied once, subscribers told in order."""

import time

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from regui.core.config import TrainConfig
from regui.core.records import DIVERGED, FAILED, RUNNING, STOPPED, WAITING, EpochResult, RunRecord
from regui.core.run_book import RunBook, run_dataset


def epoch(n: int, accuracy: float = 0.5, snapshot: bool = True) -> EpochResult:
    weights = np.full((3, 4), float(n), dtype=np.float32) if snapshot else np.zeros((0, 0), np.float32)
    return EpochResult(
        epoch=n,
        train_loss=1.0 / n,
        test_loss=1.1 / n,
        penalty=0.01,
        objective=1.0 / n + 0.01,
        train_accuracy=accuracy,
        test_accuracy=accuracy,
        weight_l2=1.0,
        weight_l1=2.0,
        zero_fraction=0.0,
        elapsed=0.1 * n,
        coef=weights,
        intercept=np.zeros(3 if snapshot else 0),
    )


def policy(n: int, limit: int) -> list[int]:
    """The epochs that keep a snapshot, as README says: the newest; with a limit of 3 or more also
    epoch 1 and every stride-th, the stride the smallest power of two that keeps at most ``limit``."""
    if limit < 3:
        return [n]
    stride = 1
    while len(kept := sorted({1, n, *range(stride, n + 1, stride)})) > limit:
        stride *= 2
    return kept


class Recorder:
    def __init__(self):
        self.events = []

    def started(self, key, record):
        self.events.append(("started", key, record.status, len(record.epochs)))

    def epoch(self, key, record, result):
        self.events.append(("epoch", key, result.epoch, record.epochs[-1] is result))

    def ended(self, key, record):
        self.events.append(("ended", key, record.status))


@pytest.mark.parametrize("n_images, test_size", [(36, 0.25), (10, 0.3), (3000, 0.25), (7, 0.5)])
@pytest.mark.parametrize("validation", [0.0, 0.2, 0.35])
def test_split_sizes_are_those_scikit_learn_makes(n_images, test_size, validation):
    train, test = train_test_split(np.arange(n_images), test_size=test_size, random_state=0)
    val = train_test_split(train, test_size=validation, random_state=0)[1] if validation else []
    config = TrainConfig(test_size=test_size, validation=validation)
    dataset = run_dataset({"folder": "/d", "n_images": n_images}, config)
    assert (dataset["n_train"], dataset["n_val"], dataset["n_test"]) == (len(train) - len(val), len(val), len(test))
    assert dataset["folder"] == "/d"


def test_each_run_has_one_record_that_every_subscriber_sees():
    book, seen = RunBook(), Recorder()
    book.subscribe(seen)
    record = book.add(1, TrainConfig(epochs=2), "#1", {"n_images": 20})
    assert record.status == WAITING and book.record(1) is record and list(book) == [1]
    book.start(1)
    first, second = epoch(1), epoch(2)
    book.epoch(1, first)
    book.epoch(1, second)
    outcome = RunRecord(
        config=record.config, status="finished", seconds=1.5, started_at="then", epochs=[epoch(1), epoch(2)]
    )
    book.finish(1, outcome)
    assert book.record(1) is record and book.records() == [record]
    assert record.epochs[0] is first and record.epochs[1] is second  # its own epochs, not the outcome's
    assert (record.status, record.seconds) == ("finished", 1.5)
    assert record.started_at.startswith("20")  # when the book started it (as stored), not the engine's "then"
    assert seen.events == [
        ("started", 1, RUNNING, 0),
        ("epoch", 1, 1, True),
        ("epoch", 1, 2, True),
        ("ended", 1, "finished"),
    ]


def test_the_final_weights_come_from_the_outcome_when_the_epochs_streamed_without_them():
    book = RunBook(snapshots=1)
    record = book.add("a", TrainConfig(epochs=2))
    book.start("a")
    book.epoch("a", epoch(1, snapshot=False))
    book.epoch("a", epoch(2, snapshot=False))
    final = epoch(2)
    book.finish("a", RunRecord(config=record.config, status="finished", epochs=[epoch(1), final]))
    assert record.epochs[-1] is final and not record.epochs[0].has_snapshot


def test_a_run_reported_whole_at_its_end_keeps_the_outcomes_epochs():
    book = RunBook()
    record = book.add(0, TrainConfig(epochs=2))
    epochs = [epoch(1), epoch(2)]
    book.finish(0, RunRecord(config=record.config, status=DIVERGED, message="diverged", epochs=epochs))
    assert record.epochs == epochs and record.status == DIVERGED and record.message == "diverged"


@pytest.mark.parametrize("limit", [1, 3, 5, 8])
def test_snapshots_are_thinned_once_as_the_policy_says(limit):
    book = RunBook(snapshots=limit)
    record = book.add(0, TrainConfig(epochs=40))
    book.start(0)
    for n in range(1, 41):
        book.epoch(0, epoch(n))
        assert [e.epoch for e in record.epochs if e.has_snapshot] == policy(n, limit)


def test_a_lower_limit_thins_the_runs_already_there():
    book = RunBook(snapshots=None)
    record = book.add(0, TrainConfig(epochs=20))
    book.start(0)
    for n in range(1, 21):
        book.epoch(0, epoch(n))
    assert all(e.has_snapshot for e in record.epochs)
    book.set_snapshot_limit(3)
    assert [e.epoch for e in record.epochs if e.has_snapshot] == policy(20, 3)


def test_a_retry_starts_over_and_a_late_epoch_after_the_end_is_ignored():
    book, seen = RunBook(), Recorder()
    book.subscribe(seen)
    record = book.add(5, TrainConfig(epochs=3))
    book.start(5)
    book.epoch(5, epoch(1))
    book.start(5, attempt=2)
    assert record.epochs == [] and "attempt 2" in record.message
    book.epoch(5, epoch(1))
    book.end(5, STOPPED, "closed")
    book.epoch(5, epoch(2))  # already on its way when the run was ended
    late = RunRecord(config=record.config, status=STOPPED, message="Stopped on request.", epochs=[epoch(1), epoch(2)])
    book.finish(5, late)  # its worker's own word on how it ended, after the window closed on it
    book.fail(5, "lost")
    book.start(5, attempt=3)
    assert [e.epoch for e in record.epochs] == [1] and (record.status, record.message) == (STOPPED, "closed")
    assert seen.events[-1] == ("ended", 5, STOPPED) and len(seen.events) == 5


def test_ending_a_run_from_here_gives_the_time_it_ran():
    book = RunBook()
    record = book.add(1, TrainConfig())
    book.start(1)
    time.sleep(0.05)
    book.end(1, STOPPED, "Stopped when the window was closed.")
    assert 0.05 <= record.seconds < 5 and record.message.startswith("Stopped when")


def test_an_ending_without_a_time_gets_the_time_since_the_start_and_keeps_the_retry_note():
    book = RunBook()
    record = book.add(1, TrainConfig())
    book.start(1)
    started_at = record.started_at
    book.start(1, attempt=2)
    time.sleep(0.05)
    book.finish(1, RunRecord(config=record.config, status="finished", started_at="2000-01-01T00:00:00+00:00"))
    assert 0.05 <= record.seconds < 5 and "attempt 2" in record.message
    assert record.started_at >= started_at  # the book's start (the store has the same), not the engine's
    other = book.add(2, TrainConfig())
    book.start(2)
    time.sleep(0.02)
    book.fail(2, "its worker died twice")
    assert 0.02 <= other.seconds < 5


def test_fail_and_adopt():
    book, seen = RunBook(), Recorder()
    book.subscribe(seen)
    book.add(1, TrainConfig())
    book.fail(1, "no memory")
    assert book.record(1).status == FAILED and book.record(1).message == "no memory"
    stored = RunRecord(config=TrainConfig(), status="finished", epochs=[epoch(1)])
    assert book.adopt(2, stored) is stored and book.record(2) is stored
    assert seen.events == [("ended", 1, FAILED)]  # adopting an ended run tells no one it ran
