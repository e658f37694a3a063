"""A crowded plot's curves drawn as a few items: one per kind of curve and colour, each run's
points a stretch of it, broken from the next run's by a NaN.

pyqtgraph paints and fits its axes item by item: with a sweep's 380 runs, four curves each,
every repaint of 1,536 items took 30-50 ms, and the window stalled as each run's epochs came
in. The same curves as 40 merged items paint in a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPen

from regui.gui.plot_style import tame

# What a merged item is: (the curve's kind, its colour "#rrggbb", faded behind selected runs).
Group = tuple[str, str, bool]


class MergedCurves:
    """The merged items of a pair of plots, made on first use and kept (emptied when unused)."""

    def __init__(self, plot_of: dict[str, pg.PlotItem]) -> None:
        self._plot_of = plot_of  # the plot each kind of curve is drawn on
        self._items: dict[Group, pg.PlotDataItem] = {}

    def draw(self, pieces: dict[Group, list[tuple[np.ndarray, np.ndarray]]], pen_of, z_of) -> None:
        """Each group's (x, y) pieces as one item, in ``pen_of(group)`` and at ``z_of(kind)``;
        the items of groups not given are emptied."""
        for group, item in self._items.items():
            if group not in pieces:
                item.setData([], [])
        for group, parts in pieces.items():
            item = self._items.get(group)
            if item is None:
                item = self._items[group] = self._plot_of[group[0]].plot(connect="finite")
                # Never thinned or clipped: merging points of different runs in one pixel
                # column would join their curves across the NaN that keeps them apart.
                item.setClipToView(False)
                item.setDownsampling(auto=False)
                item.setPen(pen_of(group))
                item.setZValue(z_of(group[0]))
            x, y = joined(parts)
            tame(item, y)
            item.setData(x, y)

    def clear(self) -> None:
        for item in self._items.values():
            item.setData([], [])

    def data(self, group: Group) -> tuple[np.ndarray, np.ndarray]:
        """What a group's item shows now (empty arrays if it has none)."""
        item = self._items.get(group)
        if item is None or item.xData is None:
            return np.empty(0), np.empty(0)
        return item.xData, item.yData


def joined(parts: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The pieces end to end, a NaN after each: a line through the finite points of each piece,
    none from one piece to the next."""
    xs, ys = [], []
    gap = np.array([np.nan])
    for x, y in parts:
        xs += [x, gap]
        ys += [y, gap]
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


def pen(color: str, alpha: int, width: float, style) -> QPen:
    """A merged item's pen: the runs' colour at ``alpha``."""
    qcolor = QColor(color)
    qcolor.setAlpha(alpha)
    return pg.mkPen(qcolor, width=width, style=style)
