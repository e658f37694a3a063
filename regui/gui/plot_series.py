"""One run's curves as growing arrays, for the live plots: what is appended, not re-read."""

from __future__ import annotations

import numpy as np

from regui.core.records import batch_loss_positions


class Series:
    """One run's curves as growing numpy arrays: new epochs are appended, not all re-read,
    so a run of 100,000 fast epochs costs each redraw only what arrived since the last."""

    SOURCES = {
        "epoch": ("epoch", 1.0),
        "objective": ("objective", 1.0),
        "data": ("train_loss", 1.0),
        "penalty": ("penalty", 1.0),
        "test": ("test_accuracy", 100.0),
        "train": ("train_accuracy", 100.0),
        "val": ("val_accuracy", 100.0),
    }

    def __init__(self) -> None:
        self.n = 0
        self.arrays = {key: np.empty(64) for key in self.SOURCES}
        self._batch_epochs = 0
        self._batch_x: list[np.ndarray] = []
        self._batch_y: list[np.ndarray] = []
        self._batch_cache: tuple[np.ndarray, np.ndarray] | None = None

    def sync(self, epochs: list) -> None:
        if len(epochs) < self.n:  # the run started over (its worker was lost)
            self.n = 0
        new = epochs[self.n :]
        if not new:
            return
        end = self.n + len(new)
        if end > len(self.arrays["epoch"]):
            size = max(end, 2 * len(self.arrays["epoch"]))
            self.arrays = {k: np.resize(a, size) for k, a in self.arrays.items()}
        for key, (attr, scale) in self.SOURCES.items():
            self.arrays[key][self.n : end] = np.fromiter((getattr(e, attr) for e in new), float, len(new)) * scale
        self.n = end

    def view(self, key: str) -> np.ndarray:
        return self.arrays[key][: self.n]

    def batches(self, epochs: list) -> tuple[np.ndarray, np.ndarray]:
        """The mini-batch losses of every epoch so far and where they sit on the epoch axis (epoch
        k's steps from k - 1 on); made only while shown, then extended by new epochs."""
        if len(epochs) < self._batch_epochs:  # the run started over (its worker was lost)
            self._batch_epochs, self._batch_x, self._batch_y, self._batch_cache = 0, [], [], None
        for result in epochs[self._batch_epochs :]:
            self._batch_x.append(batch_loss_positions(result.epoch, len(result.batch_losses)))
            self._batch_y.append(result.batch_losses.astype(float))
        if len(epochs) > self._batch_epochs or self._batch_cache is None:
            self._batch_epochs = len(epochs)
            empty = np.empty(0)
            self._batch_cache = (np.concatenate([empty, *self._batch_x]), np.concatenate([empty, *self._batch_y]))
        return self._batch_cache
