"""Writing runs into the store as they happen, for the command line and the app alike.

A problem with the store (a full disk, a read-only file, a damaged database) is reported once
through ``warn`` and ends the storing, never the training: the runs go on and are shown and
exported as usual.
"""

from __future__ import annotations

from collections.abc import Callable

from regui.core.records import RUNNING, EpochResult, RunRecord
from regui.core.store import RunStore, StoreError


class RunLog:
    """Runs written to ``store`` under keys of the caller's choosing (a run number, a sweep index)."""

    def __init__(self, store: RunStore | None, warn: Callable[[str], None]) -> None:
        self.store, self.warn = store, warn
        self.ids: dict[object, int] = {}  # key -> id in the store

    @classmethod
    def open(cls, path, warn: Callable[[str], None]) -> RunLog:
        """A log on the store at ``path`` (None: the default one); if it cannot be opened, a log
        that stores nothing, after saying why."""
        try:
            return cls(RunStore(path), warn)
        except StoreError as exc:
            warn(f"Runs are not stored: {exc}")
        except Exception as exc:  # noqa: BLE001 - whatever it is, training goes on without the store
            warn(f"Runs are not stored: the run store could not be opened ({type(exc).__name__}: {exc}).")
        return cls(None, warn)

    def started(self, key, record: RunRecord) -> None:
        """A run begins (again, if ``key`` was begun before: a retry starts over)."""
        if self.store is None:
            return
        self._guard(self._start, key, record)

    def _start(self, key, record: RunRecord) -> None:
        assert self.store is not None  # started() checked
        if key in self.ids:
            self.store.delete([self.ids.pop(key)])
        begun = RunRecord(
            config=record.config,
            name=record.name,
            status=RUNNING,
            dataset=record.dataset,
            started_at=record.started_at,
            sweep=record.sweep,
            repeat=record.repeat,
        )
        self.ids[key] = self.store.begin(begun)

    def epoch(self, key, result: EpochResult) -> None:
        if self.store is None or key not in self.ids:
            return
        self._guard(self.store.add_epoch, self.ids[key], result)

    def finished(self, key, record: RunRecord) -> None:
        """The run ended (any status); one that never began is stored whole, except a sweep's run
        that was stopped (or failed) before it started: it has nothing to keep."""
        if self.store is None or (key not in self.ids and record.sweep and not record.epochs):
            return
        if key in self.ids:
            self._guard(self.store.finish, self.ids[key], record)
        else:
            self._guard(lambda: self.ids.__setitem__(key, self.store.save(record)))

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def _guard(self, write, *args) -> None:
        try:
            write(*args)
        except StoreError as exc:
            self.warn(f"Runs are no longer stored: {exc}")
            self.close()


class Storing:
    """Subscribes a RunLog (or a BackgroundRunLog) to a RunBook: every run of every front end
    is stored the same way, from this one place, as it happens."""

    def __init__(self, log: RunLog | BackgroundRunLog) -> None:
        self.log = log

    def started(self, key, record: RunRecord) -> None:
        self.log.started(key, record)

    def epoch(self, key, record: RunRecord, result: EpochResult) -> None:
        self.log.epoch(key, result)

    def ended(self, key, record: RunRecord) -> None:
        self.log.finished(key, record)


class BackgroundRunLog:
    """A RunLog driven from a thread of its own: calls are queued and written in order, so the
    caller (the app's GUI thread) never waits for the disk or for another writer's lock. The
    store is opened on that thread too. ``warn`` is called from that thread."""

    def __init__(self, path, warn: Callable[[str], None]) -> None:
        import queue
        import threading

        from regui.core.store import default_store_path

        self.path = path if path is not None else default_store_path()  # fixed now, not when the thread starts
        self._log: RunLog | None = None
        self._warn = warn
        self._closed = False
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, args=(warn,), name="regui-store", daemon=True)
        self._thread.start()

    def _work(self, warn) -> None:
        from regui.core.machine import yield_to_the_interface

        yield_to_the_interface()
        log = self._log = RunLog.open(self.path, warn)  # never raises: a store that fails is said, once
        while True:
            call = self._queue.get()
            if call is None:
                break
            name, args = call
            try:
                getattr(log, name)(*args)
            except Exception as exc:  # noqa: BLE001 - a bug here must not end the storing silently
                warn(f"Runs are no longer stored: {type(exc).__name__}: {exc}")
                log.close()
        log.close()

    def started(self, key, record: RunRecord) -> None:
        self._put("started", key, record)

    def epoch(self, key, result: EpochResult) -> None:
        self._put("epoch", key, result)

    def finished(self, key, record: RunRecord) -> None:
        self._put("finished", key, record)

    def _put(self, name: str, *args) -> None:
        if self._closed:  # its thread has ended: the write would be lost without a word
            self._warn(f"Not stored: a run's {name} came after the store was closed.")
            return
        self._queue.put((name, args))

    def stored_ids(self) -> set[int]:
        """Ids in the store of the runs written so far (read from another thread: a copy)."""
        log = self._log
        return set(log.ids.values()) if log is not None else set()

    def close(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then close; False if that did not end within ``timeout`` s."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()
