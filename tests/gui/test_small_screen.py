"""The app on a student's laptop: it fits 1366x768, fifty runs are told apart, axes follow what
is shown, and a refused value says why."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QScreen
from PySide6.QtWidgets import QApplication

from regui.core.config import TrainConfig
from regui.core.records import FINISHED, EpochResult, RunRecord
from regui.gui.run_entry import RunEntry
from regui.gui.run_styles import COLORS, MARKERS, style_for, swatch


def _record(n_epochs: int, loss_scale: float = 1.0, accuracy: float = 0.8) -> RunRecord:
    epochs = [
        EpochResult(
            e,
            loss_scale / e,
            loss_scale,
            0.0,
            loss_scale / e,
            accuracy,
            accuracy - 0.05,
            1.0,
            1.0,
            0.0,
            elapsed=0.1 * e,
            coef=np.empty((0, 0), np.float32),
            intercept=np.empty(0),
        )
        for e in range(1, n_epochs + 1)
    ]
    return RunRecord(config=TrainConfig(), status=FINISHED, epochs=epochs)


def test_every_panel_open_fits_1280x720(qtbot, window):
    for dock in window.inspector.docks.values():
        dock.show()
    window.inspector.toolbar.show()
    window.sweep_panel.body.show()  # a sweep's plots and tables, not the empty note
    window.show_notice("A long notice " * 20)
    QApplication.processEvents()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint


def test_the_first_window_fits_the_screen_it_opens_on(qtbot, settings, monkeypatch):
    from regui.gui.main_window import MainWindow

    free = QRect(0, 0, 1366, 728)  # a 1366x768 laptop less its panel
    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: free)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    assert win.width() <= 1366 - 12 and win.height() <= 728 - 40  # room for the title bar and borders
    settings.setValue("geometry", win.saveGeometry())
    win.resize(2400, 1500)  # as saved on a big monitor, and opened again on the laptop
    settings.setValue("geometry", win.saveGeometry())
    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    assert again.width() <= 1366 - 12 and again.height() <= 728 - 40


def test_eighty_runs_have_eighty_styles_and_the_table_shows_each_exactly(qapp):  # pixmaps need the application
    styles = [style_for(i) for i in range(80)]
    assert len(set(styles)) == 80
    assert styles[13].color == styles[3].color and styles[13].marker != styles[3].marker  # run 14 vs run 4
    assert {s.color for s in styles} == set(COLORS) and {s.marker for s in styles} == set(MARKERS)
    image = swatch(styles[13]).toImage()
    centre = image.pixelColor(image.width() // 2, image.height() // 2)
    assert centre.name() == styles[13].color  # the marker in the middle, in the run's colour


def test_fifty_runs_in_the_plots_and_the_table_are_told_apart(qtbot, window):
    entries = []
    for n in range(50):
        entries.append(RunEntry(n + 1, _record(60 if n % 2 else 10), window.runs.next_style()))
        window.runs.add(entries[-1])
        window.plots.add_run(entries[-1])
    QApplication.processEvents()
    seen = set()
    for entry in entries:
        curves = window.plots.curves(entry.run_id)
        pen = curves["objective"].opts["pen"]
        short = len(entry.record.epochs) <= 40
        marker = curves["objective"].opts["symbol"] if short else curves["objective_marks"].opts["symbol"]
        assert pen.color().name() == entry.style.color and marker == entry.style.marker
        if not short:
            assert 0 < len(curves["objective_marks"].xData) <= 12  # a few marks along a long run
        row = window.runs.row_of(entry.run_id)
        decoration = window.runs.index(row, 0).data(Qt.ItemDataRole.DecorationRole)
        assert decoration.toImage() == swatch(entry.style).toImage()  # the table shows the curve's style
        seen.add((pen.color().name(), marker))
    assert len(seen) == 50
    # Fifty runs: the legend says where the key is, instead of fifty lines.
    [(_, label)] = window.plots.legend.items
    assert "50 runs shown" in label.text
    for entry in entries[3:]:
        window.runs.set_visible(entry.run_id, False)
    assert len(window.plots.legend.items) == 3  # three: each named
    window.plots.highlight({entries[13].run_id})
    chosen = window.plots.curves(entries[13].run_id)["objective"].opts["pen"]
    other = window.plots.curves(entries[0].run_id)["objective"].opts["pen"]
    assert chosen.widthF() >= 3 * other.widthF() and other.color().alpha() < 60 and chosen.color().alpha() == 255


def test_past_eighty_runs_shown_the_curves_carry_no_markers_and_get_them_back(qtbot, window):
    from regui.gui.plots import _MARKED_RUNS_UP_TO

    entries = []
    for n in range(_MARKED_RUNS_UP_TO + 1):  # the styles start to repeat: markers tell nothing apart
        record = _record(60 if n % 2 else 10)
        record.epochs = [dataclasses.replace(e, val_accuracy=0.7 + 0.001 * e.epoch) for e in record.epochs]
        entries.append(RunEntry(n + 1, record, window.runs.next_style()))
        window.runs.add(entries[-1])
        window.plots.add_run(entries[-1])
    window.plots._refresh()
    for entry in entries:
        curves = window.plots.curves(entry.run_id)
        assert curves["objective"].opts["symbol"] is None and curves["test"].opts["symbol"] is None
        for key in ("objective_marks", "chosen"):  # nor a star at the epoch chosen on validation
            points = curves[key].getData()[0] if key in curves else None
            assert points is None or len(points) == 0
        assert len(curves["objective"].getData()[0]) == len(entry.record.epochs)
    [(_, label)] = window.plots.legend.items
    assert f"{len(entries)} runs shown" in label.text and "no markers" in label.text
    window.runs.set_visible(entries[0].run_id, False)  # eighty shown: each style once again
    window.plots._refresh()
    short, long = window.plots.curves(entries[2].run_id), window.plots.curves(entries[1].run_id)
    assert short["objective"].opts["symbol"] == entries[2].style.marker
    assert 0 < len(long["objective_marks"].xData) <= 12
    assert len(short["chosen"].xData) == 1  # the star is back


def test_the_loss_axis_follows_the_runs_shown(qtbot, window):
    raw = RunEntry(1, _record(10, loss_scale=600.0), window.runs.next_style())
    window.runs.add(raw)
    window.plots.add_run(raw)
    unit = RunEntry(2, _record(10, loss_scale=1.0), window.runs.next_style())
    window.runs.add(unit)
    window.plots.add_run(unit)
    QApplication.processEvents()
    assert window.plots.loss_plot.getViewBox().viewRange()[1][1] > 500
    window.runs.set_visible(1, False)  # unticked in the table
    QApplication.processEvents()
    top = window.plots.loss_plot.getViewBox().viewRange()[1][1]
    assert 0.9 < top < 2  # the [0, 1] run fills the plot, not a flat line near 0


@pytest.mark.parametrize(
    "field, typed, says",
    [
        ("alpha", "-1", "Lambda (alpha) must be from 1e-7 to 1e4 (got -1)."),
        ("alpha", "0", "Lambda (alpha) must be from 1e-7 to 1e4 (got 0)."),
        ("eta0", "1e9", "The learning rate must be from 1e-6 to 1e4 (got 1e9)."),
    ],
)
def test_a_refused_value_stays_as_typed_and_says_why(qtbot, window, load, make_folder, field, typed, says):
    window.params.set_config(TrainConfig(width=12, height=10))
    load(window, make_folder({"a": 4, "b": 4}))
    spin = getattr(window.params, field).spin
    spin.selectAll()
    qtbot.keyClicks(spin, typed)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    checked = window.params.checked[field]
    assert spin.text() == typed  # kept, to be corrected
    assert checked.message.isVisibleTo(window) and checked.message.text() == says
    assert says in checked.editor.toolTip() and "Allowed:" in checked.editor.toolTip()
    assert not window.run_button.isEnabled() and says in window.ready.text()
    spin.selectAll()
    qtbot.keyClicks(spin, "0.01")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert not checked.message.isVisibleTo(window) and window.run_button.isEnabled()


def test_a_box_and_the_command_line_refuse_with_the_same_words(qtbot, window, make_folder, capsys):
    from regui.cli import main

    window.params.epochs.setValue(200_000)
    box = window.params.checked["epochs"].message.text()
    assert main(["run", "--dataset", str(make_folder({"a": 3, "b": 3})), "--epochs", "200000"]) == 2
    assert box and box in capsys.readouterr().err


def test_swatch_colours_are_the_curves_colours(qtbot, window):
    entry = RunEntry(1, _record(5), style_for(23))
    window.runs.add(entry)
    window.plots.add_run(entry)
    assert QColor(entry.style.color) == window.plots.curves(1)["test"].opts["pen"].color()


def test_a_run_that_learned_nothing_says_so_and_what_to_change(qtbot, window, load, make_folder):
    window.params.set_config(
        TrainConfig(width=12, height=10, epochs=5, scaling="unit", penalty="l1", alpha=1.0, eta0=0.5)
    )
    load(window, make_folder({"cats": 30, "dogs": 24, "panda": 20}))
    with qtbot.waitSignal(window.controller.run_finished, timeout=30_000):
        window.start_run()
    assert window.notice_row.isVisible()
    assert window.notice.text().startswith("Run #1 learned nothing: its test accuracy")
    assert "set every weight to exactly 0: lower lambda (now 1)" in window.notice.text()


def test_during_a_big_sweep_the_views_show_a_run_that_has_weights_or_say_why_not(qtbot, window):
    from dataclasses import replace

    from regui.core.records import RUNNING

    def sweep_run(n: int, status: str, with_weights: bool) -> RunEntry:
        record = _record(3)
        record.status, record.sweep = status, "S1"
        record.dataset = {"class_names": ["a", "b", "c"]}
        if with_weights:
            record.epochs[-1] = replace(
                record.epochs[-1], coef=np.ones((3, TrainConfig().image.n_features), np.float32), intercept=np.zeros(3)
            )
        return RunEntry(n, record, style_for(n))

    running = [sweep_run(n, RUNNING, False) for n in range(1, 7)]
    for entry in running:
        window.runs.add(entry)
    window.inspector.push()
    assert window.inspector.entries == []
    view = window.inspector.weights
    view.refresh_now()
    assert "keeps each run's weights when the run ends; none has ended yet" in view.note.text()
    ended = sweep_run(7, FINISHED, True)
    window.runs.add(ended)
    window.runs.add(sweep_run(8, RUNNING, False))  # newer, but still without weights
    window.inspector.push()
    assert window.inspector.entries == [ended]
    view.refresh_now()
    assert "none has ended" not in view.note.text() and view.drawn(7, 0).shape == (32, 32)


def test_the_app_reopens_the_folder_left_off_and_the_sweep_grid_chosen(qtbot, settings, load, make_folder, monkeypatch):
    import shutil

    from regui.gui.main_window import MainWindow
    from regui.gui.sweep_dialog import SweepDialog

    folder = make_folder({"a": 4, "b": 4})
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.params.set_config(TrainConfig(width=12, height=10))
    load(first, folder)
    started = []
    monkeypatch.setattr(first, "start_sweep", lambda spec, **kw: started.append(spec))

    def choose_and_accept(dialog):
        dialog.points.setValue(4)
        dialog.repeats.setValue(2)
        dialog.penalties["elasticnet"].setChecked(False)
        return SweepDialog.DialogCode.Accepted

    monkeypatch.setattr(SweepDialog, "exec", choose_and_accept)
    first.open_sweep_dialog()
    assert started and started[0].penalties == ("none", "l1", "l2") and started[0].repeats == 2
    first.close()

    offered = []
    monkeypatch.setattr(SweepDialog, "exec", lambda dialog: offered.append(dialog.grid()) or 0)
    again = MainWindow(settings=settings, reopen_last=True)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.dataset is not None, timeout=20_000)
    assert again.dataset.root == folder  # not the bundled sample
    again.open_sweep_dialog()
    assert offered[0]["points"] == 4 and offered[0]["repeats"] == 2 and offered[0]["penalties"] == ["none", "l1", "l2"]
    again.close()
    shutil.rmtree(folder)
    third = MainWindow(settings=settings)
    qtbot.addWidget(third)
    from regui.core.locations import sample_dataset_dir

    assert third.last_folder() == str(sample_dataset_dir())  # the folder is gone: the sample instead


def test_the_sweep_tab_labels_every_lambda_and_keeps_its_legend_off_the_data(qtbot, window):
    import math

    panel = window.sweep_panel
    axis = panel.acc_plot.getAxis("bottom")
    axis.points = [math.log10(a) for a in (1e-4, 1e-3, 1e-2, 1e-1)]
    [(_, values)] = axis.tickValues(-4.3, -0.7, 260)  # a laptop's plot width
    assert values == axis.points
    assert axis.tickStrings(values, 1, 1) == ["1e-4", "1e-3", "0.01", "0.1"]
    [(step, decades)] = axis.tickValues(-8.3, -0.7, 120)  # too narrow for every one: fewer, evenly
    assert step >= 2 and len(decades) >= 2
    panel.body.show()
    panel.resize(600, 500)
    panel.show()
    QApplication.processEvents()
    plots_bottom = max(panel.acc_plot.geometry().bottom(), panel.zero_plot.geometry().bottom())
    assert panel.legend.geometry().top() >= plots_bottom - 1  # below the points, not over them
    assert [panel.tables.tabText(i) for i in range(panel.tables.count())] == ["Summary per setting", "Queue"]


def test_a_comparison_is_called_a_comparison_and_a_long_run_name_does_not_widen_a_dock(
    qtbot, window, load, make_folder
):
    from regui.gui.views.common_run import RunChooser

    window.params.set_config(TrainConfig(width=12, height=10, epochs=2, scaling="unit"))
    load(window, make_folder({"a": 6, "b": 6}))
    with qtbot.waitSignal(window.controller.sweep_ended, timeout=60_000):
        window.compare_penalties()
    assert window.statusBar().currentMessage() == "Comparison C1 done."
    chooser = RunChooser()
    qtbot.addWidget(chooser)
    width = chooser.minimumSizeHint().width()
    entry = RunEntry(1, _record(2), style_for(0))
    entry.record.name = "x"
    entry.record.config = TrainConfig(penalty="elasticnet", alpha=0.000123, l1_ratio=0.333, scaling="standard")
    chooser.set_entries([entry])
    assert chooser.minimumSizeHint().width() == width and chooser.toolTip() == entry.label


def test_the_thumbnail_strip_says_it_scrolls(qtbot, window, load, make_folder):
    window.params.set_config(TrainConfig(width=12, height=10))
    load(window, make_folder({f"class{k}": 2 for k in range(5)}))
    assert window.dataset_panel.classes_hint.isVisibleTo(window)
    assert window.dataset_panel.classes_hint.text() == "5 classes: scroll the strip for all of them"


def test_a_run_starting_or_ending_does_not_refit_every_column_at_once(qtbot, window):
    # Qt's ResizeToContents re-measured every column over many rows on each changed row: 22 ms
    # of Python calls each time a run of a comparison started or ended (a visible stall).
    from PySide6.QtWidgets import QHeaderView

    assert window.table.horizontalHeader().sectionResizeMode(0) == QHeaderView.ResizeMode.Interactive
    entry = RunEntry(1, _record(3), style_for(0))
    window.runs.add(entry)
    assert window.columns.timer.isActive()  # fitted a moment later, once for many changes
    window.columns.fit()  # one column a turn
    qtbot.waitUntil(lambda: not window.columns.fitting(), timeout=2000)
    width = window.table.columnWidth(1)
    entry.record.status = "stopped"  # "stopped at epoch 3": longer than "finished"
    window.runs.run_ended(1)
    assert window.columns.timer.isActive()
    window.columns.fit()
    qtbot.waitUntil(lambda: not window.columns.fitting(), timeout=2000)
    assert window.table.columnWidth(1) > width


def test_the_loss_parts_are_drawn_when_first_asked_for(qtbot, window):
    entry = RunEntry(1, _record(5, loss_scale=2.0), style_for(0))
    window.runs.add(entry)
    window.plots.add_run(entry)
    window.plots._refresh()
    assert "data" not in window.plots.curves(1)  # made only when shown: most runs never are
    window.plots.show_parts.setChecked(True)
    curves = window.plots.curves(1)
    epochs = entry.record.epochs
    assert list(curves["data"].getData()[1]) == [e.train_loss for e in epochs]
    assert curves["data"].isVisible() and curves["data"].opts["pen"].color() == QColor(entry.style.color)
    assert curves["data"].opts["symbol"] == entry.style.marker  # a marker at each epoch, as its objective
    assert list(curves["objective"].getData()[1]) == [e.objective for e in epochs]
