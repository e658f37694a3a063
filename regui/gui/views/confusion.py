"""Confusion matrix on the test part, as counts or shares of each true class, with per-class accuracy."""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from regui.core import diagnostics as dg
from regui.gui.views.base import InspectView, class_names
from regui.gui.views.common_run import RunChooser, predictions


class ConfusionView(InspectView):
    title = "Confusion"
    has_csv = True

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.run_box = RunChooser()
        self.show_as = QComboBox()
        self.show_as.addItem("Counts", "counts")
        self.show_as.addItem("Share of each true class", "share")
        self.options.add(QLabel("Run:"), self.run_box)
        self.options.add(self.show_as)
        self.run_box.currentIndexChanged.connect(self.refresh)
        self.show_as.currentIndexChanged.connect(self.refresh)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Fitted once per set of classes, not on every change: with many classes, fitting k^2
        # cells at each redraw would take seconds.
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.set_body(self.table)
        self.counts = None  # the matrix drawn (true x predicted), for export and tests
        self.class_names: list[str] = []
        self.shown: tuple[str, int] | None = None  # (run label, epoch)
        self._drawn_key = None
        self._bold = QFont()
        self._bold.setBold(True)

    def redraw(self) -> None:
        entry = self.run_box.set_entries(self.entries)
        if entry is None:
            self._empty(self.waiting or "Train a run to see which classes it confuses.")
            return
        shown, why = predictions(self, entry)
        if shown is None:
            self._empty(f"{entry.label}: {why}.")
            return
        wanted, snap = shown.wanted, shown.snap
        as_share = self.show_as.currentData() == "share"
        key = (entry.run_id, snap, wanted, as_share)  # the snapshot itself: an id could be reused
        if key == self._drawn_key:
            return  # the same matrix: nothing to redo while other runs stream
        names = class_names(entry)
        counts = dg.confusion_matrix(shown.labels, snap.test_pred, len(names))
        self.counts, self.shown = counts, (entry.label, snap.epoch)
        self._fill(names, counts, as_share)
        self._drawn_key = key
        note = self.snapshot_note(entry, wanted, snap)
        correct = int(counts.trace())
        self.note.setText(
            f"{entry.label}, epoch {snap.epoch}{f' ({note})' if note else ''}: {correct:,} of "
            f"{counts.sum():,} test images right ({correct / max(1, counts.sum()):.2%}). "
            "Rows: true class; columns: predicted."
        )

    def _fill(self, names: list[str], counts, as_share: bool) -> None:
        k = len(names)
        if names != self.class_names:  # a new set of classes: new cells, fitted once
            self.class_names = list(names)
            self.table.clear()
            self.table.setRowCount(k)
            self.table.setColumnCount(k + 2)
            self.table.setHorizontalHeaderLabels([f"→ {n}" for n in names] + ["Images", "Accuracy"])
            self.table.setVerticalHeaderLabels(names)
            for i in range(k):
                for j in range(k + 2):
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    if i == j:
                        item.setFont(self._bold)
                    self.table.setItem(i, j, item)
            fit = True
        else:
            fit = False
        share = dg.row_normalised(counts)
        accuracy = dg.per_class_accuracy(counts)
        for i in range(k):
            for j in range(k):
                item = self.table.item(i, j)
                item.setText(f"{share[i, j]:.1%}" if as_share else f"{counts[i, j]:,}")
                # Shade by share of the row: the diagonal should be dark, the rest pale.
                base = QColor(46, 125, 50) if i == j else QColor(198, 40, 40)
                base.setAlpha(int(30 + 200 * share[i, j]) if counts[i, j] else 0)
                item.setBackground(QBrush(base))
                item.setToolTip(
                    escape(f"{counts[i, j]} {names[i]} image(s) predicted {names[j]} ({share[i, j]:.1%} of {names[i]})")
                )
            self.table.item(i, k).setText(f"{counts[i].sum():,}")
            self.table.item(i, k + 1).setText("–" if np.isnan(accuracy[i]) else f"{accuracy[i]:.1%}")
        if fit:
            self.table.resizeColumnsToContents()
            self.table.resizeRowsToContents()

    def _empty(self, message: str) -> None:
        self.counts, self.shown, self._drawn_key, self.class_names = None, None, None, []
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.note.setText(message)

    def csv_rows(self) -> list[dict]:
        self.refresh_now()
        if self.counts is None:
            return []
        label, epoch = self.shown
        return dg.confusion_rows(label, epoch, self.counts, self.class_names)
