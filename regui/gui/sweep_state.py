"""A sweep of the session, as the session keeps it: its runs, its control, its clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from regui.core.cross_validation import Retraining
from regui.core.sweep import SweepItem, SweepSpec
from regui.core.sweep_runs import SweepControl

_KINDS = {"S": "Sweep", "C": "Comparison", "V": "Cross-validation"}


def sweep_title(name: str) -> str:
    """ "Sweep S1", "Comparison C1" (of the penalties), "Cross-validation V1" (of one setting)."""
    return f"{_KINDS.get(name[:1], 'Sweep')} {name}"


@dataclass(eq=False)
class SweepRun:
    """A sweep (or penalty comparison) of this session: its runs, its control, its clock."""

    name: str
    control: SweepControl
    # Its run ids, in order -> each one's item index (what its runner knows it by; the retrained
    # runs, run after the grid by a runner of their own, from 0 again).
    index_of: dict[int, int]
    spec: SweepSpec | None = None  # what was asked (its folds: a cross-validated sweep retrains at its end)
    launch: tuple = ()  # (dataset, jobs, scheduler) it was started with: its retraining runs there too
    # Cross-validation's last step: run id -> the setting chosen per penalty it trains on the
    # whole training part, once the grid has ended (see regui.core.cross_validation).
    retrained: dict[int, Retraining] = field(default_factory=dict)
    ended: bool = False
    first_start: float | None = None  # when its first run started (worker start-up excluded)
    paused_since: float | None = None
    paused_for: float = 0.0  # seconds spent paused, left out of the time-left estimate

    @property
    def alphas(self) -> tuple[float, ...]:
        """The λ values asked for: the axis spans them from the start."""
        if self.spec is None:
            return ()
        return self.spec.alphas or (self.spec.base.alpha,)

    @property
    def run_ids(self) -> list[int]:
        return list(self.index_of)

    @property
    def grid_ids(self) -> list[int]:
        """The runs of the grid itself: what its summary and curves are over (not the retrained)."""
        return [r for r in self.index_of if r not in self.retrained]

    @property
    def folds(self) -> int:
        return self.spec.cv if self.spec is not None else 0

    @property
    def title(self) -> str:
        return sweep_title(self.name)

    @property
    def paused(self) -> bool:
        return self.control.paused.is_set()

    def retrain(self, plans: dict[int, Retraining]) -> list[SweepItem]:
        """The chosen settings' runs (run id -> what it retrains) join the sweep, as the items of a
        runner of their own with a control of its own: known by index from 0 again, as the grid's
        runs were (those have all ended, so stopping one by its index stops none of them)."""
        items = [SweepItem(i, plan.config, 0) for i, plan in enumerate(plans.values())]
        for (run_id, plan), item in zip(plans.items(), items):
            self.index_of[run_id] = item.index
            self.retrained[run_id] = plan
        self.control = self.control.fresh()
        return items

    def pause(self, paused: bool) -> None:
        """Hold the running runs at their next step and start no new ones, or go on."""
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
