"""The Sweep tab's summary: one row per setting with the mean ± std of its runs and which setting
is chosen per penalty, and (for a cross-validated sweep) the line that says what the chosen
settings scored once trained on the whole training part."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from regui.core.config import PENALTY_LABELS, batch_column
from regui.core.formatting import percent_mean_std
from regui.core.records import FINISHED, RUNNING, WAITING, RunRecord
from regui.core.sweep_summary import SettingSummary, chosen_per_penalty

_HEADERS = ["Penalty", "λ", "lr", "Batch", "Runs", "Train acc", "Val acc", "Test acc", "Zeros", "Chosen"]
_TIP = (
    "Mean ± standard deviation of each setting's runs (at each run's result: its last epoch, or the one early "
    "stopping kept). Chosen: per penalty, the setting with the highest mean validation accuracy; its test accuracy "
    "is the one to report, with the standard error of that mean (s.e.m. = std / √runs) to judge whether two "
    "penalties really differ. With cross-validation, the chosen setting trained on the whole training part and "
    "tested once."
)


def _key(s: SettingSummary) -> tuple:
    return (s.penalty, s.alpha, s.l1_ratio, s.eta0, s.batch, s.engine)


class SummaryTable(QTableWidget):
    runs_selected = Signal(list)  # the run ids of the settings selected

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setToolTip(_TIP)
        self.itemSelectionChanged.connect(self._selection)
        self._rows: list[tuple[SettingSummary, list[int]]] = []

    def show_summaries(
        self, rows: list[tuple[SettingSummary, list[int]]], folds: int = 0, retrained: dict | None = None
    ) -> None:
        """One row per (setting, its run ids); the rows selected stay selected. ``retrained``: the
        records of a cross-validated sweep's retrained runs, by the key of the setting they retrain.

        While the settings are the same ones (a sweep's runs ending), only the cells whose text
        changed are given it: remaking a hundred rows' items each time held the window 10-20 ms."""
        picked = chosen_per_penalty([s for s, _ in rows])
        on = f"on {folds}-fold validation" if folds else "on validation"
        texts = [self._cells(s, any(s is c for c in picked), on, retrained) for s, _ in rows]
        keys = [_key(s) for s, _ in rows]
        if (
            keys != [_key(s) for s, _ in self._rows]
            or self.rowCount() != len(rows)
            or self.columnCount() != len(_HEADERS)
        ):
            self._rebuild(rows, texts)
            return
        self._rows = rows
        changed = False
        for row, cells in enumerate(texts):
            for col, text in enumerate(cells):
                item = self.item(row, col)
                if item.text() != text:
                    item.setText(text)
                    changed = True
        if changed:
            self.resizeColumnsToContents()

    def _rebuild(self, rows: list[tuple[SettingSummary, list[int]]], texts: list[list[str]]) -> None:
        selected = {_key(self._rows[i.row()][0]) for i in self.selectedIndexes() if i.row() < len(self._rows)}
        self.blockSignals(True)  # rebuilding is not the person choosing rows
        self.clear()
        self._rows = rows
        self.setColumnCount(len(_HEADERS))
        self.setHorizontalHeaderLabels(_HEADERS)
        self.setRowCount(len(rows))
        for row, ((s, _), cells) in enumerate(zip(rows, texts, strict=True)):
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
            if _key(s) in selected:
                self.selectRow(row)
        self.resizeColumnsToContents()
        self.blockSignals(False)

    @staticmethod
    def _cells(s: SettingSummary, chosen: bool, on: str, retrained: dict | None) -> list[str]:
        """The texts of a setting's row."""
        pm = percent_mean_std
        val = "–" if math.isnan(s.val[0]) else pm(s.val)
        stats = [pm(s.train), val, pm(s.test), pm(s.zeros, 1)] if s.n else ["–"] * 4
        sem = s.sem(s.test)
        note = "" if math.isnan(sem) else f" (test s.e.m. {sem * 100:.2f})"
        again = (retrained or {}).get(_key(s))
        if again is not None and again.result is not None:
            note = f"; retrained: test {again.result.test_accuracy:.2%}"
        stats.append(f"{on}{note}" if chosen else "")
        return [
            PENALTY_LABELS[s.penalty],
            "–" if s.alpha is None else f"{s.alpha:g}",
            f"{s.eta0:g}",
            batch_column(s.engine, s.batch),
            s.count_text(),
            *stats,
        ]

    def _selection(self) -> None:
        rows = {i.row() for i in self.selectedIndexes()}
        ids = [run_id for r in rows for run_id in self._rows[r][1]]
        if ids:
            self.runs_selected.emit(ids)


def retrained_by_setting(sweep, record_of: Callable[[int], RunRecord]) -> dict:
    """A sweep's retrained runs (``SweepRun.retrained``), their records by the key of the setting
    each retrains."""
    return {_key(plan.setting): record_of(run_id) for run_id, plan in sweep.retrained.items()}


def verdict(sweep, record_of: Callable[[int], RunRecord]) -> str:
    """What a cross-validated sweep does or chose, and the chosen settings' test accuracies once
    trained on the whole training part (rich text); "" for a sweep without folds."""
    k = sweep.folds
    if not k:
        return ""
    if not sweep.retrained:
        if sweep.ended:
            return (
                f"{k}-fold cross-validation ended before the chosen settings were trained on the whole training "
                "part: the Test acc column is that of models trained on part of it."
            )
        return (
            f"{k}-fold cross-validation: each setting is trained once per fold, each fold of the training part in "
            "turn held out to choose on. Then the setting chosen for each penalty is trained on the whole training "
            "part and tested once."
        )
    parts = []
    for run_id, plan in sweep.retrained.items():
        record = record_of(run_id)
        if record.status == FINISHED and record.result is not None:
            result = f"{record.result.test_accuracy:.2%}"
        elif record.status in (RUNNING, WAITING):
            result = "training…"
        else:
            result = record.status_text()
        parts.append(f"<b>{plan.label}</b>: {result}")
    epochs = " (for the folds' median kept epoch)" if any(p.epochs_from_folds for p in sweep.retrained.values()) else ""
    return (
        f"Chosen per penalty by {k}-fold cross-validation (the folds' mean validation accuracy), trained on the "
        f"whole training part{epochs} and tested once: " + " · ".join(parts)
    )
