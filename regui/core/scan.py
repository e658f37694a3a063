"""Scanning a class-per-folder image tree into a sorted file list.

The rules are the ones users of torchvision, Keras and Orange expect:
- the classes are the sorted, non-hidden top-level sub-folders;
- image files anywhere below a class folder belong to that class;
- dot-files, dot-folders and ``Thumbs.db`` are ignored without comment;
- other files (wrong extension, top-level files, unreadable folders) are listed as skipped,
  with the reason, so nothing disappears silently;
- files are taken in one sorted order (class, then relative path), so the same folder gives
  the same arrays and the same split on every machine and filesystem;
- links are followed but never out of the class they are in: a class folder (or a folder in
  it) that links to the dataset itself, to a folder holding it, or to another class is skipped
  with the reason, and a file reached twice (through links, or hard links) counts once, in the
  first place the sorted order meets it. A link to a folder elsewhere on the disk is followed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from regui.core.errors import Cancelled, DatasetError

#: Extensions OpenCV decodes, and HEIC/HEIF (pillow-heif), matched case-insensitively.
IMAGE_EXTENSIONS = frozenset(
    {
        ".avif",
        ".bmp",
        ".dib",
        ".gif",
        ".heic",
        ".heif",
        ".jpe",
        ".jpeg",
        ".jpg",
        ".pbm",
        ".pgm",
        ".png",
        ".pnm",
        ".ppm",
        ".tif",
        ".tiff",
        ".webp",
    }
)

_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})


class ImageFile(NamedTuple):  # a NamedTuple: one is made per file, and it is quicker to build
    """One image found by the scan. ``relpath`` uses forward slashes on every platform."""

    relpath: str
    label: int
    size: int
    mtime_ns: int
    inode: int  # with ctime: a same-size rewrite that keeps the modification time is still seen
    ctime_ns: int
    device: int = 0  # with the inode: the same file reached twice (links) is counted once


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

    root_real = os.path.realpath(root)
    class_names: list[str] = []
    class_reals: list[str] = []
    skipped: list[Skipped] = []
    for entry in entries:
        if _ignored(entry.name):
            continue
        if not _is_dir(entry):
            skipped.append(Skipped(entry.name, "not inside a class folder"))
            continue
        real = os.path.realpath(entry.path)
        problem = _linked_class_problem(real, root_real, entry.name, dict(zip(class_reals, class_names)))
        if problem:
            skipped.append(Skipped(entry.name, problem))
            continue
        class_names.append(entry.name)
        class_reals.append(real)

    if len(class_names) < 2:
        found = f"only '{class_names[0]}'" if class_names else "none"
        raise DatasetError(
            f"{root} needs at least two class sub-folders (one per class, images inside); found {found}."
        )

    files: list[ImageFile] = []
    for label, name in enumerate(class_names):
        in_class = _scan_class(root, root_real, name, label, skipped, should_stop)
        if not in_class:
            raise DatasetError(f"Class folder '{name}' has no image files ({root / name}).")
        files.extend(in_class)
    files = _count_each_file_once(files, class_names, skipped)

    skipped.sort(key=lambda s: s.relpath)
    return ScanResult(root=root, class_names=tuple(class_names), files=tuple(files), skipped=tuple(skipped))


def _linked_class_problem(real: str, root_real: str, name: str, earlier: dict[str, str]) -> str:
    """Why a class folder that is a link cannot be a class ("" if it can): it leads to the
    dataset itself or a folder holding it (that would take in everything, the other classes
    too), into the dataset (another class's images twice), or where an earlier class is."""
    if real == root_real or root_real.startswith(real + os.sep):
        return "linked class folder leads to the dataset itself or a folder that holds it (not followed)"
    if real.startswith(root_real + os.sep) and real != os.path.join(root_real, name):
        return (
            "linked class folder leads to another folder of this dataset (not followed: its images would count twice)"
        )
    for other_real, other in earlier.items():
        if real == other_real or real.startswith(other_real + os.sep) or other_real.startswith(real + os.sep):
            return f"linked class folder leads to the same images as class '{other}' (not followed)"
    return ""


def _count_each_file_once(files: list[ImageFile], class_names: list[str], skipped: list[Skipped]) -> list[ImageFile]:
    """Drop files already met (the same device and inode: a link, or a hard link), keeping the
    first in the sorted order; a class left with none is an error."""
    seen: dict[tuple[int, int], str] = {}
    kept: list[ImageFile] = []
    for f in files:
        key = (f.device, f.inode)
        if f.inode and key in seen:  # inode 0: a file system that has none (then nothing is merged)
            skipped.append(Skipped(f.relpath, f"the same file as {seen[key]} (reached through a link): counted once"))
            continue
        seen[key] = f.relpath
        kept.append(f)
    left = {f.label for f in kept}
    for label, name in enumerate(class_names):
        if label not in left:
            raise DatasetError(
                f"Class folder '{name}' holds only images that are already in another class "
                "(through links); give it images of its own."
            )
    return kept


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
            found.append(ImageFile(rel, label, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev))
    found.sort(key=lambda f: f.relpath)
    return found
