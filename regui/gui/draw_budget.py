"""A budget of the window's thread for drawing: views that get much to draw at once (a sweep's
block starts, streams and ends dozens of runs together) draw up to the budget, and leave the
rest for their next turn, so that the window keeps answering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject

from regui.gui.timers import single_shot

# The most drawing takes of the window's thread in one turn: with a sweep's news (paced_news)
# and a repaint in the same pass, small enough that the window still answers within 50 ms.
BUDGET_SECONDS = 0.012


class DrawBudget(QObject):
    """Time spent drawing since the window's events last had their turn."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._spent = 0.0
        self._depth = 0  # spending blocks open: only the outermost counts (they nest)
        self._turn = single_shot(self, 0, self.new_turn)  # fires once the events waiting had their turn

    def new_turn(self) -> None:
        self._spent = 0.0

    def over(self, since: float | None = None) -> bool:
        """Whether this turn is over budget (counting the time ``since`` then, within ``spending``)."""
        running = 0.0 if since is None else time.perf_counter() - since
        return self._spent + running >= BUDGET_SECONDS

    @contextmanager
    def spending(self) -> Iterator[None]:
        """Count the time of the ``with`` block against this turn (once, if blocks nest)."""
        started = time.perf_counter()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                self._spent += time.perf_counter() - started
                if not self._turn.isActive():
                    self._turn.start()
