"""The command line under faults and hostile input: nothing lost, nothing hangs, one clear line.

Cases a person meets by running a command are run as that command (a subprocess) where the
process itself is part of the case (signals, encodings, pipes); the rest call ``main``.
"""

import csv
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regui.cli import main
from regui.core.store import RunStore
from tests.helpers import damage_a_page

SMALL_ARGS = ["--size", "6x5", "--epochs", "3", "--scaling", "unit"]


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def regui(*args, env=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=os.getcwd(), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "regui", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 8, "dogs": 8})


@pytest.fixture
def stored(folder, tmp_path):
    """A store with three runs (none, l1, l2) on ``folder``."""
    path = tmp_path / "runs.sqlite3"
    assert main(["run", "--dataset", str(folder), "--alpha", "0.01", *SMALL_ARGS, "-q", "--store", str(path)]) == 0
    return path


# --- 2: an output that is the store --------------------------------------------------------------


@pytest.mark.parametrize("how", ["same", "link", "hardlink", "wal", "default"])
@pytest.mark.parametrize("flag", ["--out", "--history"])
def test_an_output_naming_the_store_is_refused_before_training(
    folder, stored, tmp_path, capsys, monkeypatch, how, flag
):
    before = stored.read_bytes()
    target = {"same": stored, "wal": Path(f"{stored}-wal"), "default": stored}.get(how, tmp_path / "alias.csv")
    if how == "link":
        target.symlink_to(stored)
    elif how == "hardlink":
        os.link(stored, target)
    store_args = ["--store", str(stored)]
    if how == "default":  # no --store: the default store, named by REGUI_STORE
        monkeypatch.setenv("REGUI_STORE", str(stored))
        store_args = []
    capsys.readouterr()
    code = main(["run", "--dataset", str(folder), "--penalty", "l2", *SMALL_ARGS, flag, str(target), *store_args])
    assert code == 2
    captured = capsys.readouterr()
    assert "is the run store" in captured.err and "nothing was written" in captured.err
    assert "epoch" not in captured.out  # refused before training
    assert stored.read_bytes() == before
    with RunStore(stored, mode="read") as store:
        assert store.count() == 3


def test_the_app_and_views_cannot_save_over_the_store(stored, monkeypatch):
    from regui.core import export
    from regui.core.errors import ReguiError

    monkeypatch.setenv("REGUI_STORE", str(stored))
    with pytest.raises(ReguiError, match="is the run store"):
        export.write_csv(stored, [{"a": 1}])  # what every save in the app ends in
    with RunStore(stored, mode="read") as store:
        assert store.count() == 3


# --- 3, 4: a damaged store, a damaged row ----------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_damaged_store_is_one_warning_and_training_goes_on(folder, stored, tmp_path, capsys, command):
    damaged = damage_a_page(stored)
    capsys.readouterr()
    extra = ["--jobs", "1", "--alpha", "0.1"] if command == "sweep" else []
    out = tmp_path / "r.csv"
    code = main(
        [
            command,
            "--dataset",
            str(folder),
            "--penalty",
            "l2",
            *SMALL_ARGS,
            *extra,
            "-q",
            "--store",
            str(stored),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    warnings = [line for line in captured.err.splitlines() if "[WARN]" in line and "store" in line]
    assert len(warnings) == 1 and "is damaged" in warnings[0] and "not stored" in warnings[0]
    assert [row["status"] for row in read_csv(out)] == ["finished"]
    assert stored.read_bytes() == damaged
    assert main(["runs", "list", "--store", str(stored)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is damaged" in err[0]


def test_a_malformed_imported_run_is_refused_and_the_rest_work(folder, stored, tmp_path, capsys):
    conn = sqlite3.connect(stored)
    conn.execute("UPDATE runs SET config = 'not json' WHERE id = 1")
    conn.execute("UPDATE runs SET coef_shape = '1x1' WHERE id = 2")
    conn.execute("UPDATE epochs SET objective = NULL WHERE run_id = 3")  # NaN: a sound run
    conn.commit()
    conn.close()
    mine = tmp_path / "mine.sqlite3"
    capsys.readouterr()
    assert main(["runs", "import", str(stored), "--store", str(mine)]) == 0
    captured = capsys.readouterr()
    assert "1 run(s) added" in captured.out
    assert "not imported: run 1" in captured.err and "settings are not JSON" in captured.err
    assert "not imported: run 2" in captured.err and "weights do not fill" in captured.err
    # The store the rows came from still works with them in it: list, show, export, delete.
    assert main(["runs", "list", "--store", str(stored)]) == 0
    listed = capsys.readouterr().out
    assert "damaged" in listed and "3 run(s)" in listed
    assert main(["runs", "show", "1", "--store", str(stored)]) == 0
    assert "damaged: its settings are not JSON" in capsys.readouterr().out
    assert main(["runs", "show", "3", "--store", str(stored)]) == 0
    assert "nan" in capsys.readouterr().out
    assert main(["runs", "export", "--all", "--out", str(tmp_path / "all.sqlite3"), "--store", str(stored)]) == 0
    assert main(["runs", "delete", "1", "2", "--yes", "--store", str(stored)]) == 0
    with RunStore(stored, mode="read") as store:
        assert [run.id for run in store.runs()] == [3]


# --- 12: read-only and full disks ---------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system of its own (tmpfs), to make read-only or fill; skipped where mounting
    is not allowed."""
    where = tmp_path / "disk"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("mounting a small file system needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_store_on_a_read_only_disk_is_read_and_not_written(folder, small_disk, capsys):
    path = small_disk / "runs.sqlite3"
    assert main(["run", "--dataset", str(folder), "--penalty", "l2", *SMALL_ARGS, "-q", "--store", str(path)]) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = sorted(p.name for p in small_disk.iterdir())
    capsys.readouterr()
    assert main(["runs", "list", "--store", str(path)]) == 0
    assert "1 run(s)" in capsys.readouterr().out
    assert main(["runs", "show", "1", "--store", str(path)]) == 0
    assert main(["run", "--dataset", str(folder), "--penalty", "l2", *SMALL_ARGS, "-q", "--store", str(path)]) == 0
    err = capsys.readouterr().err
    assert "read-only disk" in err and "cannot be read" not in err and "Move it away" not in err
    assert sorted(p.name for p in small_disk.iterdir()) == before


def test_a_full_disk_is_said_and_leaves_no_files(folder, small_disk, capsys):
    (small_disk / "filler").write_bytes(b"\0" * (2 * 2**20 - 64 * 1024))
    path = small_disk / "runs.sqlite3"
    capsys.readouterr()
    assert main(["run", "--dataset", str(folder), "--penalty", "l2", *SMALL_ARGS, "-q", "--store", str(path)]) == 0
    err = capsys.readouterr().err
    assert "is full" in err and "cannot be read" not in err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


# --- 13, 17: what reaches the terminal -------------------------------------------------------------


def test_names_notes_and_class_names_reach_the_terminal_escaped(make_folder, tmp_path):
    hostile = "cats\x1b]0;pwned\x07\x1b[31m"
    folder = make_folder({hostile: 6, "dogs\x9b2J": 6})
    store = tmp_path / "runs.sqlite3"
    env = {"REGUI_STORE": str(store), "REGUI_CACHE_DIR": str(tmp_path / "cache")}
    ran = regui("run", "--dataset", str(folder), "--penalty", "l2", *SMALL_ARGS, env=env)
    assert ran.returncode == 0, ran.stderr
    assert main(["runs", "note", "1", "--name", "evil\x1b[2J name", "a \x1b[5m note", "--store", str(store)]) == 0
    listed = regui("runs", "list", env=env)
    shown = regui("runs", "show", "1", env=env)
    for done in (ran, listed, shown):
        text = done.stdout + done.stderr
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "cats\\x1b]0;pwned\\x07\\x1b[31m" in ran.stdout
    assert "evil\\x1b[2J name / a \\x1b[5m note" in listed.stdout
    assert "dogs\\x9b2J" in shown.stdout


def test_an_ascii_terminal_does_not_abort_a_sweep(folder, tmp_path):
    out = tmp_path / "r.csv"
    done = regui(
        "sweep",
        "--dataset",
        str(folder),
        "--penalty",
        "l1",
        "l2",
        "--alpha",
        "0.1",
        "0.01",
        "--jobs",
        "1",
        *SMALL_ARGS,
        "--out",
        str(out),
        "--no-store",
        env={"PYTHONIOENCODING": "ascii"},
    )
    assert done.returncode == 0, done.stderr
    assert len(read_csv(out)) == 4
    assert "\\u03bb=0.1" in done.stdout  # the lambda sign, escaped


def test_a_reader_that_goes_away_does_not_stop_the_work(folder, tmp_path):
    out = tmp_path / "r.csv"
    environment = dict(os.environ, PYTHONPATH=os.getcwd())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "regui",
            "sweep",
            "--dataset",
            str(folder),
            "--penalty",
            "l1",
            "l2",
            "--alpha",
            "0.1",
            "0.01",
            "0.001",
            "--jobs",
            "1",
            *SMALL_ARGS,
            "--out",
            str(out),
            "--no-store",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert len(read_csv(out)) == 6 and b"Traceback" not in err and b"BrokenPipe" not in err


# --- 14, 15: numbers and paths as typed -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["show", "99999999999999999999999"],
        ["list", "--limit", "99999999999999999999999x"],
        ["list", "--limit", "0"],
        ["delete", "-5", "--yes"],
        ["note", "1e3", "x"],
    ],
)
def test_impossible_numbers_are_bad_input(stored, capsys, args):
    with pytest.raises(SystemExit) as exited:
        main(["runs", *args, "--store", str(stored)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("run id" in err or "whole number" in err)


def test_a_huge_limit_lists_everything(stored, capsys):
    assert main(["runs", "list", "--limit", "99999999999999999999999", "--store", str(stored)]) == 0
    assert "3 run(s)" in capsys.readouterr().out


def test_reading_commands_create_nothing_and_tilde_is_home(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "a" / "b" / "s.sqlite3"
    assert main(["runs", "list", "--store", str(missing)]) == 0
    assert "no run store" in capsys.readouterr().out
    assert main(["runs", "show", "1", "--store", str(missing)]) == 2
    assert not (tmp_path / "a").exists()
    assert (
        main(
            [
                "run",
                "--dataset",
                str(folder),
                "--penalty",
                "l2",
                *SMALL_ARGS,
                "-q",
                "--store=~/s.sqlite3",
                "--out=~/r.csv",
                "--history",
                "~/h.json",
            ]
        )
        == 0
    )
    assert {p.name for p in (tmp_path / "home").iterdir()} >= {"s.sqlite3", "r.csv", "h.json"}
    assert not (tmp_path / "~").exists()
    assert main(["runs", "export", "1", "--out", "/nonexistent-regui/x.sqlite3", "--store=~/s.sqlite3"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not Path("/nonexistent-regui").exists()


def test_runs_note_takes_a_name_and_a_note_in_any_order(stored, capsys):
    assert main(["runs", "note", "2", "--name", "sparse", "most weights are zero", "--store", str(stored)]) == 0
    with RunStore(stored, mode="read") as store:
        run = store.get(2)
    assert (run.name, run.note) == ("sparse", "most weights are zero")


# --- 8, 9: sweeps of any size, processes by the cores -----------------------------------------------


@pytest.mark.parametrize(
    "args, count",
    [
        (["--seeds", "1000000000"], "19,000,000,000"),
        (["--points", "5000", "--seeds", "3", "--penalty", "l1"], "15,000"),
        (["--alpha", "0.1", "--seeds", "10001", "--penalty", "l2"], "10,001"),
    ],
)
def test_a_huge_sweep_is_refused_at_once_with_its_count(folder, args, count):
    done = regui("sweep", "--dataset", str(folder), *args, "--no-store", timeout=60)  # it once ran out of memory
    assert done.returncode == 2
    assert f"This sweep has {count} runs; a sweep may have at most 10,000" in done.stderr
    assert "loading images" not in done.stderr  # refused before anything else


def test_the_run_count_is_counted_as_expand_makes_them():
    from regui.core.config import TrainConfig
    from regui.core.sweep import SweepSpec, count_runs, expand

    for penalties in (("none",), ("none", "l1", "l2", "elasticnet"), ("l2", "l2", "none")):
        for schedule in ("constant", "optimal"):
            spec = SweepSpec(
                TrainConfig(learning_rate=schedule, alpha=0.01),
                penalties=penalties,
                alphas=(1e-4, 1e-3, 1e-2),
                learning_rates=(0.01, 0.1),
                repeats=3,
            )
            assert count_runs(penalties, 3, 2, 3, schedule) == len(expand(spec))


def test_an_infinite_lambda_range_is_one_line(folder):
    done = regui("sweep", "--dataset", str(folder), "--alpha-range", "1e-3", "inf", "--no-store")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "finite" in done.stderr
    assert "RuntimeWarning" not in done.stderr


def test_jobs_are_capped_by_the_cores_and_minus_one_means_all(folder, tmp_path):
    from regui.core.machine import default_workers

    cores = default_workers()
    many = regui(
        "sweep",
        "--dataset",
        str(folder),
        "--penalty",
        "l2",
        "--alpha",
        "0.1",
        "0.01",
        "--jobs",
        "64",
        *SMALL_ARGS,
        "-q",
        "--no-store",
    )
    assert many.returncode == 0, many.stderr
    assert f"{cores} at a time in worker processes (not 64: this machine has {cores} cores" in many.stdout
    everything = regui(
        "sweep",
        "--dataset",
        str(folder),
        "--penalty",
        "l2",
        "--alpha",
        "0.1",
        "--jobs",
        "-1",
        *SMALL_ARGS,
        "-q",
        "--no-store",
    )
    assert everything.returncode == 0, everything.stderr
    [line] = [line for line in everything.stdout.splitlines() if "at a time" in line]
    assert line.endswith(f"{cores} at a time in worker processes, runs that share a pass in blocks")


def test_a_pool_never_starts_more_workers_than_cores(folder):
    from regui.core.config import ImageSettings
    from regui.core.dataset import load_dataset
    from regui.core.machine import default_workers
    from regui.core.pool import ProcessPool

    with ProcessPool(load_dataset(folder, ImageSettings(6, 5)), 64) as pool:
        assert (pool.wanted, pool.jobs, pool.limited_by) == (64, default_workers(), "cores")


# --- 10: a sweep terminated or killed ------------------------------------------------------------


def _sweep_process(folder, tmp_path, out):
    """A 2-process sweep of long runs, its shared-data folder in a temporary folder of its own."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    environment = dict(os.environ, PYTHONPATH=os.getcwd(), TMPDIR=str(private_tmp))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "regui",
            "sweep",
            "--dataset",
            str(folder),
            "--penalty",
            "l1",
            "l2",
            "--alpha",
            "0.1",
            "0.01",
            "--jobs",
            "2",
            "--size",
            "6x5",
            "--epochs",
            "100000",
            "--out",
            str(out),
            "--no-store",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    deadline = time.monotonic() + 60
    while not list(private_tmp.glob("regui-pool-*/meta.json")):  # the workers are being started
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(3)  # they are training now
    return process, private_tmp


def test_sigterm_stops_a_sweep_like_ctrl_c(folder, tmp_path):
    import signal

    out = tmp_path / "r.csv"
    process, private_tmp = _sweep_process(folder, tmp_path, out)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert "terminated (SIGTERM); the runs that ended are saved" in err
    rows = read_csv(out)
    assert len(rows) == 4 and {row["status"] for row in rows} == {"stopped"}
    assert any(int(row["epochs_done"]) > 0 for row in rows)
    assert list(private_tmp.iterdir()) == []  # the shared data went with the sweep


def test_workers_leave_quietly_when_their_sweep_is_killed(folder, tmp_path):
    import signal

    process, private_tmp = _sweep_process(folder, tmp_path, tmp_path / "r.csv")
    process.send_signal(signal.SIGKILL)
    # The workers hold the same stderr: communicate() ends when they have all gone too.
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert list(private_tmp.iterdir()) == []  # the last worker to leave took the shared data along


# --- 16: one folder, however it was typed -----------------------------------------------------------


def test_runs_on_one_folder_typed_three_ways_are_one_folder_in_the_store(folder, tmp_path, monkeypatch, capsys):
    (tmp_path / "link").symlink_to(folder)
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "runs.sqlite3"
    for given in (folder.name, str(folder), "link"):
        assert main(["run", "--dataset", given, "--penalty", "l2", *SMALL_ARGS, "-q", "--store", str(store)]) == 0
    with RunStore(store, mode="read") as s:
        assert {run.folder for run in s.runs()} == {os.path.realpath(folder)}
        assert len(s.runs(folder=os.path.realpath(folder))) == 3


def test_many_points_are_refused_even_without_a_penalty(folder):
    done = regui("sweep", "--dataset", str(folder), "--penalty", "none", "--points", "1000000000", "--no-store")
    assert done.returncode == 2 and "--points may be at most 10,000" in done.stderr


def test_listing_an_empty_file_changes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert main(["runs", "list", "--store", str(empty)]) == 0
    assert "No runs are stored" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite3"] and empty.read_bytes() == b""
