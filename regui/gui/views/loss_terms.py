"""The objective taken apart: mean data loss and the penalty term lambda * R(W), against epoch."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox

from regui.core.config import SKLEARN_NOTE
from regui.gui.plot_style import epoch_plot, set_title
from regui.gui.views.base import CurveSet, InspectView, epoch_series, run_color, swatch_html


class LossTermsView(InspectView):
    title = "Loss terms"
    has_csv = True
    MAX_RUNS = 8

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.stacked = QCheckBox("Stacked")
        self.stacked.setToolTip("Data loss at the bottom, the penalty term on top: the top edge is the objective")
        self.log_scale = QCheckBox("Log scale")
        for box in (self.stacked, self.log_scale):
            self.options.add(box)
            box.toggled.connect(self.refresh)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("loss-terms-canvas")
        self.canvas.setBackground("w")
        self.plot = epoch_plot(self.canvas, 0, 0, "Loss")
        self.set_body(self.canvas)
        self.curves = CurveSet(self.plot)
        self.epoch_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.epoch_line)
        self.stacked.toggled.connect(self._title)  # not in redraw: a new title lays the plot out again
        self._title()

    def _title(self) -> None:
        if self.stacked.isChecked():
            set_title(self.plot, "Loss terms, stacked", "data loss, then λ·R(W) on top: the top edge is the objective")
        else:
            set_title(self.plot, "Loss terms", "mean data loss on the training part ─── λ·R(W) ╌╌╌")

    def redraw(self) -> None:
        entries = self.entries[: self.MAX_RUNS]
        stacked = self.stacked.isChecked()
        self.log_scale.setEnabled(not stacked)  # an area down to 0 has no log scale
        log = self.log_scale.isChecked() and not stacked
        self.plot.setLogMode(y=log)
        self.curves.begin()
        lines = []
        for entry in entries:
            x, data = epoch_series(entry, "train_loss")
            _, penalty = epoch_series(entry, "penalty")
            color = run_color(entry)
            markers = dict(symbol="o" if len(x) <= 40 else None, symbolSize=4, symbolBrush=color, symbolPen=None)
            data_curve = self.curves.get((entry.run_id, "data"), pg.PlotDataItem)
            penalty_curve = self.curves.get((entry.run_id, "penalty"), pg.PlotDataItem)
            if stacked:
                base = self.curves.get((entry.run_id, "base"), pg.PlotDataItem)
                base.setData(x, np.zeros_like(x), pen=None)
                data_curve.setData(x, data, pen=pg.mkPen(color, width=1.4), **markers)
                penalty_curve.setData(x, data + penalty, pen=pg.mkPen(color, width=1.4, style=Qt.PenStyle.DashLine))
                self.curves.get(
                    (entry.run_id, "fill-data"),
                    lambda base=base, low=data_curve, entry=entry: pg.FillBetweenItem(
                        base, low, brush=run_color(entry, 70)
                    ),
                )
                self.curves.get(
                    (entry.run_id, "fill-penalty"),
                    lambda low=data_curve, high=penalty_curve, entry=entry: pg.FillBetweenItem(
                        low, high, brush=run_color(entry, 150)
                    ),
                )
            else:
                if log:
                    penalty = np.where(penalty > 0, penalty, np.nan)  # no penalty: nothing to draw on a log axis
                data_curve.setData(x, data, pen=pg.mkPen(color, width=1.6), **markers)
                penalty_curve.setData(x, penalty, pen=pg.mkPen(color, width=1.6, style=Qt.PenStyle.DashLine), **markers)
            shown = entry.record.result_at(self.epoch_for(entry))
            if shown is not None:
                share = shown.penalty / shown.objective if shown.objective else 0.0
                lines.append(
                    swatch_html(
                        entry,
                        f"{entry.label}, epoch {shown.epoch}: data loss {shown.train_loss:.4g}"
                        f" + λ·R(W) {shown.penalty:.4g} = {shown.objective:.4g} "
                        f"(penalty {share:.0%} of it)",
                    )
                )
        self.curves.end()
        self.epoch_line.setVisible(self.epoch is not None)
        if self.epoch is not None:
            self.epoch_line.setValue(self.epoch)
        if any(e.record.config.sklearn for e in self.entries[: self.MAX_RUNS]):
            lines.append(f"<i>{html.escape(SKLEARN_NOTE)}</i>")
        self.note.setText(
            "<br>".join(lines) if lines else self.waiting or "Train a run to see its data loss and penalty term."
        )

    def csv_rows(self) -> list[dict]:
        return [
            {
                "run": e.label,
                "epoch": r.epoch,
                "data_loss": r.train_loss,
                "penalty_term": r.penalty,
                "objective": r.objective,
            }
            for e in self.entries[: self.MAX_RUNS]
            for r in e.record.epochs
        ]
