"""Weight images: each class's row of W drawn at the image's size, blue below zero, red above.

One image item per run holds all of its classes side by side (a mosaic with thin gaps): one
item to draw and lay out instead of one per class keeps the view cheap while runs stream.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QGraphicsRectItem, QLabel

from regui.core import diagnostics as dg
from regui.core.formatting import e_notation
from regui.gui.plot_style import ShrinkableLabel
from regui.gui.views.base import InspectView, class_names

# Blue - white - red (ColorBrewer's RdBu ends): 0 is white, so the sign and the zeros that L1
# makes read at a glance.
_COLORMAP = pg.ColorMap(pos=[0.0, 0.25, 0.5, 0.75, 1.0], color=["#2166ac", "#92c5de", "#ffffff", "#f4a582", "#b2182b"])


_PER_LINE = 5  # classes side by side before the mosaic wraps (ten digits: two lines of five)


def compact_number(value: float) -> str:
    """A tick label as short as it can be and still exact enough: "0", "0.05", "-200", "8e4",
    "-1.5e6", "2e-5". Long labels ("-80000.0") no longer fit the colour bar and vanish."""
    if value == 0:
        return "0"
    if 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    return e_notation(value, 2)


def symmetric_ticks(limit: float) -> list[tuple[float, str]]:
    """Ticks for a colour scale from -limit to +limit: 0 and the same steps on both sides, a
    1-2-5 step so that each side gets one or two labels, whatever the weights' magnitude."""
    if not (limit > 0 and math.isfinite(limit)):
        return [(0.0, "0")]
    exponent = math.floor(math.log10(limit / 2))
    step = max(m * 10.0**exponent for m in (1, 2, 5, 10) if m * 10.0**exponent <= limit / 1.5 or m == 1)
    count = int(limit // step)
    return [(k * step, compact_number(k * step)) for k in range(-count, count + 1)]


def tile_places(n: int, h: int, w: int, gap: int) -> list[tuple[slice, slice]]:
    """Where each of ``n`` tiles of h x w sits in the mosaic: (rows, columns), with room above
    each line for its class names."""
    label = max(2, h // 4)
    return [
        (
            slice(label + (k // _PER_LINE) * (h + label + gap), label + (k // _PER_LINE) * (h + label + gap) + h),
            slice((k % _PER_LINE) * (w + gap), (k % _PER_LINE) * (w + gap) + w),
        )
        for k in range(n)
    ]


def mosaic(pictures: np.ndarray, places: list[tuple[slice, slice]], fill: float) -> np.ndarray:
    """(n, H, W[, 3]) -> one image with each picture at its place, ``fill`` in between."""
    height = max(p[0].stop for p in places)
    width = max(p[1].stop for p in places)
    out = np.full((height, width) + pictures.shape[3:], fill, dtype=np.float32)
    for picture, (rows, cols) in zip(pictures, places):
        out[rows, cols] = picture
    return out


class WeightsView(InspectView):
    title = "Weights"
    MAX_RUNS = 4  # side by side; more would make every image a few pixels

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        for key, text in dg.CHANNEL_MODES.items():
            self.mode.addItem(text, key)
        self.mode.setToolTip(
            "Colour images have three weights per pixel: add them up, look at one channel, "
            "or see them as an RGB picture with grey for 0"
        )
        self.shared = QCheckBox("Same scale for all runs")
        self.shared.setChecked(True)
        self.shared.setToolTip(
            "One colour scale for every run shown, so magnitudes compare honestly; off: each run uses its own range"
        )
        self.options.add(QLabel("Show:"), self.mode)
        self.options.add(self.shared)
        self.mode.currentIndexChanged.connect(self.refresh)
        self.shared.toggled.connect(self.refresh)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("weights-canvas")
        self.canvas.setBackground("w")
        self.set_body(self.canvas)
        self.cmap = _COLORMAP
        self._layout_key = None
        self.mosaics: dict[int, pg.ImageItem] = {}  # run id -> the image of all its classes
        self.tiles: dict[int, list[tuple[slice, slice]]] = {}  # run id -> where each class sits in it
        self.bars: dict[int, pg.ColorBarItem] = {}
        self.titles: dict[int, pg.LabelItem] = {}
        self.limits: dict[int, float] = {}  # run id -> the colour scale's +- limit
        self._rows: list[dict] = []  # title, view box, image and colour bar per run, made once
        self._lut = self.cmap.getLookupTable(nPts=256)

    def drawn(self, run_id: int, row: int) -> np.ndarray:
        """The pixels drawn for row ``row`` of W (one class) of run ``run_id``."""
        rows, cols = self.tiles[run_id][row]
        return self.mosaics[run_id].image[rows, cols]

    def redraw(self) -> None:
        entries = self.entries[: self.MAX_RUNS]
        mode = self.mode.currentData()
        self.mode.setEnabled(any(e.record.config.color for e in entries))
        pictures = {}
        for entry in entries:
            snap = self.snapshot_for(entry)
            if snap is not None:
                pictures[entry.run_id] = dg.channel_view(dg.weight_images(snap.coef, entry.record.config.image), mode)
        # Grey runs have one weight per pixel: always the colour map, whatever the mode says.
        rgb = {e.run_id: mode == "rgb" and e.record.config.color for e in entries}
        key = tuple((e.run_id, tuple(self._names(e)), e.record.config.image, rgb[e.run_id]) for e in entries)
        if key != self._layout_key:
            self._build(entries, rgb)
            self._layout_key = key
        shared = dg.symmetric_limit(pictures.values()) if self.shared.isChecked() else None
        for entry in entries:
            wanted = self.epoch_for(entry)
            snap = self.snapshot_for(entry)
            pics = pictures.get(entry.run_id)
            note = self.snapshot_note(entry, wanted, snap)
            title = escape(f"{entry.label} · epoch {wanted}" + (f" ({note})" if note else ""))
            if self.titles[entry.run_id].text != title:  # a new text lays the grid out again
                # Left-justified: a title too long for the dock keeps the run's name, losing its end.
                self.titles[entry.run_id].setText(title, color="k", size="9pt", justify="left")
            limit = shared if shared is not None else dg.symmetric_limit([pics] if pics is not None else [])
            self.limits[entry.run_id] = limit
            item = self.mosaics[entry.run_id]
            places = self.tiles[entry.run_id]
            if pics is None or not places:
                item.clear()
            elif pics.ndim == 4:  # RGB: 0 is mid-grey, +-limit the ends of each channel
                item.setImage(
                    mosaic(np.clip(pics / (2 * limit) + 0.5, 0, 1), places, 1.0), autoLevels=False, levels=(0, 1)
                )
            else:
                item.setImage(mosaic(pics, places, np.nan), autoLevels=False, levels=(-limit, limit))
            bar = self.bars.get(entry.run_id)
            if bar is not None:
                bar.setLevels((-limit, limit))
                bar.axis.setTicks([symmetric_ticks(limit)])
        if not entries:
            self.note.setText(
                self.waiting or "Train a run to see its weights; select runs in the table to compare them."
            )
        else:
            hidden = len(self.entries) - len(entries)
            self.note.setText(
                "Each class's weights at the image's size: red pushes its score up, blue down, "
                "white is 0."
                + (f" Showing the first {self.MAX_RUNS} of {len(self.entries)} runs selected." if hidden else "")
            )

    @staticmethod
    def _names(entry) -> list[str]:
        names = class_names(entry)
        one_row = entry.record.config.sklearn and len(names) == 2  # scikit-learn's binary model
        return dg.row_names(names, 1 if one_row else len(names))

    def _build(self, entries, rgb: dict[int, bool]) -> None:
        """Lay out one row per run, reusing rows made before (making a colour bar and a view
        box costs ~20 ms: a comparison of four must not stall the window each time)."""
        for row in self._rows:
            for part in ("title", "view", "bar"):
                if row[part].scene() is not None:
                    self.canvas.removeItem(row[part])
            for text in row["texts"]:
                row["view"].removeItem(text)
            row["texts"] = []
        self.mosaics.clear()
        self.tiles.clear()
        self.bars.clear()
        self.titles.clear()
        for n, entry in enumerate(entries):
            while len(self._rows) <= n:
                self._rows.append(self._make_row())
            row = self._rows[n]
            names = self._names(entry)
            w, h = entry.record.config.width, entry.record.config.height
            gap = max(1, w // 8)
            self.canvas.addItem(row["title"], row=2 * n, col=0, colspan=2)
            self.canvas.addItem(row["view"], row=2 * n + 1, col=0)
            self.canvas.ci.layout.setRowStretchFactor(2 * n, 0)  # titles as tall as their text
            self.canvas.ci.layout.setRowStretchFactor(2 * n + 1, 1)
            view, item = row["view"], row["item"]
            item.clear()
            places = tile_places(len(names), h, w, gap)
            self.tiles[entry.run_id] = places
            for name, (rows, cols) in zip(names, places):  # class names above their tiles
                text = pg.TextItem(
                    html=f'<span style="color:#333;font-size:8pt">{escape(name)}</span>', anchor=(0.5, 1)
                )
                text.setPos((cols.start + cols.stop) / 2, rows.start - 0.2)
                frame = QGraphicsRectItem(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
                frame.setPen(pg.mkPen("#bbbbbb", width=0))  # a sparse (mostly white) image still shows its edge
                for extra in (text, frame):
                    view.addItem(extra)
                    row["texts"].append(extra)
            if places:  # (no classes known: a title and nothing else)
                # Room above the first line too: its class names sit above its tiles, and a view box
                # starting at 0 cut them in half.
                top = places[0][0].start
                view.setRange(
                    xRange=(0, max(c.stop for _, c in places)),
                    yRange=(-top, max(r.stop for r, _ in places)),
                    padding=0.02,
                )
            self.mosaics[entry.run_id] = item
            self.titles[entry.run_id] = row["title"]
            if not rgb[entry.run_id]:
                self.canvas.addItem(row["bar"], row=2 * n + 1, col=1)
                self.bars[entry.run_id] = row["bar"]
                item.setLookupTable(self._lut)
            else:
                item.setLookupTable(None)  # the pixels are colours themselves

    def _make_row(self) -> dict:
        title = ShrinkableLabel("")
        view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
        item = pg.ImageItem(axisOrder="row-major")
        view.addItem(item)
        bar = pg.ColorBarItem(values=(-1, 1), colorMap=self.cmap, interactive=False, width=10, colorMapMenu=False)
        bar.setImageItem(item)
        bar.axis.setTextPen("k")
        return {"title": title, "view": view, "item": item, "bar": bar, "texts": []}

    def prepare_rows(self) -> None:
        """Make the rows a comparison needs ahead of time, one per call (call when idle)."""
        if len(self._rows) < self.MAX_RUNS:
            self._rows.append(self._make_row())
