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
