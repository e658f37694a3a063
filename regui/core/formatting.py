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
    """0.5731 -> "57.31%"; None (no epoch yet) or NaN (not measured) -> ``missing``."""
    return missing if value is None or value != value else f"{value:.{digits}%}"


def e_notation(value: float, digits: int = 6) -> str:
    """``value`` in e-notation as a person writes it, ``digits`` after the first one at most:
    "1e-7", "1.5e6", "2e-5" (not Python's "1.000000e-07")."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def short_number(value: float) -> str:
    """1e-07 -> "1e-7", 10000.0 -> "1e4", 0.01 -> "0.01": as a person writes them."""
    if value and (abs(value) >= 1e4 or abs(value) < 1e-4):
        return e_notation(value)
    return f"{value:g}"
