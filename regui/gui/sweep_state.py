"""A sweep of the session, as the session keeps it: its runs, its control, its clock."""

from __future__ import annotations

import time
from dataclasses import dataclass

from regui.core.sweep_runs import SweepControl


def sweep_title(name: str) -> str:
    """ "Comparison C1" for the penalty comparisons, "Sweep S1" for sweeps."""
    return f"{'Comparison' if name.startswith('C') else 'Sweep'} {name}"


@dataclass(eq=False)
class SweepRun:
    """A sweep (or penalty comparison) of this session: its runs, its control, its clock."""

    name: str
    control: SweepControl
    index_of: dict[int, int]  # its run ids, in order -> each one's item index (what the runner knows it by)
    alphas: tuple[float, ...] = ()  # the λ values asked for: the axis spans them from the start
    ended: bool = False
    first_start: float | None = None  # when its first run started (worker start-up excluded)
    paused_since: float | None = None
    paused_for: float = 0.0  # seconds spent paused, left out of the time-left estimate

    @property
    def run_ids(self) -> list[int]:
        return list(self.index_of)

    @property
    def title(self) -> str:
        return sweep_title(self.name)

    @property
    def paused(self) -> bool:
        return self.control.paused.is_set()

    def pause(self, paused: bool) -> None:
        """Start no new runs (those running go on), or start them again."""
        if paused and not self.paused:
            self.control.pause()
            self.paused_since = time.monotonic()
        elif not paused and self.paused:
            self.control.resume()
            if self.paused_since is not None:
                self.paused_for += time.monotonic() - self.paused_since
                self.paused_since = None

    def working_seconds(self) -> float:
        if self.first_start is None:
            return 0.0
        paused = self.paused_for + (time.monotonic() - self.paused_since if self.paused_since else 0.0)
        return time.monotonic() - self.first_start - paused
