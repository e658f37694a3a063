"""The run store: runs written as they happen, read back, shared, and kept safe from bad files."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from regui.core.config import ImageSettings, TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.records import FINISHED, RUNNING
from regui.core.run_log import RunLog
from regui.core.runs import run_training
from regui.core.store import INTERRUPTED, MIGRATIONS, SCHEMA_VERSION, RunStore, StoreError

SMALL = TrainConfig(width=6, height=5, scaling="unit", epochs=4, eta0=0.05)


@pytest.fixture
def data(make_folder):
    dataset = load_dataset(make_folder({"a": 10, "b": 9, "c": 8}), ImageSettings(6, 5))
    return dataset, prepare(dataset, SMALL.split)


def train_into(store, data, config, name="run"):
    dataset, prepared = data
    log = RunLog(store, warn=pytest.fail)
    summary = dict(dataset.summary(), n_train=len(prepared.y_train), n_test=len(prepared.y_test))
    from regui.core.records import RunRecord

    log.started(1, RunRecord(config=config, name=name, dataset=summary))
    record = run_training(
        prepared, config, name=name, dataset_summary=dataset.summary(), on_epoch=lambda e: log.epoch(1, e), snapshots=1
    )
    log.finished(1, record)
    return log.ids[1], record


def test_a_run_is_stored_epoch_by_epoch_and_read_back_whole(tmp_path, data):
    with RunStore(tmp_path / "runs.sqlite3") as store:
        run_id, record = train_into(store, data, SMALL.with_(penalty="l1", alpha=0.01))
        back = store.load(run_id)
        listed = store.get(run_id)
    assert back.status == FINISHED and back.config == record.config and back.name == "run"
    assert back.epochs == record.epochs  # every number of every epoch
    assert np.array_equal(back.final.coef, record.final.coef) and back.final.coef.dtype == np.float32
    assert np.array_equal(back.final.intercept, record.final.intercept)
    assert back.dataset["fingerprint"] == data[0].fingerprint and back.dataset["class_counts"] == [10, 9, 8]
    assert listed.test_accuracy == record.final.test_accuracy
    chosen = record.chosen()
    assert listed.chosen_epoch == chosen.epoch and listed.chosen_test_accuracy == chosen.test_accuracy
    assert listed.val_accuracy == record.final.val_accuracy and listed.epochs_done == 4
    assert listed.regui_version and listed.sklearn_version


def test_listing_filters_by_dataset_and_any_setting_and_sorts(tmp_path, data):
    with RunStore(tmp_path / "runs.sqlite3") as store:
        ids = {p: train_into(store, data, SMALL.with_(penalty=p, alpha=0.01), name=p)[0] for p in ("none", "l1", "l2")}
        assert [r.name for r in store.runs(where={"penalty": "l2"})] == ["l2"]
        assert [r.name for r in store.runs(where={"penalty": "l1", "alpha": 0.01, "stratify": True})] == ["l1"]
        assert store.runs(where={"alpha": 0.5}) == []
        assert len(store.runs(folder=str(data[0].root.name))) == 3 and store.runs(folder="elsewhere") == []
        by_accuracy = store.runs(sort="test_accuracy", descending=True)
        assert [r.test_accuracy for r in by_accuracy] == sorted((r.test_accuracy for r in by_accuracy), reverse=True)
        with pytest.raises(StoreError, match="not a setting"):
            store.runs(where={"colour": 1})
        with pytest.raises(StoreError, match="Cannot sort"):
            store.runs(sort="config; DROP TABLE runs")
        store.annotate(ids["l1"], name="sparse", note="98% zeros")
        assert store.get(ids["l1"]).name == "sparse" and store.get(ids["l1"]).note == "98% zeros"
        assert store.delete([ids["none"], 999]) == 1
        assert store.count() == 2
        assert store._conn.execute("SELECT count(*) FROM epochs WHERE run_id = ?", (ids["none"],)).fetchone()[0] == 0
        new_id, _ = train_into(store, data, SMALL)
        assert new_id > max(ids.values())  # ids are never reused after a delete


def test_export_and_import_share_runs_without_duplicates(tmp_path, data):
    with RunStore(tmp_path / "mine.sqlite3") as mine:
        ids = [train_into(mine, data, SMALL.with_(penalty=p), name=p)[0] for p in ("l1", "l2")]
        train_into(mine, data, SMALL, name="not shared")
        assert mine.export(ids, tmp_path / "share.sqlite3") == 2
        with pytest.raises(StoreError, match="exists already"):
            mine.export(ids, tmp_path / "share.sqlite3")
        originals = {r.name: mine.load(r.id) for r in mine.runs()}
    shared = (tmp_path / "share.sqlite3").read_bytes()
    with RunStore(tmp_path / "theirs.sqlite3") as theirs:
        assert theirs.import_from(tmp_path / "share.sqlite3") == (2, 0, ())
        assert theirs.import_from(tmp_path / "share.sqlite3") == (0, 2, ())  # the same file again: nothing doubled
        assert sorted(r.name for r in theirs.runs()) == ["l1", "l2"]
        for run in theirs.runs():
            back = theirs.load(run.id)
            assert back.epochs == originals[run.name].epochs
            assert np.array_equal(back.final.coef, originals[run.name].final.coef)
        with pytest.raises(StoreError, match="no such file"):
            theirs.import_from(tmp_path / "missing.sqlite3")
        with pytest.raises(StoreError, match="no status 'done'; runs are running, finished"):
            theirs.runs(status="done")
        (tmp_path / "results.csv").write_text("run,penalty\n1,l2\n")
        with pytest.raises(StoreError) as refused:
            theirs.import_from(tmp_path / "results.csv")
        assert str(refused.value) == (
            f"Cannot import {tmp_path / 'results.csv'}: it is not a regui run store "
            "(not an SQLite database). Nothing was imported."
        )
    assert (tmp_path / "share.sqlite3").read_bytes() == shared  # importing does not touch the file


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\x17" * 4000])
def test_a_damaged_file_is_a_clear_message_and_is_not_overwritten(tmp_path, content):
    path = tmp_path / "runs.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"runs\.sqlite3.*(not a regui run store|cannot be read).*left as it is"):
        RunStore(path)
    assert path.read_bytes() == content


def test_a_database_of_another_program_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
        conn.execute("INSERT INTO customers VALUES ('x')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="some other program"):
        RunStore(path)
    assert path.read_bytes() == before


def test_an_unwritable_place_is_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Cannot create the run store"):
        RunStore(blocker / "runs.sqlite3")  # a folder that cannot exist (root can write anywhere else)
    warnings = []
    log = RunLog.open(blocker / "runs.sqlite3", warnings.append)
    assert log.store is None and "Runs are not stored" in warnings[0]
    log.epoch(1, None)  # storing nothing, quietly: training goes on


def test_an_old_schema_migrates_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1919382889")
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs (uid, name, status, config, dataset) VALUES ('u1', 'old run', 'finished', ?, '{}')",
        # Settings as runs were stored before regui had its own engine: no engine or batch size.
        (__import__("json").dumps({k: v for k, v in SMALL.to_dict().items() if k not in ("engine", "batch_size")}),),
    )
    for epoch, acc in ((1, 0.5), (2, 0.75)):
        conn.execute(
            "INSERT INTO epochs (run_id, epoch, test_accuracy, train_accuracy, objective, zero_fraction) "
            "VALUES (1, ?, ?, 0.9, 1.0, 0.0)",
            (epoch, acc),
        )
    conn.commit()
    conn.close()
    with RunStore(path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        run = store.get(1)
        assert run.name == "old run" and run.note == "" and run.epochs_done == 2
        assert run.test_accuracy == 0.75 and run.val_accuracy is None and run.chosen_epoch is None
        # They were scikit-learn's, one image per step: found as such by a filter, and read as such.
        assert [r.id for r in store.runs(where={"engine": "sgdclassifier", "batch_size": 1})] == [1]
        assert store.runs(where={"engine": "minibatch"}) == []
        record = store.load(1)
        assert record.config == SMALL.with_(engine="sgdclassifier") and record.config.batch_size == 1
        assert all(e.batch_losses.size == 0 for e in record.epochs)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer regui"):
        RunStore(path)


def test_a_killed_training_process_keeps_every_committed_epoch(tmp_path, make_folder):
    # A real process, killed with SIGKILL in the middle of a run: no chance to clean up.
    folder = make_folder({"a": 10, "b": 10})
    store_path = tmp_path / "runs.sqlite3"
    env = dict(os.environ, REGUI_STORE=str(store_path), PYTHONPATH=os.getcwd())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "regui",
            "run",
            "--dataset",
            str(folder),
            "--penalty",
            "l2",
            "--epochs",
            "100000",
            "--size",
            "6x5",
            "--scaling",
            "unit",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen = 0
    try:
        for line in process.stdout:  # each epoch is printed after it is committed
            if line.lstrip().startswith("epoch"):
                seen += 1
                if seen == 25:
                    break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stdout.close()
    assert seen == 25
    conn = sqlite3.connect(store_path)
    (status,) = conn.execute("SELECT status FROM runs").fetchone()
    conn.close()
    assert status == RUNNING  # nobody has looked since
    with RunStore(store_path) as store:
        (run,) = store.runs()
        assert run.status == INTERRUPTED and "ended before the run did" in run.message
        record = store.load(run.id)
    assert len(record.epochs) >= seen and [e.epoch for e in record.epochs] == list(range(1, len(record.epochs) + 1))
    assert record.epochs[seen - 1].test_accuracy is not None


def test_two_writers_at_once_do_not_block_or_corrupt(tmp_path, data):
    # The app and a command line writing to one store at the same time (WAL: readers never wait).
    path = tmp_path / "runs.sqlite3"
    with RunStore(path) as one, RunStore(path) as two:
        reader = RunStore(path)
        one._conn.execute("BEGIN IMMEDIATE")  # a writer in the middle of a transaction
        started = time.perf_counter()
        assert reader.runs() == []  # reading does not wait for it
        assert time.perf_counter() - started < 1
        one._conn.execute("COMMIT")
        train_into(one, data, SMALL, name="one")
        train_into(two, data, SMALL, name="two")
        assert sorted(r.name for r in reader.runs()) == ["one", "two"]
        reader.close()
        assert one._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert one._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_run_stored_before_reduced_decoding_reads_as_decoded_in_full():
    from regui.core.store_rows import config_from_json

    assert config_from_json('{"penalty": "l2", "engine": "minibatch"}').exact_decode is True
    assert config_from_json('{"penalty": "l2", "engine": "minibatch", "exact_decode": false}').exact_decode is False
