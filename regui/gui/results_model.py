"""The results table: one row per run, its settings and results, updating live.

A row (``RunEntry``) is a run's record, as the session's run book keeps it, plus how the
window shows it: its style, whether its curves are shown, its best epoch so far. The model
follows the session's run signals; plots, views and exports read the entries from here.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from regui.core.records import DIVERGED, FAILED, STOPPED, WAITING, EpochResult
from regui.gui.results_columns import COLUMNS
from regui.gui.run_entry import RunEntry
from regui.gui.run_styles import RunStyle, style_for, swatch
from regui.gui.timers import single_shot

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class RunsModel(QAbstractTableModel):
    visibility_changed = Signal(int, bool)  # run id, shown
    reshaped = Signal()  # rows added, or a run started or ended: the tables may fit their columns again

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[RunEntry] = []
        self._rows: dict[int, int] = {}  # run id -> row
        self._swatches: dict = {}  # style -> its QPixmap swatch, drawn once (80 styles, any number of runs)
        # Epochs can arrive by the thousand per second (tiny data): rows are redrawn at most ten
        # times a second, not once per epoch.
        self._dirty: set[int] = set()
        self._flush_timer = single_shot(self, 100, self.flush)

    # --- the runs -------------------------------------------------------------------------

    def entries(self) -> list[RunEntry]:
        return list(self._entries)

    def entry(self, run_id: int) -> RunEntry | None:
        row = self._rows.get(run_id)
        return None if row is None else self._entries[row]

    def entry_at(self, row: int) -> RunEntry:
        return self._entries[row]

    def next_style(self, ahead: int = 0) -> RunStyle:
        """The style of the run added ``ahead`` runs from now."""
        return style_for(len(self._entries) + ahead)

    def add(self, entry: RunEntry) -> None:
        self.add_many([entry])

    def add_many(self, entries: list[RunEntry]) -> None:
        """Append rows in one go (a sweep's whole queue)."""
        if not entries:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        for entry in entries:
            self._rows[entry.run_id] = len(self._entries)
            self._entries.append(entry)
        self.endInsertRows()
        self.reshaped.emit()

    # --- what the session reports (slots) -----------------------------------------------------

    def runs_added(self, runs: list) -> None:
        """Rows for runs the session added (``regui.gui.session.NewRun``), each in the next style."""
        entries = [
            RunEntry(run.run_id, run.record, self.next_style(n), files=run.files, stored_id=run.stored_id)
            for n, run in enumerate(runs)
        ]
        for entry in entries:
            entry.recompute_chosen()  # a run opened from the store has its epochs already
        self.add_many(entries)

    def run_started(self, run_id: int) -> None:
        """A run began (or began again: its epochs were cleared)."""
        entry = self.entry(run_id)
        if entry is not None:
            entry.chosen = None
            self._row_changed(run_id)
            self.reshaped.emit()

    def run_epoch(self, run_id: int, result: EpochResult) -> None:
        entry = self.entry(run_id)
        if entry is not None:
            # Chosen on validation only (the highest, the earliest on a tie), as RunRecord.chosen().
            if result.val_accuracy == result.val_accuracy and (
                entry.chosen is None or result.val_accuracy > entry.chosen.val_accuracy
            ):
                entry.chosen = result.without_snapshot()  # its numbers: the record decides which weights stay
            self._dirty.add(run_id)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def run_ended(self, run_id: int) -> None:
        entry = self.entry(run_id)
        if entry is not None:
            entry.recompute_chosen()  # its epochs may have come whole, at the end
            self._row_changed(run_id)
            self.reshaped.emit()

    def mark_stored_runs(self, dataset) -> None:
        """Runs opened from the store that ran on ``dataset``'s folder (just loaded): on the same
        files (their test images can be shown), or on files changed since they ran."""
        for entry in self._entries:
            if entry.stored_id is None or not dataset.is_folder(entry.record.dataset.get("folder", "")):
                continue
            same = entry.record.dataset.get("fingerprint") == dataset.fingerprint
            entry.data_changed = not same
            entry.files = dataset.files if same else None
            self._row_changed(entry.run_id)

    def row_of(self, run_id: int) -> int | None:
        return self._rows.get(run_id)

    def set_visible(self, run_id: int, visible: bool) -> None:
        entry = self.entry(run_id)
        if entry is not None and entry.visible != visible:
            entry.visible = visible
            self._row_changed(run_id)
            self.visibility_changed.emit(run_id, visible)

    def _row_changed(self, run_id: int) -> None:
        self._dirty.discard(run_id)
        row = self._rows[run_id]
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def flush(self) -> None:
        """Redraw the rows whose runs moved on since the last time."""
        self._flush_timer.stop()
        for run_id in list(self._dirty):
            self._row_changed(run_id)

    # --- Qt model interface -----------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].header
            if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section].tip:
                return COLUMNS[section].tip
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(entry)
        if role == SORT_ROLE:
            return column.sort(entry)
        if role == Qt.ItemDataRole.CheckStateRole and column.key == "run":
            return Qt.CheckState.Checked if entry.visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DecorationRole and column.key == "run":
            if entry.style not in self._swatches:
                self._swatches[entry.style] = swatch(entry.style)  # exactly as its curves are drawn
            return self._swatches[entry.style]
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric and column.key != "run":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column.key == "status":
            if entry.record.status in (DIVERGED, FAILED):
                return QBrush(QColor("#c62828"))
            if entry.record.status == STOPPED:
                return QBrush(QColor("#8d6e00"))
            if entry.record.status == WAITING:
                return QBrush(QColor("#777777"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(entry)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if index.isValid() and role == Qt.ItemDataRole.CheckStateRole and COLUMNS[index.column()].key == "run":
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self.set_visible(self._entries[index.row()].run_id, checked)
            return True
        return False

    def flags(self, index):
        flags = super().flags(index)
        if index.isValid() and COLUMNS[index.column()].key == "run":
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    @staticmethod
    def _tooltip(entry: RunEntry) -> str:
        record, c = entry.record, entry.record.config
        lines = [f"{entry.label}: drawn in {entry.style.describe()}"]
        if record.message:
            lines.append(record.message)
        if entry.stored_id is not None:
            lines.append(f"opened from the run store (run {entry.stored_id}, started {record.started_at[:16]})")
        if entry.data_changed:
            lines.append(
                "Its dataset folder has changed since this run (files added, removed or modified): "
                "numbers from then and now are not on the same data."
            )
        lines.append(
            f"image {c.width}x{c.height} {'colour' if c.color else 'grayscale'}, test fraction {c.test_size:g}, "
            f"split seed {c.split_seed}{'' if c.stratify else ', not stratified'}"
        )
        if record.dataset.get("folder"):
            lines.append(
                f"dataset {record.dataset['folder']} ({record.dataset.get('n_train')} train / "
                f"{record.dataset.get('n_test')} test)"
            )
        return "\n".join(lines)
