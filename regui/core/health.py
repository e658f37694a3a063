"""Whether a finished run learned anything, and if not, what to change.

A run can end "finished" and still have learned nothing: every weight set to 0 by a strong
penalty, or steps so large that the loss ends far above where it began. Its accuracy is then
no better than always answering the largest class, and the numbers alone do not say why; this
module says it in words (the app shows it as a notice, ``regui run`` as a warning).
"""

from __future__ import annotations

import math

from regui.core.config import SCALING_LABELS
from regui.core.records import FINISHED, RunRecord

LOSS_RISE = 10.0  # a loss this many times the first epoch's, or a zero model's: the steps overshoot


def majority_share(record: RunRecord) -> float | None:
    """The share of the largest class among the images: the accuracy of always answering it."""
    counts = record.dataset.get("class_counts")
    if not counts or not all(isinstance(n, int) for n in counts) or not sum(counts):
        return None
    return max(counts) / sum(counts)


def learned_nothing(record: RunRecord) -> str:
    """Why a finished run learned nothing, with what to change; "" if it learned something (or
    did not finish, or is too short to tell)."""
    if record.status != FINISHED:
        return ""
    final, first = record.result, record.epochs[0] if record.epochs else None
    share = majority_share(record)
    n_test = record.dataset.get("n_test")
    if final is None or first is None or share is None or not isinstance(n_test, int) or n_test < 1:
        return ""
    # One standard deviation of an accuracy measured on n_test images: within it, the run is
    # indistinguishable from always answering the largest class.
    noise = math.sqrt(share * (1 - share) / n_test)
    if not final.test_accuracy <= share + noise:
        return ""
    c = record.config
    said = (
        f"its test accuracy {final.test_accuracy:.2%} is no better than always answering the largest class "
        f"({share:.1%} of the images)."
    )
    if final.zero_fraction >= 1.0:
        return f"{said} The penalty set every weight to exactly 0: lower lambda (now {c.alpha:g})."
    pixels = f", or scale the pixels (now {SCALING_LABELS[c.scaling]}) to [0, 1]" if c.scaling == "raw" else ""
    n_classes = len(record.dataset.get("class_counts") or ())
    zero = zero_weights_loss(c.loss, n_classes, c.sklearn)
    if len(record.epochs) > 1 and final.objective > LOSS_RISE * first.objective > 0:
        why = f"Its loss rose from {first.objective:.3g} after epoch 1 to {final.objective:.3g}"
    elif final.train_loss > LOSS_RISE * zero:
        why = f"Its data loss ({final.train_loss:.3g}) is far above the {zero:.3g} of a model with every weight at 0"
    else:
        why = ""
    if why:
        return f"{said} {why}: the steps overshoot. {_step_advice(record)}{pixels}."
    penalty = f", another lambda (now {c.alpha:g})" if c.penalty != "none" else ""
    return f"{said} Try another learning rate (now {c.eta0:g}){penalty}{pixels}, or more epochs."


def zero_weights_loss(loss: str, n_classes: int, sklearn: bool = False) -> float:
    """The mean data loss of a model whose weights and intercepts are all 0: log(C) for
    cross-entropy (every class equally likely); for the hinge loss every margin is 0, so each
    wrong class adds 1: C - 1 for the multi-class SVM (regui's engine), 1 for the Crammer-Singer
    hinge that scikit-learn's engine is measured with (the best wrong class only)."""
    if loss == "log_loss":
        return math.log(max(n_classes, 2))
    return 1.0 if sklearn else max(n_classes, 2) - 1.0


def _step_advice(record: RunRecord) -> str:
    c = record.config
    if c.learning_rate == "optimal":  # its step is 1 / (lambda (t + t0)): eta0 plays no part
        return f"Raise lambda (now {c.alpha:g}; the 'optimal' schedule's steps grow as it shrinks)"
    return f"Lower the learning rate (now {c.eta0:g})"
