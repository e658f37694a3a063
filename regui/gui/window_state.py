"""What the window remembers between sessions (QSettings): the settings last used, recent
folders, the sweep grid, the snapshot limit, plot options, the window's size and panels.

Anything damaged or from elsewhere in the settings file is ignored, never fatal: the value
falls back to its default.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings

from regui.core.config import TrainConfig
from regui.core.errors import ReguiError

MAX_RECENT = 10
_PLOT_OPTIONS = (
    ("plots/parts", "show_parts", False),
    ("plots/train", "show_train", True),
    ("plots/validation", "show_val", True),
    ("plots/log", "log_loss", False),
    ("plots/batches", "show_batches", False),
)


class WindowState:
    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    # --- the settings of a run, and of a sweep ------------------------------------------------

    def config(self) -> TrainConfig:
        """The settings last used (the defaults if none were kept, or they are damaged or outdated)."""
        try:
            saved = json.loads(self.settings.value("config", "{}", type=str))
            config = TrainConfig.from_saved(saved) if isinstance(saved, dict) else TrainConfig()
            config.validate()
        except (TypeError, ValueError, ReguiError):
            config = TrainConfig()
        return config

    def save_config(self, config: TrainConfig) -> None:
        self.settings.setValue("config", json.dumps(config.to_dict()))

    def sweep_grid(self) -> dict:
        try:
            grid = json.loads(self.settings.value("sweep/grid", "{}", type=str))
        except (TypeError, ValueError):
            return {}
        return grid if isinstance(grid, dict) else {}

    def save_sweep_grid(self, grid: dict) -> None:
        self.settings.setValue("sweep/grid", json.dumps(grid))

    def snapshot_limit(self, default: int) -> int:
        try:
            limit = int(self.settings.value("snapshots/per_run", default, type=int))
        except (TypeError, ValueError):
            limit = default
        return max(3, limit)

    def save_snapshot_limit(self, limit: int) -> None:
        self.settings.setValue("snapshots/per_run", limit)

    # --- folders ------------------------------------------------------------------------------

    def recent(self) -> list[str]:
        try:
            value = json.loads(self.settings.value("recent", "[]", type=str))
            return [str(f) for f in value] if isinstance(value, list) else []
        except (TypeError, ValueError):
            return []

    def remember_folder(self, folder: str) -> list[str]:
        """Put ``folder`` first among the recent ones; returns them."""
        recent = [folder, *(f for f in self.recent() if f != folder)][:MAX_RECENT]
        self.settings.setValue("recent", json.dumps(recent))
        return recent

    def last_folder(self) -> str:
        """Where the person left off: the last folder loaded, if it is still there; else the
        bundled sample."""
        from regui.core.locations import sample_dataset_dir

        recent = self.recent()
        if recent and Path(recent[0]).is_dir():
            return recent[0]
        return str(sample_dataset_dir())

    # --- the window -----------------------------------------------------------------------------

    def restore_window(self, window) -> None:
        """Size, splitters, docks and toolbars as they were."""
        for key, restore in (
            ("geometry", window.restoreGeometry),
            ("split/main", window.main_split.restoreState),
            ("split/right", window.right_split.restoreState),
            ("window/state", window.restoreState),
        ):
            try:
                value = self.settings.value(key)
                if value is not None:
                    restore(value)
            except (TypeError, ValueError):
                pass

    def save_window(self, window) -> None:
        self.settings.setValue("geometry", window.saveGeometry())
        self.settings.setValue("split/main", window.main_split.saveState())
        self.settings.setValue("split/right", window.right_split.saveState())
        self.settings.setValue("window/state", window.saveState())
        self.settings.sync()

    def restore_plot_options(self, plots) -> None:
        for key, name, default in _PLOT_OPTIONS:
            box = getattr(plots, name)
            try:
                box.setChecked(bool(self.settings.value(key, default, type=bool)))
            except (TypeError, ValueError):
                box.setChecked(default)

    def save_plot_options(self, plots) -> None:
        for key, name, _ in _PLOT_OPTIONS:
            self.settings.setValue(key, getattr(plots, name).isChecked())


# Room for what a window manager adds around the window (title bar, borders): not known until
# the window is shown, and the first size must already fit.
_FRAME_WIDTH, _FRAME_HEIGHT = 12, 40


def fit_to_screen(window) -> None:
    """Keep ``window`` within its screen's free area (a laptop's 1366x768 less its panel), also
    when a size saved on a bigger screen was restored."""
    from PySide6.QtGui import QGuiApplication

    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    free = screen.availableGeometry()
    width = min(window.width(), free.width() - _FRAME_WIDTH)
    height = min(window.height(), free.height() - _FRAME_HEIGHT)
    if (width, height) != (window.width(), window.height()):
        least = window.minimumSizeHint()
        window.resize(max(width, least.width()), max(height, least.height()))
    if not free.contains(window.frameGeometry().topLeft()):
        window.move(free.topLeft())
