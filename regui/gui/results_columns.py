"""The results table's columns: what each shows of a run, how it sorts, what its tooltip says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from regui.core.config import PENALTY_LABELS, SCALING_LABELS, batch_column
from regui.core.formatting import percent, sweep_place
from regui.core.records import RUNNING, WAITING
from regui.gui.run_entry import RunEntry


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    text: Callable[[RunEntry], str]
    sort: Callable[[RunEntry], object]
    tip: str = ""
    numeric: bool = True


def _final(entry: RunEntry, attr: str):
    """The last epoch's ``attr``; None before any epoch, or where it was not measured (NaN: no
    validation part)."""
    final = entry.result  # the last epoch, or an early-stopped run's kept one
    value = getattr(final, attr) if final is not None else None
    return None if isinstance(value, float) and value != value else value


def _num(value, fmt: str = ".4g") -> str:
    return "" if value is None else format(value, fmt)


def _sortable(value) -> float:
    return float("-inf") if value is None else value


def _chosen(entry: RunEntry) -> str:
    chosen = entry.chosen
    return "" if chosen is None else f"{chosen.test_accuracy * 100:.2f}% ({chosen.epoch})"


def _lambda(entry: RunEntry) -> str:
    c = entry.record.config
    return "–" if c.penalty == "none" else f"{c.alpha:g}"


COLUMNS = [
    # Who, how it went, and the results first: they fit on screen; the settings follow.
    Column("run", "Run", lambda e: e.number, lambda e: e.run_id, "Tick to show the run's curves"),
    Column("status", "Status", lambda e: e.record.status_text(), lambda e: e.record.status_text(), numeric=False),
    Column(
        "penalty",
        "Penalty",
        lambda e: PENALTY_LABELS[e.record.config.penalty],
        lambda e: e.record.config.penalty,
        numeric=False,
    ),
    Column("alpha", "λ", _lambda, lambda e: e.record.config.alpha, "Regularization strength (alpha)"),
    Column(
        "test_accuracy",
        "Test acc",
        lambda e: percent(_final(e, "test_accuracy")),
        lambda e: _sortable(_final(e, "test_accuracy")),
        "Test accuracy of the run's result: its last epoch, or with early stopping the epoch it kept",
    ),
    Column(
        "val_accuracy",
        "Val acc",
        lambda e: percent(_final(e, "val_accuracy")),
        lambda e: _sortable(_final(e, "val_accuracy")),
        "Validation accuracy of the run's result (a part of the training images held out: what choices read)",
    ),
    Column(
        "chosen_test_accuracy",
        "Chosen epoch: test",
        _chosen,
        lambda e: _sortable(getattr(e.chosen, "test_accuracy", None)),
        "The epoch with the highest validation accuracy, and its test accuracy (chosen without looking at "
        "the test part; empty without a validation part)",
    ),
    Column(
        "train_accuracy",
        "Train acc",
        lambda e: percent(_final(e, "train_accuracy")),
        lambda e: _sortable(_final(e, "train_accuracy")),
    ),
    Column(
        "objective",
        "Final loss",
        lambda e: _num(_final(e, "objective")),
        lambda e: _sortable(_final(e, "objective")),
        "Mean data loss + λ·R(W), on the training part",
    ),
    Column(
        "weight_l2",
        "‖W‖",
        lambda e: _num(_final(e, "weight_l2")),
        lambda e: _sortable(_final(e, "weight_l2")),
        "L2 norm of the weights (intercepts excluded)",
    ),
    Column(
        "zero_fraction",
        "Zeros",
        lambda e: _num(_final(e, "zero_fraction"), ".1%"),
        lambda e: _sortable(_final(e, "zero_fraction")),
        "Share of weights exactly 0 (sparsity)",
    ),
    Column(
        "epochs",
        "Epochs",
        lambda e: f"{len(e.record.epochs)}/{e.record.config.epochs}",
        lambda e: len(e.record.epochs),
        "Epochs done / asked for",
    ),
    Column(
        "eta0",
        "LR",
        lambda e: f"{e.record.config.eta0:g} {e.record.config.learning_rate}",
        lambda e: e.record.config.eta0,
        "Learning rate (eta0) and schedule",
    ),
    Column(
        "batch",
        "Batch",
        lambda e: batch_column(e.record.config.engine, e.record.config.batch_text),
        lambda e: (e.record.config.sklearn, e.record.config.batch_size or 10**9),
        "Images per step (full: gradient descent), or scikit-learn's SGDClassifier (one-vs-rest, one image per step)",
    ),
    Column(
        "l1_ratio",
        "L1 ratio",
        lambda e: f"{e.record.config.l1_ratio:g}" if e.record.config.penalty == "elasticnet" else "–",
        lambda e: e.record.config.l1_ratio,
        "Elastic-net mix: 0 is pure L2, 1 pure L1",
    ),
    Column(
        "loss",
        "Loss",
        lambda e: (
            ("cross-entropy" if e.record.config.loss == "log_loss" else "hinge")
            + (" (one-vs-rest)" if e.record.config.sklearn else "")
        ),
        lambda e: e.record.config.loss,
        numeric=False,
    ),
    Column(
        "scaling",
        "Pixels",
        lambda e: SCALING_LABELS[e.record.config.scaling],
        lambda e: e.record.config.scaling,
        numeric=False,
    ),
    Column(
        "seed", "Seed", lambda e: str(e.record.config.seed), lambda e: e.record.config.seed, "Model seed (shuffling)"
    ),
    Column(
        "sweep",
        "Sweep",
        lambda e: _sweep(e),
        lambda e: (e.record.sweep, e.record.repeat),
        "The sweep a run belongs to, and its repeat",
        numeric=False,
    ),
    Column(
        "data",
        "Data",
        lambda e: _data(e),
        lambda e: _data(e),
        "Dataset folder, image size, test fraction and split seed",
        numeric=False,
    ),
    Column(
        "seconds",
        "Time",
        lambda e: f"{_elapsed(e):.1f} s" if _elapsed(e) is not None else "",
        lambda e: _sortable(_elapsed(e)),
    ),
]
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}


def _sweep(entry: RunEntry) -> str:
    return sweep_place(entry.record.sweep, entry.record.repeat)


def _data(entry: RunEntry) -> str:
    """For example "animals 32×32×3, test 0.25 split 42"."""
    c = entry.record.config
    folder = Path(entry.record.dataset.get("folder", "")).name
    stratified = "" if c.stratify else " unstratified"
    changed = "⚠ changed since: " if entry.data_changed else ""
    return (
        f"{changed}{folder} {c.width}×{c.height}×{3 if c.color else 1}, test {c.test_size:g} split "
        f"{c.split_seed}{stratified}"
    )


def _elapsed(entry: RunEntry):
    if entry.record.status == WAITING:
        return None
    if entry.record.status != RUNNING:
        return entry.record.seconds
    final = entry.record.final
    return final.elapsed if final is not None else None
