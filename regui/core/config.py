"""TrainConfig: every setting of one training run, with the lesson's values as defaults.

Plain values only (no numpy, OpenCV or scikit-learn), so any front end can import it cheaply.
It runs a little over 400 lines: every setting, its range and its check are kept in this one
module, so that a new setting is added in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from regui.core.errors import ConfigError
from regui.core.formatting import short_number

# Two engines train the same linear model. regui's own descends exactly the lesson's objective
# (softmax cross-entropy or the multi-class SVM loss, plus lambda R(W)) by mini-batch SGD; the
# lesson's script used scikit-learn's SGDClassifier, which trains one binary model per class
# (one-vs-rest), one image at a time.
ENGINES = ("minibatch", "sgdclassifier")
ENGINE_LABELS = {
    "minibatch": "regui mini-batch (softmax / multi-class SVM)",
    "sgdclassifier": "scikit-learn SGDClassifier (one-vs-rest)",
}
FULL_BATCH = 0  # batch_size for "every training image": vanilla gradient descent
BATCH_SIZES = (1, 8, 16, 32, 64, 128, 256, FULL_BATCH)  # the lesson's range, offered in the app
MAX_BATCH = 1_000_000
LOSSES = ("log_loss", "hinge")
# What each loss is, per engine: the same names, different objectives.
LOSS_LABELS = {"log_loss": "cross-entropy (softmax)", "hinge": "multi-class SVM (hinge)"}
SKLEARN_LOSS_LABELS = {"log_loss": "log loss (one-vs-rest logistic)", "hinge": "hinge (one-vs-rest linear SVM)"}
# Said wherever SGDClassifier's runs are shown with the lesson's objective.
SKLEARN_NOTE = (
    "scikit-learn's SGDClassifier trains one binary model per class (one-vs-rest): the loss shown is the "
    "lesson's multi-class objective measured on its weights, not what its steps descend (regui's engine "
    "descends exactly that)."
)
PENALTIES = ("none", "l1", "l2", "elasticnet")
PENALTY_LABELS = {"none": "none", "l1": "L1", "l2": "L2", "elasticnet": "elastic net"}
# 'adaptive' is left out on purpose: under partial_fit (one call per epoch) it never adapts.
SCHEDULES = ("constant", "optimal", "invscaling")
# 'optimal' is scikit-learn's own (its step is derived from lambda and a heuristic start).
MINIBATCH_SCHEDULES = ("constant", "invscaling")
SCALINGS = ("raw", "unit", "standard")
SCALING_LABELS = {"raw": "raw 0-255", "unit": "[0, 1]", "standard": "standardized"}
# The largest seed every front end can hold (Qt's spin boxes are 32-bit signed).
MAX_SEED = 2**31 - 1

# The values every front end accepts, low and high included: the app's boxes and sliders span
# these, and TrainConfig.validate (behind the command line, sweeps and the app alike) refuses
# anything outside with the same words. Lambda and the learning rate span many decades on a log
# scale (so not 0); a learning rate past 1e4 changes nothing a linear model learns that 1e4
# does not (its scores only scale up), and lambda up to 1e4 leaves room for tiny learning rates.
LIMITS: dict[str, tuple[float, float]] = {
    "alpha": (1e-7, 1e4),
    "eta0": (1e-6, 1e4),
    "l1_ratio": (0.0, 1.0),
    "epochs": (1, 100_000),
    "test_size": (0.01, 0.99),
    "validation": (0.0, 0.9),
    "folds": (0, 20),
    "patience": (1, 10_000),
    "seed": (0, MAX_SEED),
    "split_seed": (0, MAX_SEED),
    "width": (1, 1024),
    "height": (1, 1024),
}
# How a setting is called in messages.
SETTING_NAMES = {
    "alpha": "lambda (alpha)",
    "eta0": "the learning rate",
    "l1_ratio": "the L1 ratio",
    "epochs": "epochs",
    "test_size": "the test fraction",
    "validation": "the validation fraction",
    "folds": "the number of folds",
    "patience": "the patience",
    "seed": "the seed",
    "split_seed": "the split seed",
    "width": "the image width",
    "height": "the image height",
}


def limit_problem(name: str, value) -> str:
    """Why ``value`` is not a value of setting ``name`` ("" if it is): the range in words."""
    low, high = LIMITS[name]
    whole = isinstance(low, int) and isinstance(high, int)
    if (_is_int(value) if whole else _is_number(value)) and math.isfinite(value) and low <= value <= high:
        return ""  # (the common case first: a sweep checks thousands of values as it starts)
    what = SETTING_NAMES[name][0].upper() + SETTING_NAMES[name][1:]
    if whole and not _is_int(value):
        return f"{what} must be a whole number from {low:,} to {high:,} (got {value!r})."
    if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:
        shown = short_number(value) if _is_number(value) else repr(value)
        return f"{what} must be from {limit_text(name)} (got {shown})."
    return ""


def limit_text(name: str) -> str:
    """The range of setting ``name`` in words: "1e-7 to 1e4", "1 to 100,000"."""
    low, high = LIMITS[name]
    if isinstance(low, int) and isinstance(high, int):
        return f"{low:,} to {high:,}"
    return f"{short_number(low)} to {short_number(high)}"


@dataclass(frozen=True)
class ImageSettings:
    """How each file becomes a feature vector: size, colour, large JPEGs in full or reduced
    (``reduced_decode``). Part of the cache key."""

    width: int = 32
    height: int = 32
    color: bool = True
    exact_decode: bool = False

    @property
    def channels(self) -> int:
        return 3 if self.color else 1

    @property
    def n_features(self) -> int:
        return self.width * self.height * self.channels

    def text(self) -> str:
        """How images are decoded, in words: 32×32, or 32×32 grayscale, exact decoding."""
        return f"{self.width}×{self.height}{'' if self.color else ' grayscale'}{', exact decoding' * self.exact_decode}"

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape one flattened row reshapes back to (H, W, C) or (H, W)."""
        return (self.height, self.width, 3) if self.color else (self.height, self.width)

    def validate(self) -> None:
        for name in ("color", "exact_decode"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false (got {getattr(self, name)!r}).")
        for name in ("width", "height"):
            problem = limit_problem(name, getattr(self, name))
            if problem:
                raise ConfigError(problem)


@dataclass(frozen=True)
class SplitSettings:
    """How the loaded images become train, validation and test arrays.

    The test part is held out first (``test_size`` of the images); the validation part is then
    carved from what remains (``validation`` of it; 0 for the lesson's two-way split, in which
    case nothing is chosen). Choices (the best epoch, the best setting) read validation only.
    """

    test_size: float = 0.25
    split_seed: int = 42
    stratify: bool = True
    scaling: str = "raw"
    validation: float = 0.0
    # k-fold cross-validation: with folds >= 2 the validation part is fold ``fold`` of the training
    # part cut into ``folds`` (stratified, seeded), instead of a ``validation`` fraction.
    folds: int = 0
    fold: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """One run. The defaults are regui's engine on standardized pixels, batch 64, learning rate
    0.01, lambda 0.1 and 10 epochs: measured on the Animals photos (3 splits), L1 then sets about
    half the weights to exactly 0 and L2 shrinks the weight norm by about an eighth, while no
    penalty scores 58% (the lesson's script: 52-57%). ``LESSON`` holds the script's settings.
    Both: 32x32 colour images, a 25% test split with seed 42, model seed 12."""

    penalty: str = "none"
    alpha: float = 0.1
    l1_ratio: float = 0.15
    loss: str = "log_loss"
    epochs: int = 10
    eta0: float = 0.01
    learning_rate: str = "constant"
    seed: int = 12
    engine: str = "minibatch"
    batch_size: int = 64  # FULL_BATCH for all; the scikit-learn engine always steps per image
    width: int = 32
    height: int = 32
    color: bool = True
    exact_decode: bool = False  # large JPEGs in full (not at reduced scale): ImageSettings
    scaling: str = "standard"
    test_size: float = 0.25
    split_seed: int = 42
    stratify: bool = True
    validation: float = 0.2  # of the training part, held out to choose on; 0: none (the lesson)
    folds: int = 0  # k-fold: the validation part is fold ``fold`` of ``folds`` (sweeps, --cv)
    fold: int = 0
    # Early stopping: end the run once validation accuracy has not improved for ``patience``
    # epochs; its result is then the epoch chosen on validation (its weights restored).
    early_stopping: bool = False
    patience: int = 5

    def __post_init__(self) -> None:
        # scikit-learn's engine steps once per image, whatever was asked: its runs say batch 1.
        if self.engine == "sgdclassifier" and self.batch_size != 1:
            object.__setattr__(self, "batch_size", 1)

    @property
    def image(self) -> ImageSettings:
        return ImageSettings(width=self.width, height=self.height, color=self.color, exact_decode=self.exact_decode)

    @property
    def split(self) -> SplitSettings:
        return SplitSettings(
            test_size=self.test_size,
            split_seed=self.split_seed,
            stratify=self.stratify,
            scaling=self.scaling,
            validation=self.validation,
            folds=self.folds,
            fold=self.fold,
        )

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """The settings in ``data``; a setting it lacks takes its default."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_saved(cls, data: dict) -> TrainConfig:
        """Settings written by some regui (a stored run, the app's last settings): those written
        before regui had its own engine name none, and were scikit-learn's, one image per step."""
        if data and "engine" not in data:
            data = {**OLDER_DEFAULTS, **data}
        elif data and "validation" not in data:  # written before the validation part: none
            data = {"validation": 0.0, **data}
        return cls.from_dict(data)

    @property
    def sklearn(self) -> bool:
        """Whether scikit-learn's SGDClassifier trains this run (not regui's engine)."""
        return self.engine == "sgdclassifier"

    @property
    def batch_text(self) -> str:
        """The batch size in words: "64", "full" (or "1" for scikit-learn's engine)."""
        if self.sklearn:
            return "1"
        return batch_label(self.batch_size)

    def loss_label(self) -> str:
        return (SKLEARN_LOSS_LABELS if self.sklearn else LOSS_LABELS)[self.loss]

    def describe(self, lam: str = "λ", loss: bool = True) -> str:
        """A short label such as "L2 λ=0.001 lr=0.01 batch 64" or "L2 λ=0.0001 lr=0.01 SGDClassifier";
        the loss and pixels only when not the engine's usual (cross-entropy; standardized or raw)."""
        parts = [PENALTY_LABELS.get(self.penalty, self.penalty)]
        if self.penalty != "none":
            parts.append(f"{lam}={self.alpha:g}")
        if self.penalty == "elasticnet":
            parts.append(f"r={self.l1_ratio:g}")
        parts.append(f"lr={self.eta0:g}")
        if self.sklearn:
            parts.append("SGDClassifier")
        else:
            parts.append(f"batch {self.batch_text}")
        if loss and self.loss != "log_loss":
            parts.append("SVM" if not self.sklearn else self.loss)
        if self.scaling != ("raw" if self.sklearn else "standard"):
            parts.append(f"pixels {SCALING_LABELS[self.scaling]}")
        return " ".join(parts)

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is out of range or does not combine."""
        choice("engine", self.engine, ENGINES)
        choice("penalty", self.penalty, PENALTIES)
        choice("loss", self.loss, LOSSES)
        if not self.sklearn and self.learning_rate in SCHEDULES and self.learning_rate not in MINIBATCH_SCHEDULES:
            raise ConfigError(
                f"The '{self.learning_rate}' learning-rate schedule is scikit-learn's SGDClassifier's: choose "
                f"that engine, or one of regui's: {', '.join(MINIBATCH_SCHEDULES)}."
            )
        choice("learning-rate schedule", self.learning_rate, SCHEDULES)
        problem = batch_problem(self.batch_size)
        if problem:
            raise ConfigError(problem)
        choice("pixel scaling", self.scaling, SCALINGS)
        for name in ("alpha", "l1_ratio", "eta0", "test_size", "validation"):
            if not _is_number(getattr(self, name)):
                raise ConfigError(f"{name} must be a number (got {getattr(self, name)!r}).")
        for name in ("color", "exact_decode", "stratify", "early_stopping"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false (got {getattr(self, name)!r}).")
        for name in (
            "alpha",
            "eta0",
            "l1_ratio",
            "epochs",
            "test_size",
            "validation",
            "patience",
            "seed",
            "split_seed",
        ):
            problem = limit_problem(name, getattr(self, name))
            if problem:
                raise ConfigError(problem)
        # scikit-learn's L2 step multiplies the weights by max(0, 1 - lr * lambda * (1 - r)): at 1
        # or more they are zeroed before every sample, and with a constant rate nothing is learnt.
        problem = limit_problem("folds", self.folds)
        if problem:
            raise ConfigError(problem)
        if self.folds == 1 or not (_is_int(self.fold) and (0 <= self.fold < max(self.folds, 1))):
            raise ConfigError(
                f"Cross-validation needs at least 2 folds, and a fold from 0 to folds - 1 (got fold {self.fold!r} of "
                f"{self.folds})."
            )
        if self.early_stopping and self.validation == 0 and self.folds == 0:
            raise ConfigError(
                "Early stopping watches the validation part: set a validation fraction above 0 (or turn it off)."
            )
        shrink = self.eta0 * self.alpha * {"l2": 1.0, "elasticnet": 1.0 - self.l1_ratio}.get(self.penalty, 0.0)
        if not self.sklearn and self.learning_rate == "constant" and shrink >= 2:
            # Each step multiplies W by 1 - lr x lambda_L2, at or below -1: the weights flip sign
            # and grow (or never settle) whatever the data says.
            raise ConfigError(
                f"Learning rate x lambda{' x (1 - L1 ratio)' if self.penalty == 'elasticnet' else ''} is "
                f"{shrink:g}: at 2 or more every step multiplies the weights by {1 - shrink:g} before the data "
                "moves them, so they flip sign and grow without end. Lower the learning rate or lambda."
            )
        if self.sklearn and self.learning_rate == "constant" and shrink >= 1:
            raise ConfigError(
                f"Learning rate x lambda{' x (1 - L1 ratio)' if self.penalty == 'elasticnet' else ''} is "
                f"{shrink:g}: at 1 or more every L2 step shrinks the weights past 0, so scikit-learn resets them "
                "to 0 before every sample and the model keeps only the last sample's step: it learns nothing. "
                "Lower the learning rate or lambda."
            )
        self.image.validate()


# The lesson script's settings ("Lesson defaults" in the app): scikit-learn's engine, raw pixels,
# lambda 1e-4, constant learning rate 0.01, 10 epochs.
LESSON = TrainConfig(
    engine="sgdclassifier", scaling="raw", alpha=1e-4, eta0=0.01, epochs=10, learning_rate="constant", validation=0.0
)
# What a setting missing from a run written before the engine choice was: the lesson's values
# then were the defaults, and there was no validation part.
OLDER_DEFAULTS = {"engine": "sgdclassifier", "scaling": "raw", "alpha": 1e-4, "batch_size": 1, "validation": 0.0}


def batch_problem(value) -> str:
    """Why ``value`` is not a batch size ("" if it is): a whole number from 1, or FULL_BATCH."""
    if _is_int(value) and FULL_BATCH <= value <= MAX_BATCH:
        return ""
    return f"The batch size must be a whole number from 1 to {MAX_BATCH:,}, or 'full' (got {value!r})."


def parse_batch(text: str) -> int:
    """A batch size from a command line or a box: "64", or "full" (ValueError if neither)."""
    if text.strip().lower() == "full":
        return FULL_BATCH
    value = int(text)
    if batch_problem(value) or value == FULL_BATCH:
        raise ValueError(text)
    return value


def batch_column(engine: str, batch_text: str, short: bool = False) -> str:
    """What a Batch column shows: the size ("64", "full"), or for SGDClassifier's runs (one image
    per step, whatever was asked) the engine's name, "sgd" where the column is narrow."""
    if engine == "sgdclassifier":
        return "sgd" if short else "SGDClassifier"
    return batch_text


def batch_label(size: int) -> str:
    """A batch size as typed and read back (no thousands separator: "1024", "full")."""
    return "full" if size == FULL_BATCH else str(size)


def uses_lambda(penalty: str, schedule: str) -> bool:
    """Whether lambda changes a run: it weighs the penalty, and the 'optimal' schedule derives its
    step from it. A run without a penalty on another schedule is the same for every lambda."""
    return penalty != "none" or schedule == "optimal"


def run_label(run_id: int, config: TrainConfig) -> str:
    """How a run is named in tables, legends and files: "#3 L2 λ=0.0001 lr=0.01"."""
    return f"#{run_id} {config.describe()}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ConfigError unless ``value`` is one of ``allowed``, naming them."""
    if value not in allowed:
        raise ConfigError(f"Unknown {what} '{value}'; choose one of: {', '.join(allowed)}.")
