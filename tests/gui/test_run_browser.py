"""The run browser over a real store: listing, filters, sorting, opening runs next to today's,
renaming, deleting with confirmation, export and import, and a dataset that changed since."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from regui.core.config import ImageSettings, TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.runs import run_training
from regui.core.store import RunStore
from tests.helpers import write_png

SMALL = TrainConfig(width=6, height=5, scaling="unit", epochs=4, eta0=0.05)


@pytest.fixture
def stored(make_folder, tmp_path, monkeypatch):
    """A store with three runs on one folder (as if from yesterday); returns (store path, folder, ids)."""
    folder = make_folder({"cats": 10, "dogs": 9, "panda": 8})
    path = tmp_path / "runs.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(path))
    dataset = load_dataset(folder, ImageSettings(6, 5))
    data = prepare(dataset, SMALL.split)
    ids = {}
    with RunStore(path) as store:
        for penalty in ("none", "l1", "l2"):
            record = run_training(
                data,
                SMALL.with_(penalty=penalty, alpha=0.01),
                name=f"yesterday {penalty}",
                dataset_summary=dataset.summary(),
                snapshots=1,
            )
            ids[penalty] = store.save(record)
    return path, folder, ids


def test_the_browser_lists_filters_and_sorts_stored_runs(qtbot, stored, window):
    path, folder, ids = stored
    browser = window.open_run_browser()
    qtbot.addWidget(browser)
    assert browser.model.rowCount() == 3 and "3 of 3" in browser.count.text()
    browser.penalty.setCurrentIndex(browser.penalty.findData("l2"))
    assert [r.id for r in browser.model.runs] == [ids["l2"]]
    browser.penalty.setCurrentIndex(0)
    browser.settings_filter.setText("alpha=0.01 penalty=l1")
    browser.settings_filter.editingFinished.emit()
    assert [r.id for r in browser.model.runs] == [ids["l1"]]
    browser.settings_filter.setText("engine=minibatch batch_size=64")
    browser.settings_filter.editingFinished.emit()
    assert sorted(r.id for r in browser.model.runs) == sorted(ids.values())
    batch = [browser.model.headerData(c, Qt.Orientation.Horizontal) for c in range(browser.model.columnCount())]
    assert browser.proxy.index(0, batch.index("Batch")).data() == "64"
    for where in ("batch_size=full", "engine=sgdclassifier"):
        browser.settings_filter.setText(where)
        browser.settings_filter.editingFinished.emit()
        assert browser.model.runs == []
    browser.settings_filter.setText("colour=1")
    browser.settings_filter.editingFinished.emit()
    assert "not a setting" in browser.problem.text()
    browser.settings_filter.setText("")
    browser.settings_filter.editingFinished.emit()
    browser.dataset.setText("no-such-folder")
    assert browser.model.rowCount() == 0
    browser.dataset.setText(folder.name)
    assert browser.model.rowCount() == 3
    accuracy = batch.index("Test acc")
    browser.table.sortByColumn(accuracy, Qt.SortOrder.DescendingOrder)
    shown = [browser.proxy.index(r, accuracy).data(Qt.ItemDataRole.UserRole + 1) for r in range(3)]
    assert shown == sorted(shown, reverse=True)


def test_opened_runs_join_todays_with_their_numbers_and_weights(qtbot, stored, window, load):
    path, folder, ids = stored
    window.params.set_config(SMALL)
    load(window, folder)
    with qtbot.waitSignal(window.controller.run_finished, timeout=30_000):
        window.start_run()  # today's run
    browser = window.open_run_browser()
    qtbot.addWidget(browser)
    browser.table.selectAll()
    with qtbot.waitSignal(browser.open_requested):
        browser.open_button.click()
    entries = window.runs.entries()
    # today's run is in the store too, but already in the window: not opened twice
    assert len(entries) == 4 and sorted(e.stored_id for e in entries[1:]) == sorted(ids.values())
    with RunStore(path) as store:
        for entry in entries[1:]:
            expected = store.load(entry.stored_id)
            assert entry.record.epochs == expected.epochs
            assert np.array_equal(entry.record.final.coef, expected.final.coef)
            assert not entry.data_changed and entry.files is not None  # same folder, same files
            # One identity: the number the store (and `regui runs show`) knows it by, not a new one.
            row = window.runs.row_of(entry.run_id)
            assert window.runs.index(row, 0).data() == f"store #{entry.stored_id}"
            assert entry.label.startswith(f"store #{entry.stored_id} ")
            assert window.plots.curves(entry.run_id)["test"].getData()[1].tolist() == [
                e.test_accuracy * 100 for e in expected.epochs
            ]
    assert window.open_stored_runs(list(ids.values())) == []  # opening again adds nothing


def test_a_changed_dataset_folder_is_marked(qtbot, stored, window, load):
    path, folder, ids = stored
    write_png(folder / "cats" / "new.png", np.full((10, 12, 3), 90, np.uint8))  # the folder changed since
    window.params.set_config(SMALL)
    load(window, folder)
    (run_id,) = window.open_stored_runs([ids["l2"]])
    entry = window.runs.entry(run_id)
    assert entry.data_changed and entry.files is None
    row = window.runs.row_of(run_id)
    from regui.gui.results_columns import COLUMN_INDEX

    assert window.runs.index(row, COLUMN_INDEX["data"]).data().startswith("⚠ changed since")
    assert "has changed since this run" in window.runs.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    # Training it again: its settings come back, and the window says the data is not the same.
    browser = window.open_run_browser()
    qtbot.addWidget(browser)
    source_row = [r.id for r in browser.model.runs].index(ids["l2"])
    browser.table.selectRow(browser.proxy.mapFromSource(browser.model.index(source_row, 0)).row())
    browser.use_settings()
    assert window.params.config() == SMALL.with_(penalty="l2", alpha=0.01)
    assert "has changed since it ran" in window.notice.text()


def test_rename_delete_export_and_import_from_the_browser(qtbot, stored, window, tmp_path, monkeypatch):
    path, folder, ids = stored
    browser = window.open_run_browser()
    qtbot.addWidget(browser)
    row = [r.id for r in browser.model.runs].index(ids["l1"])
    from regui.gui.run_browser import _NOTE

    assert browser.model.setData(browser.model.index(row, _NOTE), "sparse one")  # typed into the Note column
    with RunStore(path) as store:
        assert store.get(ids["l1"]).note == "sparse one"
    browser.table.selectRow(0)
    chosen = browser.selected_ids()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert browser.delete_selected() == 0 and browser.model.rowCount() == 3
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert browser.delete_selected() == 1
    assert chosen[0] not in [r.id for r in browser.model.runs] and browser.model.rowCount() == 2
    browser.table.clearSelection()
    assert browser.export_selected(str(tmp_path / "share.sqlite3")) == 2  # nothing selected: all shown
    other = tmp_path / "other.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(other))
    fresh = window.open_run_browser()
    qtbot.addWidget(fresh)
    fresh.store_path = other
    assert fresh.import_file(str(tmp_path / "share.sqlite3")) == (2, 0)
    assert fresh.import_file(str(tmp_path / "share.sqlite3")) == (0, 2)
    assert fresh.model.rowCount() == 2
    fresh.import_file(str(tmp_path / "missing.sqlite3"))
    assert "no such file" in fresh.problem.text() and fresh.problem.isVisibleTo(fresh)  # said, not cleared
