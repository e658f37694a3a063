"""Opening the run store's file, and saying in words what went wrong with it.

Three rules keep a store safe here (each was once a way to lose runs):

- Only SQLite touches the database file and its ``-wal`` and ``-shm`` files. POSIX advisory
  locks belong to a process and a file: closing *any* descriptor of the file (say, a plain
  ``open()`` to read its header) drops every lock the process's SQLite connections hold on it,
  and another process may then delete the WAL under them (SQLite's "How To Corrupt An SQLite
  Database File", 2.2). SQLite itself keeps all of a process's descriptors of a file together,
  so any number of connections in one process are safe. Here only ``os.stat`` looks at the
  files from outside.
- A writer checks the file before it writes anything (``PRAGMA quick_check``: about 20 ms
  for 500 stored runs), so a damaged store is never written to.
- Readers open read-only and change nothing: listing runs works on a read-only disk, does not
  make a store (or its folder) where none was, and does not bring an older store up to date
  (it reads an up-to-date copy in memory). SQLite may leave its -wal and -shm files beside a
  store a reader opened, as it does for any reader; the next writer tidies them.

Every ``sqlite3.Error`` becomes a StoreError whose message says what is wrong (damaged,
read-only, disk full, locked) and what to do.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from regui.core.errors import ReguiError

WRITE, READ, NEW = "write", "read", "new"  # how a store is opened: see connect()
MIN_FREE_BYTES = 1 << 20  # below this a writer does not start: SQLite could not even make its -shm


class StoreError(ReguiError):
    """The store cannot be opened, read or written; the message says which file and what to do.
    ``reason`` is what is wrong with the file alone (for messages about a file being imported)."""

    def __init__(self, message: str, reason: str = "", nothing_stored: bool = False) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.nothing_stored = nothing_stored  # no store there yet (missing, or an empty file)


def default_store_path() -> Path:
    """``$REGUI_STORE`` if set, else ``runs.sqlite3`` in the user data directory."""
    override = os.environ.get("REGUI_STORE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("regui", appauthor=False)) / "runs.sqlite3"


def companions(path: Path) -> tuple[Path, Path, Path]:
    """The database file and the two SQLite keeps next to it while it is open."""
    return path, Path(f"{path}-wal"), Path(f"{path}-shm")


def is_store_file(candidate: str | os.PathLike, store: str | os.PathLike) -> bool:
    """Whether writing ``candidate`` would write over the store at ``store`` or one of its
    companion files: the same name, a link to it, or a hard link (the same inode)."""
    candidate = Path(candidate).expanduser()
    target = os.path.realpath(candidate)
    for part in companions(Path(store).expanduser()):
        if target == os.path.realpath(part):
            return True
        try:
            if os.path.samefile(candidate, part):  # stat only: no descriptor is opened
                return True
        except OSError:
            continue
    return False


def connect(path: Path, mode: str, may_create_folder: bool = False) -> sqlite3.Connection:
    """A connection to the store at ``path``.

    WRITE: read and write, created if missing (its folder too, if ``may_create_folder``);
    READ: read only, never created (StoreError if missing); NEW: a file that must not exist yet,
    in a folder that exists. Raises StoreError with a message for a person.
    """
    try:
        exists = path.exists()
        if exists and not path.is_file():
            raise StoreError(f"Cannot use {path} as the run store: it is not a file.", "it is not a file")
    except OSError as exc:  # a folder on the way that cannot be searched
        raise StoreError(f"Cannot use the run store {path}: {exc.strerror or exc}.", exc.strerror or str(exc)) from None
    if mode == READ:
        if not exists:
            raise StoreError(
                f"There is no run store at {path} (nothing has been stored there).",
                "there is no such file",
                nothing_stored=True,
            )
        return _connect_read_only(path)
    if mode == NEW and exists:
        raise StoreError(f"{path} exists already; choose a new file name (nothing was written).")
    folder = path.parent
    if not folder.is_dir():
        if not may_create_folder:
            raise StoreError(
                f"Cannot create the run store {path}: folder {folder} does not exist.",
                f"folder {folder} does not exist",
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the run store in {folder}: {exc.strerror or exc}. Runs are not kept; "
                "choose a writable place."
            ) from None
    _check_writable_place(path)
    try:
        # A URI connection, so that ATTACH can name another store read-only the same way.
        # Transactions by hand (isolation_level None); a writer waits up to 10 s for another.
        return sqlite3.connect(f"{_uri(path)}?mode=rwc", uri=True, timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise describe(exc, path) from None


def _uri(path: Path) -> str:
    return uri_from_absolute(str(path.expanduser().resolve()), os.sep)


def uri_from_absolute(text: str, sep: str) -> str:
    """An SQLite URI for the absolute path ``text``. Not Path.as_uri(): that names a network
    share's server as the URI's authority (file://server/share), which SQLite refuses; an empty
    authority with the share in the path (file:////server/share) is what SQLite reads."""
    from urllib.parse import quote

    text = text.replace(sep, "/")
    if not text.startswith("/"):  # C:/Users/...
        text = "/" + text
    return "file://" + quote(text, safe="/:")


def reading_uri(path: Path) -> str:
    """The URI that opens the store at ``path`` for reading only. A WAL database on read-only
    media cannot make its -shm; nothing can write there either, so SQLite may read it as
    immutable."""
    return f"{_uri(path)}?mode=ro" + ("&immutable=1" if _read_only_place(path) else "")


def _connect_read_only(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(reading_uri(path), uri=True, timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise describe(exc, path) from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: read now
    except sqlite3.Error as exc:
        conn.close()  # (an open handle would keep the file locked on Windows)
        raise describe(exc, path) from None
    return conn


def copy_database(source: Path, target: Path) -> None:
    """Copy the database at ``source`` into a new file ``target`` through SQLite's backup API
    (a consistent copy, WAL included, without opening ``source`` outside SQLite)."""
    reader = _connect_read_only(source)
    try:
        writer = sqlite3.connect(str(target))
        try:
            reader.backup(writer)
        except sqlite3.Error as exc:
            raise describe(exc, source) from None
        finally:
            writer.close()
    finally:
        reader.close()


def _read_only_place(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):
        return not os.access(path.parent, os.W_OK)


def _check_writable_place(path: Path) -> None:
    """A writer refuses read-only media and a full disk before SQLite makes any file there."""
    folder = path.parent
    if _read_only_place(path):
        raise StoreError(
            f"The run store {path} is on a read-only disk. It can still be read (regui runs list); to "
            "store runs, set REGUI_STORE (or --store) to a writable place.",
            "it is on a read-only disk",
        )
    if (path.exists() and not os.access(path, os.W_OK)) or not os.access(folder, os.W_OK):
        raise StoreError(
            f"The run store {path} is read-only (no permission to write it or its folder). It can still "
            "be read (regui runs list).",
            "it is read-only",
        )
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < MIN_FREE_BYTES:
        raise StoreError(
            f"The disk holding the run store {path} is full ({free:,} bytes free); free some space.", "the disk is full"
        )


def absent_companions(path: Path) -> list[Path]:
    """The -wal and -shm files that do not exist now (to tidy up if opening fails)."""
    return [p for p in companions(path)[1:] if not p.exists()]


def remove_unused(created: list[Path]) -> None:
    """Remove the -wal and -shm files a failed open made, if it made both and wrote nothing in the
    WAL (a full disk leaves an empty WAL and a 3-byte -shm). Files that were there before the
    open may belong to another process's connection and are never touched."""
    if len(created) != 2:
        return
    wal = created[0]
    try:
        if wal.exists() and wal.stat().st_size:
            return
    except OSError:
        return
    for leftover in created:
        try:
            leftover.unlink()
        except OSError:
            pass


def describe(exc: sqlite3.Error, path: Path, doing: str = "use") -> StoreError:
    """A StoreError saying in words what ``exc`` means for the store at ``path``."""
    code = _code(exc)
    if code == "SQLITE_NOTADB":
        reason = "it is not a regui run store (not an SQLite database)"
        return StoreError(
            f"{path} is not a regui run store (not an SQLite database); it was left as it is. Move it "
            "away, or choose another file.",
            reason,
        )
    if code == "SQLITE_CORRUPT":
        reason = f"it is damaged ({exc})"
        return StoreError(
            f"The run store {path} is damaged ({exc}); it was left as it is. Move it away to start a new one.", reason
        )
    if code == "SQLITE_FULL":
        return StoreError(f"The disk holding the run store {path} is full; free some space.", "the disk is full")
    if code == "SQLITE_READONLY":
        return StoreError(
            f"The run store {path} is read-only (a read-only file, folder or disk). It can still be "
            "read (regui runs list).",
            "it is read-only",
        )
    if code in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StoreError(
            f"The run store {path} stayed locked by another program for over 10 s ({exc}); try again.",
            f"it is locked ({exc})",
        )
    if code == "SQLITE_CANTOPEN":
        return StoreError(
            f"Cannot open the run store {path} ({exc}): check that its folder can be read and written.",
            f"it cannot be opened ({exc})",
        )
    if code == "SQLITE_IOERR":
        return StoreError(f"A disk error while trying to {doing} the run store {path} ({exc}).", f"disk error ({exc})")
    return StoreError(f"Cannot {doing} the run store {path}: {exc}.", str(exc))


# Primary result codes (sqlite3.h); sqlite_errorcode may carry an extended code in its high bits.
_CODES = {
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
    26: "SQLITE_NOTADB",
}
# Before Python 3.11 errors carry no code: their text tells.
_TEXTS = (
    ("file is not a database", "SQLITE_NOTADB"),
    ("malformed", "SQLITE_CORRUPT"),
    ("disk is full", "SQLITE_FULL"),
    ("readonly", "SQLITE_READONLY"),
    ("locked", "SQLITE_BUSY"),
    ("unable to open", "SQLITE_CANTOPEN"),
    ("disk i/o", "SQLITE_IOERR"),
)


def _code(exc: sqlite3.Error) -> str:
    number = getattr(exc, "sqlite_errorcode", None)
    if isinstance(number, int) and (number & 0xFF) in _CODES:
        return _CODES[number & 0xFF]
    text = str(exc).lower()
    return next((code for fragment, code in _TEXTS if fragment in text), "")
