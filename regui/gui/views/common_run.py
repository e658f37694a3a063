"""A chooser for views that show one run at a time (confusion matrix, mistakes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from regui.core.records import EpochResult
from regui.gui.run_entry import RunEntry


class RunChooser(QComboBox):
    """The runs shown, by label; keeps the chosen run while the list is refreshed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # A fixed width (the full label in its list and tooltip): sized to its contents, a long
        # run name widened the whole dock and pushed the plots aside as runs came and went.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(18)
        self._ids: list[int] = []

    def set_entries(self, entries: list[RunEntry]) -> RunEntry | None:
        """Offer ``entries``; returns the one chosen (the previous choice if still there)."""
        ids = [e.run_id for e in entries]
        current = self.currentData()
        if ids != self._ids:
            self.blockSignals(True)
            kept = len(self._ids)
            if ids[:kept] != self._ids:  # not just more runs at the end (a sweep's): all anew
                self.clear()
                kept = 0
            for entry in entries[kept:]:  # (a sweep's 380 labels anew took 20 ms each time it grew)
                self.addItem(entry.label, entry.run_id)
                self.setItemData(self.count() - 1, entry.label, Qt.ItemDataRole.ToolTipRole)
            self._ids = ids
            index = self.findData(current)
            self.setCurrentIndex(index if index >= 0 else 0)
            self.blockSignals(False)
        chosen = self.currentData()
        self.setToolTip(self.currentText())
        return next((e for e in entries if e.run_id == chosen), None)


@dataclass(frozen=True)
class Predictions:
    """What a run predicted for its test images at the epoch a view shows."""

    wanted: int  # the epoch asked for
    snap: EpochResult  # the nearest snapshot (its epoch may be earlier, if thinned)
    paths: tuple[str, ...]  # the test images, in the order of ``snap.test_pred``
    labels: np.ndarray


def predictions(view, entry: RunEntry) -> tuple[Predictions | None, str]:
    """The predictions ``view`` shows for ``entry``, or None and why there are none."""
    wanted = view.epoch_for(entry)
    snap = view.snapshot_for(entry)
    if snap is None:
        return None, view.snapshot_note(entry, wanted, snap)
    if snap.test_pred.size == 0:
        return None, "the run store keeps weights, not predictions: train it again to see them"
    if entry.files is not None:
        paths, labels = entry.files.test_part(entry.record.config.split)
        if len(labels) == len(snap.test_pred):
            return Predictions(wanted, snap, paths, labels), ""
    return None, "its test images are not known here"
