"""The epoch scrubber: every inspection view shows the epoch chosen here, or follows the newest."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QWidget
from superqt import QElidingLabel


class EpochBar(QWidget):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimumWidth(120)
        self.spin = QSpinBox()
        self.spin.setPrefix("epoch ")
        self.total = QLabel()
        self.latest = QCheckBox("Newest")
        self.latest.setToolTip("Follow each run's newest epoch as it trains; untick (or drag) to look back")
        self.latest.setChecked(True)
        # Which runs are shown: a long list is cut short ("…") and shown whole in its tooltip,
        # so it never widens the window.
        self.what = QElidingLabel()
        self.what.setStyleSheet("color: #555;")
        self.what.setMinimumWidth(60)
        self.what.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(QLabel("Inspect:"))
        layout.addWidget(self.what, 2)
        layout.addSpacing(12)
        layout.addWidget(self.slider, 3)
        layout.addWidget(self.spin)
        layout.addWidget(self.total)
        layout.addWidget(self.latest)
        self.slider.valueChanged.connect(self._moved)
        self.spin.valueChanged.connect(self._moved)
        self.latest.toggled.connect(self._latest_toggled)
        self.set_range(0)

    def epoch(self) -> int | None:
        """The epoch chosen, or None for each run's newest."""
        return None if self.latest.isChecked() else self.slider.value()

    def set_range(self, epochs: int) -> None:
        """The longest run shown has ``epochs`` epochs."""
        top = max(1, epochs)
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
            widget.setRange(1, top)
            widget.blockSignals(False)
        self.total.setText(f"of {epochs}")
        self.setEnabled(epochs > 0)
        if self.latest.isChecked():
            self._set_value(top)

    def set_description(self, text: str) -> None:
        self.what.setText(text)
        self.what.setToolTip(text)

    def _set_value(self, value: int) -> None:
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)

    def _moved(self, value: int) -> None:
        self._set_value(value)
        self.latest.blockSignals(True)
        self.latest.setChecked(value >= self.slider.maximum() and self.latest.isChecked())
        self.latest.blockSignals(False)
        self.changed.emit()

    def _latest_toggled(self, on: bool) -> None:
        if on:
            self._set_value(self.slider.maximum())
        self.changed.emit()
