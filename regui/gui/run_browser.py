"""The run browser: every stored run, filtered by dataset and any setting, sorted by any column;
open runs into the plots and table, rename and annotate them, delete, export and import.

It reads the store on the GUI thread: listing is a single query (500 runs: ~30 ms, see
bench/bench_store.py), and in WAL mode a read never waits for a writer.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from regui.core.config import PENALTIES, PENALTY_LABELS, batch_column
from regui.core.errors import ReguiError
from regui.core.formatting import percent, sweep_place
from regui.core.store import RunStore, StoredRun, StoreError, parse_setting
from regui.gui.saving import ask_save_path

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


# (header, text, sort key); the last two columns (name, note) can be edited in place.
_COLUMNS = [
    ("Id", lambda r: str(r.id), lambda r: r.id),
    ("Started", lambda r: r.started_at[:16].replace("T", " "), lambda r: r.started_at),
    ("Status", lambda r: r.status, lambda r: r.status),
    ("Penalty", lambda r: PENALTY_LABELS.get(r.config.penalty, r.config.penalty), lambda r: r.config.penalty),
    ("λ", lambda r: "–" if r.config.penalty == "none" else f"{r.config.alpha:g}", lambda r: r.config.alpha),
    ("LR", lambda r: f"{r.config.eta0:g}", lambda r: r.config.eta0),
    (
        "Batch",
        lambda r: batch_column(r.config.engine, r.config.batch_text),
        lambda r: (r.config.sklearn, r.config.batch_size or 10**9),
    ),
    ("Epochs", lambda r: f"{r.epochs_done}/{r.config.epochs}", lambda r: r.epochs_done),
    ("Test acc", lambda r: percent(r.test_accuracy), lambda r: -1 if r.test_accuracy is None else r.test_accuracy),
    ("Val acc", lambda r: percent(r.val_accuracy), lambda r: -1 if r.val_accuracy is None else r.val_accuracy),
    (
        "Chosen: test",
        lambda r: "" if r.chosen_test_accuracy is None else f"{percent(r.chosen_test_accuracy)} ({r.chosen_epoch})",
        lambda r: -1 if r.chosen_test_accuracy is None else r.chosen_test_accuracy,
    ),
    (
        "Zeros",
        lambda r: "" if r.zero_fraction is None else f"{r.zero_fraction:.1%}",
        lambda r: -1 if r.zero_fraction is None else r.zero_fraction,
    ),
    ("Pixels", lambda r: r.config.scaling, lambda r: r.config.scaling),
    ("Dataset", lambda r: Path(r.folder).name, lambda r: r.folder),
    ("Sweep", lambda r: sweep_place(r.sweep, r.repeat), lambda r: (r.sweep, r.repeat)),
    ("Name", lambda r: r.name, lambda r: r.name),
    ("Note", lambda r: r.note, lambda r: r.note),
]
_NAME, _NOTE = len(_COLUMNS) - 2, len(_COLUMNS) - 1
_FROM_SETTINGS = {"Penalty", "λ", "LR", "Epochs", "Pixels", "Dataset"}


class StoredRunsModel(QAbstractTableModel):
    renamed = Signal(int, str, str)  # run id, name, note

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.runs: list[StoredRun] = []

    def set_runs(self, runs: list[StoredRun]) -> None:
        self.beginResetModel()
        self.runs = runs
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section][0]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        _, text, key = _COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if run.damage and _COLUMNS[index.column()][0] in _FROM_SETTINGS:
                return "?"  # its settings could not be read
            return text(run)
        if role == SORT_ROLE:
            return key(run)
        if role == Qt.ItemDataRole.ToolTipRole and run.damage:
            return f"{run.name}\nThis stored run is damaged: {run.damage}. It cannot be opened; it can be deleted."
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{run.name}\n{run.folder}\n"
                + ", ".join(f"{k}={v}" for k, v in run.config.to_dict().items())
                + (f"\n{run.message}" if run.message else "")
            )
        return None

    def flags(self, index):
        flags = super().flags(index)
        if index.isValid() and index.column() in (_NAME, _NOTE):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or index.column() not in (_NAME, _NOTE):
            return False
        run = self.runs[index.row()]
        name, note = (str(value), run.note) if index.column() == _NAME else (run.name, str(value))
        if not name.strip():
            return False  # a run keeps a name
        self.renamed.emit(run.id, name, note)
        return True


class RunBrowser(QDialog):
    """Non-modal: the window (and any training) carries on while it is open."""

    open_requested = Signal(list)  # stored run ids to open in the window
    settings_requested = Signal(object)  # a StoredRun whose settings to train with again

    def __init__(self, store_path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Stored runs")
        self.store_path = store_path
        self._open: RunStore | None = None
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("part of the folder's path")
        self.penalty = QComboBox()
        self.penalty.addItem("any", None)
        for penalty in PENALTIES:
            self.penalty.addItem(PENALTY_LABELS[penalty], penalty)
        self.settings_filter = QLineEdit()
        self.settings_filter.setPlaceholderText("settings, e.g. alpha=0.01 scaling=unit")
        self.settings_filter.setToolTip(
            "Runs whose settings are exactly these: engine (minibatch, sgdclassifier), batch_size (a number "
            "or full), penalty, alpha, l1_ratio, loss, epochs, "
            "eta0, learning_rate, seed, width, height, color, scaling, test_size, "
            "split_seed, stratify"
        )
        self.count = QLabel()
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.setWordWrap(True)
        self.model = StoredRunsModel(self)
        self.model.renamed.connect(self._rename)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setResizeContentsPrecision(50)  # fit columns to a sample, not every row
        self._fitted = False
        self.table.doubleClicked.connect(lambda index: index.column() not in (_NAME, _NOTE) and self.open_selected())
        self.open_button = QPushButton("Open in the window")
        self.open_button.setDefault(True)
        self.open_button.setToolTip("Show the selected runs' curves and numbers next to today's runs")
        again = QPushButton("Use its settings")
        again.setToolTip("Put the selected run's settings in the window, to train it again")
        again.clicked.connect(self.use_settings)
        delete = QPushButton("Delete…")
        export = QPushButton("Export…")
        export.setToolTip("Write the selected runs (or all shown) to one file to share")
        importing = QPushButton("Import…")
        refresh = QPushButton("Refresh")
        self.open_button.clicked.connect(self.open_selected)
        delete.clicked.connect(self.delete_selected)
        export.clicked.connect(lambda: self.export_selected())
        importing.clicked.connect(lambda: self.import_file())
        refresh.clicked.connect(self.refresh)
        for signal in (self.dataset.textChanged, self.settings_filter.editingFinished):
            signal.connect(self.refresh)
        self.penalty.currentIndexChanged.connect(self.refresh)

        filters = QHBoxLayout()
        for label, widget in (
            ("Dataset:", self.dataset),
            ("Penalty:", self.penalty),
            ("Settings:", self.settings_filter),
        ):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
        buttons = QHBoxLayout()
        for button in (self.open_button, again, delete, export, importing, refresh):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.problem)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(1100, 560)
        self.refresh()

    # --- reading ------------------------------------------------------------------------------

    def _store(self) -> RunStore | None:
        """The store, opened for reading once while the browser is open (every filter keystroke
        reads it); None while there is none yet. Reading works on a read-only disk too."""
        if self._open is None or self._open.path != Path(self.store_path):
            self._close_store()
            try:
                self._open = RunStore(self.store_path, check_interrupted=False, mode="read")
            except StoreError as exc:
                if exc.nothing_stored:
                    return None
                raise
        return self._open

    def _close_store(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def closeEvent(self, event) -> None:
        self._close_store()
        super().closeEvent(event)

    def refresh(self) -> None:
        try:
            where = dict(parse_setting(part) for part in self.settings_filter.text().split())
            if self.penalty.currentData():
                where["penalty"] = self.penalty.currentData()
            store = self._store()
            runs = [] if store is None else store.runs(folder=self.dataset.text().strip() or None, where=where)
            total = 0 if store is None else store.count()
        except ReguiError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self.problem.hide()
        self.model.set_runs(runs)
        self.count.setText(f"{len(runs):,} of {total:,} stored runs")
        if not self._fitted and runs:  # once: refitting on every keystroke of a filter would lag
            self.table.resizeColumnsToContents()
            self._fitted = True

    def selected_ids(self) -> list[int]:
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.runs[r].id for r in rows]

    # --- actions ------------------------------------------------------------------------------

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_requested.emit(ids)

    def use_settings(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.settings_requested.emit(next(r for r in self.model.runs if r.id == ids[0]))

    def delete_selected(self, confirm: bool = True) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        if confirm:
            answer = QMessageBox.question(
                self, "Delete runs", f"Delete {len(ids)} stored run(s) with all their epochs? This cannot be undone."
            )
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        deleted = self._write(lambda store: store.delete(ids))
        return deleted or 0

    def export_selected(self, path: str | None = None) -> int:
        ids = self.selected_ids() or [run.id for run in self.model.runs]
        if not ids:
            return 0
        path = path or ask_save_path(self, "Export runs", "runs-export.sqlite3", {"Run store (*.sqlite3)": ".sqlite3"})
        if not path:
            return 0
        count = self._read(lambda store: store.export(ids, path))  # copies from the store being read
        if count:
            self.count.setText(f"{count} run(s) exported to {path}")
        return count or 0

    def import_file(self, path: str | None = None) -> tuple[int, int]:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import runs", "", "Run store (*.sqlite3);;All files (*)")
            if not path:
                return 0, 0
        result = self._write(lambda store: store.import_from(path))
        if result is None:
            return 0, 0
        added, known, refused = result
        self.count.setText(f"{added} run(s) imported" + (f", {known} were here already" if known else ""))
        if refused:
            self.problem.setText(
                f"{len(refused)} run(s) of {path} were not imported, as they do not read as runs: " + "; ".join(refused)
            )
            self.problem.show()
        return added, known

    def _rename(self, run_id: int, name: str, note: str) -> None:
        self._write(lambda store: store.annotate(run_id, name=name, note=note))

    def _write(self, action):
        """Run ``action`` on the store opened for writing, just for it (the browser itself only
        reads, so it lists runs on a read-only disk too), then list what the store holds now. A
        problem is said after that listing, which would otherwise clear it."""
        problem = ""
        try:
            with RunStore(self.store_path, check_interrupted=False) as store:
                result = action(store)
        except ReguiError as exc:
            result, problem = None, str(exc)
        self.refresh()
        if problem:
            self.problem.setText(problem)
            self.problem.show()
        return result

    def _read(self, action):
        """Run ``action`` on the store the browser reads; None after saying why it could not."""
        try:
            return action(self._store())
        except ReguiError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return None
