"""Starting the desktop app."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def run_app(folder: str | Path | None = None) -> int:
    """Open the main window on ``folder`` (default: the bundled sample) and run until it closes."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from regui.core.locations import resources_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("regui")
    app.setApplicationName("regui")
    icon = resources_dir() / "regui.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))

    from regui.gui.main_window import MainWindow

    # No folder named: the one loaded last time, if it is still there (else the bundled sample).
    window = MainWindow(initial_folder=folder, reopen_last=folder is None, warm_workers=True)
    _report_unexpected_errors(window)
    window.show()
    if os.environ.get("REGUI_EXIT_WHEN_SHOWN"):  # for the start-up benchmark and a smoke test

        def shown() -> None:
            print(f"regui: window shown at {time.time():.6f}", flush=True)
            window.close()

        QTimer.singleShot(0, shown)
    code = app.exec()
    dispose(window)
    return code


def dispose(window) -> None:
    """Destroy the window now, while Python is still whole.

    Left to interpreter exit (its reference cycles keep it alive, and gc.freeze() never collects
    them), Qt would tear down pyqtgraph's items during finalization, they would call back into a
    half-gone Python, and the process would end with a segmentation fault.
    """
    import shiboken6

    if shiboken6.isValid(window):
        shiboken6.delete(window)


def _report_unexpected_errors(window) -> None:
    """An exception escaping a slot would only reach stderr, which a desktop user never sees:
    show it in the window too (and keep the traceback on stderr for a bug report)."""
    import traceback

    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        traceback.print_exception(kind, value, tb)
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        try:
            window.show_notice(
                f"Unexpected error: {kind.__name__}: {value}. The app carries on; details are on the terminal."
            )
        except Exception:  # noqa: BLE001 - the window may be gone already
            pass

    sys.excepthook = hook
