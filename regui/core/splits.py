"""The split: how many images go to the training, validation and test parts, and whether a
folder's classes can be split so at all (checked before any work, for every front end)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from regui.core.config import SCALINGS, SplitSettings, choice, limit_problem
from regui.core.errors import ConfigError, DatasetError


def part_sizes(
    n_images: int, test_size: float, validation: float, folds: int = 0, fold: int = 0
) -> tuple[int, int, int]:
    """Images in the training, validation and test parts, as the split makes them: the test part
    first, then the validation part from the rest (both rounded up, as train_test_split does), or
    with ``folds`` one fold of the rest (the first folds one larger, as KFold cuts them; a
    stratified cut may differ by one)."""
    n_test = test_count(n_images, test_size)
    rest = n_images - n_test
    if folds >= 2:
        n_val = rest // folds + (fold < rest % folds)
    else:
        n_val = test_count(rest, validation) if validation > 0 else 0
    return rest - n_val, n_val, n_test


def test_count(n_images: int, test_size: float) -> int:
    """Images in the test part, rounded up as scikit-learn's train_test_split does."""
    return math.ceil(test_size * n_images)


def check_split(class_names: Sequence[str], counts: list[int], split: SplitSettings) -> None:
    """Raise (before any work) if ``split`` cannot divide classes with these image counts.

    ConfigError for a setting out of range, DatasetError when the data is too small for it.
    """
    choice("pixel scaling", split.scaling, SCALINGS)
    problem = limit_problem("test_size", split.test_size)
    if problem:
        raise ConfigError(problem)
    problem = limit_problem("validation", split.validation)
    if problem:
        raise ConfigError(problem)
    n, n_classes = sum(counts), len(counts)
    n_test = test_count(n, split.test_size)
    if n_test < 1 or n - n_test < 1:
        raise DatasetError(f"Test fraction {split.test_size:g} leaves no image on one side of the split ({n} images).")
    n_train = n - n_test  # before the validation part is taken from it
    _, n_val, _ = part_sizes(n, split.test_size, split.validation)
    if split.validation > 0 and n_train - n_val < 1:
        raise DatasetError(
            f"Validation fraction {split.validation:g} leaves no training image ({n_train} images after the test part)."
        )
    if split.validation > 0 and split.stratify and (n_val < n_classes or n_train - n_val < n_classes):
        raise DatasetError(
            f"A stratified validation part of {split.validation:g} of the {n_train} training images leaves fewer "
            f"than one image per class ({n_classes} classes) on one side; change the validation fraction (0 for "
            "none) or turn off stratify."
        )
    if not split.stratify:
        return
    smallest = min(range(n_classes), key=lambda i: counts[i])
    needed = 3 if split.validation > 0 else 2  # one for each part
    if counts[smallest] < needed:
        raise DatasetError(
            f"Class '{class_names[smallest]}' has only {counts[smallest]} image(s); a stratified split needs at "
            f"least {needed} per class (add images{', set the validation fraction to 0' * (needed == 3)} or turn "
            "off stratify)."
        )
    if n_test < n_classes or n - n_test < n_classes:
        raise DatasetError(
            f"A stratified split of {n} images with test fraction {split.test_size:g} leaves fewer than "
            f"one image per class ({n_classes} classes) on one side; change the test fraction or turn off stratify."
        )
