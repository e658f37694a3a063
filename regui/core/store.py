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

The schema has a version; opening an older database migrates it in place, one step at a time
(``MIGRATIONS``). A file that is not a regui store, or is damaged, is refused with a message and
never written; how the file is opened and how SQLite's errors are told is in ``store_file``, how
rows are read back defensively (and checked on import) in ``store_rows``.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from regui.core.config import TrainConfig
from regui.core.machine import process_started, same_process_alive
from regui.core.records import DIVERGED, FAILED, FINISHED, RUNNING, STOPPED, EpochResult, RunRecord
from regui.core.store_file import (
    NEW,
    READ,
    WRITE,
    StoreError,
    absent_companions,
    companions,
    connect,
    copy_database,
    default_store_path,
    describe,
    remove_unused,
)
from regui.core.store_rows import (
    DAMAGED,
    RowProblem,
    check_run,
    config_from_json,
    dataset_from_json,
    epoch_numbers,
    weights_from_blobs,
)

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

INTERRUPTED = "interrupted"  # the status of a run whose process ended without finishing it
STATUSES = (RUNNING, FINISHED, STOPPED, DIVERGED, FAILED, INTERRUPTED)  # what a stored run can be
APPLICATION_ID = 0x72677569  # "rgui" in the SQLite header: tells our files from other databases

# Each entry takes the schema from the version before it to its own number (1-based).
MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: "run 7" stays one run
        uid TEXT NOT NULL UNIQUE,           -- the same run in another store (export, import)
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL,               -- TrainConfig as JSON
        dataset TEXT NOT NULL,              -- the dataset summary as JSON
        folder TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL DEFAULT '',
        sweep TEXT NOT NULL DEFAULT '',
        repeat INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL DEFAULT '',
        seconds REAL NOT NULL DEFAULT 0,
        regui_version TEXT NOT NULL DEFAULT '',
        sklearn_version TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',      -- who is writing it, while it runs
        pid INTEGER NOT NULL DEFAULT 0,
        process_started TEXT NOT NULL DEFAULT '',
        coef BLOB,                          -- final weights, float32
        coef_shape TEXT NOT NULL DEFAULT '',
        intercept BLOB                      -- float64
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL, test_loss REAL, penalty REAL, objective REAL,
        train_accuracy REAL, test_accuracy REAL, weight_l2 REAL, weight_l1 REAL,
        zero_fraction REAL, elapsed REAL,
        PRIMARY KEY (run_id, epoch)
    ) WITHOUT ROWID;
    """,
    # 2: a note per run, and the final numbers as columns so that a list of thousands of runs
    # sorts and filters without reading their epochs.
    """
    ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN epochs_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN test_accuracy REAL;
    ALTER TABLE runs ADD COLUMN train_accuracy REAL;
    ALTER TABLE runs ADD COLUMN objective REAL;
    ALTER TABLE runs ADD COLUMN zero_fraction REAL;
    ALTER TABLE runs ADD COLUMN best_test_accuracy REAL;
    UPDATE runs SET
        epochs_done = (SELECT count(*) FROM epochs e WHERE e.run_id = runs.id),
        best_test_accuracy = (SELECT max(test_accuracy) FROM epochs e WHERE e.run_id = runs.id),
        test_accuracy = (SELECT test_accuracy FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        train_accuracy = (SELECT train_accuracy FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        objective = (SELECT objective FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1),
        zero_fraction = (SELECT zero_fraction FROM epochs e WHERE e.run_id = runs.id ORDER BY epoch DESC LIMIT 1);
    CREATE INDEX runs_by_folder ON runs(folder);
    CREATE INDEX runs_by_fingerprint ON runs(fingerprint);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_EPOCH_COLUMNS = ("epoch",) + EpochResult.METRICS + ("elapsed",)
# What a list of runs can be sorted by: columns of the runs table (settings live in the config).
SORTABLE = (
    "id",
    "name",
    "status",
    "started_at",
    "seconds",
    "epochs_done",
    "test_accuracy",
    "train_accuracy",
    "objective",
    "zero_fraction",
    "best_test_accuracy",
    "folder",
    "sweep",
)


@dataclass(frozen=True)
class StoredRun:
    """One row of a list of stored runs: enough to list, sort and filter, without epochs."""

    id: int
    uid: str
    name: str
    note: str
    status: str
    config: TrainConfig
    dataset: dict
    sweep: str
    repeat: int
    started_at: str
    seconds: float
    epochs_done: int
    test_accuracy: float | None
    train_accuracy: float | None
    objective: float | None
    zero_fraction: float | None
    best_test_accuracy: float | None
    regui_version: str
    sklearn_version: str
    message: str
    damage: str = ""  # why the row does not read as a run ("" for a sound one): see store_rows

    @property
    def folder(self) -> str:
        folder = self.dataset.get("folder", "")
        return folder if isinstance(folder, str) else ""


class Imported(NamedTuple):
    """What an import did: runs added, runs that were here already, and runs refused (each with
    its name and why)."""

    added: int
    known: int
    refused: tuple[str, ...] = ()


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
            self._migrate(conn, tables, version)
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
            self._migrate(copy, tables, version)
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

    def _migrate(self, conn: sqlite3.Connection, tables: set[str], version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        if not tables:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        try:
            for number in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute("BEGIN IMMEDIATE")
                for statement in _statements(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            reason = describe(exc, self.path).reason
            raise StoreError(
                f"Cannot update the run store {self.path} to this regui's schema: {reason}. It was left as it was.",
                reason,
            ) from None
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('created_by', ?)", (_versions()[0],))

    # --- writing a run as it happens ---------------------------------------------------------

    @_guarded
    def begin(self, record: RunRecord) -> int:
        """A new run (status "running"); returns its id in the store."""
        regui_version, sklearn_version = _versions()
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
        """Commit one finished epoch (and the run's latest numbers; the best so far is kept)."""
        with self._write():
            self._insert_epoch(run_id, result)
            self._conn.execute(
                "UPDATE runs SET epochs_done = ?, test_accuracy = ?, train_accuracy = ?, objective = ?, "
                "zero_fraction = ?, best_test_accuracy = max(coalesce(best_test_accuracy, 0), ?), seconds = ? "
                "WHERE id = ?",
                (
                    result.epoch,
                    result.test_accuracy,
                    result.train_accuracy,
                    result.objective,
                    result.zero_fraction,
                    result.test_accuracy,
                    result.elapsed,
                    run_id,
                ),
            )

    @_guarded
    def finish(self, run_id: int, record: RunRecord) -> None:
        """The run ended: its outcome, time and final weights (the epochs are already in)."""
        final = record.final
        snap = next((e for e in reversed(record.epochs) if e.has_snapshot), None)
        with self._write():
            for result in record.epochs[self._epochs_done(run_id) :]:  # any not written live
                self._insert_epoch(run_id, result)
            best = record.best_test()
            self._conn.execute(
                "UPDATE runs SET status = ?, message = ?, seconds = ?, epochs_done = ?, test_accuracy = ?, "
                "train_accuracy = ?, objective = ?, zero_fraction = ?, best_test_accuracy = ?, coef = ?, "
                "coef_shape = ?, intercept = ?, pid = 0 WHERE id = ?",
                (
                    record.status,
                    record.message,
                    record.seconds,
                    len(record.epochs),
                    *(
                        getattr(final, m) if final else None
                        for m in ("test_accuracy", "train_accuracy", "objective", "zero_fraction")
                    ),
                    best.test_accuracy if best else None,
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
            f"SELECT {', '.join(_LIST_COLUMNS)} FROM runs"
            + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
            + f" ORDER BY {sort} {'DESC' if descending else 'ASC'}, id"
            + (f" LIMIT {min(max(0, int(limit)), 2**63 - 1)}" if limit is not None else "")
        )
        return [_stored_run(row) for row in self._conn.execute(query, params)]

    @_guarded
    def get(self, run_id: int) -> StoredRun | None:
        if not _is_id(run_id):
            return None
        row = self._conn.execute(f"SELECT {', '.join(_LIST_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _stored_run(row)

    @_guarded
    def load(self, run_id: int) -> RunRecord:
        """The whole run: settings, outcome and every epoch (the last one with the final weights).
        StoreError if there is no such run, or its row is damaged (the message says how)."""
        if not _is_id(run_id) or self.get(run_id) is None:
            raise StoreError(f"There is no run {run_id} in {self.path}.")
        try:
            return _read_record(self._conn, "main", run_id)
        except RowProblem as exc:
            raise StoreError(
                f"Stored run {run_id} is damaged: {exc}. Delete it with: regui runs delete {run_id}", str(exc)
            ) from None

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
        must not exist; its folder must). A failed export leaves no file behind.

        The rows are copied through this store's own connection, so a store opened read-only, or
        an older one read as an up-to-date copy, exports the same way."""
        target = Path(path).expanduser()
        if target.exists() or target.is_symlink():
            raise StoreError(
                f"Cannot export to {target}: it exists already; choose a new file name (nothing was written).",
                "it exists already",
            )
        ids = [int(i) for i in run_ids]
        other = None
        try:
            other = RunStore(target, check_interrupted=False, mode=NEW)
            run_columns = _run_columns(other._conn).split(", ")
            marks = ", ".join("?" * len(run_columns))
            with other._write():
                for run_id in ids:
                    row = self._conn.execute(
                        f"SELECT {', '.join(run_columns)} FROM runs WHERE id = ?", (run_id,)
                    ).fetchone()
                    if row is None:
                        continue
                    other._conn.execute(f"INSERT INTO runs ({', '.join(run_columns)}) VALUES ({marks})", row)
                    epochs = self._conn.execute("SELECT * FROM epochs WHERE run_id = ?", (run_id,)).fetchall()
                    if epochs:
                        other._conn.executemany(
                            f"INSERT INTO epochs VALUES ({', '.join('?' * len(epochs[0]))})", epochs
                        )
                # In the file, nothing runs: a run still going here is a snapshot there.
                other._conn.execute(
                    "UPDATE runs SET pid = 0, status = CASE status WHEN 'running' THEN ? ELSE status END",
                    (INTERRUPTED,),
                )
            count = other.count()
        except (sqlite3.Error, StoreError) as exc:
            if other is not None:
                other.close()
            for part in companions(target):  # our own new file: nothing else has it open
                part.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, StoreError) else describe(exc, target).reason
            raise StoreError(f"Cannot export to {target}: {reason}; nothing was written.", reason) from None
        other.close()
        return count

    @_guarded
    def import_from(self, path: str | os.PathLike) -> Imported:
        """Add the runs of another store file; runs already here (same uid) are skipped, and runs
        that do not read as runs (see store_rows) are refused, each named with the reason."""
        import tempfile

        source = Path(path).expanduser()
        if not source.is_file():
            raise StoreError(f"Cannot import {path}: there is no such file.")
        with tempfile.TemporaryDirectory(prefix="regui-import-") as tmp:
            # A copy, made by SQLite (never a plain file copy: see store_file), checked and
            # brought to this schema if older, without touching the file given.
            copy = Path(tmp) / "import.sqlite3"
            try:
                copy_database(source, copy)
                RunStore(copy, check_interrupted=False).close()
            except StoreError as exc:  # about the file given, never about this store
                raise StoreError(f"Cannot import {path}: {exc.reason}. Nothing was imported.", exc.reason) from None
            return self._import_copy(copy, path)

    def _import_copy(self, copy: Path, path) -> Imported:
        self._conn.execute("ATTACH DATABASE ? AS source", (str(copy),))
        try:
            try:
                total = self._conn.execute("SELECT count(*) FROM source.runs").fetchone()[0]
                new = [
                    row[0]
                    for row in self._conn.execute(
                        "SELECT id FROM source.runs WHERE uid NOT IN (SELECT uid FROM main.runs) ORDER BY id"
                    )
                ]
                sound, refused = [], []
                for old_id in new:
                    try:
                        _read_record(self._conn, "source", old_id)
                        sound.append(old_id)
                    except RowProblem as exc:
                        name = self._conn.execute("SELECT name FROM source.runs WHERE id = ?", (old_id,)).fetchone()[0]
                        refused.append(f"run {old_id}" + (f" ({name})" if isinstance(name, str) else "") + f": {exc}")
            except sqlite3.Error as exc:  # reading the file given
                reason = describe(exc, Path(path)).reason
                raise StoreError(f"Cannot import {path}: {reason}. Nothing was imported.", reason) from None
            with self._write():
                columns = [c for c in _run_columns(self._conn).split(", ") if c != "id"]
                for old_id in sound:
                    cursor = self._conn.execute(
                        f"INSERT INTO main.runs ({', '.join(columns)}) SELECT {', '.join(columns)} "
                        f"FROM source.runs WHERE id = ?",
                        (old_id,),
                    )
                    self._conn.execute(
                        f"INSERT INTO main.epochs SELECT ?, {', '.join(_EPOCH_COLUMNS)} FROM source.epochs "
                        "WHERE run_id = ?",
                        (cursor.lastrowid, old_id),
                    )
        finally:
            self._conn.execute("DETACH DATABASE source")
        return Imported(len(sound), total - len(new), tuple(refused))

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
        self._conn.execute(
            f"INSERT OR REPLACE INTO epochs (run_id, {', '.join(_EPOCH_COLUMNS)}) "
            f"VALUES (?{', ?' * len(_EPOCH_COLUMNS)})",
            (run_id, *(getattr(result, c) for c in _EPOCH_COLUMNS)),
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


_LIST_COLUMNS = (
    "id",
    "uid",
    "name",
    "note",
    "status",
    "config",
    "dataset",
    "sweep",
    "repeat",
    "started_at",
    "seconds",
    "epochs_done",
    "test_accuracy",
    "train_accuracy",
    "objective",
    "zero_fraction",
    "best_test_accuracy",
    "regui_version",
    "sklearn_version",
    "message",
)


def parse_setting(text: str) -> tuple[str, object]:
    """'alpha=0.01' -> ("alpha", 0.01); values as numbers or true/false where they read so."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise StoreError(f"A settings filter is SETTING=VALUE, e.g. penalty=l2 or alpha=0.01 (got '{text}').")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            continue
    return key, value


def _stored_run(row) -> StoredRun:
    """A listed row; one that does not read as a run comes back marked damaged, not as an error."""
    values = dict(zip(_LIST_COLUMNS, row))
    try:
        check_run(values, STATUSES)
        values["config"] = config_from_json(values["config"])
        values["dataset"] = dataset_from_json(values["dataset"])
    except RowProblem as exc:
        return _damaged_run(values, str(exc))
    return StoredRun(**values)


def _damaged_run(values: dict, why: str) -> StoredRun:
    """What can be shown of a damaged row: its id, and its texts where they are text."""

    def text(name: str) -> str:
        return values[name] if isinstance(values.get(name), str) else ""

    def number(name: str):
        value = values.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return StoredRun(
        id=values["id"],
        uid=text("uid"),
        name=text("name") or f"run {values['id']}",
        note=text("note"),
        status=DAMAGED,
        config=TrainConfig(),
        dataset={},
        sweep=text("sweep"),
        repeat=0,
        started_at=text("started_at"),
        seconds=number("seconds") or 0.0,
        epochs_done=0,
        test_accuracy=None,
        train_accuracy=None,
        objective=None,
        zero_fraction=None,
        best_test_accuracy=None,
        regui_version=text("regui_version"),
        sklearn_version=text("sklearn_version"),
        message=text("message"),
        damage=why,
    )


_RECORD_COLUMNS = _LIST_COLUMNS + ("coef", "coef_shape", "intercept")
_NO_WEIGHTS = np.empty((0, 0), np.float32)
_NO_INTERCEPT = np.empty(0)


def _read_record(conn: sqlite3.Connection, schema: str, run_id: int) -> RunRecord:
    """Run ``run_id`` of ``schema`` ("main", or an attached "source") as a record; RowProblem if
    its rows do not read as a run."""
    row = conn.execute(f"SELECT {', '.join(_RECORD_COLUMNS)} FROM {schema}.runs WHERE id = ?", (run_id,)).fetchone()
    values = dict(zip(_RECORD_COLUMNS, row))
    check_run({k: values[k] for k in _LIST_COLUMNS}, STATUSES)
    config = config_from_json(values["config"])
    dataset = dataset_from_json(values["dataset"])
    epoch_rows = conn.execute(
        f"SELECT {', '.join(_EPOCH_COLUMNS)} FROM {schema}.epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
    ).fetchall()
    epochs = [
        EpochResult(**numbers, coef=_NO_WEIGHTS, intercept=_NO_INTERCEPT)
        for numbers in epoch_numbers(epoch_rows, _EPOCH_COLUMNS)
    ]
    weights = weights_from_blobs(values["coef"], values["coef_shape"], values["intercept"])
    if epochs and weights is not None:
        epochs[-1] = replace(epochs[-1], coef=weights[0], intercept=weights[1])
    return RunRecord(
        config=config,
        name=values["name"],
        status=values["status"],
        message=values["message"],
        epochs=epochs,
        dataset=dataset,
        started_at=values["started_at"],
        seconds=float(values["seconds"]),
        sweep=values["sweep"],
        repeat=values["repeat"],
    )


def _is_id(run_id) -> bool:
    """A run id SQLite can hold (a huge number typed by mistake is no run, not a crash)."""
    return isinstance(run_id, int) and 0 < run_id < 2**63


def _run_columns(conn: sqlite3.Connection) -> str:
    return ", ".join(row[1] for row in conn.execute("PRAGMA main.table_info(runs)"))


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (executescript would commit on its own)."""
    lines = [line.split("--")[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[str, str]:
    """regui's and scikit-learn's versions, read from the installed package's metadata: the
    process running a sweep never imports scikit-learn itself (its workers train), and
    importing it there took 0.7 s of a core from the workers (a 2-process sweep 35% slower)."""
    import sys

    from regui import __version__

    if "sklearn" in sys.modules:  # the app trains in its own process: no need to read metadata (40 ms)
        return __version__, sys.modules["sklearn"].__version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        return __version__, version("scikit-learn")
    except PackageNotFoundError:  # pragma: no cover - scikit-learn is a dependency
        return __version__, ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _process_alive(pid, started) -> bool:
    """Whether the process that wrote a "running" row is still at it. A pid that is not a
    process id at all (a row from elsewhere, edited by hand) names no live process."""
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31:
        return False
    return same_process_alive(pid, started if isinstance(started, str) else "")
