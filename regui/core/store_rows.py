"""Stored rows read back defensively, and checked before they are imported.

A store may hold rows this regui did not write itself: imported from a file made elsewhere,
edited by hand, written by another version. One row that does not read as a run must not stop
listing, deleting or exporting the others: it is shown as *damaged* (with the reason) and can be
deleted. Importing checks every run with the same rules and refuses those that fail, by name.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, fields

import numpy as np

from regui.core.config import TrainConfig

DAMAGED = "damaged"  # the status shown for a row that does not read as a run

_TEXT = ("uid", "name", "note", "status", "sweep", "started_at", "regui_version", "sklearn_version", "message")
_WHOLE = ("id", "repeat", "epochs_done")
_NUMBER = ("seconds",)
_NUMBER_OR_NULL = ("test_accuracy", "train_accuracy", "objective", "zero_fraction", "best_test_accuracy")


class RowProblem(ValueError):
    """A stored row that does not read as a run; the message says why."""


def config_from_json(text) -> TrainConfig:
    """The run's settings; RowProblem if they are not JSON or a setting has the wrong type.
    Ranges are not checked: a run stored by an older regui keeps the settings it ran with."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise RowProblem("its settings are not JSON") from None
    if not isinstance(data, dict):
        raise RowProblem("its settings are not a JSON object")
    config = TrainConfig.from_dict(data)
    for field in fields(TrainConfig):
        value, default = getattr(config, field.name), field.default
        if default is MISSING:  # pragma: no cover - every setting has a default
            continue
        if not _same_kind(value, default):
            raise RowProblem(f"its setting {field.name} is {value!r}, not a {type(default).__name__}")
    return config


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, type(default))


def dataset_from_json(text) -> dict:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise RowProblem("its dataset summary is not JSON") from None
    if not isinstance(data, dict):
        raise RowProblem("its dataset summary is not a JSON object")
    return data


def check_run(values: dict, statuses: tuple[str, ...]) -> None:
    """Raise RowProblem if the columns of a runs row (a name -> value dict) are not a run's."""
    for name in _TEXT:
        if name in values and not isinstance(values[name], str):
            raise RowProblem(f"its {name} is not text")
    for name in _WHOLE:
        if name in values and (not isinstance(values[name], int) or values[name] < 0):
            raise RowProblem(f"its {name} is not a whole number")
    for name in _NUMBER + _NUMBER_OR_NULL:
        value = values.get(name)
        if name in values and not (isinstance(value, (int, float)) or (value is None and name in _NUMBER_OR_NULL)):
            raise RowProblem(f"its {name} is not a number")
    if "status" in values and values["status"] not in statuses:
        raise RowProblem(f"its status '{values['status']}' is not one regui knows")


def weights_from_blobs(coef, shape, intercept) -> tuple[np.ndarray, np.ndarray] | None:
    """The final weights (read-only float32 and float64 copies), None if none were kept;
    RowProblem if the blobs do not fit the shape."""
    if coef is None and not shape:
        return None
    try:
        rows, columns = (int(n) for n in str(shape).split("x"))
    except ValueError:
        raise RowProblem(f"its weights' shape '{shape}' is not ROWSxCOLUMNS") from None
    if rows < 1 or columns < 1:
        raise RowProblem(f"its weights' shape '{shape}' is empty")
    if not isinstance(coef, bytes) or len(coef) != rows * columns * 4:
        raise RowProblem(f"its weights do not fill their shape {shape}")
    if not isinstance(intercept, bytes) or len(intercept) != rows * 8:
        raise RowProblem(f"its intercepts do not fit its weights' shape {shape}")
    weights = np.frombuffer(coef, dtype=np.float32).reshape(rows, columns).copy()
    bias = np.frombuffer(intercept, dtype=np.float64).copy()
    weights.setflags(write=False)
    bias.setflags(write=False)
    return weights, bias


def epoch_numbers(rows: list[tuple], columns: tuple[str, ...]) -> list[dict]:
    """Epoch rows (epoch first) as dicts, numbers as floats; a NULL metric (SQLite stores NaN as
    NULL) reads as NaN. RowProblem if a value is not a number or the epochs are not 1, 2, ... n."""
    epochs = []
    for number, row in enumerate(rows, start=1):
        values = dict(zip(columns, row))
        if values["epoch"] != number or not isinstance(values["epoch"], int):
            raise RowProblem(f"its epochs are not numbered 1 to {len(rows)}")
        for name, value in values.items():
            if name == "epoch":
                continue
            if value is None:
                values[name] = math.nan
            elif isinstance(value, (int, float)):
                values[name] = float(value)
            else:
                raise RowProblem(f"its epoch {number} has a {name} that is not a number")
        epochs.append(values)
    return epochs
