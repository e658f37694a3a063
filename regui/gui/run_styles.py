"""How each run is drawn: a colour and a marker shape, told apart well beyond ten runs.

Ten colours (matplotlib's tab10: distinct, readable on white) times eight marker shapes give
80 styles: run 14 has run 4's colour but squares instead of circles. Line dashes are not used
for runs, as they already say which curve it is (objective solid, data loss dashed, ...).
The table's swatch is drawn from the same style, so a row and its curves match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# pyqtgraph's symbol names, the plainest first: circle, square, triangle, diamond, ...
MARKERS = ("o", "s", "t", "d", "t1", "p", "h", "star")
MARKER_NAMES = {
    "o": "circle",
    "s": "square",
    "t": "triangle",
    "d": "diamond",
    "t1": "triangle up",
    "p": "pentagon",
    "h": "hexagon",
    "star": "star",
}


@dataclass(frozen=True)
class RunStyle:
    color: str  # "#rrggbb"
    marker: str  # a pyqtgraph symbol name

    def describe(self) -> str:
        """For tooltips: "orange squares"."""
        return f"{_COLOR_NAMES[self.color]} {MARKER_NAMES[self.marker]}s"


_COLOR_NAMES = dict(zip(COLORS, ("blue", "orange", "green", "red", "purple", "brown", "pink", "grey", "olive", "cyan")))


def style_for(index: int) -> RunStyle:
    """The style of the ``index``-th run (0-based): all ten colours with circles, then with
    squares, ...; after 80 runs the styles repeat."""
    index %= len(COLORS) * len(MARKERS)
    return RunStyle(COLORS[index % len(COLORS)], MARKERS[index // len(COLORS)])


def swatch(style: RunStyle, width: int = 26, height: int = 14) -> QPixmap:
    """A short line with the run's marker in its middle: what its curves look like."""
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(style.color)
    painter.setPen(pg.mkPen(color, width=2))
    painter.drawLine(QPointF(1, height / 2), QPointF(width - 1, height / 2))
    painter.translate(width / 2, height / 2)
    scale = height - 4
    painter.scale(scale, scale)
    painter.setPen(pg.mkPen(color, width=0))
    painter.setBrush(pg.mkBrush(color))
    painter.drawPath(pg.graphicsItems.ScatterPlotItem.Symbols[style.marker])
    painter.end()
    return pixmap
