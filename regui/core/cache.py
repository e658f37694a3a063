"""On-disk cache of decoded, resized image arrays.

An entry is keyed by everything that decides its contents: the folder, the file list with
sizes and modification times, the image settings and the OpenCV version. Any change gives a
new key, so a stale entry is never found; an entry that fails to read or to validate is
treated as missing and rebuilt. Entries are written atomically (temporary file, then rename)
and the least recently used ones are pruned. A write killed half-way leaves its temporary file
(hundreds of MB for a big folder): its name carries the writer's process id, and pruning
deletes it once that process is gone.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Bump when the layout of an entry or the decoding rules change.
# 2: images over 89 million pixels are refused (they were decoded up to 134)
# 3: large JPEGs may be decoded at reduced scale; an entry lists which files were
CACHE_FORMAT = 3
MAX_ENTRIES = 40
MAX_TOTAL_BYTES = 4 * 2**30


@dataclass(frozen=True)
class CachedImages:
    X: np.ndarray  # one row per scanned file; rows of failed files are zero
    failures: dict[int, str]
    reduced: frozenset[int] = frozenset()  # files decoded at reduced scale


def cache_key(root: Path, fingerprint: str, settings_text: str, decoder_version: str) -> str:
    text = "\n".join([f"format={CACHE_FORMAT}", str(root.resolve()), fingerprint, settings_text, decoder_version])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key[:40]}.npz"


def read(cache_dir: Path, key: str, n_files: int, n_features: int) -> CachedImages | None:
    """The entry for ``key``, or None if it is missing, unreadable or does not validate."""
    path = _entry_path(cache_dir, key)
    try:
        # Our own file handle: np.load leaks its handle when the zip is damaged.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                return None
            X = archive["X"]
            failed_index = archive["failed_index"]
            failed_reason = archive["failed_reason"]
            reduced = archive["reduced"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if X.dtype != np.uint8 or X.shape != (n_files, n_features):
        return None
    if failed_index.ndim != 1 or failed_index.shape != failed_reason.shape:
        return None
    for index in (failed_index, reduced):
        if (
            index.ndim != 1
            or index.dtype.kind not in "iu"
            or index.size
            and (index.min() < 0 or index.max() >= n_files)
        ):
            return None
    try:
        os.utime(path)  # mark as recently used for pruning
    except OSError:
        pass
    failures = {int(i): str(r) for i, r in zip(failed_index, failed_reason)}
    return CachedImages(X=X, failures=failures, reduced=frozenset(int(i) for i in reduced))


def write(cache_dir: Path, key: str, entry: CachedImages) -> str | None:
    """Store an entry. Returns None on success, else why it could not be stored (never raises)."""
    failed_index = np.array(sorted(entry.failures), dtype=np.int64)
    failed_reason = np.array([entry.failures[i] for i in failed_index], dtype=np.str_)
    reduced = np.array(sorted(entry.reduced), dtype=np.int64)
    tmp_name = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{_TMP}{os.getpid()}-", suffix=".npz", dir=cache_dir)
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                key=np.array(key),
                X=entry.X,
                failed_index=failed_index,
                failed_reason=failed_reason,
                reduced=reduced,
            )
        os.replace(tmp_name, _entry_path(cache_dir, key))
        tmp_name = None
    except OSError as exc:
        return f"could not write the image cache in {cache_dir}: {exc.strerror or exc}"
    finally:
        if tmp_name:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    prune(cache_dir)
    return None


_TMP = ".tmp-"  # temporary files: .tmp-PID-random.npz
STALE_SECONDS = 3600  # a temporary file without a process id (older regui) is stale after this


def remove_stale_temporaries(cache_dir: Path) -> None:
    """Delete temporary files whose writer is gone (killed or crashed mid-write)."""
    from regui.core.machine import process_alive

    try:
        candidates = list(cache_dir.glob(f"{_TMP}*.npz"))
    except OSError:
        return
    for path in candidates:
        owner = path.name[len(_TMP) :].split("-", 1)[0]
        try:
            if owner.isdigit():
                stale = not process_alive(int(owner))
            else:
                stale = time.time() - path.stat().st_mtime > STALE_SECONDS
            if stale:
                path.unlink()
        except OSError:
            continue


def prune(cache_dir: Path, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_TOTAL_BYTES) -> None:
    """Delete the least recently used entries beyond the count and size limits, and temporary
    files left by writers that are gone."""
    remove_stale_temporaries(cache_dir)
    try:
        entries = []
        for path in cache_dir.glob("*.npz"):
            if path.name.startswith(_TMP):
                continue
            st = path.stat()
            entries.append((st.st_mtime, st.st_size, path))
    except OSError:
        return
    entries.sort(reverse=True)  # newest first
    total = 0
    for index, (_, size, path) in enumerate(entries):
        total += size
        if index > 0 and (index >= max_entries or total > max_bytes):
            try:
                path.unlink()
            except OSError:
                pass
