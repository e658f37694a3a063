"""The app's plots' look and parts shared by every plot: axes on white, whole-number epoch
ticks, titles that never widen their plot."""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem


class EpochAxis(pg.AxisItem):
    """Epochs are whole numbers: ticks at 1, 2, 3, never at 1.5."""

    def tickValues(self, minVal, maxVal, size):
        levels = [(spacing, values) for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        if not levels and maxVal - minVal < 1e6:
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


def style_plot(plot: pg.PlotItem, left: str, bottom: str = "Epoch", units: str | None = None) -> pg.PlotItem:
    """The app's look for a plot on white: black axes, a light grid at major ticks only (the minor
    levels cost ~20 ms a repaint in software rendering, which freezes the window while curves
    stream in), plain numbers on the left ("0.4", not "400 (x0.001)")."""
    plot.setLabel("bottom", bottom)
    plot.setLabel("left", left, units=units)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setTextPen("k")
        plot.getAxis(axis).setPen("k")
        plot.getAxis(axis).setStyle(maxTickLevel=0)
    plot.getAxis("left").enableAutoSIPrefix(False)
    # PlotItem lists every curve's parameters for its context menu's averaging each time a curve
    # is added (a loop over all curves: a 380-run sweep's curves took 4 s of the window's thread);
    # the app gives curves no parameters, so that list is always empty.
    plot.updateParamList = _no_parameters
    return plot


def _no_parameters() -> None:
    pass


class ShrinkableLabel(pg.LabelItem):
    """A title that may be narrower than its text. pyqtgraph's label makes its text width its
    minimum on every resize, so a long title widens its plot and, side by side, pushes the
    other plot out of view (or under it), and can leave a whole canvas wider than its window;
    this one is clipped instead."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shown: tuple[str, str] = ("", "")  # the title and key it shows (set_title's)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)  # no text over the next plot

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)


def set_title(plot: pg.PlotItem, title: str, key: str = "") -> None:
    """``title`` over the plot, with ``key`` (what the line styles mean, say) in a smaller grey
    line under it. The title never sets the plot's width: a narrow plot shows less of it."""
    if not isinstance(plot.titleLabel, ShrinkableLabel):
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.setParentItem(None)
        plot.titleLabel = ShrinkableLabel("", parent=plot)
        plot.layout.addItem(plot.titleLabel, 0, 1)
    elif plot.titleLabel.isVisible() and plot.titleLabel.shown == (title, key):
        return  # as it is (setting the same text again lays the plot out again: a live plot's redraw)
    plot.titleLabel.shown = (title, key)
    text = html.escape(title)
    if key:
        text += f"<br><span style='font-size:8pt; color:#555'>{html.escape(key)}</span>"
    height = 40 if key else 26
    plot.titleLabel.setMaximumHeight(height)
    plot.layout.setRowFixedHeight(0, height)
    plot.titleLabel.setVisible(True)
    plot.titleLabel.setText(text, color="k", size="10pt", justify="left")  # clipped, it keeps its start
    plot.titleLabel.setToolTip(f"{title}: {key}" if key else title)  # all of it, however narrow the plot


# The largest value of a curve drawn without pyqtgraph's clipping (see tame).
_TAME = 1000.0


def tame(curve: pg.PlotDataItem, y: np.ndarray) -> None:
    """Only a curve with huge values (a diverging run's loss) is clipped to a million times the
    axis' span, which pyqtgraph does by default against a Qt drawing fault; values within _TAME
    are safe at any zoom down to a span of _TAME / 1e6. (The clipping costs work at every change
    of the axes' range, for every curve that has it: with 1,500 curves of a sweep's 10 epochs
    each, 0.11 s a change, for nothing.)"""
    finite = y[np.isfinite(y)]
    curve.setDynamicRangeLimit(1e6 if finite.size and np.abs(finite).max() > _TAME else None)


def settle(canvas: pg.GraphicsView) -> None:
    """Fit the axes of ``canvas``'s plots to their new data now, after new data is set, rather
    than at its next paint. pyqtgraph fits them at the start of a paint, and the axes that then
    change ask for a second paint straight after: every redraw of a live plot painted it twice
    (the Sweep tab's plots: 12 ms of painting a redraw instead of 6). A hidden canvas is left
    as it is: it is fitted when painted."""
    if canvas.isVisible():
        canvas.scene().prepareForPaint()


def epoch_plot(
    canvas: pg.GraphicsLayoutWidget, row: int, col: int, left: str, units: str | None = None, **kwargs
) -> pg.PlotItem:
    """A plot against epoch (whole-number ticks) on ``canvas``."""
    return style_plot(
        canvas.addPlot(row=row, col=col, axisItems={"bottom": EpochAxis("bottom")}, **kwargs), left, units=units
    )
