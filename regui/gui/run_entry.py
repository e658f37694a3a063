"""A run as the window shows it: the session's record of it plus its style, whether its curves
are shown, its epoch chosen on validation so far, and where its test images are."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

from regui.core.config import run_label
from regui.core.records import RunRecord
from regui.gui.run_styles import RunStyle


@dataclass(eq=False)
class RunEntry:
    run_id: int
    record: RunRecord  # the session's record of the run (read here, changed only by its run book)
    style: RunStyle  # its colour and marker, in the plots, the table's swatch and the views
    visible: bool = True
    chosen: object = None  # the record's chosen() epoch, kept up to date epoch by epoch (not rescanned)
    files: object = None  # the DatasetFiles it trained on: where its test images are
    stored_id: int | None = None  # opened from the run store: its id there
    data_changed: bool = False  # its dataset folder's files differ now from when it ran

    def recompute_chosen(self) -> None:
        chosen = self.record.chosen()  # its numbers: the record decides which weights stay
        self.chosen = chosen.without_snapshot() if chosen is not None else None

    @property
    def result(self):
        """The record's ``result`` (its last epoch, or an early-stopped run's kept one), read from
        ``chosen`` as it is kept up to date rather than by scanning every epoch at each paint."""
        if self.record.config.early_stopping and self.chosen is not None:
            return self.chosen
        return self.record.final

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
