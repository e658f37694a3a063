"""Weight histograms of the runs shown, with their share of exact zeros; sparsity and the weight
norm against epoch below."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox

from regui.core import diagnostics as dg
from regui.gui.plot_style import epoch_plot, style_plot
from regui.gui.views.base import CurveSet, InspectView, epoch_series, run_color, swatch_html


class HistogramView(InspectView):
    title = "Histogram"
    has_csv = True
    MAX_RUNS = 8

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.log_count = QCheckBox("Log count")
        self.log_count.setToolTip("A log scale shows the few large weights next to the many small ones")
        self.options.add(self.log_count)
        self.log_count.toggled.connect(self.refresh)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("histogram-canvas")
        self.canvas.setBackground("w")
        self.hist_plot = style_plot(self.canvas.addPlot(row=0, col=0, colspan=2), "Weights", "Weight value")
        self.hist_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.zero_plot = epoch_plot(self.canvas, 1, 0, "Exact zeros", units="%")
        self.norm_plot = epoch_plot(self.canvas, 1, 1, "‖W‖₂")
        self.canvas.ci.layout.setRowStretchFactor(0, 3)
        self.canvas.ci.layout.setRowStretchFactor(1, 2)
        self.set_body(self.canvas)
        self.curves = {p: CurveSet(p) for p in (self.hist_plot, self.zero_plot, self.norm_plot)}
        self.epoch_lines = []
        for plot in (self.zero_plot, self.norm_plot):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
            plot.addItem(line)
            self.epoch_lines.append(line)
        self.histograms: dict[int, tuple[int, dg.Histogram]] = {}  # run id -> (epoch, histogram) drawn

    def redraw(self) -> None:
        entries = self.entries[: self.MAX_RUNS]
        snaps = {e.run_id: self.snapshot_for(e) for e in entries}
        limit = dg.symmetric_limit([s.coef for s in snaps.values() if s is not None])
        log = self.log_count.isChecked()
        self.hist_plot.setLogMode(y=log)
        self.histograms.clear()
        lines = []
        for curves in self.curves.values():
            curves.begin()
        for entry in entries:
            snap = snaps[entry.run_id]
            wanted = self.epoch_for(entry)
            pen = pg.mkPen(run_color(entry), width=1.6)
            if snap is not None:
                hist = dg.weight_histogram(snap.coef, limit)
                self.histograms[entry.run_id] = (snap.epoch, hist)
                counts = hist.counts.astype(float)
                if log:
                    counts[counts == 0] = np.nan  # an empty bin has no log
                curve = self.curves[self.hist_plot].get(entry.run_id, lambda: pg.PlotDataItem(stepMode="center"))
                curve.setData(hist.edges, counts, pen=pen)
                note = self.snapshot_note(entry, wanted, snap)
                lines.append(
                    swatch_html(
                        entry,
                        f"{entry.label}: {hist.zero_fraction:.1%} of "
                        f"{hist.total:,} weights exactly 0, epoch {snap.epoch}" + (f" ({note})" if note else ""),
                    )
                )
            else:
                lines.append(swatch_html(entry, f"{entry.label}: {self.snapshot_note(entry, wanted, snap)}"))
            for plot, attr, scale in ((self.zero_plot, "zero_fraction", 100.0), (self.norm_plot, "weight_l2", 1.0)):
                x, y = epoch_series(entry, attr, scale)
                curve = self.curves[plot].get(entry.run_id, pg.PlotDataItem)
                curve.setData(
                    x,
                    y,
                    pen=pen,
                    symbol="o" if len(x) <= 40 else None,
                    symbolSize=4,
                    symbolBrush=run_color(entry),
                    symbolPen=None,
                )
        for curves in self.curves.values():
            curves.end()
        for line in self.epoch_lines:
            line.setVisible(self.epoch is not None)
            if self.epoch is not None:
                line.setValue(self.epoch)
        if not entries:
            self.note.setText(self.waiting or "Train a run to see how its weights are spread.")
        else:
            self.note.setText("<br>".join(lines))

    def csv_rows(self) -> list[dict]:
        self.refresh_now()
        labels = {e.run_id: e.label for e in self.entries}
        return [
            row
            for run_id, (epoch, hist) in self.histograms.items()
            for row in dg.histogram_rows(labels[run_id], epoch, hist)
        ]
