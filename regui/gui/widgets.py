"""Small reusable widgets."""

from __future__ import annotations

import bisect
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget


def _nice_grid(low: float, high: float) -> list[float]:
    """1-2-5 steps per decade between low and high: 1e-4, 2e-4, 5e-4, 1e-3, ..."""
    values = []
    for decade in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            v = float(f"{mantissa}e{decade}")
            if low <= v <= high:
                values.append(v)
    return values


class LogSpinBox(QDoubleSpinBox):
    """A spin box for values spanning decades: shows 1e-05 / 0.0003, steps 1-2-5 per decade,
    and accepts any typed number (scientific notation too) within range."""

    def __init__(self, low: float, high: float, parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(15)  # the spin box rounds values to this many decimals
        self.setRange(low, high)
        self._grid = _nice_grid(low, high)
        self.setKeyboardTracking(False)
        # Wide enough for "0.00012345" and "1.5e-07": a cut-off "1.5e-0" reads as 1.5.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.000123456") + 30)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            # Part of a number being typed ("1e-", "0.") is fine; anything else is not.
            partial = stripped == "" or all(c in "0123456789.eE+-" for c in stripped)
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if steps > 0:
            index = bisect.bisect_right(self._grid, value * (1 + 1e-9)) - 1 + steps
        else:
            index = bisect.bisect_left(self._grid, value * (1 - 1e-9)) + steps
        index = max(0, min(len(self._grid) - 1, index))
        self.setValue(self._grid[index])


class LogValueEdit(QWidget):
    """A log-scale slider next to a LogSpinBox; both edit one value."""

    valueChanged = Signal(float)

    _TICKS_PER_DECADE = 10

    def __init__(self, low: float, high: float, parent=None) -> None:
        super().__init__(parent)
        self.spin = LogSpinBox(low, high)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        t = self._TICKS_PER_DECADE
        self.slider.setRange(round(math.log10(low) * t), round(math.log10(high) * t))
        self.slider.setPageStep(t)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.spin.valueChanged.connect(self._from_spin)
        self.slider.valueChanged.connect(self._from_slider)
        self._from_spin(self.spin.value())

    def value(self) -> float:
        return self.spin.value()

    def setValue(self, value: float) -> None:
        self.spin.setValue(value)

    def _from_spin(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(math.log10(value) * self._TICKS_PER_DECADE))
        self.slider.blockSignals(False)
        self.valueChanged.emit(value)

    def _from_slider(self, position: int) -> None:
        value = 10 ** (position / self._TICKS_PER_DECADE)
        self.spin.setValue(float(f"{value:.2g}"))  # two significant digits: 0.0002, not 0.000199526
