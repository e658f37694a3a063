"""The window's actions (with their shortcuts) and its menu bar."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


class WindowActions:
    """Every menu action of ``window``; Run, Compare, Sweep and Stop follow their buttons'
    enabled state (``follow_buttons``)."""

    def __init__(self, window) -> None:
        self.window = window
        act = self._action
        self.open = act("&Open dataset folder…", window.dataset_panel.browse, QKeySequence.StandardKey.Open)
        self.browse_runs = act(
            "Stored &runs…",
            window.open_run_browser,
            "Ctrl+Shift+O",
            "Every run kept in the run store: find, open, annotate, share, delete",
        )
        self.export = act(
            "&Export results…",
            lambda: window.export_results(),
            "Ctrl+E",
            "Save the results table as CSV or Markdown, or every epoch as JSON",
        )
        self.export_plots = act("Export &plots as PNG…", lambda: window.export_plots(), "Ctrl+Shift+E")
        self.quit = act("&Quit", window.close, QKeySequence.StandardKey.Quit)
        self.run = act("&Run", window.start_run, "Ctrl+R")
        self.compare = act("&Compare penalties", window.compare_penalties, "Ctrl+Shift+R")
        self.sweep = act("S&weep…", window.open_sweep_dialog)
        self.stop = act("&Stop", window.stop_runs, "Ctrl+.")
        self.snapshots = act(
            "Weight &snapshots kept per run…",
            window.ask_snapshot_limit,
            tip="How many epochs' weights each run keeps for the views",
        )
        self.about = act("&About regui", self.show_about)

        bar = window.menuBar()
        menu = bar.addMenu("&File")
        menu.addActions([self.open, self.browse_runs])
        menu.addSeparator()
        menu.addActions([self.export, self.export_plots])
        menu.addSeparator()
        menu.addAction(self.quit)
        bar.addMenu("&Run").addActions([self.run, self.compare, self.sweep, self.stop])
        menu = bar.addMenu("&View")
        for dock in window.inspector.docks.values():
            menu.addAction(dock.toggleViewAction())
        menu.addAction(window.inspector.toolbar.toggleViewAction())
        menu.addSeparator()
        menu.addAction(self.snapshots)
        bar.addMenu("&Help").addAction(self.about)
        window.addActions([self.run, self.stop])  # their shortcuts work with the menu bar hidden too
        self._buttons = [
            (window.run_button, self.run),
            (window.compare_button, self.compare),
            (window.sweep_button, self.sweep),
            (window.stop_button, self.stop),
        ]

    def _action(self, text: str, slot, shortcut=None, tip: str | None = None) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        return action

    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from regui import __version__

        QMessageBox.about(
            self.window,
            "About regui",
            f"<b>regui {__version__}</b><p>Watch regularization shape a linear image classifier: "
            "scikit-learn's SGDClassifier, one epoch at a time.</p>",
        )

    def follow_buttons(self) -> None:
        for button, action in self._buttons:
            action.setEnabled(button.isEnabled())
