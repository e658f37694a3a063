"""Facts about this machine that sizing decisions use (no heavy imports: the app reads these)."""

from __future__ import annotations

import functools
import os
import sys
import threading


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


def yield_to_the_interface() -> None:
    """Lower this thread's scheduling priority (nice +10), and so of the threads it starts.

    Training and decoding keep every core busy; at equal priority the window's thread waits its
    turn behind them and stalls for tens of milliseconds at a time. On Linux the nice value is
    per thread; elsewhere, or when not permitted, this does nothing.
    """
    lower_priority(threading.get_native_id())


def lower_priority(tid: int) -> None:
    """``yield_to_the_interface`` for the thread (or, given a process id, the main thread of the
    process) ``tid``: a worker process started from here, before it spends a second importing."""
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    except OSError:
        pass


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (it may be someone else's)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate it on Windows: ask the kernel instead
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]  # Windows only
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # type: ignore[attr-defined,unused-ignore]  # access denied: it exists
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def process_started(pid: int) -> str:
    """When process ``pid`` started, as the kernel counts it (Linux), or "" where unknown: with
    the pid it tells a live process from a new one that was given the same pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def same_process_alive(pid: int, started: str) -> bool:
    """Whether process ``pid``, started at ``started`` (see process_started; "" if unknown), is
    still running, and not a newer process given the same pid."""
    return process_alive(pid) and (not started or process_started(pid) in ("", started))


@functools.lru_cache(maxsize=1)
def versions() -> tuple[str, str]:
    """regui's and scikit-learn's versions, read from the installed package's metadata: the
    process running a sweep never imports scikit-learn itself (its workers train), and
    importing it there took 0.7 s of a core from the workers (a 2-process sweep 35% slower)."""
    from regui import __version__

    if "sklearn" in sys.modules:  # the app trains in its own process: no need to read metadata (40 ms)
        return __version__, sys.modules["sklearn"].__version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        return __version__, version("scikit-learn")
    except PackageNotFoundError:  # pragma: no cover - scikit-learn is a dependency
        return __version__, ""
