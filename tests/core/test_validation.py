"""The validation part: carved from the training part, disjoint and stratified, measured every
epoch, and the only thing choices read: permuting the test labels changes no choice."""

import dataclasses

import numpy as np
import pytest

from regui.core.config import TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.runs import run_training
from regui.core.sweep import SweepSpec, expand
from regui.core.sweep_summary import chosen_per_penalty, summarize

CONFIG = TrainConfig(width=6, height=5, epochs=8, batch_size=8, eta0=0.05, validation=0.25)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from tests.helpers import write_classes

    # Overlapping classes: the epochs differ, and some answers are wrong.
    root = write_classes(tmp_path_factory.mktemp("val"), dict.fromkeys("abc", 24), 90, 15, 45, (6, 5), 1, "{i}.png")
    return load_dataset(root, CONFIG.image, use_cache=False)


def test_the_parts_are_disjoint_stratified_and_cover_every_image(dataset):
    data = prepare(dataset, CONFIG.split)
    parts = [set(data.train_index), set(data.val_index), set(data.test_index)]
    assert all(not (p & q) for i, p in enumerate(parts) for q in parts[i + 1 :])
    assert set().union(*parts) == set(range(dataset.n_images))
    # 72 images: 18 test (25%, rounded up), then 14 of the 54 left for validation (25%, rounded up).
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (40, 14, 18)
    counts = np.bincount(data.y_val, minlength=3)
    assert counts.min() >= 4 and counts.max() <= 5  # stratified: about a third each
    # Scaled with statistics of the training part only: standardized train columns have mean 0.
    assert np.allclose(data.X_train.mean(axis=0), 0, atol=1e-9) and not np.allclose(data.X_val.mean(axis=0), 0)


def test_every_epoch_is_measured_on_the_validation_part(dataset):
    data = prepare(dataset, CONFIG.split)
    record = run_training(data, CONFIG)
    for epoch in record.epochs[-1:]:
        scores = data.X_val @ epoch.coef.astype(np.float64).T + epoch.intercept
        assert epoch.val_accuracy == np.mean(scores.argmax(axis=1) == data.y_val)
        log_p = scores - scores.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        assert epoch.val_loss == pytest.approx(-np.mean(log_p[np.arange(len(data.y_val)), data.y_val]), rel=1e-5)
    chosen = record.chosen()
    best = max(e.val_accuracy for e in record.epochs)
    assert chosen.val_accuracy == best and chosen.epoch == min(e.epoch for e in record.epochs if e.val_accuracy == best)


def shuffled_test_labels(data, seed=0):
    return dataclasses.replace(data, y_test=np.random.default_rng(seed).permutation(data.y_test))


def test_permuting_the_test_labels_changes_no_choice(dataset):
    data = prepare(dataset, CONFIG.split)
    items = expand(SweepSpec(CONFIG, penalties=("none", "l1", "l2"), alphas=(1e-3, 1e-2, 0.3)))
    honest = [run_training(data, item.config) for item in items]
    permuted_data = shuffled_test_labels(data)
    assert not np.array_equal(permuted_data.y_test, data.y_test)
    permuted = [run_training(permuted_data, item.config) for item in items]
    # The test numbers moved, the choices did not: the chosen epoch of every run ...
    assert [r.final.test_accuracy for r in honest] != [r.final.test_accuracy for r in permuted]
    assert [r.chosen().epoch for r in honest] == [r.chosen().epoch for r in permuted]
    # ... and the setting chosen for each penalty.
    keys = [(s.penalty, s.alpha) for s in chosen_per_penalty(summarize(honest))]
    assert keys == [(s.penalty, s.alpha) for s in chosen_per_penalty(summarize(permuted))]
    assert len(keys) == 3


def test_without_a_validation_part_nothing_is_chosen(dataset):
    config = CONFIG.with_(validation=0.0)
    data = prepare(dataset, config.split)
    assert len(data.y_val) == 0 and len(data.y_train) == 54
    record = run_training(data, config)
    assert record.chosen() is None and np.isnan(record.final.val_accuracy)
    assert chosen_per_penalty(summarize([record])) == []
    assert record.summary_row()["chosen_epoch"] is None


def test_the_summary_statistics_are_those_of_numpy(dataset):
    data = prepare(dataset, CONFIG.split)
    items = expand(SweepSpec(CONFIG, penalties=("l2",), alphas=(0.01,), repeats=3, vary="model"))
    records = [run_training(data, item.config) for item in items]
    [summary] = summarize(records)
    for stat, attr in ((summary.test, "test_accuracy"), (summary.val, "val_accuracy")):
        values = np.array([getattr(r.final, attr) for r in records])
        assert stat == pytest.approx((values.mean(), values.std(ddof=1)))
        assert summary.sem(stat) == pytest.approx(values.std(ddof=1) / np.sqrt(3))
    row = summary.row()
    assert row["test_accuracy_sem"] == pytest.approx(summary.test[1] / np.sqrt(3))


# Classes close together (a few grey levels apart, much noise), learnt slowly: validation accuracy
# climbs for some epochs and then stalls, so the kept epoch is neither the first nor the last.
EARLY = CONFIG.with_(epochs=60, eta0=0.03, batch_size=64, early_stopping=True, patience=3)


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    from tests.helpers import write_classes

    root = write_classes(tmp_path_factory.mktemp("slow"), dict.fromkeys("abc", 60), 90, 6, 60, (6, 5), 1, "{i}.png")
    return load_dataset(root, CONFIG.image, use_cache=False)


def test_early_stopping_ends_after_patience_and_keeps_the_best_epochs_weights(slow):
    data = prepare(slow, EARLY.split)
    full = run_training(data, EARLY.with_(early_stopping=False), snapshots=None)  # every epoch, every snapshot
    record = run_training(data, EARLY, snapshots=1)
    # It stopped once 3 epochs had passed without a better validation accuracy than the best so far.
    vals = [e.val_accuracy for e in full.epochs]
    best = next(i for i in range(len(vals)) if all(vals[j] <= vals[i] for j in range(i + 4)) and i + 3 < len(vals))
    assert len(record.epochs) == best + 4 < EARLY.epochs and record.status == "finished"
    kept = record.result
    assert kept.epoch == best + 1 == record.chosen().epoch and "Stopped early after epoch" in record.message
    assert 1 < kept.epoch < len(record.epochs)  # a real choice: neither the first epoch nor the last
    # Earliest on a tie: no epoch before the kept one did as well.
    assert all(e.val_accuracy < kept.val_accuracy for e in record.epochs[: kept.epoch - 1])
    # Only the kept epoch and the newest hold weights (snapshots=1): the earlier bests were let go.
    assert [e.epoch for e in record.epochs if e.has_snapshot] == [kept.epoch, len(record.epochs)]
    # Its weights are exactly that epoch's (the engine is deterministic): so are its predictions.
    twin = full.epochs[best]
    assert np.array_equal(kept.coef, twin.coef) and np.array_equal(kept.intercept, twin.intercept)
    scores = data.X_test @ kept.coef.astype(np.float64).T + kept.intercept
    assert np.array_equal(kept.test_pred, scores.argmax(axis=1))
    # Reported as the run's result everywhere: the row, the summary.
    row = record.summary_row()
    assert row["test_accuracy"] == kept.test_accuracy and row["epochs_done"] == best + 4
    assert record.status_text() == f"finished: stopped early, kept epoch {kept.epoch} of {len(record.epochs)}"


def test_early_stopping_needs_a_validation_part():
    from regui.core.errors import ConfigError

    with pytest.raises(ConfigError, match="Early stopping watches the validation part"):
        EARLY.with_(validation=0.0).validate()


def test_an_early_stopped_run_is_stored_with_its_result(slow, tmp_path):
    from regui.core.store import RunStore

    data = prepare(slow, EARLY.split)
    record = run_training(data, EARLY, snapshots=1)
    kept = record.result
    with RunStore(tmp_path / "runs.sqlite3") as store:
        run_id = store.begin(record)
        for epoch in record.epochs:  # as a run is stored live: the choice so far kept by SQL
            store.add_epoch(run_id, epoch.without_snapshot())
        live = store.get(run_id)
        store.finish(run_id, record)
        back = store.load(run_id)
        listed = store.get(run_id)
    assert (live.chosen_epoch, live.chosen_test_accuracy) == (kept.epoch, kept.test_accuracy)
    assert back.result.epoch == kept.epoch > 1 and np.array_equal(back.result.coef, kept.coef)
    assert back.epochs[-1].coef.size == 0  # the weights stored are the kept epoch's, attached to it
    assert listed.test_accuracy == kept.test_accuracy and listed.chosen_epoch == kept.epoch


def test_the_apps_live_copy_gets_the_kept_epochs_weights_at_the_end(slow):
    import functools

    from regui.core.run_book import RunBook

    data = prepare(slow, EARLY.split)
    book = RunBook(snapshots=3)  # live epochs thinned: the kept one's weights may be dropped on the way
    book.add(1, EARLY, "#1", {"n_images": slow.n_images})
    book.start(1)
    outcome = run_training(data, EARLY, on_epoch=functools.partial(book.epoch, 1), snapshots=3)
    book.finish(1, outcome)
    mine = book.record(1)
    assert mine.result.epoch == outcome.result.epoch > 1 and mine.result.has_snapshot
    assert np.array_equal(mine.result.coef, outcome.result.coef)
    book.set_snapshot_limit(1)  # fewer kept from now on: still the result's
    assert book.record(1).result.has_snapshot


def test_a_worker_process_sends_back_the_kept_epochs_weights(slow):
    from regui.core.pool import ProcessPool
    from regui.core.sweep import SweepItem
    from regui.core.sweep_runs import SweepEvents, run_serial

    items = [SweepItem(0, EARLY, 0)]
    serial = run_serial(slow, items, SweepEvents())
    with ProcessPool(slow, jobs=1) as pool:
        [record] = pool.run(items, SweepEvents())
    assert record.result.epoch == serial[0].result.epoch > 1
    assert record.result.has_snapshot and np.array_equal(record.result.coef, serial[0].result.coef)


def test_k_fold_validation_parts_are_disjoint_stratified_and_cover_the_training_part(dataset):
    base = CONFIG.with_(folds=4)
    parts = [prepare(dataset, base.with_(fold=k).split) for k in range(4)]
    test = set(parts[0].test_index)
    assert all(set(p.test_index) == test for p in parts)  # the test part is the same for every fold
    held = [set(p.val_index) for p in parts]
    assert all(not (a & b) for i, a in enumerate(held) for b in held[i + 1 :])
    training = set(range(dataset.n_images)) - test
    assert set().union(*held) == training  # each training image is held out exactly once
    for p in parts:
        assert set(p.train_index) == training - set(p.val_index)
        assert np.ptp(np.bincount(p.y_val, minlength=3)) <= 1  # stratified: the classes within one


def test_a_cross_validated_sweep_runs_every_fold_and_chooses_on_their_mean(dataset):
    from regui.core.admission import spec_size

    spec = SweepSpec(CONFIG.with_(epochs=3), penalties=("none", "l2"), alphas=(1e-3, 0.3), cv=3)
    items = expand(spec)
    assert len(items) == spec_size(spec) == (1 + 2) * 3
    assert sorted({(i.config.folds, i.config.fold) for i in items}) == [(3, 0), (3, 1), (3, 2)]
    records = [run_training(prepare(dataset, i.config.split), i.config) for i in items]
    summaries = summarize(records)
    assert len(summaries) == 3 and all(s.n == 3 for s in summaries)  # the folds of a setting together
    for s in summaries:
        assert s.val[0] == pytest.approx(np.mean([records[i].final.val_accuracy for i in s.runs]))


def test_cross_validation_retrains_the_chosen_setting_for_the_folds_median_kept_epoch(dataset):
    from regui.core.cross_validation import retrainings

    base = CONFIG.with_(epochs=12, early_stopping=True, patience=2, seed=5)
    spec = SweepSpec(base, penalties=("none", "l2"), alphas=(1e-3, 0.3), cv=3)
    items = expand(spec)
    records = [run_training(prepare(dataset, i.config.split), i.config) for i in items]
    summaries = summarize(records)
    plans = retrainings(summaries, records, base)
    assert [p.penalty for p in plans] == [s.penalty for s in chosen_per_penalty(summaries)] == ["none", "l2"]
    for plan in plans:
        kept = sorted(records[i].result.epoch for i in plan.setting.runs)
        assert len(kept) == 3 and plan.config.epochs == kept[1]  # the median of three folds
        assert plan.epochs_from_folds and not plan.config.early_stopping
        # The whole training part: no validation part, no fold, the sweep's own seeds.
        c = plan.config
        assert (c.validation, c.folds, c.fold, c.seed, c.split_seed) == (0.0, 0, 0, 5, base.split_seed)
        assert (c.penalty, c.alpha if c.penalty == "l2" else None) == (plan.setting.penalty, plan.setting.alpha)
        data = prepare(dataset, c.split)
        assert len(data.y_val) == 0 and len(data.y_train) == 54
    # Without early stopping the retrained run trains the sweep's epochs.
    plain = [run_training(prepare(dataset, i.config.split), i.config) for i in expand(SweepSpec(CONFIG, cv=3))]
    [plan_none, *_] = retrainings(summarize(plain), plain, CONFIG)
    assert plan_none.config.epochs == CONFIG.epochs and not plan_none.epochs_from_folds
