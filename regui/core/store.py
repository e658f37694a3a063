"""Every run, kept: a SQLite database (standard library ``sqlite3``) in the user data directory.

What a run stores: its settings, the dataset it used (folder, file count, class names and
counts, and the fingerprint: a hash of the file list with sizes and times), every epoch's
numbers, its final weights, status, timings, and the regui and scikit-learn versions.

Durability: each finished epoch is its own transaction, so a crash or a killed process loses at
most the epoch in flight. A run whose writing process is gone while it still says "running" is
marked "interrupted" the next time the store is opened.

Concurrency: the database runs in WAL mode, so readers never wait for a writer and a writer
never waits for readers; writers take turns (each transaction is one epoch, a millisecond or
less) with a busy timeout. Within a process there is one writer path: the process that runs
a sweep writes what its worker processes stream back (the workers never open the store), and
the app writes from a background thread, never from its GUI thread.

The store is in five modules: this one is ``RunStore``, the whole surface a front end uses
(over 400 lines because every method is a guarded transaction of its own, and splitting the
class would split that rule); ``store_file`` opens the file safely and says SQLite's errors in
words, ``store_schema`` holds the tables and migrations, ``store_rows`` reads rows back
defensively (and checks imports), ``store_sharing`` exports and imports. A file that is not a
regui store, or is damaged, is refused with a message and never written.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np

from regui.core.config import FULL_BATCH, TrainConfig
from regui.core.errors import ReguiError
from regui.core.machine import process_started, same_process_alive, versions
from regui.core.records import EpochResult, RunRecord
from regui.core.store_file import (
    READ,
    WRITE,
    StoreError,
    absent_companions,
    connect,
    default_store_path,
    describe,
    remove_unused,
)
from regui.core.store_rows import DAMAGED, RowProblem, StoredRun, read_record, stored_run
from regui.core.store_schema import (
    APPLICATION_ID,
    EPOCH_COLUMNS,
    INTERRUPTED,
    LIST_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SORTABLE,
    STATUSES,
    migrate,
)
from regui.core.store_sharing import Imported, export_runs, import_runs

__all__ = [
    "RunStore",
    "StoredRun",
    "StoreError",
    "Imported",
    "default_store_path",
    "parse_setting",
    "INTERRUPTED",
    "STATUSES",
    "DAMAGED",
    "SORTABLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
]


def _guarded(method):
    """Every sqlite3 error from the store's surface, at any call, is a StoreError that says what
    is wrong with the file: a damaged page may be met by any query, not only at opening."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            conn = getattr(self, "_conn", None)
            if conn is not None and conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise describe(exc, self.path) from None

    return guarded


class RunStore:
    """The runs database at ``path`` (default: ``default_store_path()``).

    ``mode``: WRITE (the default) creates the store if missing and checks it before writing;
    READ only reads and creates nothing (it works on read-only media); NEW makes a new file that
    must not exist yet (an export). Raises StoreError if it cannot be opened, is damaged, or is
    not a regui store. Use from one thread.
    """

    def __init__(
        self, path: str | os.PathLike | None = None, *, check_interrupted: bool = True, mode: str = WRITE
    ) -> None:
        default = default_store_path()
        self.path = Path(path).expanduser() if path is not None else default
        self.mode = mode
        self._closed = False
        self._conn: sqlite3.Connection = self._open(may_create_folder=self.path == default)
        if check_interrupted and mode == WRITE:
            try:
                self.mark_interrupted()
            except BaseException:
                self.close()
                raise

    # --- opening ----------------------------------------------------------------------------

    def _open(self, may_create_folder: bool) -> sqlite3.Connection:
        try:
            created = absent_companions(self.path) if self.mode != READ else []
        except OSError as exc:  # a folder that cannot be searched
            raise StoreError(f"Cannot use the run store {self.path}: {exc.strerror or exc}.") from None
        conn = connect(self.path, self.mode, may_create_folder)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if tables and app_id != APPLICATION_ID:
                raise StoreError(
                    f"{self.path} is an SQLite database of some other program, not a regui run store; "
                    "it was left as it is. Choose another file.",
                    "it is an SQLite database of some other program, not a regui run store",
                )
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The run store {self.path} was written by a newer regui (schema {version}; this one "
                    f"reads up to {SCHEMA_VERSION}); it was left as it is. Update regui.",
                    f"it was written by a newer regui (schema {version}); update regui",
                )
            if self.mode == READ:
                if not tables:
                    raise StoreError(
                        f"No runs are stored in {self.path} (the file is empty).", "it is empty", nothing_stored=True
                    )
                if version < SCHEMA_VERSION:
                    return self._migrated_copy(conn, tables, version)
                return conn
            if tables:  # never write into a damaged file: check every page first (~20 ms for 500 runs)
                if conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":  # its details name b-tree pages
                    raise describe(sqlite3.DatabaseError("database disk image is malformed"), self.path)
            self._wal(conn)
            migrate(conn, self.path, tables, version)
        except BaseException as exc:
            conn.close()
            remove_unused(created)
            if isinstance(exc, sqlite3.Error):
                raise describe(exc, self.path) from None
            raise
        return conn

    def _migrated_copy(self, conn: sqlite3.Connection, tables: set[str], version: int) -> sqlite3.Connection:
        """A reader met a store of an older schema: it reads an up-to-date copy in memory, and the
        file stays as it is (the next writer brings it up to date)."""
        copy = sqlite3.connect(":memory:", isolation_level=None)
        try:
            conn.backup(copy)
            migrate(copy, self.path, tables, version)
        except BaseException:
            copy.close()
            raise
        conn.close()
        return copy

    @staticmethod
    def _wal(conn: sqlite3.Connection) -> None:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError:  # a read-only file: it can still be read
            return
        if mode.lower() != "wal":  # e.g. a read-only file: it can still be read
            return
        # NORMAL with WAL: a committed epoch survives a crash or kill of the process (not
        # necessarily a power cut), without an fsync per epoch.
        conn.execute("PRAGMA synchronous = NORMAL")

    # --- writing a run as it happens ---------------------------------------------------------

    @_guarded
    def begin(self, record: RunRecord) -> int:
        """A new run (status "running"); returns its id in the store."""
        regui_version, sklearn_version = versions()
        row = {
            "uid": uuid.uuid4().hex,
            "name": record.name,
            "status": record.status,
            "message": record.message,
            "config": json.dumps(record.config.to_dict()),
            "dataset": json.dumps(record.dataset),
            "folder": record.dataset.get("folder", ""),
            "fingerprint": record.dataset.get("fingerprint", ""),
            "sweep": record.sweep,
            "repeat": record.repeat,
            "started_at": record.started_at or _now(),
            "seconds": record.seconds,
            "regui_version": regui_version,
            "sklearn_version": sklearn_version,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "process_started": process_started(os.getpid()),
        }
        with self._write():
            cursor = self._conn.execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            )
        return int(cursor.lastrowid or 0)

    @_guarded
    def add_epoch(self, run_id: int, result: EpochResult) -> None:
        """Commit one finished epoch (and the run's latest numbers; the epoch chosen on validation
        so far is kept up to date, so a run whose process is killed still has it)."""
        val = None if math.isnan(result.val_accuracy) else result.val_accuracy
        with self._write():
            self._insert_epoch(run_id, result)
            # SET reads the row as it was: both CASEs compare against the previous choice.
            better = (
                ":val IS NOT NULL AND (chosen_epoch IS NULL OR :val > (SELECT val_accuracy FROM epochs e "
                "WHERE e.run_id = runs.id AND e.epoch = runs.chosen_epoch))"
            )
            self._conn.execute(
                "UPDATE runs SET epochs_done = :epoch, test_accuracy = :test, train_accuracy = :train, "
                "objective = :objective, zero_fraction = :zeros, val_accuracy = :val, seconds = :seconds, "
                f"chosen_epoch = CASE WHEN {better} THEN :epoch ELSE chosen_epoch END, "
                f"chosen_test_accuracy = CASE WHEN {better} THEN :test ELSE chosen_test_accuracy END "
                "WHERE id = :id",
                {
                    "epoch": result.epoch,
                    "test": result.test_accuracy,
                    "train": result.train_accuracy,
                    "objective": result.objective,
                    "zeros": result.zero_fraction,
                    "val": val,
                    "seconds": result.elapsed,
                    "id": run_id,
                },
            )

    @_guarded
    def finish(self, run_id: int, record: RunRecord) -> None:
        """The run ended: its outcome, time and final weights (the epochs are already in)."""
        final = record.result  # an early-stopped run's result is the epoch chosen on validation
        snap = final if final is not None and final.has_snapshot else None
        snap = snap or next((e for e in reversed(record.epochs) if e.has_snapshot), None)
        with self._write():
            for result in record.epochs[self._epochs_done(run_id) :]:  # any not written live
                self._insert_epoch(run_id, result)
            chosen = record.chosen()
            self._conn.execute(
                "UPDATE runs SET status = ?, message = ?, seconds = ?, epochs_done = ?, test_accuracy = ?, "
                "train_accuracy = ?, objective = ?, zero_fraction = ?, val_accuracy = ?, chosen_epoch = ?, "
                "chosen_test_accuracy = ?, coef = ?, coef_shape = ?, intercept = ?, pid = 0 WHERE id = ?",
                (
                    record.status,
                    record.message,
                    record.seconds,
                    len(record.epochs),
                    *(
                        getattr(final, m) if final else None
                        for m in ("test_accuracy", "train_accuracy", "objective", "zero_fraction", "val_accuracy")
                    ),
                    chosen.epoch if chosen else None,
                    chosen.test_accuracy if chosen else None,
                    snap.coef.astype(np.float32).tobytes() if snap else None,
                    "x".join(map(str, snap.coef.shape)) if snap else "",
                    np.asarray(snap.intercept, dtype=np.float64).tobytes() if snap else None,
                    run_id,
                ),
            )

    @_guarded
    def save(self, record: RunRecord) -> int:
        """A whole run at once (one that was not written as it happened)."""
        run_id = self.begin(record)
        self.finish(run_id, record)
        return run_id

    # --- reading ------------------------------------------------------------------------------

    @_guarded
    def runs(
        self,
        *,
        folder: str | None = None,
        where: dict | None = None,
        status: str | None = None,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = None,
    ) -> list[StoredRun]:
        """Stored runs, without their epochs. ``folder``: a part of the dataset folder's path;
        ``where``: settings that must match exactly, e.g. {"penalty": "l2", "alpha": 0.01}."""
        if sort not in SORTABLE:
            raise StoreError(f"Cannot sort by '{sort}'; choose one of: {', '.join(SORTABLE)}.")
        clauses: list[str] = []
        params: list[object] = []
        if folder:
            clauses.append("instr(folder, ?) > 0")
            params.append(folder)
        if status:
            if status not in STATUSES:
                raise StoreError(f"There is no status '{status}'; runs are {', '.join(STATUSES)}.")
            clauses.append("status = ?")
            params.append(status)
        known = set(TrainConfig().to_dict())
        for key, value in (where or {}).items():
            if key not in known:
                raise StoreError(f"'{key}' is not a setting; settings are: {', '.join(sorted(known))}.")
            # CASE, not AND: a row whose settings are not JSON (see store_rows) must not stop the query.
            clauses.append(f"(CASE WHEN json_valid(config) THEN json_extract(config, '$.{key}') END) = ?")
            params.append(int(value) if isinstance(value, bool) else value)
        query = (
            f"SELECT {', '.join(LIST_COLUMNS)} FROM runs"
            + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
            + f" ORDER BY {sort} {'DESC' if descending else 'ASC'}, id"
            + (f" LIMIT {min(max(0, int(limit)), 2**63 - 1)}" if limit is not None else "")
        )
        return [stored_run(row) for row in self._conn.execute(query, params)]

    @_guarded
    def get(self, run_id: int) -> StoredRun | None:
        if not _is_id(run_id):
            return None
        row = self._conn.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else stored_run(row)

    @_guarded
    @staticmethod
    def read_each(path, run_ids: Iterable[int]) -> tuple[list[tuple[int, RunRecord]], list[str]]:
        """The runs of ``run_ids`` that can be read from the store at ``path``, each with its id,
        and what kept each of the others (or the store itself) from being read."""
        records, problems = [], []
        try:
            with RunStore(path, check_interrupted=False, mode="read") as store:
                for run_id in run_ids:
                    try:
                        records.append((run_id, store.load(run_id)))
                    except ReguiError as exc:
                        problems.append(str(exc))
        except ReguiError as exc:
            problems.append(str(exc))
        return records, problems

    def load(self, run_id: int) -> RunRecord:
        """The whole run: settings, outcome and every epoch (the last one with the final weights).
        StoreError if there is no such run, or its row is damaged (the message says how)."""
        try:
            record = read_record(self._conn, "main", run_id) if _is_id(run_id) else None
        except RowProblem as exc:
            raise StoreError(
                f"Stored run {run_id} is damaged: {exc}. Delete it with: regui runs delete {run_id}", str(exc)
            ) from None
        if record is None:
            raise StoreError(f"There is no run {run_id} in {self.path}.")
        return record

    @_guarded
    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM runs").fetchone()[0])

    # --- changing what is stored ---------------------------------------------------------------

    @_guarded
    def annotate(self, run_id: int, *, name: str | None = None, note: str | None = None) -> None:
        with self._write():
            if name is not None:
                self._conn.execute("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))
            if note is not None:
                self._conn.execute("UPDATE runs SET note = ? WHERE id = ?", (note, run_id))

    @_guarded
    def delete(self, run_ids: Iterable[int]) -> int:
        """Delete these runs with their epochs; returns how many there were."""
        ids = [int(i) for i in run_ids]
        with self._write():
            deleted = 0
            for run_id in ids:
                deleted += self._conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount
        return deleted

    @_guarded
    def mark_interrupted(self) -> int:
        """Runs still "running" whose writing process is gone end as "interrupted"."""
        here = socket.gethostname()
        gone = [
            run_id
            for run_id, host, pid, started in self._conn.execute(
                "SELECT id, host, pid, process_started FROM runs WHERE status = 'running'"
            )
            if host == here and not _process_alive(pid, started)
        ]
        if gone:
            with self._write():
                for run_id in gone:
                    self._conn.execute(
                        "UPDATE runs SET status = ?, pid = 0, message = 'The process training it ended before the '"
                        " || 'run did (closed, killed or crashed); the epochs it finished are kept.' WHERE id = ?",
                        (INTERRUPTED, run_id),
                    )
        return len(gone)

    # --- sharing ------------------------------------------------------------------------------

    @_guarded
    def export(self, run_ids: Sequence[int], path: str | os.PathLike) -> int:
        """Write these runs, with their epochs and weights, to a new store file at ``path`` (which
        must not exist; its folder must). A failed export leaves no file behind."""
        return export_runs(self, run_ids, path)

    @_guarded
    def import_from(self, path: str | os.PathLike) -> Imported:
        """Add the runs of another store file; runs already here are skipped, and runs that do
        not read as runs are refused, each named with the reason (see store_sharing)."""
        return import_runs(self, path)

    def close(self) -> None:
        """Close the connection. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- helpers ------------------------------------------------------------------------------

    def _write(self):
        if self.mode == READ:  # (a reader of an older store reads a copy: a write would be lost)
            raise StoreError(f"The run store {self.path} was opened for reading only; nothing was changed.")
        return _Transaction(self._conn, self.path)

    def _epochs_done(self, run_id: int) -> int:
        return int(self._conn.execute("SELECT count(*) FROM epochs WHERE run_id = ?", (run_id,)).fetchone()[0])

    def _insert_epoch(self, run_id: int, result: EpochResult) -> None:
        losses = result.batch_losses.astype("<f4").tobytes() if result.batch_losses.size else None
        self._conn.execute(
            f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(EPOCH_COLUMNS)}, batch_losses) "
            f"VALUES (?{', ?' * len(EPOCH_COLUMNS)}, ?)",
            (run_id, *(getattr(result, c) for c in EPOCH_COLUMNS), losses),
        )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), with write errors as StoreError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    def __enter__(self):
        try:
            self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now (waits up to the busy timeout)
        except sqlite3.Error as exc:
            raise describe(exc, self.path, "write to") from None
        return self

    def __exit__(self, kind, exc, tb) -> Literal[False]:
        if kind is None:
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.Error as error:
                exc = error
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise describe(exc, self.path, "write to") from None
        return False


def parse_setting(text: str) -> tuple[str, object]:
    """'alpha=0.01' -> ("alpha", 0.01); values as numbers or true/false where they read so, and
    batch_size=full as the full batch."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise StoreError(f"A settings filter is SETTING=VALUE, e.g. penalty=l2 or alpha=0.01 (got '{text}').")
    if key == "batch_size" and value.lower() == "full":
        return key, FULL_BATCH
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            continue
    return key, value


def _is_id(run_id) -> bool:
    """A run id SQLite can hold (a huge number typed by mistake is no run, not a crash)."""
    return isinstance(run_id, int) and 0 < run_id < 2**63


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _process_alive(pid, started) -> bool:
    """Whether the process that wrote a "running" row is still at it. A pid that is not a
    process id at all (a row from elsewhere, edited by hand) names no live process."""
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31:
        return False
    return same_process_alive(pid, started if isinstance(started, str) else "")
