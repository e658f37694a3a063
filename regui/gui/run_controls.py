"""The left column: the dataset and the settings (scrolling), with Run, Stop, Compare
penalties and Sweep… kept in view below them, and a line saying whether a run can start."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from regui.core.splits import part_sizes
from regui.gui.dataset_panel import DatasetPanel
from regui.gui.params_panel import ParamsPanel

COMPARE_TIP = "Run none, L1, L2 and elastic net with these settings side by side"


class RunControls(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.dataset_panel = DatasetPanel()
        self.params = ParamsPanel()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Train with these settings (Ctrl+R)")
        self.run_button.setDefault(True)
        self.compare_button = QPushButton("Compare penalties")
        self.compare_button.setToolTip(COMPARE_TIP)
        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip("Penalties x a range of λ x learning rates x repeats, in parallel")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the selected running runs, or all of them, after their current epoch (Ctrl+.)"
        )
        self.ready = QLabel()
        self.ready.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.stop_button)
        more = QHBoxLayout()
        more.addWidget(self.compare_button, 1)
        more.addWidget(self.sweep_button, 1)
        form = QWidget()
        form_layout = QVBoxLayout(form)
        form_layout.addWidget(self.dataset_panel)
        form_layout.addWidget(self.params)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Never narrower than the form needs: with no horizontal scroll bar it would be cut off.
        scroll.setMinimumWidth(form.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addLayout(more)
        layout.addWidget(self.ready)

    def show_state(self, problem: str | None, dataset, sweeping: bool, busy: bool) -> None:
        """Which buttons can be pressed, and the line under them: ready (the split's sizes), or
        why not (``problem``). One sweep at a time: they would share the cores anyway."""
        config = self.params.config()
        # A cross-validated Run is a sweep of its folds: one sweep at a time, as for the others.
        self.run_button.setEnabled(problem is None and not (sweeping and config.folds))
        self.run_button.setToolTip(
            "Train these settings once per fold, then on the whole training part (Ctrl+R)"
            if config.folds
            else "Train with these settings (Ctrl+R)"
        )
        for button in (self.compare_button, self.sweep_button):
            button.setEnabled(problem is None and not sweeping)
        self.compare_button.setToolTip("A sweep is running: wait for it, or stop it" if sweeping else COMPARE_TIP)
        self.stop_button.setEnabled(busy)
        if problem is None:
            if config.folds:
                n_train, _, n_test = part_sizes(dataset.n_images, config.test_size, 0.0)
                self.ready.setText(
                    f"Ready: {config.folds}-fold cross-validation of {n_train:,} training images; "
                    f"{n_test:,} test images."
                )
            else:
                n_train, n_val, n_test = part_sizes(dataset.n_images, config.test_size, config.validation)
                val = f", {n_val:,} validation" if n_val else ""
                self.ready.setText(f"Ready: {n_train:,} training{val} and {n_test:,} test images.")
            self.ready.setStyleSheet("color: #2e7d32;")
        else:
            self.ready.setText(problem)
            self.ready.setStyleSheet("color: #666;" if dataset is None or "Loading" in problem else "color: #c62828;")
