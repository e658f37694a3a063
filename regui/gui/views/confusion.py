"""Confusion matrix on the test part, as counts or shares of each true class, with per-class accuracy."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from regui.core import diagnostics as dg
from regui.gui.views.base import InspectView
from regui.gui.views.common_run import RunChooser, test_part


class ConfusionView(InspectView):
    title = "Confusion"
    has_csv = True

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.run_box = RunChooser()
        self.show_as = QComboBox()
        self.show_as.addItem("Counts", "counts")
        self.show_as.addItem("Share of each true class", "share")
        self.options.addWidget(QLabel("Run:"))
        self.options.addWidget(self.run_box)
        self.options.addWidget(self.show_as)
        self.options.addStretch(1)
        self.run_box.currentIndexChanged.connect(self.refresh)
        self.show_as.currentIndexChanged.connect(self.refresh)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.set_body(self.table)
        self.counts = None  # the matrix drawn (true x predicted), for export and tests
        self.class_names: list[str] = []
        self.shown: tuple[str, int] | None = None  # (run label, epoch)

    def redraw(self) -> None:
        entry = self.run_box.set_entries(self.entries)
        self.counts = None
        if entry is None:
            self._empty("Train a run to see which classes it confuses.")
            return
        wanted = self.epoch_for(entry)
        snap = self.snapshot_for(entry)
        part = test_part(entry)
        if snap is None or part is None or len(part[1]) != len(snap.test_pred):
            why = self.snapshot_note(entry, wanted, snap) if snap is None else "its test images are not known here"
            self._empty(f"{entry.label}: {why}.")
            return
        names = list(entry.record.dataset.get("class_names") or [])
        labels = part[1]
        counts = dg.confusion_matrix(labels, snap.test_pred, len(names))
        self.counts, self.class_names, self.shown = counts, names, (entry.label, snap.epoch)
        share = dg.row_normalised(counts)
        accuracy = dg.per_class_accuracy(counts)
        as_share = self.show_as.currentData() == "share"
        k = len(names)
        self.table.setRowCount(k)
        self.table.setColumnCount(k + 2)
        self.table.setHorizontalHeaderLabels([f"→ {n}" for n in names] + ["Images", "Accuracy"])
        self.table.setVerticalHeaderLabels(names)
        bold = QFont()
        bold.setBold(True)
        for i in range(k):
            for j in range(k):
                text = f"{share[i, j]:.1%}" if as_share else f"{counts[i, j]:,}"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                # Shade by share of the row: the diagonal should be dark, the rest pale.
                base = QColor(46, 125, 50) if i == j else QColor(198, 40, 40)
                base.setAlpha(int(30 + 200 * share[i, j]) if counts[i, j] else 0)
                item.setBackground(QBrush(base))
                if i == j:
                    item.setFont(bold)
                item.setToolTip(f"{counts[i, j]} {names[i]} image(s) predicted {names[j]} ({share[i, j]:.1%} of {names[i]})")
                self.table.setItem(i, j, item)
            total = QTableWidgetItem(f"{counts[i].sum():,}")
            acc = QTableWidgetItem("–" if accuracy[i] != accuracy[i] else f"{accuracy[i]:.1%}")
            for item in (total, acc):
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(i, k, total)
            self.table.setItem(i, k + 1, acc)
        note = self.snapshot_note(entry, wanted, snap)
        correct = int(counts.trace())
        self.note.setText(f"{entry.label}, epoch {snap.epoch}{f' ({note})' if note else ''}: {correct:,} of "
                          f"{counts.sum():,} test images right ({correct / max(1, counts.sum()):.2%}). "
                          "Rows: true class; columns: predicted.")  # fmt: skip

    def _empty(self, message: str) -> None:
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.note.setText(message)

    def csv_rows(self) -> list[dict]:
        self.refresh_now()
        if self.counts is None:
            return []
        label, epoch = self.shown
        return dg.confusion_rows(label, epoch, self.counts, self.class_names)
