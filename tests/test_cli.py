import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from regui.cli import main
from regui.core.config import TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.runs import run_training

SMALL_ARGS = ["--size", "6x5", "--epochs", "4", "--scaling", "unit"]


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_run_end_to_end_matches_the_engine(make_folder, tmp_path, capsys):
    root = make_folder({"cats": 14, "dogs": 12, "panda": 10})
    out, history = tmp_path / "results.csv", tmp_path / "history.json"
    code = main(
        [
            "run",
            "--dataset",
            str(root),
            "--penalty",
            "none",
            "l1",
            "l2",
            "--alpha",
            "0.01",
            "--lr",
            "0.02",
            *SMALL_ARGS,
            "--out",
            str(out),
            "--history",
            str(history),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    rows = read_csv(out)
    assert [r["penalty"] for r in rows] == ["none", "l1", "l2"]

    base = TrainConfig(width=6, height=5, epochs=4, scaling="unit", alpha=0.01, eta0=0.02)
    ds = load_dataset(root, base.image)
    data = prepare(ds, base.split)
    runs = json.loads(history.read_text(encoding="utf-8"))["runs"]
    for row, run in zip(rows, runs):
        expected = run_training(data, base.with_(penalty=row["penalty"]))
        final = expected.final
        # The CSV holds the engine's numbers exactly (repr round-trips floats).
        assert float(row["test_accuracy"]) == final.test_accuracy
        assert float(row["train_accuracy"]) == final.train_accuracy
        assert float(row["objective"]) == final.objective
        assert float(row["weight_l2"]) == final.weight_l2
        assert float(row["zero_fraction"]) == final.zero_fraction
        assert row["status"] == "finished" and row["epochs_done"] == "4"
        assert int(row["n_train"]) + int(row["n_val"]) + int(row["n_test"]) == 36 and int(row["n_val"]) > 0
        assert [e["test_accuracy"] for e in run["history"]] == [e.test_accuracy for e in expected.epochs]
        assert [e["batch_losses"] for e in run["history"]] == [e.batch_losses.tolist() for e in expected.epochs]
        assert run["config"]["penalty"] == row["penalty"] and run["config"]["engine"] == "minibatch"
        assert row["engine"] == "minibatch" and row["batch_size"] == "64"
        # ... and the lesson-style line shows the same accuracy.
        assert f"'{row['penalty']}' penalty accuracy: {final.test_accuracy * 100:.2f}%" in printed
    assert printed.count("  epoch ") == 12


def test_several_values_give_one_run_each(make_folder, tmp_path):
    root = make_folder({"a": 8, "b": 8})
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                "run",
                "--dataset",
                str(root),
                "--penalty",
                "l2",
                "--alpha",
                "0.1",
                "0.001",
                "--lr",
                "0.01",
                "0.1",
                *SMALL_ARGS,
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    rows = read_csv(out)
    assert [(r["alpha"], r["eta0"]) for r in rows] == [
        ("0.1", "0.01"),
        ("0.1", "0.1"),
        ("0.001", "0.01"),
        ("0.001", "0.1"),
    ]


def test_divergence_is_reported_in_the_table_and_exit_status(make_folder, tmp_path, capsys, allow_divergence):
    root = make_folder({"a": 8, "b": 8})
    out = tmp_path / "r.csv"
    code = main(
        [
            "run",
            "--dataset",
            str(root),
            "--penalty",
            "none",
            "--lr",
            "1e150",
            "--loss",
            "hinge",
            "--size",
            "6x5",
            "--epochs",
            "30",
            "--out",
            str(out),
        ]
    )
    assert code == 1
    [row] = read_csv(out)
    assert row["status"] == "diverged" and "learning rate" in row["message"]
    assert "diverged" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("missing", [], "not found"),
        ("one_class", [], "at least two class"),
        ("empty_class", [], "has no image files"),
        ("ok", ["--alpha", "-1"], "Lambda (alpha) must be from 1e-7 to 1e4"),
        ("ok", ["--lr", "1e9"], "The learning rate must be from 1e-6 to 1e4 (got 1e9)"),
        ("ok", ["--test-size", "2"], "test fraction"),
        ("ok", ["--out", "{tmp}/no/such/dir/r.csv"], "does not exist"),
        ("ok", ["--out", "{tmp}/same.x", "--history", "{tmp}/same.x"], "same file"),
        ("ok", ["--jobs", "0"], "--jobs"),
        ("empty_arg", [], "empty"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(make_folder, tmp_path, capsys, setup, args, message):
    root = tmp_path / "data"
    if setup == "one_class":
        make_folder({"only": 3})
    elif setup == "empty_class":
        make_folder({"a": 3})
        (root / "b").mkdir()
    elif setup == "ok":
        make_folder({"a": 3, "b": 3})
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    dataset = "" if setup == "empty_arg" else str(root)
    assert main(["run", "--dataset", dataset, *SMALL_ARGS, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("regui: error:") and message in err[0]


def test_console_entry_point_runs_on_the_bundled_sample_without_traceback(tmp_path):
    env = dict(os.environ, REGUI_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "regui",
            "run",
            "--penalty",
            "l2",
            "--epochs",
            "2",
            "--size",
            "8",
            "--grayscale",
            "--out",
            str(tmp_path / "r.csv"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1797 images in 10 classes" in done.stdout
    assert "'l2' penalty accuracy:" in done.stdout
    [row] = read_csv(tmp_path / "r.csv")
    assert float(row["test_accuracy"]) > 0.8  # digits are easy: a real model, not a stub

    broken = subprocess.run(
        [sys.executable, "-m", "regui", "run", "--dataset", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr and "not found" in broken.stderr


def test_core_and_cli_import_no_qt():
    code = (
        "import sys, regui.cli, regui.core.dataset, regui.core.training, regui.core.runs, regui.core.export;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lambda_values_do_not_multiply_runs_without_a_penalty(make_folder, tmp_path):
    root = make_folder({"a": 8, "b": 8})
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                "run",
                "--dataset",
                str(root),
                "--penalty",
                "none",
                "l1",
                "--alpha",
                "0.1",
                "0.01",
                *SMALL_ARGS,
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert [(r["penalty"], r["alpha"]) for r in read_csv(out)] == [("none", "0.1"), ("l1", "0.1"), ("l1", "0.01")]
    assert [r["run"] for r in read_csv(out)][0].startswith("#1 none")


def test_app_without_a_display_says_so(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([]) == 2
    assert "no display" in capsys.readouterr().err


def test_sweep_end_to_end_matches_the_engine(make_folder, tmp_path, capsys):
    from regui.core.sweep import SweepSpec, expand
    from regui.core.sweep_runs import SweepEvents, run_serial

    root = make_folder({"a": 10, "b": 10, "c": 10})
    out, summary = tmp_path / "sweep.csv", tmp_path / "summary.csv"
    code = main(
        [
            "sweep",
            "--dataset",
            str(root),
            "--penalty",
            "none",
            "l2",
            "--alpha-range",
            "1e-4",
            "1e-2",
            "--points",
            "3",
            "--seeds",
            "2",
            "--jobs",
            "2",
            *SMALL_ARGS,
            "--lr",
            "0.02",
            "--out",
            str(out),
            "--summary",
            str(summary),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    rows = read_csv(out)
    assert len(rows) == 2 + 3 * 2 and {r["sweep"] for r in rows} == {"S1"}
    spec = SweepSpec(
        TrainConfig(width=6, height=5, epochs=4, scaling="unit", eta0=0.02),
        penalties=("none", "l2"),
        alphas=(1e-4, 1e-3, 1e-2),
        repeats=2,
    )
    assert [r["eta0"] for r in rows] == ["0.02"] * 8
    expected = run_serial(load_dataset(root, spec.base.image), expand(spec), SweepEvents())
    for row, record in zip(rows, expected):
        assert float(row["test_accuracy"]) == record.final.test_accuracy
        assert float(row["objective"]) == record.final.objective
        assert int(row["repeat"]) == record.repeat and int(row["split_seed"]) == record.config.split_seed
    summaries = read_csv(summary)
    assert len(summaries) == 4 and all(s["runs"] == "2" for s in summaries)
    assert "[8/8]" in printed and "chosen 'l2' (on validation" in printed
    assert "2 penalties x 3 lambdas x 1 learning rate x 2 repeats" in printed
    assert "] #1 none lr=0.02 batch 64 pixels [0, 1] repeat 1: validation" in printed  # repeats told apart as they end
    assert "] #2 none lr=0.02 batch 64 pixels [0, 1] repeat 2: validation" in printed
    assert main(["runs", "list", "--where", "penalty=none"]) == 0
    listed = capsys.readouterr().out
    assert " S1 r1 " in listed and " S1 r2 " in listed  # and so in the store's list


def test_sweep_one_job_runs_here(make_folder, tmp_path):
    root = make_folder({"a": 8, "b": 8})
    out = tmp_path / "s.csv"
    assert (
        main(
            [
                "sweep",
                "--dataset",
                str(root),
                "--penalty",
                "l1",
                "--alpha",
                "0.001",
                "--jobs",
                "1",
                *SMALL_ARGS,
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert [r["status"] for r in read_csv(out)] == ["finished"]


def test_sweep_bad_scheduler_is_one_line(make_folder, capsys, monkeypatch):
    import regui.core.dask_runner as dask_runner

    monkeypatch.setattr(dask_runner, "CONNECT_TIMEOUT", 1)
    root = make_folder({"a": 8, "b": 8})
    assert main(["sweep", "--dataset", str(root), "--scheduler", "tcp://127.0.0.1:9", *SMALL_ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Dask scheduler" in err[0]


def test_runs_are_stored_and_the_runs_command_lists_shows_shares_and_deletes(
    make_folder, tmp_path, capsys, monkeypatch
):
    from regui.core.store import RunStore

    root = make_folder({"cats": 10, "dogs": 10})
    store = tmp_path / "mine.sqlite3"
    assert (
        main(
            [
                "run",
                "--dataset",
                str(root),
                "--penalty",
                "l1",
                "l2",
                "--alpha",
                "0.01",
                *SMALL_ARGS,
                "-q",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert "2 run(s) stored" in capsys.readouterr().out
    assert (
        main(
            [
                "sweep",
                "--dataset",
                str(root),
                "--penalty",
                "l2",
                "--alpha",
                "0.1",
                "--jobs",
                "1",
                *SMALL_ARGS,
                "-q",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert (
        main(
            ["run", "--dataset", str(root), "--penalty", "none", *SMALL_ARGS, "-q", "--no-store", "--store", str(store)]
        )
        == 0
    )
    with RunStore(store) as s:
        runs = s.runs()
        assert [(r.config.penalty, r.sweep, r.epochs_done) for r in runs] == [
            ("l1", "", 4),
            ("l2", "", 4),
            ("l2", "S1", 4),
        ]
        assert all(r.status == "finished" for r in runs)
    capsys.readouterr()

    assert main(["runs", "list", "--store", str(store), "--where", "penalty=l2", "alpha=0.01"]) == 0
    listed = capsys.readouterr().out
    assert "1 run(s)" in listed and "L2" in listed and "L1" not in listed
    assert main(["runs", "show", "2", "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "penalty=l2" in shown and "cats 10, dogs 10" in shown and shown.count("%") >= 8  # four epoch rows
    assert main(["runs", "note", "2", "keep this one", "--store", str(store)]) == 0
    assert main(["runs", "export", "1", "2", "--out", str(tmp_path / "share.sqlite3"), "--store", str(store)]) == 0
    other = tmp_path / "theirs.sqlite3"
    assert main(["runs", "import", str(tmp_path / "share.sqlite3"), "--store", str(other)]) == 0
    assert main(["runs", "import", str(tmp_path / "share.sqlite3"), "--store", str(other)]) == 0
    assert "0 run(s) added" in capsys.readouterr().out.splitlines()[-1]
    assert main(["runs", "list", "--store", str(other)]) == 0
    assert "keep this one" in capsys.readouterr().out
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    assert main(["runs", "delete", "1", "--store", str(store)]) == 2  # not at a terminal: needs --yes
    assert main(["runs", "delete", "1", "--yes", "--store", str(store)]) == 0
    assert main(["runs", "delete", "99", "--yes", "--store", str(store)]) == 2
    assert "No stored run has id 99" in capsys.readouterr().err
    with RunStore(store) as s:
        assert [r.id for r in s.runs()] == [2, 3]


def test_a_store_that_cannot_be_used_is_a_warning_and_the_runs_go_on(make_folder, tmp_path, capsys):
    root = make_folder({"cats": 6, "dogs": 6})
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 50)
    assert main(["run", "--dataset", str(root), "--penalty", "l2", *SMALL_ARGS, "-q", "--store", str(bad)]) == 0
    captured = capsys.readouterr()
    assert "Runs are not stored" in captured.err and "not a regui run store" in captured.err
    assert "accuracy" in captured.out
    assert bad.read_bytes() == b"not a database" * 50
    assert main(["runs", "list", "--store", str(bad)]) == 2
    assert "not a regui run store" in capsys.readouterr().err


def test_a_run_that_learned_nothing_is_a_warning_line(make_folder, capsys):
    root = make_folder({"cats": 30, "dogs": 24, "panda": 20})
    assert (
        main(
            [
                "run",
                "--dataset",
                str(root),
                "--penalty",
                "l1",
                "--alpha",
                "1",
                "--lr",
                "0.5",
                "--size",
                "12x10",
                "--epochs",
                "5",
                "--scaling",
                "unit",
                "-q",
                "--no-store",
            ]
        )
        == 0
    )
    [line] = [line for line in capsys.readouterr().err.splitlines() if "learned nothing" in line]
    assert line.startswith("[WARN] 'l1' penalty learned nothing: its test accuracy") and "lower lambda (now 1)" in line


def test_missing_x11_libraries_are_named_before_qt_aborts(monkeypatch, capsys):
    import regui.gui.platform_check as check

    def cdll(name, *args, **kwargs):  # this machine's libraries aside: two missing, the rest there
        if name in ("libxcb-cursor.so.0", "libxcb-xkb.so.1"):
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    monkeypatch.setattr(check.ctypes, "CDLL", cdll)
    monkeypatch.setattr(check.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert check.missing_x11_packages() == ["libxcb-cursor0", "libxcb-xkb1"]
    assert main([]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.endswith(
        "libxcb-cursor0, libxcb-xkb1. On Debian or Ubuntu: sudo apt install libxcb-cursor0 libxcb-xkb1"
    )
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert check.missing_x11_packages() == []  # no window through X11: nothing to check


def test_a_cross_validated_sweep_retrains_the_chosen_setting_and_tests_it_once(make_folder, tmp_path, capsys):
    root = make_folder({"a": 12, "b": 12, "c": 12})
    args = ["--size", "6x5", "--epochs", "3", "--lr", "0.05", "--no-store", "--jobs", "1"]
    out = tmp_path / "runs.csv"
    code = main(
        ["sweep", "--dataset", str(root), "--penalty", "none", "l2", "--alpha", "0.01", "1", "--cv", "3"]
        + ["--out", str(out), *args]
    )
    assert code == 0
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))  # the retrained runs are written with the grid's
    assert len(rows) == 9 + 2 and all(r["run"].endswith("retrained on the whole training part") for r in rows[9:])
    printed = capsys.readouterr().out
    assert "3 runs" not in printed and "sweep of 9 runs" in printed and "x 3 folds" in printed
    lines = [line for line in printed.splitlines() if "chosen by 3-fold cross-validation" in line]
    assert len(lines) == 2  # one per penalty
    # The number reported is that of the chosen setting trained on the whole training part.
    chosen = re.search(r"'l2' lambda=(\S+) lr", lines[1]).group(1)
    config = TrainConfig(width=6, height=5, epochs=3, eta0=0.05, penalty="l2", alpha=float(chosen), validation=0)
    data = prepare(load_dataset(root, config.image), config.split)
    expected = run_training(data, config)
    assert f"({len(data.y_train)} images) and tested once: test accuracy {expected.final.test_accuracy:.2%}" in lines[1]
    assert expected.final.test_accuracy > 0.5  # it learned: the number compared is not chance's
    assert main(["sweep", "--dataset", str(root), "--cv", "1", *args]) == 2


def test_exact_decode_decodes_large_photos_in_full(tmp_path, capsys):
    from tests.core.test_reduced_decode import full_decode, photo

    root = tmp_path / "photos"
    for label, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(4):
            (root / name / f"IMG_{i}.jpg").write_bytes(photo(1280, 960, seed=10 * label + i))
    common = ["run", "--dataset", str(root), "--size", "8", "--epochs", "1", "--no-store", "--validation", "0"]

    assert main([*common, "--history", str(tmp_path / "reduced.json")]) == 0
    assert "8 large JPEGs decoded at reduced scale" in capsys.readouterr().out
    assert main([*common, "--exact-decode", "--history", str(tmp_path / "exact.json")]) == 0
    assert "reduced" not in capsys.readouterr().out
    run = json.loads((tmp_path / "exact.json").read_text(encoding="utf-8"))["runs"][0]
    assert run["config"]["exact_decode"] is True
    # The run trained on OpenCV's full decode: the same numbers as a run on those pixels.
    config = TrainConfig.from_dict(run["config"])
    data = prepare(load_dataset(root, config.image, use_cache=False), config.split)
    expected = run_training(data, config).final
    assert run["history"][-1]["objective"] == expected.objective  # (reduced pixels give another)
    assert np.array_equal(
        load_dataset(root, config.image, use_cache=False).X[0], full_decode(root / "cats" / "IMG_0.jpg", config.image)
    )
