"""A chooser for views that show one run at a time (confusion matrix, mistakes)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from regui.gui.results_model import RunEntry


class RunChooser(QComboBox):
    """The runs shown, by label; keeps the chosen run while the list is refreshed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._ids: list[int] = []

    def set_entries(self, entries: list[RunEntry]) -> RunEntry | None:
        """Offer ``entries``; returns the one chosen (the previous choice if still there)."""
        ids = [e.run_id for e in entries]
        current = self.currentData()
        if ids != self._ids:
            self.blockSignals(True)
            self.clear()
            for entry in entries:
                self.addItem(entry.label, entry.run_id)
            self._ids = ids
            index = self.findData(current)
            self.setCurrentIndex(index if index >= 0 else 0)
            self.blockSignals(False)
        chosen = self.currentData()
        return next((e for e in entries if e.run_id == chosen), None)


def test_part(entry: RunEntry):
    """(paths, labels) of the run's test images, or None if they are not known (or do not match)."""
    if entry.files is None:
        return None
    paths, labels = entry.files.test_part(entry.record.config.split)
    return paths, labels
