"""k-fold cross-validation's last step: the setting chosen per penalty on the folds' mean
validation accuracy is trained once more on the whole training part (no part held out, so
nothing is chosen in it) and tested once. That test accuracy is the number to report for it:
the fold runs' test accuracies were measured by models that never saw a fifth of the
training images, and the choice among settings was made on those same folds.

Shared by ``regui sweep --cv`` and the window's cross-validated comparisons and sweeps.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from regui.core.config import PENALTY_LABELS, TrainConfig, batch_column
from regui.core.records import FINISHED, RunRecord
from regui.core.sweep_summary import SettingSummary, chosen_per_penalty


@dataclass(frozen=True)
class Retraining:
    """One chosen setting to train on the whole training part."""

    setting: SettingSummary  # the chosen setting, over its fold runs
    config: TrainConfig
    name: str
    # With early stopping the fold runs each kept an epoch chosen on their validation fold; the
    # whole training part has no such fold, so the run trains for the folds' median kept epoch.
    epochs_from_folds: bool = False

    @property
    def penalty(self) -> str:
        return self.setting.penalty

    @property
    def label(self) -> str:
        """The chosen setting as the app names it: "L2 λ=0.001" ("none" alone)."""
        alpha = self.setting.alpha
        return PENALTY_LABELS[self.penalty] + ("" if alpha is None else f" λ={alpha:g}")


def retrainings(
    summaries: Sequence[SettingSummary], records: Sequence[RunRecord], base: TrainConfig
) -> list[Retraining]:
    """The runs that end a cross-validated sweep: one per penalty, its chosen setting trained with
    the base's seeds (``base``: the sweep's settings) on the whole training part. ``summaries``
    are those of ``records`` (the fold runs; see ``sweep_summary.summarize``)."""
    plans = []
    for s in chosen_per_penalty(summaries):
        first = records[s.runs[0]]
        config = first.config.with_(folds=0, fold=0, validation=0.0, seed=base.seed, split_seed=base.split_seed)
        from_folds = first.config.early_stopping
        if from_folds:
            kept = [result.epoch for result in (records[i].result for i in s.runs) if result is not None]
            config = config.with_(early_stopping=False, epochs=max(1, round(statistics.median(kept))))
        plans.append(Retraining(s, config, f"{config.describe()} retrained on the whole training part", from_folds))
    return plans


def setting_text(s: SettingSummary) -> str:
    """ "'l2' lambda=0.001 lr=0.01 batch 64": a setting in a line of text."""
    lam = "" if s.alpha is None else f" lambda={s.alpha:g}"
    return f"'{s.penalty}'{lam} lr={s.eta0:g} batch {batch_column(s.engine, s.batch, short=True)}"


def retrained_text(plan: Retraining, record: RunRecord, folds: int, n_train: int | None = None) -> str:
    """What one retrained run gives, in a sentence: how the setting was chosen, what it was trained
    on, and its test accuracy (or how the run ended, if it gave none)."""
    on = "the whole training part" + ("" if n_train is None else f" ({n_train:,} images)")
    epochs = f" for {plan.config.epochs} epoch(s), the folds' median kept epoch," if plan.epochs_from_folds else ""
    if record.result is None or record.status != FINISHED:
        return f"{setting_text(plan.setting)}: retraining on {on} {record.status_text()}: {record.message}".rstrip(": ")
    return (
        f"{setting_text(plan.setting)}, chosen by {folds}-fold cross-validation, retrained on {on}{epochs} "
        f"and tested once: test accuracy {record.result.test_accuracy:.2%}"
    )
