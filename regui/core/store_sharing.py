"""Sharing runs between stores: export some into a new file, import another file's runs.

An exported file is itself a run store. Importing reads the file given through SQLite only (a
copy made with SQLite's backup), checks every run with the rules of ``store_rows`` and takes
the sound ones; a problem with the file given is said of that file, never of this store.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from regui.core.store_file import NEW, StoreError, companions, copy_database, describe
from regui.core.store_rows import RowProblem, read_record
from regui.core.store_schema import EPOCH_COLUMNS, INTERRUPTED, run_columns

if TYPE_CHECKING:
    from regui.core.store import RunStore


class Imported(NamedTuple):
    """What an import did: runs added, runs that were here already, and runs refused (each with
    its name and why)."""

    added: int
    known: int
    refused: tuple[str, ...] = ()


def export_runs(store: RunStore, run_ids: Sequence[int], path: str | os.PathLike) -> int:
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
        other = type(store)(target, check_interrupted=False, mode=NEW)
        columns = run_columns(other._conn).split(", ")
        marks = ", ".join("?" * len(columns))
        with other._write():
            for run_id in ids:
                row = store._conn.execute(f"SELECT {', '.join(columns)} FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is None:
                    continue
                other._conn.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({marks})", row)
                epochs = store._conn.execute("SELECT * FROM epochs WHERE run_id = ?", (run_id,)).fetchall()
                if epochs:
                    other._conn.executemany(f"INSERT INTO epochs VALUES ({', '.join('?' * len(epochs[0]))})", epochs)
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


def import_runs(store: RunStore, path: str | os.PathLike) -> Imported:
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
            type(store)(copy, check_interrupted=False).close()
        except StoreError as exc:  # about the file given, never about this store
            raise StoreError(f"Cannot import {path}: {exc.reason}. Nothing was imported.", exc.reason) from None
        return _import_copy(store, copy, path)


def _import_copy(store: RunStore, copy: Path, path) -> Imported:
    store._conn.execute("ATTACH DATABASE ? AS source", (str(copy),))
    try:
        try:
            total = store._conn.execute("SELECT count(*) FROM source.runs").fetchone()[0]
            new = [
                row[0]
                for row in store._conn.execute(
                    "SELECT id FROM source.runs WHERE uid NOT IN (SELECT uid FROM main.runs) ORDER BY id"
                )
            ]
            sound, refused = [], []
            for old_id in new:
                try:
                    read_record(store._conn, "source", old_id)
                    sound.append(old_id)
                except RowProblem as exc:
                    name = store._conn.execute("SELECT name FROM source.runs WHERE id = ?", (old_id,)).fetchone()[0]
                    refused.append(f"run {old_id}" + (f" ({name})" if isinstance(name, str) else "") + f": {exc}")
        except sqlite3.Error as exc:  # reading the file given
            reason = describe(exc, Path(path)).reason
            raise StoreError(f"Cannot import {path}: {reason}. Nothing was imported.", reason) from None
        with store._write():
            columns = [c for c in run_columns(store._conn).split(", ") if c != "id"]
            for old_id in sound:
                cursor = store._conn.execute(
                    f"INSERT INTO main.runs ({', '.join(columns)}) SELECT {', '.join(columns)} "
                    f"FROM source.runs WHERE id = ?",
                    (old_id,),
                )
                store._conn.execute(
                    f"INSERT INTO main.epochs (run_id, {', '.join(EPOCH_COLUMNS)}, batch_losses) "
                    f"SELECT ?, {', '.join(EPOCH_COLUMNS)}, batch_losses FROM source.epochs WHERE run_id = ?",
                    (cursor.lastrowid, old_id),
                )
    finally:
        store._conn.execute("DETACH DATABASE source")
    return Imported(len(sound), total - len(new), tuple(refused))
