"""Scanning a class-per-folder image tree into a sorted file list.

The rules are the ones users of torchvision, Keras and Orange expect:
- the classes are the sorted, non-hidden top-level sub-folders;
- image files anywhere below a class folder belong to that class;
- dot-files, dot-folders and ``Thumbs.db`` are ignored without comment;
- other files (wrong extension, top-level files, unreadable folders) are listed as skipped,
  with the reason, so nothing disappears silently;
- files are taken in one sorted order (class, then relative path), so the same folder gives
  the same arrays and the same split on every machine and filesystem.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from regui.core.errors import Cancelled, DatasetError

#: Extensions OpenCV decodes (matched case-insensitively).
IMAGE_EXTENSIONS = frozenset(
    {
        ".avif", ".bmp", ".dib", ".gif", ".jpe", ".jpeg", ".jpg", ".pbm", ".pgm",
        ".png", ".pnm", ".ppm", ".tif", ".tiff", ".webp",
    }
)  # fmt: skip

_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})


class ImageFile(NamedTuple):  # a NamedTuple: one is made per file, and it is quicker to build
    """One image found by the scan. ``relpath`` uses forward slashes on every platform."""

    relpath: str
    label: int
    size: int
    mtime_ns: int
    inode: int  # with ctime: a same-size rewrite that keeps the modification time is still seen
    ctime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A file (or folder) left out of the dataset, and why."""

    relpath: str
    reason: str


@dataclass(frozen=True)
class ScanResult:
    root: Path
    class_names: tuple[str, ...]
    files: tuple[ImageFile, ...]
    skipped: tuple[Skipped, ...]

    def fingerprint(self) -> str:
        """A hash of the file list with sizes and modification times: changes when any file does."""
        digest = hashlib.sha256()
        for name in self.class_names:
            digest.update(f"class\0{name}\n".encode("utf-8", "surrogateescape"))
        for f in self.files:
            line = f"{f.relpath}\0{f.size}\0{f.mtime_ns}\0{f.inode}\0{f.ctime_ns}\n"
            digest.update(line.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_NAMES


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_folder(root: str | os.PathLike, should_stop: Callable[[], bool] | None = None) -> ScanResult:
    """List the classes and image files under ``root``; raise DatasetError if it is unusable.

    ``should_stop()`` is checked at every folder: a huge tree picked by mistake can be cancelled.
    """
    root = Path(root).expanduser()
    if not str(root).strip():
        raise DatasetError("No dataset folder given.")
    if not root.exists():
        raise DatasetError(f"Dataset folder not found: {root}")
    if not root.is_dir():
        raise DatasetError(f"Not a folder: {root} (choose the folder that holds one sub-folder per class)")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DatasetError(f"Cannot read folder {root}: {exc.strerror or exc}") from exc

    class_names: list[str] = []
    skipped: list[Skipped] = []
    for entry in entries:
        if _ignored(entry.name):
            continue
        if _is_dir(entry):
            class_names.append(entry.name)
        else:
            skipped.append(Skipped(entry.name, "not inside a class folder"))

    if len(class_names) < 2:
        found = f"only '{class_names[0]}'" if class_names else "none"
        raise DatasetError(
            f"{root} needs at least two class sub-folders (one per class, images inside); found {found}."
        )

    files: list[ImageFile] = []
    root_real = os.path.realpath(root)
    for label, name in enumerate(class_names):
        found = _scan_class(root, root_real, name, label, skipped, should_stop)
        if not found:
            raise DatasetError(f"Class folder '{name}' has no image files ({root / name}).")
        files.extend(found)

    skipped.sort(key=lambda s: s.relpath)
    return ScanResult(root=root, class_names=tuple(class_names), files=tuple(files), skipped=tuple(skipped))


def _leaves_class(target: str, root_real: str, class_real: str) -> bool:
    """True if a linked folder resolves to the dataset, one of its parents, or another class."""
    inside_dataset = target == root_real or target.startswith(root_real + os.sep)
    contains_dataset = root_real.startswith(target + os.sep)
    inside_class = target == class_real or target.startswith(class_real + os.sep)
    return contains_dataset or (inside_dataset and not inside_class)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks: a linked class folder is a class
    except OSError:
        return False


def _scan_class(
    root: Path, root_real: str, class_name: str, label: int, skipped: list[Skipped], should_stop
) -> list[ImageFile]:
    """Every image file below one class folder, sorted by relative path.

    Plain strings and os.scandir rather than pathlib: this loop runs once per file, and a slow,
    GIL-holding loop here would stall the app's window while a big folder is scanned.
    Linked sub-folders are followed, except those leading back into the dataset outside this
    class (that would give the same images two labels) or to the dataset itself.
    """
    found: list[ImageFile] = []
    seen_dirs: set[tuple[int, int]] = set()
    class_real = os.path.realpath(os.path.join(root, class_name))
    pending = [(os.path.join(root, class_name), class_name)]  # (path, relative path with "/")
    while pending:
        if should_stop is not None and should_stop():
            raise Cancelled("Loading cancelled.")
        folder, rel_folder = pending.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink back up the tree: visit once
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append(Skipped(rel_folder, f"cannot read folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            name = entry.name
            if _ignored(name):
                continue
            rel = f"{rel_folder}/{name}"
            try:
                is_dir = entry.is_dir()  # follows symlinks: linked sub-folders count
            except OSError:
                is_dir = False
            if is_dir:
                if entry.is_symlink() and _leaves_class(os.path.realpath(entry.path), root_real, class_real):
                    skipped.append(Skipped(rel, "linked folder leads outside its class folder (not followed)"))
                else:
                    pending.append((entry.path, rel))
                continue
            if not is_image_name(name):
                skipped.append(Skipped(rel, "not an image file (unsupported extension)"))
                continue
            try:
                st = entry.stat()
            except OSError as exc:
                skipped.append(Skipped(rel, f"cannot read: {exc.strerror or exc}"))
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
                skipped.append(Skipped(rel, "not a regular file"))
                continue
            found.append(ImageFile(rel, label, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))
    found.sort(key=lambda f: f.relpath)
    return found
