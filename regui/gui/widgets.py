"""Small reusable widgets."""

from __future__ import annotations

import bisect
import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget
from superqt import QFlowLayout


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
    """A spin box for values spanning decades: shows 1e-05 / 0.0003, steps 1-2-5 per decade
    between ``low`` and ``high``, and takes any typed number (scientific notation too). A number
    outside ``low``-``high`` stays as typed, for the form to explain (see Checked): reverting
    it silently left people guessing why 50 became 0.01."""

    def __init__(self, low: float, high: float, parent=None) -> None:
        super().__init__(parent)
        self.setDecimals(323)  # Qt's most: no typed value is rounded (1e-20 stays 1e-20, not 0)
        self.setRange(-1e300, 1e300)
        self._grid = _nice_grid(low, high)
        self.setKeyboardTracking(False)
        # Wide enough for "0.00012345" and "1.5e-07": a cut-off "1.5e-0" reads as 1.5.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.000123456") + 30)

    def textFromValue(self, value: float) -> str:
        from regui.core.formatting import short_number

        return short_number(value)  # as a person writes it: 1e-5, 0.0003, 1e9

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
        if math.isfinite(value) and abs(value) <= 1e300:
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = min(max(self.value(), self._grid[0]), self._grid[-1])  # from outside: back to the range
        if steps > 0:
            index = bisect.bisect_right(self._grid, value * (1 + 1e-9)) - 1 + steps
        else:
            index = bisect.bisect_left(self._grid, value * (1 - 1e-9)) + steps
        index = max(0, min(len(self._grid) - 1, index))
        self.setValue(self._grid[index])


class FoldsBox(QSpinBox):
    """The folds of k-fold cross-validation: off (0), or 2 up to ``most``. One fold would be no
    cross-validation, so the arrows step over it, and a typed 1 becomes 2."""

    def __init__(self, most: int, off_text: str, suffix: str, folds: int = 0, parent=None) -> None:
        super().__init__(parent)
        self.setRange(0, most)
        self.setSpecialValueText(off_text)
        self.setSuffix(suffix)
        self.setValue(folds if folds >= 2 else 0)
        self.editingFinished.connect(lambda: self.setValue(2) if self.value() == 1 else None)

    def stepBy(self, steps: int) -> None:
        if self.value() + steps == 1:
            steps += 1 if steps > 0 else -1
        super().stepBy(steps)


class LogValueEdit(QWidget):
    """A log-scale slider next to a LogSpinBox; both edit one value (the slider stays at its
    end for a value typed beyond the range)."""

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
        if value > 0:
            self.slider.setValue(round(math.log10(value) * self._TICKS_PER_DECADE))
        else:
            self.slider.setValue(self.slider.minimum())
        self.slider.blockSignals(False)
        self.valueChanged.emit(value)

    def _from_slider(self, position: int) -> None:
        value = 10 ** (position / self._TICKS_PER_DECADE)
        self.spin.setValue(float(f"{value:.2g}"))  # two significant digits: 0.0002, not 0.000199526


class Checked(QWidget):
    """A settings box with the range it accepts, from ``regui.core.config.LIMITS`` (the command
    line uses the same): any value can be typed and stays as typed; one outside the range is
    said under the box, and in its tooltip, until it is corrected."""

    def __init__(self, name: str, editor: QWidget, tip: str = "", parent=None) -> None:
        from PySide6.QtWidgets import QLabel, QVBoxLayout

        from regui.core.config import limit_text

        super().__init__(parent)
        self.name, self.editor = name, editor
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c62828;")
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        layout.addWidget(self.message)
        self.tip = (tip + "\n" if tip else "") + f"Allowed: {limit_text(name)}."
        editor.valueChanged.connect(self.check)
        self.check()

    def set_tip(self, tip: str) -> None:
        from regui.core.config import limit_text

        self.tip = (tip + "\n" if tip else "") + f"Allowed: {limit_text(self.name)}."
        self.check()

    def problem(self) -> str:
        from regui.core.config import limit_problem

        return limit_problem(self.name, self.editor.value())

    def check(self, *_) -> None:
        problem = self.problem()
        self.message.setText(problem)
        self.message.setVisible(bool(problem))
        self.editor.setToolTip(self.tip + (f"\n{problem}" if problem else ""))


class WrappingRow(QWidget):
    """Controls side by side that wrap onto another line when the row is narrow (a laptop's
    screen, a narrow dock), instead of making the whole window wider. A label and its box,
    added together, stay together."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.flow = QFlowLayout(self)
        self.flow.setContentsMargins(0, 0, 0, 0)

    def add(self, *widgets: QWidget) -> None:
        if len(widgets) == 1:
            self.flow.addWidget(widgets[0])
            return
        group = QWidget()
        row = QHBoxLayout(group)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        for widget in widgets:
            row.addWidget(widget)
        self.flow.addWidget(group)


class NoticeBar(QWidget):
    """A message that stays until dismissed (a run diverged, the store failed): the status bar
    forgets after a few seconds, and these need reading."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("background: #fdecea; color: #8e1b13; padding: 4px 6px; border-radius: 3px;")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(dismiss)
        self.hide()

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.show()


def dropped_folder(event) -> str | None:
    """The first local folder in a drag-and-drop event, or None."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    for url in urls:
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return url.toLocalFile()
    return None
