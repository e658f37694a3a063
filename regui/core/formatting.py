"""Numbers as people read them, shared by the command line and the app."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """ "45 s", "3 min 07 s", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent_mean_std(stat: tuple[float, float], digits: int = 2) -> str:
    """(0.5731, 0.0212) -> "57.31 ± 2.12%"."""
    mean, std = stat
    return f"{mean * 100:.{digits}f} ± {std * 100:.{digits}f}%"


def sweep_place(sweep: str, repeat: int) -> str:
    """Where a run sits in its sweep: "S1 r2" (sweep S1, second repeat); "" for a single run."""
    return f"{sweep} r{repeat + 1}" if sweep else ""


def percent(value: float | None, digits: int = 2, missing: str = "") -> str:
    """0.5731 -> "57.31%"; None (no epoch yet) -> ``missing``."""
    return missing if value is None else f"{value:.{digits}%}"
