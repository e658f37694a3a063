"""The results table as shown: sortable rows of the runs model, its columns fitted now and then,
and the selection in terms of runs."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from regui.gui.results_columns import COLUMNS
from regui.gui.results_model import SORT_ROLE, RunsModel
from regui.gui.run_entry import RunEntry
from regui.gui.timers import single_shot


class ResultsTable(QTableView):
    def __init__(self, runs: RunsModel, parent=None) -> None:
        super().__init__(parent)
        self.runs = runs
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(runs)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.columns = ColumnFitter(self, runs)
        self.horizontalHeader().setStretchLastSection(True)

    def selected_run_ids(self) -> set[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.selectionModel().selectedRows()}
        return {self.runs.entry_at(r).run_id for r in rows}

    def select_runs(self, run_ids) -> None:
        """Select these runs' rows (and so highlight their curves), the first one scrolled to."""
        selection = self.selectionModel()
        selection.clearSelection()
        flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
        rows = [row for row in (self.runs.row_of(r) for r in run_ids) if row is not None]
        for row in rows:
            selection.select(self.proxy.mapFromSource(self.runs.index(row, 0)), flags)
        if rows:
            self.scrollTo(self.proxy.mapFromSource(self.runs.index(rows[0], 0)))

    def entries_in_view_order(self) -> list[RunEntry]:
        """The runs as the table shows them now (sorted as the person chose)."""
        rows = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]
        return [self.runs.entry_at(r) for r in rows]

    @staticmethod
    def display_row(entry: RunEntry) -> dict:
        """A run's row as the table writes it: column header -> text."""
        return {c.header: c.text(entry) for c in COLUMNS}


class ColumnFitter:
    """Fits a table's columns to their contents now and then, not on every change.

    Left to Qt (ResizeToContents), every changed row re-measured every column over a sample of
    rows, calling back into Python thousands of times: 22 ms a change, a stall each time a run
    of a comparison started or ended. Here the columns are fitted at most once per ``delay``
    ms, after rows were added or runs started or ended, one column per turn of the event loop
    (all of them at once, over a sweep's few hundred rows, held the window for about 100 ms);
    people can still drag them wider.
    """

    def __init__(self, table, model: RunsModel, delay: int = 400) -> None:
        self.table = table
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(15)  # a sample of rows (mostly those in view), not all
        self.timer = single_shot(table, delay, self.fit)
        self._columns: list[int] = []  # still to fit, one per turn
        self._next = single_shot(table, 0, self._fit_next)
        model.reshaped.connect(self.soon)

    def soon(self) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def fit(self) -> None:
        """Fit every column to its contents: the first now, the others in the turns that follow."""
        self.timer.stop()
        self._columns = list(range(self.table.model().columnCount()))
        self._fit_next()

    def fitting(self) -> bool:
        """Whether columns are still waiting for their turn to be fitted."""
        return bool(self._columns)

    def _fit_next(self) -> None:
        while self._columns:
            column = self._columns.pop(0)
            if not self.table.isColumnHidden(column):
                self.table.resizeColumnToContents(column)
                break
        if self._columns:
            self._next.start()


RESULT_FILTERS = {
    "CSV table (*.csv)": ".csv",
    "JSON with every epoch (*.json)": ".json",
    "Markdown table (*.md)": ".md",
}


def write_results(path: str, entries: list[RunEntry]) -> None:
    """The runs as a table (CSV, Markdown) or with every epoch (JSON), by ``path``'s extension."""
    from pathlib import Path

    from regui.core import export

    suffix = Path(path).suffix.lower()
    records = [e.record for e in entries]
    if suffix == ".json":
        export.write_json(path, export.results_document(records))
    elif suffix in (".md", ".markdown"):
        export.write_markdown(path, [ResultsTable.display_row(e) for e in entries], [c.header for c in COLUMNS])
    else:
        export.write_csv(path, [r.summary_row() for r in records])
