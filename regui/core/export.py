"""Writing results to CSV and JSON files, safely.

- CSV opens cleanly in Excel (UTF-8 with BOM) and text cells that a spreadsheet would run as a
  formula (starting with = + - @, tab or CR; class and folder names are user text) get a
  leading apostrophe. Numbers are written untouched.
- JSON has no bare NaN/Infinity (they become null) and numpy scalars become plain numbers.
- Files are written to a temporary name and renamed, so a failed write never leaves half a file;
  an unwritable destination raises ExportError with a message for a person.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from regui.core.errors import ReguiError

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ReguiError):
    pass


def safe_cell(value):
    """A CSV cell value with spreadsheet formulas neutralized; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if value is None:
        return ""
    return value


def csv_text(rows: Iterable[Mapping], columns: list[str] | None = None) -> str:
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(_plain(row.get(c))) for c in columns])
    return buffer.getvalue()


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping], columns: list[str] | None = None) -> None:
    # utf-8-sig: Excel only reads UTF-8 (e.g. non-ASCII class names) when the BOM is there.
    write_text_atomic(path, csv_text(rows, columns), encoding="utf-8-sig")


def json_text(data) -> str:
    return json.dumps(_plain(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, data) -> None:
    write_text_atomic(path, json_text(data), encoding="utf-8")


def markdown_text(rows: Iterable[Mapping], columns: list[str] | None = None) -> str:
    """A GitHub-style Markdown table; cells are shown as given (format numbers beforehand)."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []

    def cell(value) -> str:
        text = "" if value is None else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_markdown(path: str | os.PathLike, rows: Iterable[Mapping], columns: list[str] | None = None) -> None:
    write_text_atomic(path, markdown_text(rows, columns))


def results_document(records, dataset_summary: dict | None = None) -> dict:
    """Settings plus full per-epoch history of each run, with the versions that produced them."""
    from regui.core.machine import versions

    regui_version, sklearn_version = versions()
    document: dict[str, object] = {"regui_version": regui_version, "sklearn_version": sklearn_version}
    if dataset_summary is not None:
        document["dataset"] = dataset_summary
    document["runs"] = [r.to_dict() for r in records]
    return document


def _plain(value):
    """Numpy scalars to Python numbers, non-finite floats to None, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_not_a_store(path: str | os.PathLike, stores: tuple[str | os.PathLike, ...] = ()) -> None:
    """Raise ExportError if writing ``path`` would replace the run store (the default one, or
    any of ``stores``) or one of its -wal/-shm files: by name, through a link, or a hard link.
    Replacing it would lose every stored run at once."""
    from regui.core.store_file import default_store_path, is_store_file

    for store in (default_store_path(), *stores):
        if is_store_file(path, store):
            raise ExportError(
                f"Cannot write {path}: it is the run store ({store}), which keeps every run; "
                "nothing was written. Choose another file."
            )


def check_writable(path: str | os.PathLike, stores: tuple[str | os.PathLike, ...] = ()) -> None:
    """Raise ExportError now if ``path`` clearly cannot be written (before hours of work), or
    is the run store (see check_not_a_store)."""
    path = Path(path)
    check_not_a_store(path, stores)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ExportError(f"Cannot write {path}: it is a folder.")
    if not folder.is_dir():
        raise ExportError(f"Cannot write {path}: folder {folder} does not exist.")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"Cannot write {path}: permission denied.")
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        return  # a pipe or a device: written straight into, nothing to try first
    # What write_text_atomic will do: make a file next to the target. os.access says yes to
    # root everywhere, and to read-only file systems (/proc, a mounted image); trying tells.
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".regui-check-"):
            pass
    except OSError as exc:
        raise ExportError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` so that a failure never leaves half a file.

    A regular file (or a symlink to one, whose target is then written) is replaced through a
    temporary file and a rename; anything else that is not a folder (a pipe, /dev/stdout) is
    written straight into, since renaming over it would destroy it. Names that are not valid
    Unicode (undecodable bytes in a folder name) are written escaped rather than failing.
    """
    given = Path(path)
    check_not_a_store(given)
    target = Path(os.path.realpath(given))  # a symlink: write where it points, keep the link
    data = text.encode(encoding, errors="backslashreplace")
    try:
        if target.exists() and not target.is_file():
            if target.is_dir():
                raise ExportError(f"Cannot write {given}: it is a folder.")
            with open(target, "wb") as fh:
                fh.write(data)
            return
        _replace_atomically(target, data)
    except OSError as exc:
        raise ExportError(f"Cannot write {given}: {_describe_os_error(exc, target)}.") from None


def _replace_atomically(target: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp_name, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def _describe_os_error(exc: OSError, target: Path) -> str:
    if isinstance(exc, FileNotFoundError) and not target.parent.is_dir():
        return f"folder {target.parent} does not exist"
    return exc.strerror or str(exc)
