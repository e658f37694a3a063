"""The settings form: every field of a TrainConfig, with regui's defaults and the lesson's a click away."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from regui.core.config import (
    BATCH_SIZES,
    ENGINE_LABELS,
    LESSON,
    LIMITS,
    LOSS_LABELS,
    MINIBATCH_SCHEDULES,
    PENALTY_LABELS,
    SCALING_LABELS,
    SCHEDULES,
    SKLEARN_LOSS_LABELS,
    TrainConfig,
    batch_label,
    uses_lambda,
)
from regui.gui.widgets import Checked, FoldsBox, LogValueEdit

# Spin boxes take any number of this size, so that one out of range stays as typed, explained
# under the box (Checked) rather than refused key by key.
_ANY_INT = (-(2**31), 2**31 - 1)
_ANY_FLOAT = (-1e9, 1e9)

_SCHEDULE_LABELS = {
    "constant": "constant",
    "optimal": "optimal (from λ)",
    "invscaling": "inverse scaling",
}


def _combo(items: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    for key, label in items.items():
        combo.addItem(label, key)
    return combo


def _select(combo: QComboBox, key) -> None:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)


class ParamsPanel(QWidget):
    changed = Signal()  # any setting
    image_changed = Signal()  # image size or colour: the images must be decoded again

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.penalty = _combo(PENALTY_LABELS)
        self.penalty.setToolTip("R(W): L2 = ½·Σw², L1 = Σ|w|, elastic net mixes both")
        self.alpha = LogValueEdit(*LIMITS["alpha"])
        self.l1_ratio = QDoubleSpinBox()
        self.l1_ratio.setRange(*_ANY_FLOAT)
        self.l1_ratio.setSingleStep(0.05)
        self.l1_ratio.setDecimals(3)
        self.engine = _combo(ENGINE_LABELS)
        self.engine.setToolTip(
            "regui mini-batch: descends exactly the plotted objective, mean softmax cross-entropy or\n"
            "multi-class SVM loss + λ·R(W), one mini-batch per step.\n"
            "scikit-learn SGDClassifier: the lesson's script; one binary model per class (one-vs-rest),\n"
            "one image per step. Its steps do not descend the plotted objective."
        )
        self.batch = QComboBox()
        for size in BATCH_SIZES:
            self.batch.addItem(batch_label(size), size)
        self.batch.setToolTip(
            "Images per step: 1 is per-sample SGD (noisy), full is vanilla gradient descent (one step per epoch)"
        )
        self.loss = _combo(LOSS_LABELS)
        self.epochs = QSpinBox()
        self.epochs.setRange(*_ANY_INT)
        self.eta0 = LogValueEdit(*LIMITS["eta0"])
        self.schedule = _combo({k: _SCHEDULE_LABELS[k] for k in SCHEDULES})
        self.schedule.setToolTip(
            "constant: every step is eta0 (the lesson)\n"
            "optimal: 1/(λ·(t + t0)), ignores eta0\n"
            "inverse scaling: eta0 / t^0.5, t = images seen"
        )
        self.seed = QSpinBox()
        self.seed.setRange(*_ANY_INT)
        self.early_stopping = QCheckBox()
        self.early_stopping.setToolTip(
            "Early stopping: end the run once validation accuracy has not improved for this many epochs;\n"
            "its result is then the epoch chosen on validation, weights and all (an implicit regularizer)"
        )
        self.patience = QSpinBox()
        self.patience.setRange(*_ANY_INT)
        self.patience.setPrefix("patience ")
        self.patience.setSuffix(" epochs")

        self.width_ = QSpinBox()
        self.height_ = QSpinBox()
        for spin in (self.width_, self.height_):
            spin.setRange(*_ANY_INT)
            spin.setSuffix(" px")
        self.color = _combo({True: "colour (3 channels)", False: "grayscale"})
        self.exact_decode = QCheckBox("exact")
        self.exact_decode.setToolTip(
            "Decode large JPEGs in full (slower). Off: a phone-size photo is decoded at reduced scale,\n"
            "at least 20 times the image size on each side: about 3x faster, typically within one grey level of the\n"
            "full decode. Photos smaller than that, and other formats, are always decoded in full."
        )
        self.scaling = _combo(SCALING_LABELS)
        self.scaling.setItemText(self.scaling.findData("raw"), "raw 0-255 (the lesson)")
        self.scaling.setToolTip("Standardized: each pixel centred and scaled with training-part statistics")
        self.test_size = QDoubleSpinBox()
        self.test_size.setRange(*_ANY_FLOAT)
        self.test_size.setSingleStep(0.05)
        self.test_size.setDecimals(3)
        self.split_seed = QSpinBox()
        self.split_seed.setRange(*_ANY_INT)
        self.validation = QDoubleSpinBox()
        self.validation.setRange(*_ANY_FLOAT)
        self.validation.setSingleStep(0.05)
        self.validation.setDecimals(3)
        self.folds = FoldsBox(LIMITS["folds"][1], "off", " folds")
        self.folds.setToolTip(
            "k-fold cross-validation: Run, Compare penalties and Sweep… train each setting once per fold (each\n"
            "fold of the training part in turn held out to choose on), choose on the folds' mean validation\n"
            "accuracy, then train the chosen setting on the whole training part and test it once.\n"
            "Off: hold out the validation fraction above."
        )
        # Each box with its range, and what it means.
        self.checked = {
            "alpha": Checked("alpha", self.alpha),
            "l1_ratio": Checked("l1_ratio", self.l1_ratio, "Elastic net only: 0 is pure L2, 1 is pure L1"),
            "epochs": Checked("epochs", self.epochs, "Passes over the training images"),
            "eta0": Checked("eta0", self.eta0, "Initial step size of SGD (eta0)"),
            "seed": Checked("seed", self.seed, "Model seed: the order SGD visits the samples in"),
            "patience": Checked("patience", self.patience, "Epochs without a better validation accuracy allowed"),
            "width": Checked("width", self.width_),
            "height": Checked("height", self.height_),
            "test_size": Checked("test_size", self.test_size, "The share of the images held out for testing"),
            "validation": Checked(
                "validation",
                self.validation,
                "The share of the training images held out to choose on (the best epoch, the best setting), "
                "so that the test part is looked at only to report; 0 for none (the lesson's two-way split)",
            ),
            "split_seed": Checked("split_seed", self.split_seed, "Seed of the train/test split"),
        }
        self.stratify = QCheckBox("stratified")
        self.stratify.setToolTip("Keep each class's share the same in the training and test parts")

        c = self.checked
        model = QFormLayout()
        model.addRow("Engine", self.engine)
        model.addRow("Penalty", self.penalty)
        model.addRow("λ (lambda)", c["alpha"])
        model.addRow("L1 ratio", c["l1_ratio"])
        model.addRow("Loss", self.loss)
        model.addRow("Epochs", c["epochs"])
        stopping = QHBoxLayout()
        stopping.addWidget(self.early_stopping)
        stopping.addWidget(c["patience"], 1)
        model.addRow("Early stopping", stopping)
        model.addRow("Batch size", self.batch)
        model.addRow("Learning rate", c["eta0"])
        model.addRow("Schedule", self.schedule)
        model.addRow("Seed", c["seed"])
        model_box = QGroupBox("Model")
        model_box.setLayout(model)

        size = QHBoxLayout()
        size.addWidget(c["width"], 1)
        size.addWidget(QLabel("×"), 0, Qt.AlignmentFlag.AlignTop)
        size.addWidget(c["height"], 1)
        data = QFormLayout()
        data.addRow("Image size", size)
        channels = QHBoxLayout()
        channels.addWidget(self.color, 1)
        channels.addWidget(self.exact_decode)
        data.addRow("Channels", channels)
        data.addRow("Pixels", self.scaling)
        data.addRow("Test fraction", c["test_size"])
        data.addRow("Validation", c["validation"])
        data.addRow("Cross-validation", self.folds)
        data.addRow("Split seed", c["split_seed"])
        data.addRow("", self.stratify)
        data_box = QGroupBox("Data")
        data_box.setLayout(data)

        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip(
            "regui's engine on standardized pixels, batch 64, lr 0.01, λ=0.1, 10 epochs: the penalties visibly differ"
        )
        self.defaults_button.clicked.connect(lambda: self.set_config(TrainConfig()))
        self.reset_button = QPushButton("Lesson defaults")
        self.reset_button.setToolTip(
            "The lesson's script: scikit-learn's SGDClassifier on raw pixels, no penalty, λ=1e-4, "
            "10 epochs, constant lr 0.01, seed 12"
        )
        self.reset_button.clicked.connect(lambda: self.set_config(LESSON))
        buttons = QHBoxLayout()
        buttons.addWidget(self.defaults_button)
        buttons.addWidget(self.reset_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(model_box)
        layout.addWidget(data_box)
        layout.addLayout(buttons)

        self._updating = False
        self.engine.currentIndexChanged.connect(self._on_engine)
        for combo in (self.engine, self.batch, self.penalty, self.loss, self.schedule, self.color, self.scaling):
            combo.currentIndexChanged.connect(self._on_change)
        for editor in (self.alpha, self.eta0):
            editor.valueChanged.connect(self._on_change)
        for spin in (
            self.l1_ratio,
            self.epochs,
            self.seed,
            self.patience,
            self.test_size,
            self.validation,
            self.split_seed,
        ):
            spin.valueChanged.connect(self._on_change)
        self.folds.valueChanged.connect(self._on_change)
        self.stratify.toggled.connect(self._on_change)
        self.early_stopping.toggled.connect(self._on_change)
        for widget in (self.width_, self.height_):
            widget.setKeyboardTracking(False)  # decode again once the number is typed, not per digit
            widget.valueChanged.connect(self._on_image_change)
        self.color.currentIndexChanged.connect(self._on_image_change)
        self.exact_decode.toggled.connect(self._on_image_change)
        self.set_config(TrainConfig())

    def config(self) -> TrainConfig:
        return TrainConfig(
            penalty=self.penalty.currentData(),
            alpha=self.alpha.value(),
            l1_ratio=round(self.l1_ratio.value(), 3),
            loss=self.loss.currentData(),
            epochs=self.epochs.value(),
            eta0=self.eta0.value(),
            learning_rate=self.schedule.currentData(),
            seed=self.seed.value(),
            early_stopping=self.early_stopping.isChecked(),
            patience=self.patience.value(),
            engine=self.engine.currentData(),
            batch_size=self.batch.currentData(),
            width=self.width_.value(),
            height=self.height_.value(),
            color=bool(self.color.currentData()),
            exact_decode=self.exact_decode.isChecked(),
            scaling=self.scaling.currentData(),
            test_size=round(self.test_size.value(), 3),
            validation=round(self.validation.value(), 3),
            folds=self.folds.value(),
            split_seed=self.split_seed.value(),
            stratify=self.stratify.isChecked(),
        )

    def set_config(self, config: TrainConfig) -> None:
        image_before = self.config().image
        self._updating = True
        try:
            _select(self.engine, config.engine)
            self._on_engine()
            if not config.sklearn:  # (SGDClassifier's 1 is not a choice: the box keeps regui's size)
                if self.batch.findData(config.batch_size) < 0:  # a size set elsewhere (command line, a stored run)
                    self.batch.addItem(batch_label(config.batch_size), config.batch_size)
                _select(self.batch, config.batch_size)
            _select(self.penalty, config.penalty)
            self.alpha.setValue(config.alpha)
            self.l1_ratio.setValue(config.l1_ratio)
            _select(self.loss, config.loss)
            self.epochs.setValue(config.epochs)
            self.eta0.setValue(config.eta0)
            _select(self.schedule, config.learning_rate)
            self.seed.setValue(config.seed)
            self.early_stopping.setChecked(config.early_stopping)
            self.patience.setValue(config.patience)
            self.width_.setValue(config.width)
            self.height_.setValue(config.height)
            _select(self.color, config.color)
            self.exact_decode.setChecked(config.exact_decode)
            _select(self.scaling, config.scaling)
            self.test_size.setValue(config.test_size)
            self.validation.setValue(config.validation)
            self.folds.setValue(config.folds if config.folds >= 2 else 0)
            self.split_seed.setValue(config.split_seed)
            self.stratify.setChecked(config.stratify)
        finally:
            self._updating = False
        self._update_enabled()
        self.changed.emit()
        if image_before != config.image:
            self.image_changed.emit()

    def _on_engine(self, *_) -> None:
        """Loss names and schedules say what they are with the chosen engine."""
        sklearn = self.engine.currentData() == "sgdclassifier"
        for key, label in (SKLEARN_LOSS_LABELS if sklearn else LOSS_LABELS).items():
            self.loss.setItemText(self.loss.findData(key), label)
        schedule = self.schedule.currentData()
        was = self._updating
        self._updating = True
        try:
            self.schedule.clear()
            for key in SCHEDULES if sklearn else MINIBATCH_SCHEDULES:
                self.schedule.addItem(_SCHEDULE_LABELS[key], key)
            _select(self.schedule, schedule)
        finally:
            self._updating = was

    def _on_change(self, *_) -> None:
        if self._updating:
            return
        self._update_enabled()
        self.changed.emit()

    def _on_image_change(self, *_) -> None:
        # A size out of range is said under its box; the images are decoded again once it is not.
        if not self._updating and not (self.checked["width"].problem() or self.checked["height"].problem()):
            self.image_changed.emit()

    def _update_enabled(self) -> None:
        """Settings that have no effect with the others are greyed out, and say why. Lambda stays
        editable under "none": Compare penalties and Sweep… take it from here."""
        penalty = self.penalty.currentData()
        schedule = self.schedule.currentData()
        self.l1_ratio.setEnabled(penalty == "elasticnet")
        self.checked["alpha"].set_tip(
            "λ (alpha): how strongly the penalty pulls the weights towards 0"
            if uses_lambda(penalty, schedule)
            else "No penalty: λ has no effect on this run (unless the schedule is 'optimal', which derives the "
            "step from it); Compare penalties and Sweep… use it for their penalized runs"
        )
        self.eta0.setEnabled(schedule != "optimal")
        self.patience.setEnabled(self.early_stopping.isChecked())
        self.validation.setEnabled(not self.folds.value())
        sklearn = self.engine.currentData() == "sgdclassifier"
        self.batch.setEnabled(not sklearn)
        self.batch.setToolTip(
            "scikit-learn's SGDClassifier steps once per image: batch size 1"
            if sklearn
            else "Images per step: 1 is per-sample SGD (noisy), full is vanilla gradient descent (one step per epoch)"
        )
