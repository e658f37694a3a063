"""The app under faults: a damaged run store, and a window closed while runs are going."""

import time

import pytest
from PySide6.QtCore import Qt

from regui.core.config import TrainConfig
from regui.core.records import FINISHED, STOPPED
from regui.core.store import RunStore
from tests.helpers import damage_a_page

SMALL = TrainConfig(width=6, height=5, scaling="unit", epochs=5, eta0=0.02)


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 10, "dogs": 9})


def _run_and_wait(qtbot, win):
    with qtbot.waitSignal(win.controller.run_finished, timeout=30_000) as blocker:
        qtbot.mouseClick(win.run_button, Qt.MouseButton.LeftButton)
    return win.runs.entry(blocker.args[0]).record  # the run's record as the window keeps it


def test_a_damaged_store_is_a_notice_the_app_trains_and_the_browser_says_why(
    qtbot, settings, load, folder, tmp_path, monkeypatch
):
    from regui.gui.main_window import MainWindow

    path = tmp_path / "runs.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(path))
    with RunStore(path) as store:
        from regui.core.records import RunRecord

        for _ in range(3):
            store.save(RunRecord(config=SMALL, name="old", status=FINISHED))
    damaged = damage_a_page(path)

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "is damaged" in win.notice.text(), timeout=10_000)
    assert "Runs are not stored" in win.notice.text()
    assert win.run_log._thread.is_alive()  # the store's thread said so, and lives on quietly
    win.params.set_config(SMALL)
    load(win, folder)
    assert _run_and_wait(qtbot, win).status == FINISHED
    browser = win.open_run_browser()
    qtbot.addWidget(browser)
    assert browser.problem.isVisibleTo(browser) and "is damaged" in browser.problem.text()
    win.close()
    qtbot.waitUntil(lambda: not win.run_log._thread.is_alive(), timeout=10_000)
    assert path.read_bytes() == damaged


def test_closing_mid_run_stores_every_running_run_as_stopped_with_its_time(
    qtbot, settings, load, folder, tmp_path, monkeypatch
):
    import regui.core.runs as runs_module
    from regui.gui.main_window import MainWindow

    store = tmp_path / "app.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(store))
    real_train = runs_module.train_epochs

    def train(data, config, should_stop=None, **kwargs):
        if config.seed == 99:  # this run's first epoch is still going when the window closes
            while not should_stop():
                time.sleep(0.01)
            return
        yield from real_train(data, config, should_stop, **kwargs)

    monkeypatch.setattr(runs_module, "train_epochs", train)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.params.set_config(SMALL.with_(epochs=100_000))
    load(win, folder)
    with qtbot.waitSignal(win.controller.run_epoch, timeout=30_000):
        win.start_run()
    win.params.set_config(SMALL.with_(seed=99))
    win.start_run()
    qtbot.wait(300)
    win.close()
    qtbot.waitUntil(lambda: not win.run_log._thread.is_alive(), timeout=20_000)
    with RunStore(store, mode="read") as s:
        going, waiting = s.runs()
    # Their time is the one their workers measured, training only (the split made before it is
    # not counted): most of the 0.3 s the window waited, never 0.
    assert going.status == STOPPED and going.epochs_done >= 1 and 0.2 <= going.seconds < 30
    assert f"after epoch {going.epochs_done}" in going.message
    assert waiting.status == STOPPED and waiting.epochs_done == 0 and 0.2 <= waiting.seconds < 30
    assert "before its first epoch ended" in waiting.message
