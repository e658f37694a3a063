"""Compare penalties, the Sweep dialog, the queue with pause/stop, the validation curves."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from regui.core.config import PENALTIES, TrainConfig
from regui.core.dataset import load_dataset
from regui.core.records import FAILED, FINISHED, STOPPED, WAITING
from regui.core.sweep import SweepSpec, expand
from regui.core.sweep_runs import SweepEvents, run_serial
from regui.core.sweep_summary import chosen_per_penalty, summarize
from regui.gui.sweep_dialog import SweepDialog

BASE = TrainConfig(width=6, height=5, scaling="unit", epochs=4, eta0=0.02)


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 12, "dogs": 12, "panda": 12})


def sweep_entries(window, name):
    return [e for e in window.runs.entries() if e.record.sweep == name]


def wait_for_sweep(qtbot, window, name, timeout=60_000):
    qtbot.waitUntil(lambda: window.session.sweeps[name].ended, timeout=timeout)


def test_compare_penalties_runs_all_four_with_the_engines_numbers(qtbot, window, load, folder):
    window.params.set_config(BASE.with_(alpha=0.01))
    load(window, folder)
    with qtbot.waitSignal(window.controller.sweep_ended, timeout=60_000):
        qtbot.mouseClick(window.compare_button, Qt.MouseButton.LeftButton)
        entries = sweep_entries(window, "C1")
        assert [e.record.config.penalty for e in entries] == list(PENALTIES)
        assert {e.record.status for e in entries} <= {WAITING, "running"}  # queued at once, visible
    records = [e.record for e in sweep_entries(window, "C1")]
    assert [r.status for r in records] == [FINISHED] * 4
    spec = SweepSpec(BASE.with_(alpha=0.01), penalties=PENALTIES, alphas=(0.01,), learning_rates=(0.02,))
    expected = run_serial(load_dataset(folder, BASE.image), expand(spec), SweepEvents())
    for got, want in zip(records, expected):
        assert [e.metrics() | {"elapsed": 0} for e in got.epochs] == [e.metrics() | {"elapsed": 0} for e in want.epochs]
    # curves were drawn for each, and the table says which sweep they came from
    for entry in sweep_entries(window, "C1"):
        assert len(window.plots.curves(entry.run_id)["test"].getData()[0]) == 4
    assert window.proxy.index(0, 0).data() == "#1"


def test_sweep_dialog_counts_runs_and_builds_the_grid(qtbot):
    dialog = SweepDialog(BASE)
    qtbot.addWidget(dialog)
    dialog.penalties["elasticnet"].setChecked(False)
    dialog.low.setValue(1e-4)
    dialog.high.setValue(1e-2)
    dialog.points.setValue(3)
    dialog.repeats.setValue(2)
    dialog.rates.setText("0.01, 0.1")
    spec = dialog.spec()
    assert spec.alphas == (1e-4, 1e-3, 1e-2) and spec.learning_rates == (0.01, 0.1)
    assert spec.penalties == ("none", "l1", "l2") and spec.repeats == 2
    n = 1 * 2 * 2 + 2 * 3 * 2 * 2
    assert f"{n} runs" in dialog.count.text()
    dialog.rates.setText("0.01, fast")
    assert dialog.spec() is None and "positive numbers" in dialog.count.text()
    assert not dialog.buttons.buttons()[0].isEnabled()
    # Batch sizes are an axis of the grid (regui's engine): the count and the runs follow.
    dialog.rates.setText("0.01")
    dialog.batches.setText("1, 64 full")
    spec = dialog.spec()
    assert spec.batch_sizes == (1, 64, 0) and f"{3 * (1 * 2 + 2 * 3 * 2)} runs" in dialog.count.text()
    assert sorted({item.config.batch_size for item in expand(spec)}) == [0, 1, 64]
    dialog.batches.setText("64, 0.5")
    assert dialog.spec() is None and "batch sizes" in dialog.count.text()
    # scikit-learn's engine steps once per image: the box is off and the grid has one size.
    sklearn = SweepDialog(BASE.with_(engine="sgdclassifier"))
    qtbot.addWidget(sklearn)
    assert not sklearn.batches.isEnabled() and sklearn.spec().batch_sizes == (1,)


def test_sweep_fills_the_validation_curves_and_a_click_selects_runs(qtbot, window, load, folder):
    window.params.set_config(BASE)
    load(window, folder)
    spec = SweepSpec(BASE, penalties=("none", "l1", "l2"), alphas=(1e-3, 1e-1), repeats=2)
    name = window.start_sweep(spec, jobs=2)
    assert window.tabs.currentWidget() is window.sweep_panel
    wait_for_sweep(qtbot, window, name)
    entries = sweep_entries(window, name)
    assert len(entries) == 2 + 2 * 2 * 2 and all(e.record.status == FINISHED for e in entries)
    assert window.sweep_panel.progress.value() == len(entries)
    window.sweep_panel.refresh()

    # The plotted points are the mean over repeats, at log10(lambda): of validation accuracy (what
    # is chosen on), or of test accuracy when asked for (what is reported).
    summaries = summarize([e.record for e in entries])
    l1 = next(s for s in summaries if s.penalty == "l1" and s.alpha == 1e-3)
    panel = window.sweep_panel

    def plotted_at(x: float) -> list[float]:
        scatters = [item for item in panel.acc_plot.items if isinstance(item, pg.ScatterPlotItem)]
        return [p.pos().y() for sc in scatters for p in sc.points() if p.pos().x() == pytest.approx(x)]

    assert l1.val[0] * 100 == pytest.approx(max(plotted_at(-3.0), key=lambda y: -abs(y - l1.val[0] * 100)))
    panel.measure.setCurrentIndex(panel.measure.findData("test"))
    assert l1.test[0] * 100 == pytest.approx(max(plotted_at(-3.0), key=lambda y: -abs(y - l1.test[0] * 100)))
    panel.measure.setCurrentIndex(panel.measure.findData("val"))
    chosen_cells = [
        panel.summary.item(r, panel.summary.columnCount() - 1).text() for r in range(panel.summary.rowCount())
    ]
    assert sum(cell.startswith("on validation") for cell in chosen_cells) == 3  # one setting per penalty
    l2 = next(s for s in chosen_per_penalty(summaries) if s.penalty == "l2")
    assert f"test s.e.m. {l2.test[1] / 2**0.5 * 100:.2f}" in " ".join(chosen_cells)
    assert window.sweep_panel.summary.rowCount() == len(summaries)
    # ... and on screen: both plots still in the canvas's layout, drawn (not a blank canvas).
    canvas = window.sweep_panel.canvas
    assert (
        canvas.ci.getItem(0, 0) is window.sweep_panel.acc_plot
        and canvas.ci.getItem(0, 1) is window.sweep_panel.zero_plot
    )
    assert window.sweep_panel.acc_plot.scene() is canvas.scene()
    image = canvas.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)}
    assert len(colours) > 20, "the Sweep tab's canvas is blank"

    # Clicking L1's point at lambda=0.001 selects its repeats in the results table.
    scatters = [item for item in panel.acc_plot.items if isinstance(item, pg.ScatterPlotItem)]
    point = next(
        p
        for sc in scatters
        for p in sc.points()
        if p.pos().x() == pytest.approx(-3.0) and p.pos().y() == pytest.approx(l1.val[0] * 100)
    )
    scatter = next(sc for sc in scatters if point in list(sc.points()))
    scatter.sigClicked.emit(scatter, [point], None)
    assert window.selected_run_ids() == set(point.data())
    assert len(point.data()) == 2


def test_pause_holds_the_runs_and_stop_keeps_what_ran(qtbot, window, load, folder):
    window.params.set_config(BASE.with_(epochs=100_000))
    load(window, folder)
    name = window.start_sweep(
        SweepSpec(BASE.with_(epochs=100_000), penalties=("l1", "l2"), alphas=(1e-3, 1e-2)), jobs=2
    )
    panel = window.sweep_panel

    def running_with_epochs():
        return [e for e in sweep_entries(window, name) if e.record.status == "running" and e.record.epochs]

    qtbot.waitUntil(lambda: len(running_with_epochs()) == 4, timeout=30_000)  # two blocks of two
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.current().control.paused.is_set() and panel.pause_button.text() == "Resume"
    assert "paused" in panel.progress.format()

    def epochs_now():
        return [len(e.record.epochs) for e in sweep_entries(window, name)]

    qtbot.wait(500)  # epochs already on their way arrive
    held = epochs_now()
    qtbot.wait(500)
    assert epochs_now() == held  # every run holds
    running = [e.run_id for e in running_with_epochs()]
    window.session.stop([running[0]])  # one run stopped by hand while paused
    qtbot.waitUntil(lambda: window.runs.entry(running[0]).record.status == STOPPED, timeout=30_000)
    assert [e.record.status for e in sweep_entries(window, name)].count("running") == 3
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # resume: the others go on
    qtbot.waitUntil(lambda: sum(epochs_now()) > sum(held), timeout=30_000)
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    wait_for_sweep(qtbot, window, name)
    assert [e.record.status for e in sweep_entries(window, name)] == [STOPPED] * 4
    assert all(len(window.runs.entry(r).record.epochs) > 0 for r in running)  # what ran is kept


def test_closing_mid_sweep_stops_everything(qtbot, settings, load, folder):
    from regui.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.show()
    win.params.set_config(BASE.with_(epochs=100_000))
    load(win, folder)
    name = win.start_sweep(SweepSpec(BASE.with_(epochs=100_000), penalties=("l2",), alphas=(1e-3,), repeats=3), jobs=2)
    qtbot.waitUntil(lambda: any(e.record.epochs for e in sweep_entries(win, name)), timeout=30_000)
    assert win.close()
    assert win.controller.is_idle()


def test_the_app_starts_workers_when_a_dataset_loads_and_the_first_comparison_uses_them(qtbot, settings, load, folder):
    from regui.gui.main_window import MainWindow

    win = MainWindow(settings=settings, warm_workers=True)
    qtbot.addWidget(win)
    win.show()
    win.params.set_config(BASE)
    load(win, folder)
    controller = win.controller
    qtbot.waitUntil(lambda: controller._spare_pool is not None, timeout=30_000)
    warm = controller._spare_pool
    assert warm.serves(win.dataset) and len(warm._idle) == warm.jobs
    from dataclasses import asdict

    from regui.core.pool_worker import read_meta

    assert read_meta(str(warm._dir))["warm_split"] == asdict(BASE.split)  # the split set as it loaded
    processes = [w.process for w in warm._idle]
    with qtbot.waitSignal(controller.sweep_ended, timeout=60_000):
        win.compare_penalties()
    assert [e.record.status for e in sweep_entries(win, "C1")] == [FINISHED] * 4
    assert controller._spare_pool is warm and all(p.is_alive() for p in processes)  # the same workers, kept
    assert win.close()
    for process in processes:  # closing the window ends them
        process.join(10)
        assert not process.is_alive()


def test_a_sweep_that_cannot_reach_its_cluster_says_so(qtbot, window, load, folder, monkeypatch):
    import regui.core.dask_runner as dask_runner

    monkeypatch.setattr(dask_runner, "CONNECT_TIMEOUT", 1)
    window.params.set_config(BASE)
    load(window, folder)
    name = window.start_sweep(SweepSpec(BASE, penalties=("l2",)), scheduler="tcp://127.0.0.1:9")
    wait_for_sweep(qtbot, window, name, timeout=30_000)
    assert all(e.record.status == FAILED for e in sweep_entries(window, name))
    assert "Could not connect to the Dask scheduler" in window.notice.text()


def test_a_sweep_needs_a_loaded_dataset(window):
    assert window.start_sweep(SweepSpec(BASE)) is None
    assert not window.compare_button.isEnabled()
    assert "Load a dataset" in window.last_message


def test_the_stop_button_stops_a_whole_sweep_or_just_the_runs_selected(qtbot, window, load, folder):
    long = BASE.with_(epochs=100_000)
    window.params.set_config(long)
    load(window, folder)
    name = window.start_sweep(SweepSpec(long, penalties=("l1", "l2"), alphas=(1e-3, 1e-2, 1e-1)), jobs=2)
    assert not window.compare_button.isEnabled() and not window.sweep_button.isEnabled()  # one sweep at a time
    entries = sweep_entries(window, name)
    queued = entries[-1]
    window.select_runs([queued.run_id])
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)  # a queued run: only it
    qtbot.waitUntil(lambda: queued.record.status == STOPPED, timeout=30_000)
    qtbot.waitUntil(lambda: all(e.record.epochs for e in entries[:2]), timeout=30_000)
    assert all(e.record.status in ("running", WAITING) for e in entries[:-1])
    window.table.clearSelection()
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)  # nothing selected: everything
    wait_for_sweep(qtbot, window, name)
    assert all(e.record.status == STOPPED for e in sweep_entries(window, name))
    ran = [bool(e.record.epochs) for e in sweep_entries(window, name)]
    assert ran == [True] * 5 + [False]  # two blocks trained the others, and kept their epochs
    assert window.compare_button.isEnabled()


def test_the_summary_keeps_its_selection_while_the_sweep_redraws(qtbot, window, load, folder):
    window.params.set_config(BASE)
    load(window, folder)
    name = window.start_sweep(SweepSpec(BASE, penalties=("l1", "l2"), alphas=(1e-3, 1e-1)), jobs=2)
    wait_for_sweep(qtbot, window, name)
    panel = window.sweep_panel
    panel.refresh()
    panel.summary.selectRow(1)
    chosen = panel._summaries[1][1]
    assert window.selected_run_ids() == set(chosen)
    panel.refresh()
    assert {i.row() for i in panel.summary.selectedIndexes()} == {1}


def test_each_run_has_one_record_and_is_stored_once(qtbot, settings, load, folder, tmp_path, monkeypatch):
    # The table, the plots and the store all read the session's book: no second copy to merge.
    from regui.core.store import RunStore
    from regui.gui.main_window import MainWindow

    store = tmp_path / "once.sqlite3"
    monkeypatch.setenv("REGUI_STORE", str(store))
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()  # (the plots make a run's curves when they are on screen)
    win.params.set_config(BASE)
    load(win, folder)
    with qtbot.waitSignal(win.controller.run_finished, timeout=30_000):
        win.start_run()
    with qtbot.waitSignal(win.controller.sweep_ended, timeout=60_000):
        win.compare_penalties()
    entries = win.runs.entries()
    assert len(entries) == 5 and all(e.record is win.session.book.record(e.run_id) for e in entries)
    assert all(win.plots._entries[e.run_id].record is e.record for e in entries)
    win.close()
    qtbot.waitUntil(lambda: not win.run_log._thread.is_alive(), timeout=20_000)
    with RunStore(store) as s:
        stored = s.runs()
        assert sorted(r.name for r in stored) == sorted(e.record.name for e in entries)  # each once
        by_name = {r.name: s.load(r.id) for r in stored}
    for entry in entries:
        kept = by_name[entry.record.name]
        assert kept.status == entry.record.status == FINISHED
        assert kept.epochs == entry.record.epochs and len(kept.epochs) == BASE.epochs


def test_the_queue_shows_this_sessions_sweep_not_a_stored_one_of_the_same_name(window):
    from regui.core.records import RunRecord
    from regui.gui.run_entry import RunEntry
    from regui.gui.run_styles import style_for

    here = RunEntry(1, RunRecord(config=BASE, status=WAITING, sweep="S1"), style_for(0))
    stored = RunEntry(2, RunRecord(config=BASE, status=FINISHED, sweep="S1"), style_for(1), stored_id=7)
    window.runs.add_many([here, stored])
    from regui.core.sweep_runs import SweepControl
    from regui.gui.sweep_state import SweepRun

    window.sweep_panel.filter.show_sweep(SweepRun("S1", SweepControl(), {1: 0}))
    assert window.sweep_panel.filter.rowCount() == 1
    assert window.sweep_panel.filter.mapToSource(window.sweep_panel.filter.index(0, 0)).row() == 0


def test_a_cross_validated_comparison_retrains_each_chosen_setting_and_tests_it_once(qtbot, window, load, folder):
    from regui.core.cross_validation import retrainings
    from regui.core.dataset import prepare
    from regui.core.runs import run_training

    config = BASE.with_(alpha=0.01, folds=3, eta0=0.5, batch_size=8)  # fast enough to learn in 4 epochs
    window.params.set_config(config)
    load(window, folder)
    assert "3-fold cross-validation of 27 training images" in window.controls.ready.text()
    assert not window.params.validation.isEnabled()  # the folds are the validation parts
    qtbot.mouseClick(window.compare_button, Qt.MouseButton.LeftButton)
    wait_for_sweep(qtbot, window, "C1")
    sweep = window.session.sweeps["C1"]
    grid = [window.runs.entry(r).record for r in sweep.grid_ids]
    assert len(grid) == 4 * 3 and {(r.config.folds, r.config.fold) for r in grid} == {(3, 0), (3, 1), (3, 2)}
    # The chosen settings, as the engine chooses them from the fold runs, trained on the whole
    # training part with the comparison's seeds: the same numbers as training them here.
    plans = retrainings(summarize(grid), grid, config)
    retrained = [window.runs.entry(r).record for r in sweep.retrained]
    assert [r.config for r in retrained] == [p.config for p in plans] and len(plans) == 4
    assert all(r.status == FINISHED and r.config.validation == 0 and r.config.folds == 0 for r in retrained)
    dataset = load_dataset(folder, BASE.image)
    want = run_training(prepare(dataset, plans[2].config.split), plans[2].config)
    got = retrained[2].final
    assert (got.train_loss, got.test_accuracy) == (want.final.train_loss, want.final.test_accuracy)
    # The Sweep tab says what was chosen and reports each retrained run's test accuracy, once.
    panel = window.sweep_panel
    panel.refresh()
    assert "3-fold cross-validation" in panel.verdict.text() and not panel.verdict.isHidden()
    assert want.final.test_accuracy > 0.5 and f"{want.final.test_accuracy:.2%}" in panel.verdict.text()
    assert panel.summary.rowCount() == 4  # the grid's settings: the retrained runs are not a setting of it
    chosen = [panel.summary.item(row, 9).text() for row in range(4)]
    assert all(text.startswith("on 3-fold validation; retrained: test ") for text in chosen)


def test_a_cross_validated_run_trains_each_fold_then_the_whole_training_part(qtbot, window, load, folder):
    window.params.set_config(BASE.with_(folds=2))
    load(window, folder)
    assert window.start_run() == "V1"
    wait_for_sweep(qtbot, window, "V1")
    sweep = window.session.sweeps["V1"]
    assert len(sweep.grid_ids) == 2 and len(sweep.retrained) == 1
    [record] = [window.runs.entry(r).record for r in sweep.retrained]
    assert record.status == FINISHED and record.name.endswith("retrained on the whole training part")
    assert window.sweep_panel.chooser.currentText() == "V1 (3 runs)"


def test_the_folds_box_steps_over_one_fold():
    from regui.gui.widgets import FoldsBox

    box = FoldsBox(20, "off", " folds")
    box.stepBy(1)
    assert box.value() == 2
    box.stepBy(-1)
    assert box.value() == 0 and box.text() == "off"


def test_the_validation_curves_take_new_numbers_in_place_as_a_fresh_drawing_would(qtbot):
    from regui.core.sweep_summary import SettingSummary
    from regui.gui.sweep_plots import SweepPlots

    alphas = [1e-4, 1e-3, 1e-2]

    def summaries(shift: float) -> list:
        made = [(SettingSummary("none", None, None, 0.01, runs=[0], test=(0.5 + shift, 0.02), zeros=(0, 0)), [1])]
        for p, penalty in enumerate(("l1", "l2")):
            for a, alpha in enumerate(alphas):
                stat = (0.4 + 0.1 * a + 0.05 * p + shift, 0.01 * (a + 1))
                made.append(
                    (SettingSummary(penalty, alpha, None, 0.01, runs=[0, 1], test=stat, zeros=stat), [10 * p + a])
                )
        return made

    def drawn(plots: SweepPlots) -> list:
        out = []
        for plot in (plots.acc_plot, plots.zero_plot):
            for item in plot.items:
                if isinstance(item, pg.PlotDataItem):
                    out.append(("line", *map(tuple, item.getData())))
                elif isinstance(item, pg.ScatterPlotItem):
                    out.append(("points", tuple(item.data["x"]), tuple(item.data["y"]), tuple(item.data["data"])))
                elif isinstance(item, pg.ErrorBarItem):
                    out.append(("bars", tuple(item.opts["y"]), tuple(item.opts["height"])))
                elif isinstance(item, pg.LinearRegionItem):
                    out.append(("band", tuple(item.getRegion())))
        return out

    updated, fresh = SweepPlots(), SweepPlots()
    qtbot.addWidget(updated)
    qtbot.addWidget(fresh)
    updated.draw(summaries(0.0), alphas, "test", False)
    items_before = list(updated.acc_plot.items)
    updated.draw(summaries(0.1), alphas, "test", False)  # the same lines, new numbers: in place
    assert updated.acc_plot.items == items_before
    fresh.draw(summaries(0.1), alphas, "test", False)
    assert drawn(updated) == drawn(fresh) and drawn(updated) != []
    band = next(i for i in updated.acc_plot.items if isinstance(i, pg.LinearRegionItem))
    assert band.getRegion() == pytest.approx((58.0, 62.0))  # (0.5 + 0.1 -+ 0.02) in %
    updated.draw(summaries(0.1), alphas, "test", True)  # train lines too: drawn anew
    assert len(updated.acc_plot.items) > len(items_before)


def test_starting_workers_never_makes_the_window_wait(qtbot, window, load, folder, monkeypatch):
    import threading
    import time

    from regui.core.pool import ProcessPool

    release = threading.Event()
    started = []

    def slow_start(pool) -> None:  # workers that take long to start: the window must not wait
        started.append(pool)
        release.wait(20)

    monkeypatch.setattr(ProcessPool, "start_workers", slow_start)
    window.params.set_config(BASE)
    dataset = load(window, folder)
    controller = window.controller
    controller.warm_pool(dataset)
    qtbot.waitUntil(lambda: len(started) == 1, timeout=10_000)
    t = time.perf_counter()
    controller.warm_pool(dataset)  # one is still starting: tried again later, not waited for
    assert time.perf_counter() - t < 0.2 and len(started) == 1
    release.set()
    qtbot.waitUntil(lambda: controller._spare_pool is not None, timeout=10_000)
    assert controller._spare_pool is started[0]
    release.clear()
    controller._spare_pool = None
    started[0].close()
    controller.warm_pool(dataset)
    qtbot.waitUntil(lambda: len(started) == 2, timeout=10_000)
    t = time.perf_counter()
    assert window.close()  # closing does not wait for workers still starting
    assert time.perf_counter() - t < 2
    release.set()
    qtbot.waitUntil(lambda: not controller._warming.is_alive(), timeout=10_000)
    assert controller._spare_pool is None and not started[1]._dir.exists()  # closed by its own thread


def test_the_summary_table_updates_its_cells_in_place_and_keeps_the_selection(qtbot):
    from regui.core.sweep_summary import SettingSummary
    from regui.gui.sweep_table import SummaryTable

    def rows(test_mean: float, finished: int) -> list:
        made = []
        for k, alpha in enumerate((1e-3, 1e-2, 1e-1)):
            s = SettingSummary("l2", alpha, None, 0.01, runs=list(range(finished)))
            s.test, s.val = (test_mean + k / 100, 0.02), (0.5 + k / 100, 0.01)
            s.train = s.zeros = (0.9, 0.0)
            made.append((s, [10 * k + i for i in range(finished)]))
        return made

    table = SummaryTable()
    qtbot.addWidget(table)
    table.show_summaries(rows(0.50, 2))
    table.selectRow(1)
    first_item = table.item(1, 7)
    assert first_item.text() == "51.00 ± 2.00%"
    with qtbot.waitSignal(table.runs_selected, raising=False, timeout=100) as selected:
        table.show_summaries(rows(0.60, 3))  # more runs of the same settings ended
    assert not selected.signal_triggered  # the person's selection did not change
    assert table.item(1, 7) is first_item and first_item.text() == "61.00 ± 2.00%"
    assert table.item(1, 4).text() == "3"
    assert [i.row() for i in table.selectionModel().selectedRows()] == [1]
    # The best validation mean is chosen (the last setting), and says so.
    assert table.item(2, 9).text().startswith("on validation") and not table.item(1, 9).text()
    # Other settings: the rows are made again.
    table.show_summaries(rows(0.60, 3)[:2])
    assert table.rowCount() == 2 and table.item(1, 7) is not first_item
    table.show_summaries([])
    table.show_summaries(rows(0.60, 1))
    assert table.rowCount() == 3 and table.item(0, 7).text() == "60.00 ± 2.00%"


def test_the_validation_curves_keep_their_items_as_penalties_come_and_go(qtbot):
    from regui.core.sweep_summary import SettingSummary
    from regui.gui.sweep_plots import SweepPlots

    def summaries(penalties: list[str]) -> list:
        made = []
        for penalty in penalties:
            for k, alpha in enumerate((1e-3, 1e-2) if penalty != "none" else (None,)):
                s = SettingSummary(penalty, alpha, None, 0.01, runs=[0, 1])
                s.test = s.val = s.train = (0.5 + k / 10, 0.02)
                s.zeros = (0.1, 0.0)
                made.append((s, [k]))
        return made

    def names(canvas) -> list[str]:
        return [label.text for _, label in canvas.legend.items]

    canvas = SweepPlots()
    qtbot.addWidget(canvas)
    canvas.draw(summaries(["l1"]), [1e-3, 1e-2], "val", False)
    l1_line = canvas._items[0][1]
    assert names(canvas) == ["L1"]
    canvas.draw(summaries(["none", "l1", "l2"]), [1e-3, 1e-2], "val", False)  # the others' first runs ended
    assert canvas._items[2][1] is l1_line and l1_line.scene() is canvas.scene()  # kept, not made again
    assert names(canvas) == ["none", "L1", "L2"]  # in the lines' order
    np.testing.assert_allclose(l1_line.yData, [50.0, 60.0])
    canvas.draw(summaries(["l2"]), [1e-3, 1e-2], "val", True)
    assert names(canvas) == ["L2"] and l1_line.scene() is None  # taken off the plot
    # What the bars are comes first in the subtitle (a narrow plot cuts its end); all of it in the tooltip.
    assert canvas.acc_plot.titleLabel.toolTip() == "Validation curve: validation · mean ± std of runs · train ╌╌╌"
    drawn = [item for item in canvas.acc_plot.items if isinstance(item, pg.PlotDataItem)]
    assert drawn == [canvas._items[0][1], canvas._items[1][1]]  # L2's validation and (dashed) train lines


def _painted_validation_curves(qtbot, monkeypatch):
    """A shown validation-curve canvas, 900x400, and the list its paints are counted in."""
    from regui.gui.sweep_plots import SweepPlots

    paints = []
    original = pg.GraphicsView.paintEvent  # (replaced before the view is made: Qt looks it up then)
    monkeypatch.setattr(pg.GraphicsView, "paintEvent", lambda view, event: (paints.append(1), original(view, event)))
    plots = SweepPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 400)
    plots.show()
    return plots, paints


def test_a_redrawn_validation_curve_is_painted_once_with_its_axes_already_fitted(qtbot, monkeypatch):
    from regui.core.sweep_summary import SettingSummary

    alphas = [1e-4, 1e-3, 1e-2]

    def summaries(level: float) -> list:
        return [
            (SettingSummary("l2", alpha, None, 0.01, runs=[0, 1], test=(level + 0.1 * a, 0.01), zeros=(0, 0)), [a])
            for a, alpha in enumerate(alphas)
        ]

    plots, paints = _painted_validation_curves(qtbot, monkeypatch)
    plots.draw(summaries(0.2), alphas, "test", False)
    qtbot.wait(100)
    paints.clear()
    plots.draw(summaries(0.7), alphas, "test", False)  # the accuracies move up: 70-90%
    low, high = plots.acc_plot.getViewBox().viewRange()[1]
    assert low <= 70 and high >= 90  # fitted by the draw itself, before any paint
    qtbot.wait(200)
    assert len(paints) == 1  # pyqtgraph fitting them at the paint asked for a second one


def test_the_validation_curves_keep_their_size_as_the_first_lines_and_new_labels_come_in(qtbot, monkeypatch):
    # A plot resized by its legend's first row or by wider tick labels is laid out and painted
    # again: a stall of the window each time a sweep's results come in.
    from regui.core.sweep_summary import SettingSummary

    alphas = [1e-4, 1e-3, 1e-2]

    def summaries(level: float) -> list:
        return [
            (SettingSummary(p, alpha, None, 0.01, runs=[0, 1], test=(level + 0.01 * a, 0.001), zeros=(level, 0)), [a])
            for p in ("l1", "l2")
            for a, alpha in enumerate(alphas)
        ]

    plots, paints = _painted_validation_curves(qtbot, monkeypatch)
    qtbot.wait(100)
    empty = [plot.getViewBox().geometry() for plot in (plots.acc_plot, plots.zero_plot)]
    for level in (0.02, 0.95):  # the first lines, labelled 2-4%; then 95-97%, labels three digits wide
        paints.clear()
        plots.draw(summaries(level), alphas, "test", False)
        qtbot.wait(200)
        assert [plot.getViewBox().geometry() for plot in (plots.acc_plot, plots.zero_plot)] == empty
        assert len(paints) == 1, level
    assert len(plots.legend.items) == 2


def test_switching_sweeps_leaves_no_row_or_point_of_the_other_to_click(qtbot, window, load, folder):
    window.params.set_config(BASE)
    load(window, folder)
    first = window.start_sweep(SweepSpec(BASE, penalties=("l1", "l2"), alphas=(1e-3, 1e-1)), jobs=2)
    wait_for_sweep(qtbot, window, first)
    second = window.start_sweep(SweepSpec(BASE, penalties=("l2",), alphas=(1e-2,)), jobs=2)
    wait_for_sweep(qtbot, window, second)
    panel = window.sweep_panel
    panel.chooser.setCurrentIndex(panel.chooser.findData(first))  # the other sweep, chosen
    assert panel.summary.model().rowCount() == 0 and not panel._summaries  # until its own are drawn
    assert not [i for i in panel.canvas.acc_plot.items if isinstance(i, pg.ScatterPlotItem)]
    first_ids = set(panel.sweeps[first].run_ids)
    qtbot.waitUntil(lambda: panel.summary.model().rowCount() == 4, timeout=5_000)  # 2 penalties x 2 lambdas
    assert {r for _, ids in panel._summaries for r in ids} <= first_ids
