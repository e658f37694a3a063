"""How long work talks to whoever started it: progress as it goes, and a way to be told to stop.

Loading checks ``should_stop()`` between files and training between epochs (and a sweep's
runners between runs); every front end passes its own (an Event's ``is_set``, Ctrl-C's flag).
regui's engine also asks between mini-batches, at most every STOP_CHECK_SECONDS (``every``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]  # (done, total)
StopCheck = Callable[[], bool]  # true once the work should end, at its next chance


# How often a stop request is asked for between mini-batches. Asking can cost: on a Dask cluster
# it is a round trip to the scheduler, which would make per-sample SGD some 50 times slower.
STOP_CHECK_SECONDS = 0.02


def every(seconds: float, check: StopCheck) -> Callable[[], bool]:
    """``check()``, asked at most once every ``seconds`` (its last answer in between); once it
    says stop, it keeps saying so."""
    stopped = False

    def ask() -> None:
        nonlocal stopped
        stopped = stopped or bool(check())

    throttled = at_most_every(seconds, ask)

    def answer() -> bool:
        if not stopped:
            throttled()
        return stopped

    return answer


def at_most_every(seconds: float, work: Callable[[], object]) -> Callable[[], None]:
    """``work()``, done at most once every ``seconds`` (skipped in between)."""
    next_at = 0.0

    def throttled() -> None:
        nonlocal next_at
        now = time.perf_counter()
        if now >= next_at:
            next_at = now + seconds
            work()

    return throttled
