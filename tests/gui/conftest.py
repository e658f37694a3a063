"""Fixtures for app tests: an isolated settings file, the main window, and a guard that fails
any test leaving a QThread running (a QThread destroyed while running aborts the whole
pytest process)."""

import weakref

import pytest
from PySide6.QtCore import QSettings, QThread


@pytest.fixture(autouse=True)
def no_dangling_qthreads(monkeypatch):
    started = []
    original_start = QThread.start

    def tracking_start(self, *args, **kwargs):
        started.append(weakref.ref(self))  # weak: holding them would hide an early destruction
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield
    alive = []
    for ref in started:
        thread = ref()
        if thread is None:
            continue
        try:
            running = thread.isRunning()
        except RuntimeError:  # already deleted by Qt: it had finished
            continue
        if running:
            alive.append(thread.objectName())
            thread.quit()
            thread.wait(10_000)  # so a failing test does not take the session down with it
    if alive:
        pytest.fail(f"test left QThreads running: {alive}")


@pytest.fixture(autouse=True)
def dispose_windows():
    """Destroy every window a test made, while Python is whole (as the app does on exit): a
    window left for interpreter exit can crash it as pyqtgraph's items are torn down."""
    yield
    from PySide6.QtWidgets import QApplication

    from regui.gui.app import dispose
    from regui.gui.main_window import MainWindow

    app = QApplication.instance()
    for widget in app.topLevelWidgets() if app else []:
        if isinstance(widget, MainWindow):  # only our windows: popups and menus belong to Qt
            widget.close()
            dispose(widget)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "regui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    from regui.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)  # closed (and its threads shut down) at teardown
    win.show()
    return win


@pytest.fixture
def load(qtbot):
    """load(window, folder): load through the path box, as a person types it, and wait."""

    def do(win, folder, timeout=20_000):
        from PySide6.QtCore import Qt

        box = win.dataset_panel.path
        box.clear()
        qtbot.keyClicks(box, str(folder))
        with qtbot.waitSignals([win.controller.loaded], timeout=timeout):
            qtbot.keyClick(box, Qt.Key.Key_Return)
        return win.dataset

    return do
