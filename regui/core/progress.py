"""How long work talks to whoever started it: progress as it goes, and a way to be told to stop.

Loading checks ``should_stop()`` between files and training between epochs (and a sweep's
runners between runs); every front end passes its own (an Event's ``is_set``, Ctrl-C's flag).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]  # (done, total)
StopCheck = Callable[[], bool]  # true once the work should end, at its next chance
