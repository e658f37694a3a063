"""The Sweep tab's plots: accuracy (the validation curve) and sparsity against lambda, one line
per penalty, with mean and spread over the repeats."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor

from regui.core.config import PENALTY_LABELS
from regui.core.formatting import e_notation
from regui.core.sweep_summary import SettingSummary
from regui.gui.plot_style import set_title, settle, style_plot

PENALTY_COLORS = {"none": "#616161", "l1": "#e65100", "l2": "#2e7d32", "elasticnet": "#6a1b9a"}
_TICK_GAP = 10  # pixels between two tick labels


def tick_label(value: float) -> str:
    """The shorter of 0.001 and 1e-3: a log axis fits more labels."""
    plain = f"{value:.3g}"
    short = e_notation(value, 2)
    return short if len(short) < len(plain) else plain


def _metrics(font=None):
    """Text sizes in ``font`` (default: the application's, the plots' tick font)."""
    from PySide6.QtGui import QFont, QFontMetrics

    return QFontMetrics(font or QFont())


class LogAxis(pg.AxisItem):
    """Values are log10(lambda); the labels show lambda itself (1e-5, 0.001, 0.1): at every
    lambda of the sweep when their labels fit side by side, else at every decade (or every
    few decades) that fits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.points: list[float] = []  # log10 of the sweep's lambdas

    def tickStrings(self, values, scale, spacing):
        return [tick_label(10**v) for v in values]

    def tickValues(self, minVal, maxVal, size):
        shown = [p for p in self.points if minVal <= p <= maxVal]
        if shown and self._fits(shown, size):
            return [(1.0, shown)]
        low, high = math.ceil(minVal), math.floor(maxVal)
        for step in range(1, max(2, high - low + 1)):
            decades = [float(v) for v in range(low, high + 1, step)]
            if self._fits(decades, size):
                return [(float(step), decades)]
        return [(1.0, [float(low)])]

    def _fits(self, values: list[float], size: float) -> bool:
        metrics = _metrics(self.style.get("tickFont"))
        return sum(metrics.horizontalAdvance(label) + _TICK_GAP for label in self.tickStrings(values, 1, 1)) <= size


class SweepPlots(pg.GraphicsLayoutWidget):
    points_clicked = Signal(list)  # the run ids behind a clicked point

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sweep-canvas")
        self.setBackground("w")
        self.acc_plot = self.addPlot(row=0, col=0, axisItems={"bottom": LogAxis("bottom")})
        self.zero_plot = self.addPlot(row=0, col=1, axisItems={"bottom": LogAxis("bottom")})
        for plot, label in ((self.acc_plot, "Accuracy"), (self.zero_plot, "Zero weights")):
            style_plot(plot, label, "λ (log scale)", units="%")
            # Room for the widest percentage from the start: an axis that widens or narrows with
            # its labels lays the canvas out again, and it is painted twice (20-30 ms more, as a
            # sweep's results come in).
            widest = _metrics().horizontalAdvance("100.0")
            plot.getAxis("left").setStyle(autoExpandTextSpace=False, tickTextWidth=widest)
        set_title(self.acc_plot, "Validation curve", "mean ± std over repeats · click a point")
        set_title(self.zero_plot, "Sparsity", "share of weights exactly 0")
        # Below both plots, off the data (inside, it covered the points at the smallest λ).
        self.legend = pg.LegendItem(labelTextSize="8pt", labelTextColor="k", frame=False, horSpacing=12, colCount=4)
        self.addItem(self.legend, row=1, col=0, colspan=2)
        # Its first row's height kept from the start, for the same reason: the first lines would
        # otherwise shrink both plots (more than a row's worth of lines still adds rows).
        self.legend.addItem(pg.PlotDataItem(), "probe")
        self.legend.setMinimumHeight(self.legend.preferredHeight())
        self.legend.clear()
        self._drawn: tuple = ()  # what is on the plots: each line's kind, plot, name and style
        self._items: list[tuple] = []  # their items, in that order

    def clear_plots(self) -> None:
        """Empty both plots and the legend. (Not ``clear``: GraphicsLayoutWidget sets that on each
        instance to its layout's clear, which would take the plots themselves off the canvas.)"""
        self.acc_plot.clear()
        self.zero_plot.clear()
        self.legend.clear()
        self._drawn, self._items = (), []

    def draw(
        self, summaries: list[tuple[SettingSummary, list[int]]], alphas: list[float], measure: str, show_train: bool
    ) -> None:
        """One line per penalty (and learning rate, batch size) through its settings' means, with error bars;
        no penalty as a band (lambda changes nothing there).

        A sweep redraws as its runs end: while its lines stay the same ones, their items are
        given the new numbers rather than made again (taking 100 items off the plots and
        putting them back took a tenth of a second, a stall of the window each time)."""
        part = "validation" if measure == "val" else "test"
        if not any(s.n for s, _ in summaries):  # a sweep in blocks: its runs end together
            note = "drawn as runs end"
        elif measure == "val" and all(math.isnan(s.val[0]) for s, _ in summaries if s.n):
            note = "no validation part in this sweep: nothing to choose on"
        else:
            # What the points and bars are comes first: a narrow plot (1366 px wide screens) cuts
            # the line off at its end, and the line styles are also named by the checkbox above.
            note = f"{part} · mean ± std of runs{' · train ╌╌╌' if show_train else ''}"
        set_title(self.acc_plot, "Validation curve", note)
        span = (math.log10(min(alphas)) - 0.3, math.log10(max(alphas)) + 0.3) if alphas else (-4.3, -3.7)
        lines = self._lines(summaries, measure, show_train, span)
        shape = tuple(line[:5] for line in lines)  # all but the numbers
        if shape != self._drawn:
            self._redraw_lines(lines)
        else:
            for items, line in zip(self._items, lines):
                self._update(items, *line)
        for plot in (self.acc_plot, self.zero_plot):
            plot.setXRange(*span, padding=0)
            plot.getAxis("bottom").points = [math.log10(a) for a in alphas]
        # Laid out now rather than at Qt's next turn, inner layouts first: after the paint, that
        # moved the legend's new entries and asked for a second paint of the whole canvas.
        for layout in (self.legend.layout, self.acc_plot.layout, self.zero_plot.layout, self.ci.layout):
            layout.activate()
        settle(self)

    def _redraw_lines(self, lines: list[tuple]) -> None:
        """Draw ``lines`` where other lines are drawn: the lines drawn already keep their items
        (given the new numbers), new ones are added, gone ones taken off, and the legend is
        made again in the lines' order. (Making every line again as a sweep's first runs of
        each penalty ended held the window for 50-90 ms each time.)"""
        drawn: dict[tuple, list[tuple]] = {}
        for key, items in zip(self._drawn, self._items):
            drawn.setdefault(key, []).append(items)
        kept = []
        for line in lines:
            same = drawn.get(line[:5])
            if same:
                items = same.pop(0)
                self._update(items, *line)
            else:
                items = self._add(*line)
            kept.append(items)
        for key, gone in drawn.items():
            for items in gone:
                for item in items:
                    if item is not None:
                        key[1].removeItem(item)
        self.legend.clear()
        for line, items in zip(lines, kept):
            if line[2]:
                self.legend.addItem(items[1], line[2])
        self._drawn, self._items = tuple(line[:5] for line in lines), kept

    def _lines(self, summaries, measure: str, show_train: bool, span) -> list[tuple]:
        """What to draw, line by line: (kind, plot, legend name, dashed, color, data)."""
        lines: dict[tuple, list[tuple[SettingSummary, list[int]]]] = {}
        for summary, ids in summaries:
            if summary.n:  # a setting none of whose repeats finished has no point (the table says so)
                lines.setdefault((summary.penalty, summary.eta0, summary.batch), []).append((summary, ids))
        several_rates = len({key[1] for key in lines}) > 1
        several_batches = len({key[2] for key in lines}) > 1
        drawn: list[tuple] = []
        for (penalty, eta0, batch), points in lines.items():
            color = PENALTY_COLORS.get(penalty, "#000000")
            name = (
                PENALTY_LABELS[penalty]
                + (f" lr={eta0:g}" if several_rates else "")
                + (f" batch {batch}" if several_batches else "")
            )
            test = [(s.val if measure == "val" else s.test) for s, _ in points]
            acc, zero = self.acc_plot, self.zero_plot
            if points[0][0].alpha is None:  # no penalty: the same whatever lambda, a band across
                drawn.append(("band", acc, name, False, color, (span, test[0])))
                if show_train:
                    drawn.append(("band", acc, None, True, color, (span, points[0][0].train)))
                drawn.append(("band", zero, None, False, color, (span, points[0][0].zeros)))
                continue
            points.sort(key=lambda p: p[0].alpha)
            x = np.log10([s.alpha for s, _ in points])
            ids = [ids for _, ids in points]
            drawn.append(("line", acc, name, False, color, (x, test, ids)))
            if show_train:
                drawn.append(("line", acc, None, True, color, (x, [s.train for s, _ in points], None)))
            drawn.append(("line", zero, None, False, color, (x, [s.zeros for s, _ in points], ids)))
        return drawn

    def _add(self, kind: str, plot, name, dashed: bool, color: str, data) -> tuple:
        """The items of one line, on its plot (the legend is the caller's)."""
        qcolor = QColor(color)
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        items: tuple
        if kind == "band":
            fill = QColor(qcolor)
            fill.setAlpha(40)
            band = None
            if not dashed:
                band = pg.LinearRegionItem(
                    orientation="horizontal", movable=False, brush=pg.mkBrush(fill), pen=pg.mkPen(None)
                )
                plot.addItem(band)
            line = plot.plot(pen=pg.mkPen(qcolor, width=2, style=style))
            items = (band, line)
        else:
            bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.06, pen=pg.mkPen(qcolor, width=1))
            plot.addItem(bars)
            line = plot.plot(pen=pg.mkPen(qcolor, width=2, style=style))
            scatter = None
            if data[2] is not None:
                scatter = pg.ScatterPlotItem(
                    size=9, brush=pg.mkBrush(qcolor), pen=pg.mkPen("w"), hoverable=True, tip=None
                )
                scatter.sigClicked.connect(self._point_clicked)
                plot.addItem(scatter)
            items = (bars, line, scatter)
        self._update(items, kind, plot, name, dashed, color, data)
        return items

    @staticmethod
    def _update(items: tuple, kind: str, plot, name, dashed: bool, color: str, data) -> None:
        """Give one line's items its numbers (means and std, in %)."""
        if kind == "band":
            band, line = items
            span, (mean, std) = data
            mean, std = mean * 100, std * 100
            if band is not None:
                band.setRegion((mean - std, mean + std))
                band.setVisible(std > 0)
            line.setData([span[0], span[1]], [mean, mean])
            return
        bars, line, scatter = items
        x, stats, ids = data
        y = np.array([m for m, _ in stats]) * 100
        err = np.array([s for _, s in stats]) * 100
        bars.setData(x=x, y=y, height=2 * err)
        line.setData(x, y)
        if scatter is not None:
            scatter.setData(x=x, y=y, data=ids)

    def _point_clicked(self, scatter, points, *_) -> None:
        if len(points):
            self.points_clicked.emit(list(points[0].data()))
