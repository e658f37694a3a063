"""The training-curve plots: layout that holds at the widths the window gives them."""

import pytest
from PySide6.QtWidgets import QApplication

from regui.core.config import TrainConfig
from regui.core.records import RunRecord
from regui.gui.plots import PlotsPanel
from regui.gui.run_entry import RunEntry
from regui.gui.run_styles import style_for


def test_two_plots_share_the_width_and_the_legend_sits_below_them(qtbot):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 700)
    panel.show()
    empty_ticks = panel.acc_plot.getViewBox().viewRange()[1]
    assert empty_ticks[0] <= 0 and empty_ticks[1] >= 100  # an empty accuracy axis in %, not 0-1
    panel.show_parts.setChecked(True)  # the longest titles
    for n, (penalty, l1_ratio) in enumerate((("none", 0.15), ("l1", 0.15), ("l2", 0.15), ("elasticnet", 0.35))):
        config = TrainConfig(penalty=penalty, l1_ratio=l1_ratio)
        panel.add_run(RunEntry(n + 1, RunRecord(config=config), style_for(n)))
    for _ in range(5):
        QApplication.processEvents()
    loss, acc = panel.loss_plot.geometry(), panel.acc_plot.geometry()
    assert loss.width() == pytest.approx(acc.width(), rel=0.1)  # only their axes' tick labels differ
    assert acc.right() <= panel.canvas.width()  # the accuracy plot is not pushed out of view
    assert len(panel.legend.items) == 4
    assert panel.legend.geometry().top() >= max(loss.bottom(), acc.bottom()) - 1  # covers no curve
    assert panel.legend.geometry().bottom() <= panel.canvas.height()


def test_a_crowded_plots_legend_line_keeps_both_plots_in_a_laptops_panel(qtbot):
    from regui.gui.plots import _MARKED_RUNS_UP_TO

    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.resize(480, 460)  # the plots' share of a 1366x768 window with the inspector docked
    panel.show()
    for n in range(_MARKED_RUNS_UP_TO + 20):  # a three-digit count, as a sweep has
        panel.add_run(RunEntry(n + 1, RunRecord(config=TrainConfig()), style_for(n)))
    for _ in range(5):
        QApplication.processEvents()
    [(_, label)] = panel.legend.items
    assert "no markers" in label.text
    assert panel.acc_plot.geometry().right() <= panel.canvas.width()  # not pushed out of view


def test_the_draw_budget_counts_nested_drawing_once_and_renews_each_turn(qtbot, monkeypatch):
    import regui.gui.draw_budget as draw_budget

    clock = [0.0]
    monkeypatch.setattr(draw_budget.time, "perf_counter", lambda: clock[0])
    budget = draw_budget.DrawBudget()
    with budget.spending():
        with budget.spending():  # a run's curves made, and drawn at once within it
            clock[0] += 0.6 * draw_budget.BUDGET_SECONDS
    assert not budget.over()  # counted once: 0.6 of the budget, not 1.2
    with budget.spending():
        clock[0] += 0.6 * draw_budget.BUDGET_SECONDS
    assert budget.over()
    qtbot.waitUntil(lambda: not budget.over(), timeout=2000)  # the window had its turn: a new budget


def test_past_80_runs_every_curve_is_drawn_one_pixel_wide_and_fewer_go_back(qtbot):
    import numpy as np

    from regui.core.records import EpochResult
    from regui.gui.plots import _CROWDED_WIDTH, _MARKED_RUNS_UP_TO, _NORMAL_WIDTH

    def epoch(n: int) -> EpochResult:
        no_weights = np.zeros((1, 2), np.float32)
        return EpochResult(
            n, 0.5, 0.6, 0.0, 0.5, 0.7, 0.6, 1.0, 1.0, 0.0, 0.01, no_weights, np.zeros(1), val_accuracy=0.6
        )

    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.show()

    def widths() -> set[float]:
        items = panel.loss_plot.listDataItems() + panel.acc_plot.listDataItems()
        return {item.opts["pen"].widthF() for item in items if item.opts["pen"] is not None}

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            record = RunRecord(config=TrainConfig())
            record.epochs = [epoch(1), epoch(2)]
            panel.add_run(RunEntry(n + 1, record, style_for(n)))
        qtbot.waitUntil(lambda: not panel._waiting and not panel._dirty, timeout=10_000)

    add(_MARKED_RUNS_UP_TO, 0)
    assert widths() == {_NORMAL_WIDTH}
    add(1, _MARKED_RUNS_UP_TO)  # the 81st: every run's pens change, a few runs a turn
    assert widths() == {_CROWDED_WIDTH} and not panel._restyle_later
    add(1, _MARKED_RUNS_UP_TO + 1)
    assert widths() == {_CROWDED_WIDTH}


def _epochs(run: int, count: int = 3):
    """A run's epochs with losses and accuracies of its own (``run``), to tell its curves apart."""
    import numpy as np

    from regui.core.records import EpochResult

    no_weights = np.zeros((1, 2), np.float32)
    loss = [1.0 / (run + e) for e in range(1, count + 1)]
    accuracy = 0.5 + 0.001 * run
    return [
        EpochResult(e, loss[e - 1], 0.6, 0.0, loss[e - 1], accuracy, 0.6, 1.0, 1.0, 0.0, 0.01, no_weights, np.zeros(1))
        for e in range(1, count + 1)
    ]


def _one_run_a_turn(panel) -> None:
    """The panel's drawing budget, as on a slow machine: one run's curves made a turn."""
    made = [0]
    add, new_turn = panel._add_waiting, panel._budget.new_turn

    def add_one() -> None:
        made[0] += 1
        add()

    def next_turn() -> None:
        made[0] = 0
        new_turn()

    panel._add_waiting = add_one
    panel._budget.new_turn = next_turn
    panel._budget.over = lambda since=None: made[0] >= 1


def _start(panel, runs, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        record = RunRecord(config=TrainConfig())
        record.epochs = _epochs(n)
        runs.add(RunEntry(n + 1, record, style_for(n)))
        panel.run_started(n + 1)
        panel.run_ended(n + 1)


def _behind_a_tab(qtbot):
    """A plots panel on the runs of a RunsModel, in a tab behind another (the Sweep tab, say)."""
    from PySide6.QtWidgets import QLabel, QTabWidget

    from regui.gui.results_model import RunsModel

    runs = RunsModel()
    panel = PlotsPanel(runs)
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(panel, "Training curves")
    tabs.addTab(QLabel("sweep"), "Sweep")
    tabs.setCurrentIndex(1)
    tabs.resize(900, 600)
    tabs.show()
    return runs, panel, tabs


def test_behind_another_tab_the_plots_make_no_curves_and_draw_them_all_at_once_when_shown(qtbot):
    # A sweep's runs start while the Sweep tab is on screen: the plots make nothing meanwhile.
    from regui.gui.plots import _HOLD_FROM

    runs, panel, tabs = _behind_a_tab(qtbot)
    count = _HOLD_FROM + 10
    _start(panel, runs, count)
    for _ in range(5):
        QApplication.processEvents()
    assert not any(panel.has_run(n + 1) for n in range(count))

    _one_run_a_turn(panel)
    tabs.setCurrentIndex(0)  # shown with more runs waiting than _HOLD_FROM: the curves are held
    panel._refresh_some()  # (the turn its timer would give it)
    held_group = panel.loss_plot.getViewBox().childGroup
    assert panel._held and not held_group.isVisible() and panel._progress.isVisible()
    assert f"{count - 1} more runs" in panel._progress.text()
    qtbot.waitUntil(lambda: not panel._waiting and not panel._dirty, timeout=20_000)
    assert held_group.isVisible() and not panel._progress.isVisible()
    for n in range(count):
        x, y = panel.curves(n + 1)["objective"].getData()
        assert list(x) == [1, 2, 3] and list(y) == [1.0 / (n + e) for e in (1, 2, 3)]
    top = panel.loss_plot.getViewBox().viewRange()[1][1]
    assert top >= 1.0  # the axes take in every run's curve (run 0's first loss is 1.0)


def test_an_option_ticked_while_the_curves_are_held_draws_them_all_and_shows_them(qtbot):
    from regui.gui.plots import _HOLD_FROM

    runs, panel, tabs = _behind_a_tab(qtbot)
    _start(panel, runs, _HOLD_FROM + 5)
    _one_run_a_turn(panel)
    tabs.setCurrentIndex(0)
    panel._refresh_some()
    assert panel._held
    panel.log_loss.setChecked(True)  # every run drawn at once: nothing is left to wait for
    assert not panel._waiting and not panel._held
    assert panel.loss_plot.getViewBox().childGroup.isVisible() and not panel._progress.isVisible()


def test_runs_queued_on_screen_are_drawn_as_they_come_and_a_zoom_is_kept(qtbot):
    from regui.gui.plots import _HOLD_FROM
    from regui.gui.results_model import RunsModel

    runs = RunsModel()
    panel = PlotsPanel(runs)
    qtbot.addWidget(panel)
    panel.show()
    _start(panel, runs, 1)
    view = panel.loss_plot.getViewBox()
    view.setXRange(1.5, 2.5, padding=0)  # zoomed in by hand: the x axis no longer follows the curves
    held = []
    hold = panel._hold
    panel._hold = lambda on: (held.append(on), hold(on))
    panel._budget.over = lambda since=None: True
    _start(panel, runs, _HOLD_FROM + 10, first=1)  # a block's runs, over budget, on screen: they wait
    assert len(panel._waiting) == _HOLD_FROM + 10
    _one_run_a_turn(panel)
    qtbot.waitUntil(lambda: not panel._waiting and not panel._dirty, timeout=20_000)
    assert True not in held and view.childGroup.isVisible()
    assert view.viewRange()[0] == pytest.approx([1.5, 2.5])


def test_short_curves_are_drawn_whole_and_only_huge_values_are_clipped(qtbot):
    import numpy as np

    from regui.gui.plots import _THIN_FROM, _thin

    panel = PlotsPanel()
    qtbot.addWidget(panel)
    curve = panel.loss_plot.plot()
    _thin(curve, np.linspace(0.1, 2.0, 10))  # a sweep's 10 epochs: nothing to do at each zoom
    assert not curve.opts["clipToView"] and not curve.opts["autoDownsample"]
    assert curve.opts["dynamicRangeLimit"] is None
    _thin(curve, np.r_[np.full(_THIN_FROM, 0.5), np.nan])  # a long run: thinned to what is in view
    assert curve.opts["clipToView"] and curve.opts["autoDownsample"]
    _thin(curve, np.array([0.5, 3e30, np.inf]))  # a diverging run: pyqtgraph's guard on
    assert curve.opts["dynamicRangeLimit"] == 1e6


def test_a_crowded_plot_draws_its_runs_merged_by_colour_each_as_its_own_curves_would_show_it(qtbot):
    # pyqtgraph paints item by item: a sweep's 380 runs' 1,536 curves took 30-50 ms a repaint.
    import dataclasses

    import numpy as np

    from regui.gui.plots import _HIGHLIGHT_WIDTH, _MARKED_RUNS_UP_TO

    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.show()
    count = _MARKED_RUNS_UP_TO + 20
    entries = []
    for n in range(count):
        record = RunRecord(config=TrainConfig())
        # A validation part: a star at the chosen epoch while uncrowded.
        record.epochs = [dataclasses.replace(e, val_accuracy=0.4 + 0.01 * e.epoch) for e in _epochs(n)]
        entries.append(RunEntry(n + 1, record, style_for(n)))
        panel.add_run(entries[-1])
        if n == _MARKED_RUNS_UP_TO + 1:  # selected as the plots turn crowded, a few runs a turn
            panel.highlight({1})
            panel.highlight(set())
    qtbot.waitUntil(lambda: not panel._dirty and not panel._restyle_later and not panel._merge_due, timeout=10_000)

    def expected(key: str, color: str, skip=()) -> tuple[np.ndarray, np.ndarray]:
        """From the records: each run of that colour's epochs and values, a NaN after each."""
        attr, scale = {"objective": ("objective", 1.0), "test": ("test_accuracy", 100.0)}[key]
        xs, ys = [], []
        for entry in entries:
            if entry.style.color == color and entry.run_id not in skip:
                xs += [e.epoch for e in entry.record.epochs] + [np.nan]
                ys += [getattr(e, attr) * scale for e in entry.record.epochs] + [np.nan]
        return np.array(xs), np.array(ys)

    colors = sorted({entry.style.color for entry in entries})
    for key in ("objective", "test"):
        for color in colors:
            x, y = panel._merged.data((key, color, False))
            want_x, want_y = expected(key, color)
            np.testing.assert_array_equal(x, want_x)
            np.testing.assert_array_equal(y, want_y)
    assert not any(curve.isVisible() for curves in panel._curves.values() for curve in curves.values())
    np.testing.assert_array_equal(panel.curves(7)["objective"].yData, [e.objective for e in entries[6].record.epochs])

    # Selected: its own curves, thick and on top; every other run merged, faded.
    panel.highlight({7})
    qtbot.waitUntil(lambda: not panel._merge_due, timeout=5000)
    own = panel.curves(7)["objective"]
    assert own.isVisible() and own.opts["pen"].widthF() == _HIGHLIGHT_WIDTH
    color = entries[6].style.color
    faded = panel._merged.data(("objective", color, True))[1]
    np.testing.assert_array_equal(faded, expected("objective", color, {7})[1])
    assert panel._merged.data(("objective", color, False))[0].size == 0
    panel.highlight(set())

    # A run unticked in the table leaves the merged curves.
    entries[2].visible = False
    panel.set_visible(3, False)
    qtbot.waitUntil(lambda: not panel._merge_due, timeout=5000)
    color = entries[2].style.color
    np.testing.assert_array_equal(panel._merged.data(("test", color, False))[1], expected("test", color, {3})[1])
    assert not any(curve.isVisible() for curve in panel.curves(3).values())

    # Back under the crowded count: every shown run by its own curves again, nothing merged
    # (an option ticked meanwhile, the log scale here, too).
    for entry in entries[:30]:
        entry.visible = False
        panel.set_visible(entry.run_id, False)
    panel.log_loss.setChecked(True)
    qtbot.waitUntil(lambda: not panel._dirty and not panel._restyle_later and not panel._merge_due, timeout=10_000)
    assert not panel._merged_runs
    groups = [(key, c, f) for key in ("objective", "test") for c in colors for f in (False, True)]
    assert all(panel._merged.data(group)[0].size == 0 for group in groups)
    assert all(panel.curves(entry.run_id)["objective"].isVisible() == entry.visible for entry in entries)
