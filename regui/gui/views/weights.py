"""Weight images: each class's row of W drawn at the image's size, blue below zero, red above."""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel

from regui.core import diagnostics as dg
from regui.gui.views.base import InspectView

_COLORMAP = "CET-D1"  # blue - white - red: 0 is white, the sign reads at a glance


class WeightsView(InspectView):
    title = "Weights"
    MAX_RUNS = 4  # side by side; more would make every image a few pixels

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        for key, text in dg.CHANNEL_MODES.items():
            self.mode.addItem(text, key)
        self.mode.setToolTip("Colour images have three weights per pixel: add them up, look at one channel, "
                             "or see them as an RGB picture with grey for 0")  # fmt: skip
        self.shared = QCheckBox("Same scale for all runs")
        self.shared.setChecked(True)
        self.shared.setToolTip("One colour scale for every run shown, so magnitudes compare honestly; "
                               "off: each run uses its own range")  # fmt: skip
        self.options.addWidget(QLabel("Show:"))
        self.options.addWidget(self.mode)
        self.options.addWidget(self.shared)
        self.options.addStretch(1)
        self.mode.currentIndexChanged.connect(self.refresh)
        self.shared.toggled.connect(self.refresh)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        self.set_body(self.canvas)
        self.cmap = pg.colormap.get(_COLORMAP)
        self._layout_key = None
        self.images: dict[tuple[int, int], pg.ImageItem] = {}  # (run id, row of W) -> its image
        self.bars: dict[int, pg.ColorBarItem] = {}
        self.titles: dict[int, pg.LabelItem] = {}
        self.limits: dict[int, float] = {}  # run id -> the colour scale's +- limit

    def redraw(self) -> None:
        entries = self.entries[: self.MAX_RUNS]
        mode = self.mode.currentData()
        self.mode.setEnabled(any(e.record.config.color for e in entries))
        pictures = {}
        for entry in entries:
            snap = self.snapshot_for(entry)
            if snap is not None:
                pictures[entry.run_id] = dg.channel_view(dg.weight_images(snap.coef, entry.record.config.image), mode)
        key = (tuple((e.run_id, self._rows(e)) for e in entries), mode == "rgb")
        if key != self._layout_key:
            self._build(entries, rgb=mode == "rgb")
            self._layout_key = key
        shared = dg.symmetric_limit(pictures.values()) if self.shared.isChecked() else None
        for entry in entries:
            wanted = self.epoch_for(entry)
            snap = self.snapshot_for(entry)
            pics = pictures.get(entry.run_id)
            note = self.snapshot_note(entry, wanted, snap)
            self.titles[entry.run_id].setText(f"{entry.label} · epoch {wanted}" + (f" ({note})" if note else ""),
                                              color="k", size="9pt")  # fmt: skip
            limit = shared if shared is not None else dg.symmetric_limit([pics] if pics is not None else [])
            self.limits[entry.run_id] = limit
            for row in range(self._rows(entry)):
                item = self.images[(entry.run_id, row)]
                if pics is None:
                    item.clear()
                elif mode == "rgb" and pics.ndim == 4:
                    item.setImage(np.clip(pics[row] / (2 * limit) + 0.5, 0, 1), autoLevels=False, levels=(0, 1))
                else:
                    item.setImage(pics[row], autoLevels=False, levels=(-limit, limit))
            bar = self.bars.get(entry.run_id)
            if bar is not None:
                bar.setLevels((-limit, limit))
        hidden = len(self.entries) - len(entries)
        if not entries:
            self.note.setText("Train a run to see its weights; select runs in the table to compare them.")
        else:
            self.note.setText("Each class's weights at the image's size: red pushes its score up, blue down, "
                              "white is 0." + (f" Showing the first {self.MAX_RUNS} of {len(self.entries)} runs selected."
                                               if hidden else ""))  # fmt: skip

    @staticmethod
    def _rows(entry) -> int:
        names = entry.record.dataset.get("class_names") or []
        return 1 if len(names) == 2 else len(names)

    def _build(self, entries, rgb: bool) -> None:
        self.canvas.clear()
        self.images.clear()
        self.bars.clear()
        self.titles.clear()
        row = 0
        for entry in entries:
            names = dg.row_names(entry.record.dataset.get("class_names") or [])
            title = self.canvas.addLabel("", row=row, col=0, colspan=max(1, len(names)))
            title.setMaximumHeight(20)
            self.titles[entry.run_id] = title
            for col, name in enumerate(names):
                label = self.canvas.addLabel(escape(name), row=row + 1, col=col, color="#333", size="8pt")
                label.setMaximumHeight(16)
                view = self.canvas.addViewBox(row=row + 2, col=col, lockAspect=True, invertY=True,
                                              enableMouse=False, enableMenu=False)  # fmt: skip
                item = pg.ImageItem(axisOrder="row-major")
                view.addItem(item)
                self.images[(entry.run_id, col)] = item
            if not rgb:
                bar = pg.ColorBarItem(values=(-1, 1), colorMap=self.cmap, interactive=False, width=10,
                                      colorMapMenu=False)  # fmt: skip
                bar.setImageItem([self.images[(entry.run_id, c)] for c in range(len(names))])
                bar.axis.setTextPen("k")
                self.canvas.addItem(bar, row=row + 2, col=len(names))
                self.bars[entry.run_id] = bar
            row += 3
