"""A sweep's news, passed on to the window a few at a time.

A block of 32 runs starts, and ends, at once: its 32 messages arrive together, and handling them
in one go (each run's row, curves, inspection panels and store entry) held the window's thread
for 60-130 ms, past what a person notices. Here they wait in order, and each turn of the event
loop passes on as many as fit in PACE_SECONDS; the window paints and answers in between.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, Signal, SignalInstance

from regui.gui.timers import single_shot

# A turn's share for the news. The plots' drawing (draw_budget) and a repaint may take their
# turn in the same pass of the event loop: at 15 ms the three together still held the window
# past 50 ms 8-12 times in a 380-run sweep, at 8 ms 0-3 times, the sweep no slower.
PACE_SECONDS = 0.008


class PacedNews(QObject):
    drained = Signal()  # the last waiting message was passed on

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._waiting: deque[tuple[SignalInstance, tuple]] = deque()
        self._turn = single_shot(self, 0, self._pass_on)  # the next turn, after what is pending

    def add(self, signal: SignalInstance, *args) -> None:
        """Emit ``signal(*args)`` soon, after every message added before it."""
        self._waiting.append((signal, args))
        if not self._turn.isActive():
            self._turn.start()

    def pending(self) -> bool:
        return bool(self._waiting)

    def flush(self) -> None:
        """Pass on every waiting message now (the window is closing: nothing is left unsaid)."""
        self._turn.stop()
        while self._waiting:
            signal, args = self._waiting.popleft()
            signal.emit(*args)

    def _pass_on(self) -> None:
        started = time.perf_counter()
        while self._waiting:
            signal, args = self._waiting.popleft()
            signal.emit(*args)  # (at least one a turn, however long it takes)
            if time.perf_counter() - started >= PACE_SECONDS:
                break
        if self._waiting:
            self._turn.start()
        else:
            self.drained.emit()
