import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QPushButton

from regui.cli import main as cli_main
from regui.core.config import TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.records import DIVERGED, FINISHED, STOPPED
from regui.core.runs import run_training
from regui.gui.results_columns import COLUMN_INDEX

SMALL = TrainConfig(width=6, height=5, scaling="unit", epochs=5, eta0=0.02)


def set_config(win, config):
    win.params.set_config(config)


def cell(win, row, key):
    return win.proxy.index(row, COLUMN_INDEX[key]).data()


def run_and_wait(qtbot, win, timeout=30_000):
    with qtbot.waitSignal(win.controller.run_finished, timeout=timeout) as blocker:
        qtbot.mouseClick(win.run_button, Qt.MouseButton.LeftButton)
    return win.runs.entry(blocker.args[0]).record  # the run's record as the window keeps it


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 14, "dogs": 12, "panda": 10})


def test_whole_flow_load_run_check_export(qtbot, window, load, folder, tmp_path):
    set_config(window, SMALL)
    dataset = load(window, folder)
    assert dataset.n_images == 36
    assert "36 images" in window.dataset_panel.summary.text()
    assert window.run_button.isEnabled()

    # Set penalty and lambda the way a person does: pick from the list, type the number.
    window.params.penalty.setCurrentIndex(window.params.penalty.findData("l2"))
    spin = window.params.alpha.spin
    spin.clear()
    qtbot.keyClicks(spin, "0.003")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.params.config().alpha == 0.003

    record = run_and_wait(qtbot, window)
    assert record.status == FINISHED and len(record.epochs) == 5

    # The table shows the engine's numbers for the same config, exactly.
    config = SMALL.with_(penalty="l2", alpha=0.003)
    expected = run_training(prepare(load_dataset(folder, config.image), config.split), config)
    entry = window.runs.entry_at(0)
    assert [e.test_accuracy for e in entry.record.epochs] == [e.test_accuracy for e in expected.epochs]
    assert [e.objective for e in entry.record.epochs] == [e.objective for e in expected.epochs]
    assert cell(window, 0, "test_accuracy") == f"{expected.final.test_accuracy * 100:.2f}%"
    assert cell(window, 0, "status") == "finished"
    assert cell(window, 0, "epochs") == "5/5"
    assert cell(window, 0, "penalty") == "L2" and cell(window, 0, "alpha") == "0.003"

    # The curves hold the same numbers.
    curves = window.plots.curves(entry.run_id)
    x, y = curves["test"].getData()
    assert list(x) == [1, 2, 3, 4, 5]
    assert list(y) == [e.test_accuracy * 100 for e in expected.epochs]
    # Validation accuracy, dotted, with a star at the epoch chosen on it (the record's choice).
    vx, vy = curves["val"].getData()
    assert list(vy) == [e.val_accuracy * 100 for e in expected.epochs]
    chosen = expected.chosen()
    assert [list(a) for a in curves["chosen"].getData()] == [[chosen.epoch], [chosen.val_accuracy * 100]]
    # Mini-batch losses: hidden until asked for; then every epoch's, each where its step began.
    assert "batches" not in curves  # not even made until asked for
    window.plots.show_batches.setChecked(True)
    curves = window.plots.curves(entry.run_id)
    assert curves["batches"].isVisible()
    bx, by = curves["batches"].getData()
    losses = [e.batch_losses for e in expected.epochs]
    assert by.tolist() == np.concatenate(losses).astype(float).tolist()
    steps = len(losses[0])
    assert steps >= 1 and bx.tolist() == pytest.approx([k + j / steps for k in range(5) for j in range(steps)])
    window.plots.show_batches.setChecked(False)
    assert cell(window, 0, "batch") == "64" and "batch 64" in entry.label

    # Export: CSV, JSON and Markdown read back; PNG is a real image.
    assert window.export_results(str(tmp_path / "r.csv"))
    with open(tmp_path / "r.csv", newline="", encoding="utf-8-sig") as fh:
        [row] = list(csv.DictReader(fh))
    assert float(row["test_accuracy"]) == expected.final.test_accuracy
    assert row["penalty"] == "l2" and float(row["alpha"]) == 0.003
    assert window.export_results(str(tmp_path / "r.json"))
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [e["objective"] for e in document["runs"][0]["history"]] == [e.objective for e in expected.epochs]
    assert window.export_results(str(tmp_path / "r.md"))
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert f"{expected.final.test_accuracy * 100:.2f}%" in markdown and markdown.startswith("| Run |")
    assert window.export_plots(str(tmp_path / "plots.png"))
    image = QImage(str(tmp_path / "plots.png"))
    assert not image.isNull() and image.width() >= 1000


def test_table_numbers_equal_the_command_line(qtbot, window, load, folder, tmp_path, capsys):
    config = SMALL.with_(penalty="l1", alpha=0.001, epochs=4)
    set_config(window, config)
    load(window, folder)
    record = run_and_wait(qtbot, window)
    out = tmp_path / "cli.csv"
    assert (
        cli_main(
            [
                "run",
                "--dataset",
                str(folder),
                "--penalty",
                "l1",
                "--alpha",
                "0.001",
                "--epochs",
                "4",
                "--lr",
                "0.02",
                "--size",
                "6x5",
                "--scaling",
                "unit",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    with open(out, newline="", encoding="utf-8-sig") as fh:
        [row] = list(csv.DictReader(fh))
    for key in ("test_accuracy", "train_accuracy", "objective", "weight_l2", "zero_fraction"):
        assert float(row[key]) == getattr(record.final, key)
    assert f"accuracy: {cell(window, 0, 'test_accuracy')}" in printed


def test_stop_keeps_what_the_run_produced(qtbot, window, load, folder):
    set_config(window, SMALL.with_(epochs=100_000))
    load(window, folder)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.runs.entry_at(0).record.epochs) >= 3, timeout=20_000)
    assert window.stop_button.isEnabled()
    with qtbot.waitSignal(window.controller.run_finished, timeout=20_000) as blocker:
        qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    record = blocker.args[1]
    k = len(record.epochs)
    assert record.status == STOPPED and 3 <= k < 100_000
    assert cell(window, 0, "status") == f"stopped at epoch {k}"
    assert [e.epoch for e in window.runs.entry_at(0).record.epochs] == list(range(1, k + 1))
    qtbot.waitUntil(lambda: not window.stop_button.isEnabled())


def test_closing_mid_run_stops_cleanly(qtbot, settings, load, folder):
    from regui.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.show()
    set_config(win, SMALL.with_(epochs=100_000))
    load(win, folder)
    win.start_run()
    win.load_folder(str(folder))  # a load in flight too
    qtbot.waitUntil(lambda: len(win.runs.entry_at(0).record.epochs) >= 2, timeout=20_000)
    assert win.close()
    assert win.session.running() == [] and win.controller.is_idle() and not win.controller.is_loading()
    # the no_dangling_qthreads fixture checks that no thread is left


def test_a_second_run_while_one_is_active_keeps_both(qtbot, window, load, folder):
    set_config(window, SMALL.with_(epochs=100_000))
    load(window, folder)
    first = window.start_run()
    qtbot.waitUntil(lambda: len(window.runs.entry(first).record.epochs) >= 2, timeout=20_000)
    set_config(window, SMALL.with_(penalty="l2", alpha=0.01, epochs=3))
    with qtbot.waitSignal(
        window.controller.run_finished, timeout=20_000, check_params_cb=lambda run_id, record: run_id != first
    ):
        second = window.start_run()
    assert window.runs.rowCount() == 2
    assert window.runs.entry(second).record.status == FINISHED
    assert window.runs.entry(first).record.status == "running"
    with qtbot.waitSignal(window.controller.run_finished, timeout=20_000):
        window.stop_runs()
    assert window.runs.entry(first).record.status == STOPPED
    assert len(window.runs.entry(second).record.epochs) == 3


@pytest.mark.parametrize(
    "layout, message",
    [
        (None, "not found"),
        ({"only": 3}, "at least two class"),
    ],
)
def test_load_errors_are_shown_and_the_app_carries_on(qtbot, window, make_folder, tmp_path, layout, message):
    target = make_folder(layout) if layout else tmp_path / "missing"
    with qtbot.waitSignal(window.controller.load_failed, timeout=20_000):
        window.load_folder(str(target))
    assert message in window.dataset_panel.error.text()
    assert window.dataset_panel.error.isVisible()
    assert message in window.last_message
    assert not window.run_button.isEnabled()


def test_a_failed_load_keeps_the_loaded_dataset_and_runs(qtbot, window, load, folder, tmp_path):
    set_config(window, SMALL)
    load(window, folder)
    run_and_wait(qtbot, window)
    with qtbot.waitSignal(window.controller.load_failed, timeout=20_000):
        window.load_folder(str(tmp_path / "nope"))
    assert window.dataset is not None and window.dataset.root == folder
    assert "Still using" in window.dataset_panel.error.text()
    assert window.run_button.isEnabled() and window.runs.rowCount() == 1


def test_broken_images_are_listed_with_reasons(qtbot, window, load, folder):
    (folder / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "dogs" / "empty.png").write_bytes(b"")
    set_config(window, SMALL)
    load(window, folder)
    panel = window.dataset_panel
    assert panel.skipped_toggle.isVisible() and panel.skipped_toggle.text() == "Skipped files (2)"
    rows = {panel.skipped.topLevelItem(i).text(0): panel.skipped.topLevelItem(i).text(1) for i in range(2)}
    assert set(rows) == {"cats/broken.jpg", "dogs/empty.png"} and "empty" in rows["dogs/empty.png"]
    assert not panel.skipped.isVisible()
    qtbot.mouseClick(panel.skipped_toggle, Qt.MouseButton.LeftButton)
    assert panel.skipped.isVisible()


def test_divergence_is_explained_and_earlier_runs_stay(qtbot, window, load, folder, allow_divergence):
    set_config(window, SMALL)
    load(window, folder)
    good = run_and_wait(qtbot, window)
    set_config(window, SMALL.with_(loss="hinge", scaling="raw", eta0=9.0, epochs=50))
    window.params.eta0.setValue(1e150)
    record = run_and_wait(qtbot, window)
    assert record.status == DIVERGED
    assert "diverged" in window.last_message and "learning rate" in window.last_message
    assert cell(window, 1, "status").startswith("diverged at epoch")
    assert window.runs.entry_at(0).record is good and window.run_button.isEnabled()


def test_thousands_of_epoch_signals(qtbot, window, load, make_folder):
    """Streams a few thousand signals: a PySide6 release with the emit fault aborts here."""
    tiny = make_folder({"a": 4, "b": 4}, size=(2, 2))
    set_config(window, TrainConfig(width=2, height=2, scaling="unit", epochs=3000, test_size=0.5, validation=0.0))
    load(window, tiny)
    record = run_and_wait(qtbot, window, timeout=120_000)
    assert record.status == FINISHED and len(record.epochs) == 3000
    assert len(window.runs.entry_at(0).record.epochs) == 3000


def test_settings_panel_prevents_or_explains_bad_combinations(qtbot, window, load, make_folder):
    params = window.params
    params.penalty.setCurrentIndex(params.penalty.findData("l2"))
    assert not params.l1_ratio.isEnabled()
    params.penalty.setCurrentIndex(params.penalty.findData("elasticnet"))
    assert params.l1_ratio.isEnabled()
    params.penalty.setCurrentIndex(params.penalty.findData("none"))
    # Lambda stays editable without a penalty: Compare penalties and Sweep take it from here.
    assert params.alpha.isEnabled() and "Compare penalties and Sweep" in params.alpha.toolTip()
    params.engine.setCurrentIndex(params.engine.findData("sgdclassifier"))  # 'optimal' is scikit-learn's
    params.schedule.setCurrentIndex(params.schedule.findData("optimal"))
    assert params.alpha.isEnabled() and not params.eta0.isEnabled()

    small = make_folder({"a": 3, "b": 3})
    set_config(window, SMALL)
    load(window, small)
    # 3 images a class cannot give the validation part one of each: said, and fixed by none.
    assert not window.run_button.isEnabled() and "validation fraction" in window.ready.text()
    params.validation.setValue(0.0)
    # Early stopping watches the validation part: without one it is refused, with the reason.
    assert not params.patience.isEnabled()
    params.early_stopping.setChecked(True)
    assert params.patience.isEnabled() and params.config().early_stopping and params.config().patience == 5
    assert not window.run_button.isEnabled() and "Early stopping watches the validation part" in window.ready.text()
    params.early_stopping.setChecked(False)
    assert window.run_button.isEnabled()
    params.test_size.setValue(0.1)  # 1 test image for 2 classes: stratify cannot work
    assert not window.run_button.isEnabled()
    assert "fewer than one image per class" in window.ready.text()
    params.stratify.setChecked(False)
    assert window.run_button.isEnabled()
    # scikit-learn's engine: each L2 step would zero the weights
    set_config(window, SMALL.with_(engine="sgdclassifier", penalty="l2", alpha=1e-4, eta0=1e4, validation=0.0))
    assert not window.run_button.isEnabled() and "learns nothing" in window.ready.text()
    set_config(window, SMALL.with_(engine="sgdclassifier", penalty="l2", alpha=1e-4, eta0=1e3, validation=0.0))
    assert window.run_button.isEnabled()
    # Engine by engine, the losses say what they are and the batch size applies to regui's only.
    assert params.loss.itemText(params.loss.findData("log_loss")) == "log loss (one-vs-rest logistic)"
    assert not params.batch.isEnabled() and params.schedule.findData("optimal") >= 0
    set_config(window, SMALL.with_(batch_size=100, validation=0.0))
    assert params.batch.isEnabled() and params.batch.currentText() == "100" and params.config().batch_size == 100
    assert params.loss.itemText(params.loss.findData("hinge")) == "multi-class SVM (hinge)"
    assert params.schedule.findData("optimal") == -1  # scikit-learn's own schedule


def test_lambda_box_is_logarithmic(qtbot, window):
    spin = window.params.alpha.spin
    spin.setValue(1e-4)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(2e-4)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(5e-4)
    spin.stepBy(-3)
    assert spin.value() == pytest.approx(5e-5)
    spin.clear()
    qtbot.keyClicks(spin, "3e-6")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(3e-6)
    assert window.params.alpha.slider.value() == -55  # log10(3e-6) = -5.52, in tenths of a decade
    window.params.alpha.slider.setValue(-20)  # 10^-2
    assert spin.value() == pytest.approx(0.01)


def test_settings_and_recent_folders_persist(qtbot, settings, load, folder):
    from regui.gui.main_window import MainWindow

    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    set_config(first, SMALL.with_(penalty="elasticnet", l1_ratio=0.4, seed=7))
    load(first, folder)
    first.close()

    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.params.config() == SMALL.with_(penalty="elasticnet", l1_ratio=0.4, seed=7)
    actions = second.dataset_panel.recent.menu().actions()
    assert [a.text() for a in actions] == [str(folder)]
    with qtbot.waitSignal(second.controller.loaded, timeout=20_000):
        actions[0].trigger()
    assert second.dataset.root == folder


def test_a_first_start_has_regui_engine_and_older_settings_keep_theirs(qtbot, settings):
    from regui.gui.main_window import MainWindow

    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    assert first.params.config() == TrainConfig() and first.params.engine.currentData() == "minibatch"
    first.close()
    # Settings the app saved before it had its own engine: they were scikit-learn's, and stay so.
    older = {k: v for k, v in TrainConfig(penalty="l2", scaling="raw", alpha=1e-4).to_dict().items()}
    del older["engine"], older["batch_size"]
    settings.setValue("config", json.dumps(older))
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.params.config() == TrainConfig(engine="sgdclassifier", penalty="l2", scaling="raw", alpha=1e-4)


def test_damaged_settings_fall_back_to_defaults(qtbot, settings):
    from regui.gui.main_window import MainWindow

    settings.setValue("config", "{not json")
    settings.setValue("recent", "42")
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    assert win.params.config() == TrainConfig()
    assert not win.dataset_panel.recent.isEnabled()


def test_unwritable_export_is_a_message_and_nothing_is_lost(qtbot, window, load, folder, tmp_path):
    set_config(window, SMALL)
    load(window, folder)
    run_and_wait(qtbot, window)
    assert not window.export_results(str(tmp_path / "no" / "such" / "dir" / "r.csv"))
    assert "Cannot write" in window.last_message
    assert not window.export_plots(str(tmp_path / "no" / "plots.png"))
    assert window.runs.rowCount() == 1
    assert window.export_results(str(tmp_path / "r.csv"))  # and a good place still works


def test_dropping_a_folder_loads_it(qtbot, window, folder):
    set_config(window, SMALL)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.dropEvent(event)
    assert window.dataset.root == folder


def test_the_load_prepares_the_first_runs_split_and_the_run_uses_it(qtbot, window, load, folder, monkeypatch):
    import regui.core.dataset as dataset_module

    set_config(window, SMALL)
    dataset = load(window, folder)
    qtbot.waitUntil(window.controller.is_idle, timeout=10_000)  # the loading thread prepares it after showing
    made = dataset.__dict__["_prepared"][SMALL.split]
    calls = []
    monkeypatch.setattr(dataset_module, "prepare", lambda *a: calls.append(a))  # the run must not prepare again
    record = run_and_wait(qtbot, window)
    assert record.status == FINISHED and calls == [] and dataset.prepared(SMALL.split) is made
    expected = run_training(prepare(dataset, SMALL.split), SMALL)
    assert [e.objective for e in record.epochs] == [e.objective for e in expected.epochs]


def test_new_image_size_decodes_again(qtbot, window, load, folder):
    set_config(window, SMALL)
    load(window, folder)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.params.width_.setValue(4)
    assert window.dataset.image.width == 4 and window.dataset.X.shape[1] == 4 * 5 * 3
    assert window.run_button.isEnabled()


def test_large_photos_are_counted_and_the_exact_box_decodes_them_in_full(qtbot, window, load, tmp_path):
    from tests.core.test_reduced_decode import full_decode, photo

    root = tmp_path / "photos"
    for label, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            (root / name / f"IMG_{i}.jpg").write_bytes(photo(1280, 960, seed=10 * label + i))
    set_config(window, SMALL.with_(width=8, height=8))
    reduced = load(window, root)
    assert reduced.n_reduced == 12 and "12 decoded reduced" in window.dataset_panel.summary.text()
    assert "12 large JPEGs decoded at reduced scale" in window.dataset_panel.summary.toolTip()

    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        qtbot.mouseClick(window.params.exact_decode, Qt.MouseButton.LeftButton)  # decodes them again
    exact = window.dataset
    assert exact.image.exact_decode and exact.n_reduced == 0 and window.params.config().exact_decode
    assert "reduced" not in window.dataset_panel.summary.text()
    for row, rel in zip(exact.X, exact.paths):
        assert np.array_equal(row, full_decode(root / rel, exact.image))
    assert window.run_button.isEnabled(), window.ready.text()
    record = run_and_wait(qtbot, window)
    assert record.config.exact_decode  # what the run records, and its rerun loads again


def test_cancel_loading_stops_the_work(qtbot, window, make_folder, slow_decoding):
    big = make_folder({"a": 200, "b": 200}, size=(8, 8))
    decoded = slow_decoding
    set_config(window, SMALL)
    window.load_folder(str(big))
    qtbot.waitUntil(lambda: len(decoded) >= 10, timeout=20_000)
    with qtbot.waitSignal(window.controller.load_cancelled, timeout=5_000):
        qtbot.mouseClick(window.dataset_panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.controller.is_idle, timeout=5_000)
    assert len(decoded) < 200  # the worker stopped; it did not decode the rest unseen
    assert window.dataset is None and not window.dataset_panel.loading.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()


def test_hiding_and_highlighting_runs(qtbot, window, load, folder):
    set_config(window, SMALL)
    load(window, folder)
    first = run_and_wait(qtbot, window)
    run_and_wait(qtbot, window)
    entry = window.runs.entry_at(0)
    curves = window.plots.curves(entry.run_id)
    assert curves["test"].isVisible()
    window.runs.setData(window.runs.index(0, 0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert not curves["test"].isVisible() and not curves["objective"].isVisible()
    window.table.selectRow(1)
    other = window.plots.curves(window.runs.entry_at(1).run_id)
    assert other["test"].opts["pen"].widthF() > curves["test"].opts["pen"].widthF()
    assert first.status == FINISHED


def test_app_opens_on_the_bundled_sample(tmp_path):
    env = dict(
        os.environ,
        REGUI_EXIT_WHEN_SHOWN="1",
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path),
        REGUI_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run([sys.executable, "-m", "regui"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_new_load_replaces_one_in_flight(qtbot, window, load, folder):
    set_config(window, SMALL)
    load(window, folder)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.params.width_.setValue(4)  # starts a reload...
        window.params.height_.setValue(3)  # ...and this one replaces it
    qtbot.waitUntil(window.controller.is_idle, timeout=20_000)
    assert (window.dataset.image.width, window.dataset.image.height) == (4, 3)
    assert window.run_button.isEnabled()
    assert not window.dataset_panel.loading.isVisible()


def test_closing_before_the_first_load_starts_starts_nothing(qtbot, settings, folder):
    from regui.gui.main_window import MainWindow

    win = MainWindow(initial_folder=folder, settings=settings)
    win.show()
    assert win.close()  # before the queued first load runs
    qtbot.wait(50)  # let the queued load fire: it must not start a thread now
    assert win.controller.is_idle()


def test_close_waits_for_a_thread_that_is_still_busy(qtbot, settings, load, folder, monkeypatch):
    import functools
    import time

    import regui.core.dataset as dataset_module
    from regui.gui.controller import Controller
    from regui.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.show()
    set_config(win, SMALL)
    load(win, folder)
    real_prepare = dataset_module.prepare

    def slow_prepare(*args):
        time.sleep(1.0)  # a step that cannot be interrupted, like a big split
        return real_prepare(*args)

    monkeypatch.setattr(dataset_module, "prepare", slow_prepare)
    monkeypatch.setattr(win.controller, "shutdown", functools.partial(Controller.shutdown, win.controller, 50))
    win.params.split_seed.setValue(SMALL.split_seed + 1)  # a split the load did not prepare ahead
    win.start_run()
    assert not win.close()  # refused: the run's thread is inside a slow step
    assert win.isVisible() and "waiting" in win.statusBar().currentMessage()
    # Meanwhile nothing new starts, from the menus and shortcuts either.
    assert not win.menu_actions.run.isEnabled() and not win.menu_actions.compare.isEnabled()
    assert win.start_run() is None and win.compare_penalties() is None and len(win.runs.entries()) == 1
    assert not win.close()  # asked again: still waiting, and it closes once, by itself
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=10_000)  # then it closes by itself
    assert win.controller.is_idle()


def test_damaged_settings_types_are_ignored(qtbot, settings):
    from regui.gui.main_window import MainWindow

    settings.setValue("geometry", "not bytes")
    settings.setValue("split/main", 12)
    settings.setValue("config", json.dumps({"stratify": "no", "epochs": True}))
    settings.setValue("plots/log", "maybe")
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    assert win.params.config() == TrainConfig()


def test_divergence_notice_stays_until_dismissed(qtbot, window, load, folder, allow_divergence):
    set_config(window, SMALL.with_(loss="hinge", scaling="raw", epochs=50))
    load(window, folder)
    window.params.eta0.setValue(1e150)
    run_and_wait(qtbot, window)
    assert window.notice_row.isVisible() and "diverged" in window.notice.text()
    set_config(window, SMALL)
    run_and_wait(qtbot, window)
    assert window.notice_row.isVisible()  # a later success does not hide it
    window.notice_row.findChild(QPushButton).click()
    assert not window.notice_row.isVisible()


def test_reload_after_a_cancelled_resize(qtbot, window, load, folder):
    set_config(window, SMALL)
    load(window, folder)
    window.params.width_.setValue(4)
    window.controller.cancel_load()
    qtbot.waitUntil(window.controller.is_idle, timeout=20_000)
    assert not window.run_button.isEnabled() and "Reload" in window.ready.text()
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        qtbot.mouseClick(window.dataset_panel.reload_button, Qt.MouseButton.LeftButton)
    assert window.dataset.image.width == 4 and window.run_button.isEnabled()


def test_a_one_epoch_run_is_drawn_with_markers(qtbot, window, load, folder):
    set_config(window, SMALL.with_(epochs=1))
    load(window, folder)
    record = run_and_wait(qtbot, window)
    curve = window.plots.curves(window.runs.entry_at(0).run_id)["test"]
    qtbot.waitUntil(lambda: curve.getData()[1] is not None, timeout=5000)  # (a busy turn defers drawing)
    assert curve.opts["symbol"] == "o"
    assert list(curve.getData()[1]) == [record.final.test_accuracy * 100]


def test_an_unexpected_error_in_a_slot_is_shown_not_lost(window, monkeypatch, capsys):
    from regui.gui.app import _report_unexpected_errors

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    _report_unexpected_errors(window)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert window.notice_row.isVisible() and "RuntimeError: boom" in window.notice.text()
    assert "Traceback" in capsys.readouterr().err


def test_garbage_is_collected_in_the_gui_thread_only(qtbot, window):
    # A collection on a worker thread could free Qt objects there (a random crash): the window
    # turns automatic collection off and collects on a timer in the GUI thread.
    import gc
    import threading

    assert not gc.isenabled()
    threads = []
    gc.callbacks.append(lambda phase, info: threads.append(threading.current_thread().name))
    try:
        for _ in range(2000):  # enough allocations to be due a collection
            a, b = [], []
            a.append(b)
            b.append(a)
        qtbot.waitUntil(lambda: bool(threads), timeout=5_000)
    finally:
        gc.callbacks.pop()
    assert set(threads) == {threading.main_thread().name}


def test_app_runs_are_stored_as_they_happen(qtbot, settings, load, folder, tmp_path, monkeypatch):
    from regui.core.store import RunStore
    from regui.gui.main_window import MainWindow

    store = tmp_path / "app.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(store))
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    set_config(win, SMALL.with_(penalty="l2", alpha=0.01))
    load(win, folder)
    record = run_and_wait(qtbot, win)
    set_config(win, SMALL.with_(epochs=100_000))
    with qtbot.waitSignal(win.controller.run_epoch, timeout=30_000):
        win.start_run()
    win.close()  # mid-run: that run is stopped by the closing, and stored as such
    qtbot.waitUntil(lambda: not win.run_log._thread.is_alive(), timeout=20_000)
    with RunStore(store) as s:
        first, second = s.runs()
        assert first.status == FINISHED and first.epochs_done == 5
        assert s.load(first.id).epochs == record.epochs  # the window's numbers, every epoch
        assert second.status == STOPPED and second.epochs_done >= 1
        assert "window was closed" in second.message
        shown = win.runs.entry_at(1).record  # the window's record and the stored one agree
        assert s.load(second.id).epochs == shown.epochs and second.message == shown.message
        assert f"after epoch {len(shown.epochs)}." in second.message


@pytest.mark.parametrize("where", ["damaged file", "unwritable place"])
def test_an_unusable_store_is_a_notice_and_the_app_trains(qtbot, settings, load, folder, tmp_path, monkeypatch, where):
    from regui.gui.main_window import MainWindow

    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"garbage" * 100)
    # A damaged file; or a folder that cannot be made (inside a file: true even for root).
    monkeypatch.setenv("REGUI_STORE", str(bad if where == "damaged file" else bad / "runs.sqlite3"))
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "Runs are not stored" in win.notice.text(), timeout=10_000)
    set_config(win, SMALL)
    load(win, folder)
    assert run_and_wait(qtbot, win).status == FINISHED
    assert bad.read_bytes() == b"garbage" * 100


def test_the_columns_are_fitted_one_per_turn_and_all_of_them(qtbot):
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

    from regui.gui.results_table import ColumnFitter

    class Model(QObject):
        reshaped = Signal()

    table = QTableWidget(3, 4)
    qtbot.addWidget(table)
    fitter = ColumnFitter(table, Model())
    for column in range(4):
        table.setColumnWidth(column, 10)
        table.setItem(1, column, QTableWidgetItem("a rather long cell text " * (column + 1)))
    table.setColumnHidden(2, True)
    narrow = table.columnWidth(1)  # as narrow as the header lets a column be
    fitter.fit()
    assert table.columnWidth(0) > 100 and table.columnWidth(1) == narrow  # the first now, the others later
    assert fitter.fitting()
    qtbot.waitUntil(lambda: not fitter.fitting(), timeout=2000)
    assert table.columnWidth(3) > table.columnWidth(1) > table.columnWidth(0) > 100
    table.setColumnHidden(2, False)
    assert table.columnWidth(2) == narrow  # a hidden column was left alone
