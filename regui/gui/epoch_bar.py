"""The epoch scrubber: every inspection view shows the epoch chosen here, or follows the newest."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget


class EpochBar(QWidget):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimumWidth(200)
        self.spin = QSpinBox()
        self.spin.setPrefix("epoch ")
        self.total = QLabel()
        self.latest = QCheckBox("Newest")
        self.latest.setToolTip("Follow each run's newest epoch as it trains; untick (or drag) to look back")
        self.latest.setChecked(True)
        self.what = QLabel()
        self.what.setStyleSheet("color: #555;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(QLabel("Inspect:"))
        layout.addWidget(self.what)
        layout.addSpacing(12)
        layout.addWidget(self.slider, 1)
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
