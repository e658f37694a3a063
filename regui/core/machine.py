"""Facts about this machine that sizing decisions use (no heavy imports: the app reads these)."""

from __future__ import annotations

import os


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def physical_memory() -> int | None:
    """Bytes of RAM, or None where it cannot be read (then no memory check is made)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
