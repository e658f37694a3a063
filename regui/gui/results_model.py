"""The results table: one row per run, its settings and results, updating live.

A row (``RunEntry``) is a run's record, as the session's run book keeps it, plus how the
window shows it: its style, whether its curves are shown, its best epoch so far. The model
follows the session's run signals; plots, views and exports read the entries from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor

from regui.core.config import PENALTY_LABELS, SCALING_LABELS, run_label
from regui.core.formatting import percent, sweep_place
from regui.core.records import DIVERGED, FAILED, RUNNING, STOPPED, WAITING, EpochResult, RunRecord
from regui.gui.run_styles import RunStyle, style_for, swatch

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(eq=False)
class RunEntry:
    run_id: int
    record: RunRecord  # the session's record of the run (read here, changed only by its run book)
    style: RunStyle  # its colour and marker, in the plots, the table's swatch and the views
    visible: bool = True
    best: object = None  # the record's best_test(), kept up to date epoch by epoch (not rescanned)
    files: object = None  # the DatasetFiles it trained on: where its test images are
    stored_id: int | None = None  # opened from the run store: its id there
    data_changed: bool = False  # its dataset folder's files differ now from when it ran

    def recompute_best(self) -> None:
        self.best = self.record.best_test()

    @property
    def color(self) -> QColor:
        return QColor(self.style.color)

    @property
    def label(self) -> str:
        """For legends and tooltips: "#3 L2 λ=0.0001 lr=0.01"; a run opened from the run store
        keeps its number there ("store #36 ..."), the one `regui runs show` knows it by."""
        if self.stored_id is not None:
            return f"store #{self.stored_id} {self.record.config.describe()}"
        return run_label(self.run_id, self.record.config)

    @property
    def number(self) -> str:
        """What the table's Run column shows: "#3", or "store #36" for a stored run."""
        return f"store #{self.stored_id}" if self.stored_id is not None else f"#{self.run_id}"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    text: Callable[[RunEntry], str]
    sort: Callable[[RunEntry], object]
    tip: str = ""
    numeric: bool = True


def _final(entry: RunEntry, attr: str):
    final = entry.record.final
    return getattr(final, attr) if final is not None else None


def _num(value, fmt: str = ".4g") -> str:
    return "" if value is None else format(value, fmt)


def _sortable(value) -> float:
    return float("-inf") if value is None else value


def _best(entry: RunEntry) -> str:
    best = entry.best
    return "" if best is None else f"{best.test_accuracy * 100:.2f}% ({best.epoch})"


def _lambda(entry: RunEntry) -> str:
    c = entry.record.config
    return "–" if c.penalty == "none" else f"{c.alpha:g}"


COLUMNS = [
    # Who, how it went, and the results first: they fit on screen; the settings follow.
    Column("run", "Run", lambda e: e.number, lambda e: e.run_id, "Tick to show the run's curves"),
    Column("status", "Status", lambda e: e.record.status_text(), lambda e: e.record.status_text(), numeric=False),
    Column(
        "penalty",
        "Penalty",
        lambda e: PENALTY_LABELS[e.record.config.penalty],
        lambda e: e.record.config.penalty,
        numeric=False,
    ),
    Column("alpha", "λ", _lambda, lambda e: e.record.config.alpha, "Regularization strength (alpha)"),
    Column(
        "test_accuracy",
        "Test acc",
        lambda e: percent(_final(e, "test_accuracy")),
        lambda e: _sortable(_final(e, "test_accuracy")),
        "Test accuracy after the last epoch",
    ),
    Column(
        "best_test_accuracy",
        "Best test (epoch)",
        _best,
        lambda e: _sortable(getattr(e.best, "test_accuracy", None)),
        "Highest test accuracy of any epoch, and that epoch",
    ),
    Column(
        "train_accuracy",
        "Train acc",
        lambda e: percent(_final(e, "train_accuracy")),
        lambda e: _sortable(_final(e, "train_accuracy")),
    ),
    Column(
        "objective",
        "Final loss",
        lambda e: _num(_final(e, "objective")),
        lambda e: _sortable(_final(e, "objective")),
        "Mean data loss + λ·R(W), on the training part",
    ),
    Column(
        "weight_l2",
        "‖W‖",
        lambda e: _num(_final(e, "weight_l2")),
        lambda e: _sortable(_final(e, "weight_l2")),
        "L2 norm of the weights (intercepts excluded)",
    ),
    Column(
        "zero_fraction",
        "Zeros",
        lambda e: _num(_final(e, "zero_fraction"), ".1%"),
        lambda e: _sortable(_final(e, "zero_fraction")),
        "Share of weights exactly 0 (sparsity)",
    ),
    Column(
        "epochs",
        "Epochs",
        lambda e: f"{len(e.record.epochs)}/{e.record.config.epochs}",
        lambda e: len(e.record.epochs),
        "Epochs done / asked for",
    ),
    Column(
        "eta0",
        "LR",
        lambda e: f"{e.record.config.eta0:g} {e.record.config.learning_rate}",
        lambda e: e.record.config.eta0,
        "Learning rate (eta0) and schedule",
    ),
    Column(
        "l1_ratio",
        "L1 ratio",
        lambda e: f"{e.record.config.l1_ratio:g}" if e.record.config.penalty == "elasticnet" else "–",
        lambda e: e.record.config.l1_ratio,
        "Elastic-net mix: 0 is pure L2, 1 pure L1",
    ),
    Column(
        "loss",
        "Loss",
        lambda e: "cross-entropy" if e.record.config.loss == "log_loss" else "hinge",
        lambda e: e.record.config.loss,
        numeric=False,
    ),
    Column(
        "scaling",
        "Pixels",
        lambda e: SCALING_LABELS[e.record.config.scaling],
        lambda e: e.record.config.scaling,
        numeric=False,
    ),
    Column(
        "seed", "Seed", lambda e: str(e.record.config.seed), lambda e: e.record.config.seed, "Model seed (shuffling)"
    ),
    Column(
        "sweep",
        "Sweep",
        lambda e: _sweep(e),
        lambda e: (e.record.sweep, e.record.repeat),
        "The sweep a run belongs to, and its repeat",
        numeric=False,
    ),
    Column(
        "data",
        "Data",
        lambda e: _data(e),
        lambda e: _data(e),
        "Dataset folder, image size, test fraction and split seed",
        numeric=False,
    ),
    Column(
        "seconds",
        "Time",
        lambda e: f"{_elapsed(e):.1f} s" if _elapsed(e) is not None else "",
        lambda e: _sortable(_elapsed(e)),
    ),
]
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}


def _sweep(entry: RunEntry) -> str:
    return sweep_place(entry.record.sweep, entry.record.repeat)


def _data(entry: RunEntry) -> str:
    """For example "animals 32×32×3, test 0.25 split 42"."""
    c = entry.record.config
    folder = Path(entry.record.dataset.get("folder", "")).name
    stratified = "" if c.stratify else " unstratified"
    changed = "⚠ changed since: " if entry.data_changed else ""
    return (
        f"{changed}{folder} {c.width}×{c.height}×{3 if c.color else 1}, test {c.test_size:g} split "
        f"{c.split_seed}{stratified}"
    )


def _elapsed(entry: RunEntry):
    if entry.record.status == WAITING:
        return None
    if entry.record.status != RUNNING:
        return entry.record.seconds
    final = entry.record.final
    return final.elapsed if final is not None else None


class RunsModel(QAbstractTableModel):
    visibility_changed = Signal(int, bool)  # run id, shown
    reshaped = Signal()  # rows added, or a run started or ended: the tables may fit their columns again

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[RunEntry] = []
        self._rows: dict[int, int] = {}  # run id -> row
        self._swatches: dict = {}  # run id -> its QPixmap swatch, drawn once
        # Epochs can arrive by the thousand per second (tiny data): rows are redrawn at most ten
        # times a second, not once per epoch.
        self._dirty: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(100)
        self._flush_timer.timeout.connect(self.flush)

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
            entry.recompute_best()  # a run opened from the store has its epochs already
        self.add_many(entries)

    def run_started(self, run_id: int) -> None:
        """A run began (or began again: its epochs were cleared)."""
        entry = self.entry(run_id)
        if entry is not None:
            entry.best = None
            self._row_changed(run_id)
            self.reshaped.emit()

    def run_epoch(self, run_id: int, result: EpochResult) -> None:
        entry = self.entry(run_id)
        if entry is not None:
            if entry.best is None or result.test_accuracy > entry.best.test_accuracy:
                entry.best = result
            self._dirty.add(run_id)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def run_ended(self, run_id: int) -> None:
        entry = self.entry(run_id)
        if entry is not None:
            entry.recompute_best()  # its epochs may have come whole, at the end
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

    def refresh_row(self, run_id: int) -> None:
        if run_id in self._rows:
            self._row_changed(run_id)

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
            if entry.run_id not in self._swatches:
                self._swatches[entry.run_id] = swatch(entry.style)  # exactly as its curves are drawn
            return self._swatches[entry.run_id]
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


class ColumnFitter:
    """Fits a table's columns to their contents now and then, not on every change.

    Left to Qt (ResizeToContents), every changed row re-measured every column over a sample of
    rows, calling back into Python thousands of times: 22 ms a change, a stall each time a run
    of a comparison started or ended. Here the columns are fitted at most once per ``delay``
    ms, after rows were added or runs started or ended; people can still drag them wider.
    """

    def __init__(self, table, model: RunsModel, delay: int = 400) -> None:
        from PySide6.QtWidgets import QHeaderView

        self.table = table
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(15)  # a sample of rows (mostly those in view), not all
        self.timer = QTimer(table)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay)
        self.timer.timeout.connect(self.fit)
        model.reshaped.connect(self.soon)

    def soon(self) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def fit(self) -> None:
        self.timer.stop()
        self.table.resizeColumnsToContents()
