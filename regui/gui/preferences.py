"""Asking for the app-wide settings that are not part of a run."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog

from regui.core.records import snapshot_size
from regui.core.splits import test_count
from regui.core.sweep import SNAPSHOTS_UP_TO


def ask_snapshot_limit(parent, current: int | None, dataset=None) -> int | None:
    """How many weight snapshots each run keeps; None if cancelled."""
    text = (
        "Each run keeps its weights and test predictions for every epoch up to this many epochs;\n"
        "longer runs keep epoch 1, every 2nd, 4th, 8th … epoch and the newest, never more than this.\n"
        f"Sweeps of more than {SNAPSHOTS_UP_TO} runs keep the last epoch's only."
    )
    if dataset is not None:
        n_test = test_count(dataset.n_images, 0.25)
        size = snapshot_size(len(dataset.class_names), dataset.image.n_features, n_test)
        text += (
            f"\n\nOn {dataset.root.name} one snapshot takes about {size / 1024:,.0f} KB "
            f"(with a 25% test part): {size * (current or 100) / 2**20:,.1f} MB per run at the current limit."
        )
    value, ok = QInputDialog.getInt(parent, "Weight snapshots kept per run", text, current or 100, 3, 100_000, 10)
    return value if ok else None
