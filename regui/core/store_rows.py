"""Stored rows read back defensively, and checked before they are imported.

A store may hold rows this regui did not write itself: imported from a file made elsewhere,
edited by hand, written by another version. One row that does not read as a run must not stop
listing, deleting or exporting the others: it is shown as *damaged* (with the reason) and can be
deleted. Importing checks every run with the same rules and refuses those that fail, by name.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import MISSING, dataclass, fields, replace
from typing import cast, get_origin, get_type_hints

import numpy as np

from regui.core.config import TrainConfig
from regui.core.records import DatasetSummary, EpochResult, RunRecord
from regui.core.store_schema import EPOCH_COLUMNS, LIST_COLUMNS, RECORD_COLUMNS, STATUSES

DAMAGED = "damaged"  # the status shown for a row that does not read as a run

_TEXT = ("uid", "name", "note", "status", "sweep", "started_at", "regui_version", "sklearn_version", "message")
_WHOLE = ("id", "repeat", "epochs_done")
_NUMBER = ("seconds",)
_NUMBER_OR_NULL = (
    "test_accuracy",
    "train_accuracy",
    "objective",
    "zero_fraction",
    "val_accuracy",
    "chosen_epoch",
    "chosen_test_accuracy",
)


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
    if data and "exact_decode" not in data:  # stored before large JPEGs could be reduced: decoded in full
        data = {**data, "exact_decode": True}
    config = TrainConfig.from_saved(data)
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


# The type of each entry a dataset summary may have (list for list[str]): from its declaration.
_SUMMARY_TYPES = {key: get_origin(kind) or kind for key, kind in get_type_hints(DatasetSummary).items()}


def dataset_from_json(text) -> DatasetSummary:
    """A stored dataset summary. A known entry of the wrong type (a folder that is a number) is
    left out, so that what reads it finds it missing rather than failing on it."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        raise RowProblem("its dataset summary is not JSON") from None
    if not isinstance(data, dict):
        raise RowProblem("its dataset summary is not a JSON object")
    kept = {k: v for k, v in data.items() if k not in _SUMMARY_TYPES or isinstance(v, _SUMMARY_TYPES[k])}
    return cast(DatasetSummary, kept)


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


def batch_losses_from_blob(blob) -> np.ndarray:
    """An epoch's batch losses as stored (float32 bytes); empty for none, or for a blob that is not
    whole float32 values (a damaged row loses its fine-grained curve, not the run)."""
    if not isinstance(blob, bytes) or len(blob) % 4:
        return _NO_LOSSES
    losses = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    losses.setflags(write=False)
    return losses


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


@dataclass(frozen=True)
class StoredRun:
    """One row of a list of stored runs: enough to list, sort and filter, without epochs."""

    id: int
    uid: str
    name: str
    note: str
    status: str
    config: TrainConfig
    dataset: DatasetSummary
    sweep: str
    repeat: int
    started_at: str
    seconds: float
    epochs_done: int
    test_accuracy: float | None
    train_accuracy: float | None
    objective: float | None
    zero_fraction: float | None
    val_accuracy: float | None  # final epoch's, on the validation part (None without one)
    chosen_epoch: int | None  # chosen on validation
    chosen_test_accuracy: float | None  # that epoch's test accuracy: reported, not chosen on
    regui_version: str
    sklearn_version: str
    message: str
    damage: str = ""  # why the row does not read as a run ("" for a sound one): see store_rows

    @property
    def folder(self) -> str:
        return self.dataset.get("folder", "")  # text: dataset_from_json leaves out any other


def stored_run(row) -> StoredRun:
    """A listed row; one that does not read as a run comes back marked damaged, not as an error."""
    values = dict(zip(LIST_COLUMNS, row))
    try:
        check_run(values, STATUSES)
        values["config"] = config_from_json(values["config"])
        values["dataset"] = dataset_from_json(values["dataset"])
    except RowProblem as exc:
        return damaged_run(values, str(exc))
    return StoredRun(**values)


def damaged_run(values: dict, why: str) -> StoredRun:
    """What can be shown of a damaged row: its id, and its texts where they are text."""

    def text(name: str) -> str:
        return values[name] if isinstance(values.get(name), str) else ""

    def number(name: str):
        value = values.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return StoredRun(
        id=values["id"],
        uid=text("uid"),
        name=text("name") or f"run {values['id']}",
        note=text("note"),
        status=DAMAGED,
        config=TrainConfig(),
        dataset={},
        sweep=text("sweep"),
        repeat=0,
        started_at=text("started_at"),
        seconds=number("seconds") or 0.0,
        epochs_done=0,
        test_accuracy=None,
        train_accuracy=None,
        objective=None,
        zero_fraction=None,
        val_accuracy=None,
        chosen_epoch=None,
        chosen_test_accuracy=None,
        regui_version=text("regui_version"),
        sklearn_version=text("sklearn_version"),
        message=text("message"),
        damage=why,
    )


_NO_WEIGHTS = np.empty((0, 0), np.float32)
_NO_INTERCEPT = np.empty(0)
_NO_LOSSES = np.empty(0, np.float32)


def read_record(conn: sqlite3.Connection, schema: str, run_id: int) -> RunRecord | None:
    """Run ``run_id`` of ``schema`` ("main", or an attached "source") as a record (None if there
    is no such run); RowProblem if its rows do not read as a run."""
    row = conn.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM {schema}.runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    values = dict(zip(RECORD_COLUMNS, row))
    check_run({k: values[k] for k in LIST_COLUMNS}, STATUSES)
    config = config_from_json(values["config"])
    dataset = dataset_from_json(values["dataset"])
    epoch_rows = conn.execute(
        f"SELECT {', '.join(EPOCH_COLUMNS)}, batch_losses FROM {schema}.epochs WHERE run_id = ? ORDER BY epoch",
        (run_id,),
    ).fetchall()
    epochs = [
        EpochResult(**numbers, coef=_NO_WEIGHTS, intercept=_NO_INTERCEPT, batch_losses=batch_losses_from_blob(row[-1]))
        for numbers, row in zip(epoch_numbers([r[:-1] for r in epoch_rows], EPOCH_COLUMNS), epoch_rows)
    ]
    weights = weights_from_blobs(values["coef"], values["coef_shape"], values["intercept"])
    record = RunRecord(
        config=config,
        name=values["name"],
        status=values["status"],
        message=values["message"],
        epochs=epochs,
        dataset=dataset,
        started_at=values["started_at"],
        seconds=float(values["seconds"]),
        sweep=values["sweep"],
        repeat=values["repeat"],
    )
    if epochs and weights is not None:  # the stored weights are the run's result's
        index = record.result.epoch - 1 if record.result is not None else len(epochs) - 1
        epochs[index] = replace(epochs[index], coef=weights[0], intercept=weights[1])
    return record
