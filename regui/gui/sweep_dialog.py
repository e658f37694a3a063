"""The Sweep dialog: penalties x a log range of lambda x learning rates x batch sizes x repeats."""

from __future__ import annotations

import re

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from regui.core.admission import spec_size
from regui.core.config import (
    ENGINE_LABELS,
    LIMITS,
    PENALTIES,
    PENALTY_LABELS,
    SCALING_LABELS,
    TrainConfig,
    batch_label,
    limit_problem,
    parse_batch,
)
from regui.core.errors import ReguiError
from regui.core.machine import default_workers
from regui.core.sweep import SweepSpec, check_sweep_size, log_space
from regui.gui.widgets import FoldsBox, LogSpinBox

_VARY = {"split": "the split and the model seed", "model": "the model seed only"}


class SweepDialog(QDialog):
    def __init__(self, base: TrainConfig, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.base = base
        self.penalties = {p: QCheckBox(PENALTY_LABELS[p]) for p in PENALTIES}
        for box in self.penalties.values():
            box.setChecked(True)
        self.low = LogSpinBox(*LIMITS["alpha"])
        self.low.setValue(1e-6)
        self.high = LogSpinBox(*LIMITS["alpha"])
        self.high.setValue(1e-1)
        self.points = QSpinBox()
        self.points.setRange(1, 50)
        self.points.setValue(6)
        self.rates = QLineEdit(f"{base.eta0:g}")
        self.rates.setToolTip("One or more learning rates, separated by commas or spaces")
        self.batches = QLineEdit(batch_label(base.batch_size))
        if base.sklearn:
            self.batches.setEnabled(False)
            self.batches.setToolTip("scikit-learn's SGDClassifier steps once per image: choose regui's engine")
        else:
            self.batches.setToolTip("One or more batch sizes, e.g. 1 32 64 full (full: gradient descent)")
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 100)
        self.repeats.setValue(3)
        self.repeats.setToolTip(
            "Each setting runs this many times with seeds seed, seed+1, ...: the spread shows "
            "how much of a difference is noise"
        )
        self.folds = FoldsBox(
            LIMITS["folds"][1], "off: choose on the validation part", "-fold cross-validation", base.folds
        )
        self.folds.setToolTip(
            "Each setting trained once per fold, each fold of the training part in turn held out to choose on;\n"
            "the setting chosen for each penalty is then trained on the whole training part and tested once"
        )
        self.vary = QComboBox()
        for key, label in _VARY.items():
            self.vary.addItem(label, key)
        self.jobs = QSpinBox()
        self.jobs.setRange(1, default_workers())  # more processes than cores only slow each other down
        self.jobs.setValue(default_workers())
        self.jobs.setToolTip(
            f"Runs at once, each in its own worker process (at most one per core: {default_workers()})"
        )
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://host:8786 to use a Dask cluster (optional)")
        self.count = QLabel()
        self.count.setWordWrap(True)

        penalties = QHBoxLayout()
        for box in self.penalties.values():
            penalties.addWidget(box)
        lambdas = QHBoxLayout()
        lambdas.addWidget(self.low)
        lambdas.addWidget(QLabel("to"))
        lambdas.addWidget(self.high)
        lambdas.addWidget(QLabel("in"))
        lambdas.addWidget(self.points)
        lambdas.addWidget(QLabel("log-spaced points"))
        repeats = QHBoxLayout()
        repeats.addWidget(self.repeats)
        repeats.addWidget(QLabel("varying"))
        repeats.addWidget(self.vary, 1)
        form = QFormLayout()
        form.addRow("Penalties", _row(penalties))
        form.addRow("λ (lambda)", _row(lambdas))
        form.addRow("Learning rates", self.rates)
        form.addRow("Batch sizes", self.batches)
        form.addRow("Repeats", _row(repeats))
        form.addRow("Validation", self.folds)
        form.addRow("Runs at once", self.jobs)
        form.addRow("Dask cluster", self.scheduler)
        rest = QLabel(
            f"Everything else as in the main window: {ENGINE_LABELS[base.engine]}, {base.epochs} epochs, "
            f"{base.loss_label()}, "
            f"{base.learning_rate} schedule, {base.width}×{base.height} {'colour' if base.color else 'grayscale'}, "
            f"pixels {SCALING_LABELS[base.scaling]}, test fraction {base.test_size:g}, seeds from {base.seed} "
            f"(split {base.split_seed})."
        )
        rest.setWordWrap(True)
        rest.setStyleSheet("color: #555;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(rest)
        layout.addWidget(self.count)
        layout.addWidget(self.buttons)

        for box in self.penalties.values():
            box.toggled.connect(self._update)
        for widget in (self.low, self.high):
            widget.valueChanged.connect(self._update)
        for widget in (self.points, self.repeats):
            widget.valueChanged.connect(self._update)
        self.folds.valueChanged.connect(self._update)
        self.rates.textChanged.connect(self._update)
        self.batches.textChanged.connect(self._update)
        self.vary.currentIndexChanged.connect(self._update)
        self._update()

    # --- remembered between sweeps (the window keeps it in its settings) -----------------------

    def grid(self) -> dict:
        """The grid as chosen, to offer again next time."""
        return {
            "penalties": [p for p, box in self.penalties.items() if box.isChecked()],
            "low": self.low.value(),
            "high": self.high.value(),
            "points": self.points.value(),
            "rates": self.rates.text(),
            "batches": self.batches.text(),
            "repeats": self.repeats.value(),
            "vary": self.vary.currentData(),
            "jobs": self.jobs.value(),
            "scheduler": self.scheduler.text(),
        }

    def set_grid(self, grid: dict) -> None:
        """Offer a grid chosen before; anything missing or damaged keeps its default."""
        if not isinstance(grid, dict):
            return
        if isinstance(grid.get("penalties"), list):
            for penalty, box in self.penalties.items():
                box.setChecked(penalty in grid["penalties"])
        for key, box in (("low", self.low), ("high", self.high)):
            if isinstance(grid.get(key), (int, float)) and not limit_problem("alpha", grid[key]):
                box.setValue(grid[key])
        for key, box in (("points", self.points), ("repeats", self.repeats), ("jobs", self.jobs)):
            if isinstance(grid.get(key), int):
                box.setValue(grid[key])  # a spin box keeps a value out of its range at its end
        edits = [("rates", self.rates), ("scheduler", self.scheduler)]
        if self.batches.isEnabled():
            edits.append(("batches", self.batches))
        for key, edit in edits:
            if isinstance(grid.get(key), str):
                edit.setText(grid[key])
        index = self.vary.findData(grid.get("vary"))
        if index >= 0:
            self.vary.setCurrentIndex(index)
        self._update()

    def learning_rates(self) -> tuple[float, ...] | None:
        """The rates typed, or None if the text is not a list of positive numbers."""
        try:
            rates = tuple(dict.fromkeys(float(t) for t in re.split(r"[,;\s]+", self.rates.text().strip()) if t))
        except ValueError:
            return None
        return rates if rates and all(r > 0 for r in rates) else None

    def batch_sizes(self) -> tuple[int, ...] | None:
        """The batch sizes typed, or None if the text is not a list of them."""
        try:
            sizes = tuple(dict.fromkeys(parse_batch(t) for t in re.split(r"[,;\s]+", self.batches.text().strip()) if t))
        except ValueError:
            return None
        return sizes or None

    def spec(self) -> SweepSpec | None:
        penalties = tuple(p for p, box in self.penalties.items() if box.isChecked())
        rates = self.learning_rates()
        batches = (self.base.batch_size,) if self.base.sklearn else self.batch_sizes()
        low, high = sorted((self.low.value(), self.high.value()))
        if not penalties or rates is None or batches is None or low <= 0:
            return None
        return SweepSpec(
            self.base,
            penalties=penalties,
            alphas=log_space(low, high, self.points.value()),
            learning_rates=rates,
            batch_sizes=batches,
            repeats=self.repeats.value(),
            vary=self.vary.currentData(),
            cv=self.folds.value(),
        )

    def _update(self) -> None:
        spec = self.spec()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        problem = limit_problem("alpha", self.low.value()) or limit_problem("alpha", self.high.value())
        if problem:
            self.count.setText(problem)
            self.count.setStyleSheet("color: #c62828;")
            ok.setEnabled(False)
            return
        if spec is None:
            self.count.setText(
                "Choose at least one penalty, learning rates as positive numbers (0.01, 0.1) and batch sizes "
                "as whole numbers from 1, or full (1 64 full)."
            )
            self.count.setStyleSheet("color: #c62828;")
            ok.setEnabled(False)
            return
        n = spec_size(spec)
        try:
            check_sweep_size(n, spec.base.epochs)
        except ReguiError as exc:
            self.count.setText(str(exc))
            self.count.setStyleSheet("color: #c62828;")
            ok.setEnabled(False)
            return
        lambdas = ", ".join(f"{a:g}" for a in spec.alphas)
        note = (
            " (without a penalty λ changes nothing, so those run once per learning rate and repeat)"
            if "none" in spec.penalties and len(spec.alphas) > 1
            else ""
        )
        retrain = (
            ", then the setting chosen for each penalty once more on the whole training part (tested once)"
            if spec.cv
            else ""
        )
        self.count.setText(f"<b>{n} runs</b>{note}{retrain}. λ: {lambdas}.")
        self.count.setStyleSheet("")
        ok.setEnabled(n > 0)


def _row(layout) -> QWidget:
    widget = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    widget.setLayout(layout)
    return widget
