"""The window's deferred work: single-shot timers that run a slot once, ``ms`` after they are
started (0: in the next turn of the event loop, after the events already waiting)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


def single_shot(parent: QObject, ms: int, slot: Callable[[], object]) -> QTimer:
    """A stopped timer owned by ``parent`` that calls ``slot`` once each time it is started;
    starting it again while it waits pushes the call back (``QTimer.start``)."""
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer
