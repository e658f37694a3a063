"""The run store under faults: other openers, damaged files, malformed imports, odd media.

Each test here is a way the store once lost runs or stopped training; see README "Every run, kept".
"""

import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from regui.core.config import ImageSettings, TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.run_log import RunLog
from regui.core.runs import run_training
from regui.core.store import RunStore, StoreError
from tests.helpers import damage_a_page

SMALL = TrainConfig(width=6, height=5, scaling="unit", epochs=3, eta0=0.05)


@pytest.fixture
def record(make_folder):
    dataset = load_dataset(make_folder({"a": 8, "b": 7}), ImageSettings(6, 5))
    data = prepare(dataset, SMALL.split)
    return run_training(data, SMALL.with_(penalty="l2", alpha=0.01), name="r", dataset_summary=dataset.summary())


def _other_process(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_OPEN_AND_CLOSE = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM runs'); c.close()"
)
_COUNT_EPOCHS = (
    "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM epochs').fetchone()[0])"
)


def test_a_second_store_in_the_process_does_not_drop_the_first_ones_locks(tmp_path, record):
    # The app writes runs while its run browser (or a second store) opens the same file, and a
    # terminal lists the runs meanwhile: the app's later epochs must still reach the file.
    path = tmp_path / "runs.sqlite3"
    writer = RunStore(path)
    run_id = writer.begin(record)
    writer.add_epoch(run_id, record.epochs[0])
    RunStore(path, check_interrupted=False).close()  # the browser opens and closes
    _other_process(_OPEN_AND_CLOSE, str(path))  # `regui runs list` in a terminal
    for result in record.epochs[1:]:
        writer.add_epoch(run_id, result)
    assert _other_process(_COUNT_EPOCHS, str(path)) == str(len(record.epochs))
    writer.close()


def _store_with_runs(path, record, count=2):
    with RunStore(path) as store:
        return [store.save(record) for _ in range(count)]


def test_a_damaged_store_is_said_once_and_never_written(tmp_path, record):
    path = tmp_path / "runs.sqlite3"
    _store_with_runs(path, record)
    damaged = damage_a_page(path)
    warnings = []
    log = RunLog.open(path, warnings.append)
    assert log.store is None and len(warnings) == 1
    assert "is damaged" in warnings[0] and "left as it is" in warnings[0] and str(path) in warnings[0]
    log.started(1, record)
    log.epoch(1, record.epochs[0])
    log.finished(1, record)  # training goes on: nothing is stored, nothing more is said
    assert len(warnings) == 1
    assert path.read_bytes() == damaged


def test_a_damaged_page_met_later_is_a_store_error_not_a_crash(tmp_path, record):
    # Opened for reading (no check of every page), the damage shows at the first query that
    # meets it: it must come as the store's own error, with the same words.
    path = tmp_path / "runs.sqlite3"
    _store_with_runs(path, record)
    damaged = damage_a_page(path)
    with RunStore(path, mode="read") as store:
        with pytest.raises(StoreError, match="is damaged"):
            store.runs()
    assert path.read_bytes() == damaged


def _share_with_bad_runs(tmp_path, record) -> tuple:
    """A shared file of four runs: one whose settings are not JSON, one with a NULL metric
    (SQLite keeps NaN as NULL: a sound run), one whose weights do not fit their shape, one sound."""
    path = tmp_path / "share.sqlite3"
    ids = _store_with_runs(path, record, 4)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET name = 'not json', config = '{\"penalty\": ' WHERE id = ?", (ids[0],))
    conn.execute("UPDATE runs SET name = 'nan loss' WHERE id = ?", (ids[1],))
    conn.execute("UPDATE epochs SET objective = NULL WHERE run_id = ? AND epoch = 2", (ids[1],))
    conn.execute("UPDATE runs SET name = 'bad shape', coef_shape = '7x7' WHERE id = ?", (ids[2],))
    conn.commit()
    conn.close()
    return path, ids


def test_importing_refuses_malformed_runs_by_name_and_takes_the_rest(tmp_path, record):
    share, ids = _share_with_bad_runs(tmp_path, record)
    with RunStore(tmp_path / "mine.sqlite3") as mine:
        added, known, refused = mine.import_from(share)
        assert (added, known) == (2, 0)
        assert refused == (
            f"run {ids[0]} (not json): its settings are not JSON",
            f"run {ids[2]} (bad shape): its weights do not fill their shape 7x7",
        )
        names = {run.name: run for run in mine.runs()}
        assert set(names) == {"nan loss", "r"}
        back = mine.load(names["nan loss"].id)
        assert np.isnan(back.epochs[1].objective) and back.epochs[2].objective == record.epochs[2].objective
        assert np.array_equal(mine.load(names["r"].id).final.coef, record.final.coef.astype(np.float32))


def test_a_malformed_row_in_the_store_is_listed_as_damaged_and_can_be_deleted(tmp_path, record):
    path = tmp_path / "runs.sqlite3"
    ids = _store_with_runs(path, record, 3)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET config = 'garbage', test_accuracy = 'high' WHERE id = ?", (ids[1],))
    conn.commit()
    conn.close()
    with RunStore(path) as store:
        listed = {run.id: run for run in store.runs()}
        assert [listed[i].status for i in ids] == ["finished", "damaged", "finished"]
        assert "not a number" in listed[ids[1]].damage or "not JSON" in listed[ids[1]].damage
        assert [r.id for r in store.runs(where={"penalty": "l2"})] == [ids[0], ids[2]]
        with pytest.raises(StoreError, match=f"Stored run {ids[1]} is damaged.*regui runs delete {ids[1]}"):
            store.load(ids[1])
        assert store.export(ids, tmp_path / "out.sqlite3") == 3  # shared as it is: the importer decides
        assert store.delete([ids[1]]) == 1
        assert [r.id for r in store.runs()] == [ids[0], ids[2]]


def test_importing_a_damaged_file_blames_that_file(tmp_path, record):
    share = tmp_path / "share.sqlite3"
    _store_with_runs(share, record)
    damaged = damage_a_page(share, "epochs")
    target = tmp_path / "mine.sqlite3"
    with RunStore(target) as mine:
        with pytest.raises(StoreError) as refused:
            mine.import_from(share)
        assert str(refused.value).startswith(f"Cannot import {share}: it is damaged")
        assert "Nothing was imported" in str(refused.value) and str(target) not in str(refused.value)
        assert mine.count() == 0
    assert share.read_bytes() == damaged


def test_storing_a_run_does_not_import_the_training_stack(tmp_path):
    # The process running a sweep only dispatches and stores; importing scikit-learn there (for
    # its version, on the first run stored) took a core from the workers: 2-process sweeps were
    # 35% slower with the store on (bench/bench_sweep.py prints the ratio).
    code = (
        "import sys; from regui.core.store import RunStore; from regui.core.records import RunRecord; "
        "from regui.core.config import TrainConfig; s = RunStore(sys.argv[1]); "
        "s.begin(RunRecord(config=TrainConfig(), name='r')); "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules)); "
        "print(s.runs()[0].sklearn_version)"
    )
    imported, version = _other_process(code, str(tmp_path / "runs.sqlite3")).splitlines()
    import sklearn

    assert imported == "[]" and version == sklearn.__version__


def test_a_running_row_with_a_bogus_process_id_does_not_stop_the_store(tmp_path, record):
    # A row from elsewhere says "running" by a pid no process can have (or not even a number).
    import socket

    path = tmp_path / "runs.sqlite3"
    ids = _store_with_runs(path, record, 2)
    conn = sqlite3.connect(path)
    for run_id, pid in zip(ids, (2**40, "abc")):
        conn.execute(
            "UPDATE runs SET status = 'running', host = ?, pid = ? WHERE id = ?", (socket.gethostname(), pid, run_id)
        )
    conn.commit()
    conn.close()
    with RunStore(path) as store:  # opening for writing marks them: their writer is gone
        assert [run.status for run in store.runs()] == ["interrupted", "interrupted"]
        assert store.delete(ids[:1]) == 1


def test_reading_changes_nothing_in_an_empty_or_older_file(tmp_path, record):
    from regui.core.store import MIGRATIONS

    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with pytest.raises(StoreError, match="No runs are stored") as raised:
        RunStore(empty, mode="read")
    assert raised.value.nothing_stored and empty.read_bytes() == b""
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA application_id = 1919382889")
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs (uid, name, status, config, dataset) VALUES ('u1', 'old run', 'finished', ?, '{}')",
        (json.dumps(SMALL.to_dict()),),
    )
    conn.execute("INSERT INTO epochs (run_id, epoch, test_accuracy) VALUES (1, 1, 0.5)")
    conn.commit()
    conn.close()
    before = old.read_bytes()
    with RunStore(old, mode="read") as store:
        assert [(run.name, run.epochs_done, run.note) for run in store.runs()] == [("old run", 1, "")]
        assert store.export([1], tmp_path / "out.sqlite3") == 1  # from the up-to-date copy
        with pytest.raises(StoreError, match="opened for reading only"):
            store.delete([1])
    assert old.read_bytes() == before
    with RunStore(tmp_path / "out.sqlite3", mode="read") as exported:
        assert exported.load(1).epochs[0].test_accuracy == 0.5


def test_a_failed_export_leaves_nothing_and_says_why(tmp_path, record):
    path = tmp_path / "runs.sqlite3"
    ids = _store_with_runs(path, record, 1)
    with RunStore(path, mode="read") as store:
        with pytest.raises(StoreError) as refused:
            store.export(ids, tmp_path / "missing" / "out.sqlite3")
        assert str(refused.value) == (
            f"Cannot export to {tmp_path / 'missing' / 'out.sqlite3'}: folder "
            f"{tmp_path / 'missing'} does not exist; nothing was written."
        )
        kept = tmp_path / "kept.sqlite3"
        kept.write_bytes(b"mine")
        with pytest.raises(StoreError, match="exists already"):
            store.export(ids, kept)
        assert kept.read_bytes() == b"mine"
    assert not (tmp_path / "missing").exists() and not list(tmp_path.glob("out*"))


def test_any_file_name_and_network_share_paths_reach_sqlite(tmp_path, record):
    from regui.core.store_file import _uri, uri_from_absolute

    odd = tmp_path / "a folder?#%20 ü" / "runs #1?.sqlite3"
    odd.parent.mkdir()
    with RunStore(odd) as store:
        store.save(record)
    with RunStore(odd, mode="read") as store:
        assert store.count() == 1
    # A network share (\\\\server\\share on Windows): an empty URI authority, the share in the path.
    assert uri_from_absolute(r"\\server\share\runs.sqlite3", "\\") == "file:////server/share/runs.sqlite3"
    assert uri_from_absolute(r"C:\Users\a b\runs.sqlite3", "\\") == "file:///C:/Users/a%20b/runs.sqlite3"
    assert _uri(odd).startswith("file:///") and "%3F" in _uri(odd) and "%23" in _uri(odd)


def test_a_stored_dataset_summary_of_the_wrong_types_reads_as_missing_entries(tmp_path, record):
    # Readers take the folder to Path() and the counts to len(): a number or a string there
    # must not make opening, listing or showing the run fail.
    path = tmp_path / "runs.sqlite3"
    (run_id,) = _store_with_runs(path, record, 1)
    odd = dict(record.dataset, folder=5, class_counts="many", n_test="nine", extra={"kept": True})
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET dataset = ? WHERE id = ?", (json.dumps(odd), run_id))
    conn.commit()
    conn.close()
    with RunStore(path) as store:
        back = store.load(run_id)
        (listed,) = store.runs()
    assert "folder" not in back.dataset and "class_counts" not in back.dataset and "n_test" not in back.dataset
    assert back.dataset["fingerprint"] == record.dataset["fingerprint"] and back.dataset["extra"] == {"kept": True}
    assert back.summary_row()["dataset"] == "" and listed.status == "finished"
    assert back.epochs == record.epochs
