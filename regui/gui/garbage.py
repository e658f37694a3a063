"""Python's cyclic garbage collector, run from the GUI thread only."""

from __future__ import annotations

_collector = None


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector from the GUI thread only, on a timer.

    Left automatic, a collection runs in whichever thread happens to allocate: a worker thread
    (loading, training, a Dask client) can then free a cycle holding Qt objects, such as plot
    items a view removed, while the GUI thread is using or deleting them, and the process
    crashes at random. pyqtgraph's GarbageCollector turns automatic collection off and collects
    every half second in the GUI thread instead. Once per process; safe to call again.
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=0.5)
