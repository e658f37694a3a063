"""What the window says when a run or a sweep ends: a passing word for the status bar, or a
notice to be read until dismissed (a run diverged, failed, learned nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from regui.core.health import learned_nothing
from regui.core.records import DIVERGED, FAILED, FINISHED, STOPPED, RunRecord


@dataclass(frozen=True)
class News:
    text: str
    notice: bool = False  # to be read until dismissed, not a passing word


def run_news(run_id: int, record: RunRecord) -> News | None:
    """How a single run ended, in a sentence."""
    nothing = learned_nothing(record)
    if record.status == DIVERGED:
        return News(f"Run #{run_id}: {record.message}", notice=True)
    if record.status == FAILED:
        return News(f"Run #{run_id} failed: {record.message}", notice=True)
    if nothing:
        return News(f"Run #{run_id} learned nothing: {nothing}", notice=True)
    if record.status == STOPPED:
        return News(f"Run #{run_id} {record.status_text()}.")
    if record.result is not None:
        return News(f"Run #{run_id} finished: test accuracy {record.result.test_accuracy:.2%}")
    return None


def sweep_news(sweep, records: Sequence[RunRecord], problem: str, not_run: int) -> News:
    """How a sweep (a ``SweepRun``; ``records``: its runs') ended: trouble first, else done, with
    the test accuracies cross-validation ends on."""
    if problem:
        return News(f"{sweep.title} could not run {not_run} run(s): {problem}", notice=True)
    statuses = [r.status for r in records]
    trouble = {s: statuses.count(s) for s in (DIVERGED, FAILED) if statuses.count(s)}
    if trouble:
        counts = " and ".join(f"{n} run(s) {status}" for status, n in trouble.items())
        return News(f"{sweep.title}: {counts}; their rows (and tooltips) say why.", notice=True)
    by_id = dict(zip(sweep.run_ids, records))
    tested = [
        f"{plan.label} {by_id[run_id].result.test_accuracy:.2%}"
        for run_id, plan in sweep.retrained.items()
        if by_id[run_id].status == FINISHED and by_id[run_id].result is not None
    ]
    if tested:
        return News(
            f"{sweep.title} done. Chosen by {sweep.folds}-fold cross-validation, trained on the whole training part "
            f"and tested once: {', '.join(tested)}."
        )
    return News(f"{sweep.title} done.")


def where_it_ran(run, dataset) -> News:
    """A stored run's settings were taken to train it again: whether ``dataset`` (the loaded one,
    or None) is the one it ran on (the same files, or changed since), or where to find that one."""
    folder, then = run.dataset.get("folder", ""), run.dataset.get("fingerprint", "")
    here = dataset is not None and dataset.is_folder(folder)
    if here and then and then != dataset.fingerprint:
        return News(
            f"Stored run {run.id}'s settings are set. The folder {folder} has changed since it ran "
            "(files added, removed or modified): a new run will not be on the same data.",
            notice=True,
        )
    if not here:
        return News(
            f"Stored run {run.id}'s settings are set; it ran on {folder}: load that folder to train it again on the "
            "same data."
        )
    return News(f"Stored run {run.id}'s settings are set: press Run to train it again.")


def stopped_by_closing(done: int) -> str:
    """The message of a run the closing of the window stopped after ``done`` epochs."""
    if done:
        return f"Stopped when the window was closed, after epoch {done}."
    return "Stopped when the window was closed, before its first epoch ended."
