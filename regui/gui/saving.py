"""Saving a file from the app: ask where, write, and say what went wrong without raising."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from regui.core import export
from regui.core.errors import ReguiError


def ask_save_path(parent, title: str, default_name: str, filters: dict[str, str]) -> str | None:
    """A save dialog over ``filters`` ("CSV table (*.csv)" -> ".csv"); a name typed without a
    suffix gets the chosen filter's. None if cancelled."""
    path, chosen = QFileDialog.getSaveFileName(parent, title, default_name, ";;".join(filters))
    if not path:
        return None
    if not Path(path).suffix:
        path += filters.get(chosen, next(iter(filters.values())))
    return path


def write_reporting(path: str, write: Callable[[], None], report: Callable[[str], None], what: str) -> bool:
    """Check ``path`` can be written, then ``write()``; any problem goes to ``report`` (the app
    carries on, nothing it holds is lost). True if written."""
    try:
        export.check_writable(path)
        write()
    except ReguiError as exc:
        report(str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, say so
        report(f"Could not save {what} to {path}: {type(exc).__name__}: {exc}")
        return False
    return True


def show_save_failure(parent, message: str) -> None:
    """Say why a file could not be saved, without blocking: the app (and any training) carries on."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Export failed",
        f"{message}\n\nNothing was lost: the runs are still here; choose another place.",
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # not exec()
