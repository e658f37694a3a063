"""From a folder to arrays: scan, decode (cached), then split and scale for training.

load_dataset(folder, ImageSettings)  -> Dataset       uint8 pixels, labels, what was skipped
prepare(dataset, SplitSettings)      -> PreparedData  float train/test arrays
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regui.core import cache, heif, reduced_decode
from regui.core.config import ImageSettings, SplitSettings, TrainConfig
from regui.core.errors import DatasetError
from regui.core.images import decode_files
from regui.core.locations import default_cache_dir
from regui.core.memory_checks import check_memory
from regui.core.progress import ProgressCallback, StopCheck
from regui.core.records import DatasetSummary
from regui.core.scaling import standardize
from regui.core.scan import Skipped, scan_folder
from regui.core.splits import check_split


@dataclass(frozen=True, eq=False)
class Dataset:
    """The decoded images of one folder: one row of ``X`` per image, in scan order."""

    root: Path
    class_names: tuple[str, ...]
    X: np.ndarray  # uint8, (n_images, n_features), read-only
    y: np.ndarray  # int64 class index per row
    paths: tuple[str, ...]  # relative path of each row's file
    skipped: tuple[Skipped, ...]  # files left out, with reasons
    image: ImageSettings
    fingerprint: str  # hash of the file list with sizes and times
    from_cache: bool = False
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())  # e.g. why the cache could not be written
    n_reduced: int = 0  # large JPEGs decoded at reduced scale (``reduced_decode``)
    # The split last prepared (``prepared``), made once, by whichever thread asks first.
    _prepared: dict = field(default_factory=dict, init=False, repr=False)
    _preparing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def n_images(self) -> int:
        return int(self.X.shape[0])

    def counts(self) -> list[int]:
        return np.bincount(self.y, minlength=len(self.class_names)).tolist()

    def describe(self) -> str:
        counts = ", ".join(f"{name}: {n}" for name, n in zip(self.class_names, self.counts()))
        text = f"{self.n_images} images in {len(self.class_names)} classes ({counts}), {len(self.skipped)} skipped"
        return text + (f"; {self.reduced_text()}" if self.n_reduced else "")

    def reduced_text(self) -> str:
        """How many large photos were decoded at reduced scale, in words ("" for none)."""
        if not self.n_reduced:
            return ""
        return (
            f"{self.n_reduced:,} large JPEG{'s' if self.n_reduced != 1 else ''} decoded at reduced scale "
            "(typically within one grey level of the full decode; exact decoding turns this off)"
        )

    @functools.cached_property
    def folder(self) -> str:
        """The folder as one absolute path with links resolved: ``ds/base``, its absolute path
        and a linked path name one folder, so this is what runs record and are matched by."""
        return os.path.realpath(self.root)

    def is_folder(self, recorded: str) -> bool:
        """Whether a run's recorded folder is this one (older runs kept it as it was typed)."""
        return bool(recorded) and os.path.realpath(recorded) == self.folder

    def summary(self) -> DatasetSummary:
        """What a results file records about the data a run used."""
        return {
            "folder": self.folder,
            "n_images": self.n_images,
            "class_names": list(self.class_names),
            "class_counts": self.counts(),
            "n_skipped": len(self.skipped),
            "n_reduced": self.n_reduced,
            "fingerprint": self.fingerprint,
            "image": f"{self.image.width}x{self.image.height}x{self.image.channels}",
        }

    def prepared(self, split: SplitSettings) -> PreparedData:
        """``prepare(self, split)``, made once and kept for the next run on the same split (the app's
        next run, a worker's next block). One split at a time: each is a float copy of the images,
        and ``check_memory`` counts one. Safe from any thread; a second caller waits for the first."""
        made = self._prepared.get(split)
        if made is not None:
            return made
        with self._preparing:
            cache = self._prepared
            if split not in cache:
                cache.clear()  # before preparing: the old copy is not held alongside the new one
                cache[split] = prepare(self, split)
            return cache[split]

    def prepare_ahead(self, split: SplitSettings) -> None:
        """``prepared(split)`` made now, before a run asks for it (after a load, as a worker
        starts). A split it cannot make (or no memory) is left for the run asking for it to say
        why: work done ahead never fails what it was done for."""
        try:
            self.prepared(split)
        except Exception:  # noqa: BLE001 - said by the run that asks for it
            pass

    def parts(self) -> dict:
        """What another process needs to make this Dataset again, the pixels aside (JSON-able):
        a pool's workers read it from a file, a Dask cluster's from the scattered payload."""
        return {
            "root": str(self.root),
            "class_names": list(self.class_names),
            "paths": list(self.paths),
            "image": dataclasses.asdict(self.image),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_parts(cls, parts: dict, X: np.ndarray, y: np.ndarray) -> Dataset:
        """The Dataset ``parts()`` described, on the pixels ``X`` and labels ``y``."""
        return cls(
            root=Path(parts["root"]),
            class_names=tuple(parts["class_names"]),
            X=X,
            y=y,
            paths=tuple(parts["paths"]),
            skipped=(),
            image=ImageSettings(**parts["image"]),
            fingerprint=parts["fingerprint"],
        )

    @functools.cached_property
    def files(self) -> DatasetFiles:
        """Which file each row came from, without the pixels (what runs keep to find their images)."""
        return DatasetFiles(self.root, self.class_names, self.paths, self.y, self.image, self.fingerprint)


@dataclass(frozen=True, eq=False)
class DatasetFiles:
    """A dataset's files and labels, without its pixels: small enough for every run to keep, so
    a run can show its test images after another folder was loaded."""

    root: Path
    class_names: tuple[str, ...]
    paths: tuple[str, ...]
    y: np.ndarray
    image: ImageSettings
    fingerprint: str

    def test_part(self, split: SplitSettings) -> tuple[tuple[str, ...], np.ndarray]:
        """Absolute paths and labels of the test images of ``split``, in the order the engine's
        predictions (``EpochResult.test_pred``) follow."""
        cache = self.__dict__.setdefault("_test_parts", {})
        key = (split.test_size, split.split_seed, split.stratify)
        if key not in cache:
            _, test_index = split_indices(self.y, split)
            cache[key] = (tuple(str(self.root / self.paths[i]) for i in test_index), self.y[test_index])
        return cache[key]


def load_dataset(
    folder: str | os.PathLike,
    image: ImageSettings = ImageSettings(),
    *,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
) -> Dataset:
    """Scan ``folder`` and decode its images (from the cache when nothing changed).

    Raises DatasetError for an unusable folder and Cancelled if ``should_stop()`` turns true.
    ``progress(done, total)`` counts files decoded (it jumps to total on a cache hit).
    """
    import cv2
    import PIL

    image.validate()
    started = time.perf_counter()
    scan = scan_folder(folder, should_stop)
    fingerprint = scan.fingerprint()
    n_files = len(scan.files)
    check_memory(n_files, image)
    notes: list[str] = []

    key = None
    cached = None
    if use_cache:
        cache_dir = cache_dir or default_cache_dir()
        # The decoding rules are part of the key: reduced or exact, and which codecs decoded.
        decode = "exact" if image.exact_decode else f"reduced>={reduced_decode.MIN_RATIO}x"
        settings_text = f"{image.width}x{image.height} color={image.color} INTER_AREA decode={decode}"
        # Pillow reads each file's header (the rule above), and pillow-heif decodes HEIC photos.
        decoders = f"{cv2.__version__} Pillow {PIL.__version__} {heif.version()}"
        key = cache.cache_key(scan.root, fingerprint, settings_text, decoders)
        cached = cache.read(cache_dir, key, n_files, image.n_features)

    if cached is not None:
        X_all, failures, reduced = cached.X, cached.failures, cached.reduced
        if progress:
            progress(n_files, n_files)
    else:
        paths = [scan.root / f.relpath for f in scan.files]
        decoded = decode_files(paths, image, progress=progress, should_stop=should_stop, workers=workers)
        X_all, failures, reduced = decoded.X, decoded.failures, frozenset(decoded.reduced)
        if decoded.transient:
            # A read error may be gone next time, and sizes and times would not show it: an
            # entry would remember these files as broken for good. Retry them next load instead.
            notes.append(
                f"{len(decoded.transient)} file(s) could not be read this time; they will be tried "
                "again on the next load."
            )
        elif key is not None and cache_dir is not None:
            problem = cache.write(cache_dir, key, cache.CachedImages(X_all, failures, reduced))
            if problem:
                notes.append(problem)

    keep = np.ones(n_files, dtype=bool)
    keep[list(failures)] = False
    labels = np.fromiter((f.label for f in scan.files), dtype=np.int64, count=n_files)
    skipped = list(scan.skipped) + [Skipped(scan.files[i].relpath, reason) for i, reason in sorted(failures.items())]

    y = labels[keep]
    counts = np.bincount(y, minlength=len(scan.class_names))
    for label, count in enumerate(counts):
        if count == 0:
            name = scan.class_names[label]
            reasons = [failures[i] for i in sorted(failures) if scan.files[i].label == label]
            raise DatasetError(f"None of the images in class '{name}' could be read (for example: {reasons[0]}).")

    X = X_all[keep] if not keep.all() else X_all
    X.setflags(write=False)
    y.setflags(write=False)
    return Dataset(
        root=scan.root,
        class_names=scan.class_names,
        X=X,
        y=y,
        paths=tuple(f.relpath for f, k in zip(scan.files, keep) if k),
        skipped=tuple(sorted(skipped, key=lambda s: s.relpath)),
        image=image,
        fingerprint=fingerprint,
        from_cache=cached is not None,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
        n_reduced=len(reduced),  # (a file is counted only once decoded)
    )


@dataclass(frozen=True, eq=False)
class PreparedData:
    """Train and test arrays ready for SGD, with the indices of their rows in the Dataset."""

    X_train: np.ndarray  # float64
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    class_names: tuple[str, ...]
    image: ImageSettings
    split: SplitSettings
    # The validation part (empty without one): carved from the training part, never trained on.
    X_val: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    y_val: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    val_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def split_indices(y: np.ndarray, split: SplitSettings) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the training and test parts (seeded; stratified unless told otherwise)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(
        np.arange(len(y)),
        test_size=split.test_size,
        random_state=split.split_seed,
        stratify=y if split.stratify else None,
    )


def prepare(dataset: Dataset, split: SplitSettings = SplitSettings()) -> PreparedData:
    """Split (seeded, stratified unless told otherwise) and scale pixels.

    Scaling: ``raw`` keeps 0-255 (the lesson), ``unit`` divides by 255, ``standard``
    standardizes each feature with mean and std fitted on the training part only.
    """
    check_split(dataset.class_names, dataset.counts(), split)
    train_index, test_index = split_indices(dataset.y, split)
    y_train = dataset.y[train_index]
    y_test = dataset.y[test_index]
    val_index = np.empty(0, dtype=train_index.dtype)
    if split.folds >= 2:  # k-fold: the validation part is one fold of the training part
        from sklearn.model_selection import KFold, StratifiedKFold

        fewest = int(np.bincount(y_train, minlength=len(dataset.class_names)).min())
        if split.stratify and fewest < split.folds:
            raise DatasetError(
                f"After the test part, a class has {fewest} training image(s): too few for {split.folds} stratified "
                "folds. Use fewer folds, lower the test fraction, or add images."
            )
        cutter = (StratifiedKFold if split.stratify else KFold)(
            n_splits=split.folds, shuffle=True, random_state=split.split_seed
        )
        keep, held = list(cutter.split(train_index, y_train))[split.fold]
        train_index, val_index = train_index[keep], train_index[held]
        y_train = dataset.y[train_index]
    elif split.validation > 0:  # carved from the training part, seeded and stratified alike
        from sklearn.model_selection import train_test_split

        fewest = int(np.bincount(y_train, minlength=len(dataset.class_names)).min())
        if split.stratify and fewest < 2:  # the training part must give each class to both sides
            raise DatasetError(
                f"After the test part, a class has {fewest} training image(s): too few to hold some out for "
                "validation as well. Lower the test fraction, set the validation fraction to 0, or add images."
            )
        train_index, val_index = train_test_split(
            train_index,
            test_size=split.validation,
            random_state=split.split_seed,
            stratify=y_train if split.stratify else None,
        )
        y_train = dataset.y[train_index]
    missing = np.flatnonzero(np.bincount(y_train, minlength=len(dataset.class_names)) == 0)
    if missing.size:  # possible without stratify: the model would never see that class
        raise DatasetError(
            f"With this split class '{dataset.class_names[missing[0]]}' has no training image; "
            "turn on stratify, change the split seed, or lower the test or validation fraction."
        )
    X_train = dataset.X[train_index].astype(np.float64)
    X_val = dataset.X[val_index].astype(np.float64)
    X_test = dataset.X[test_index].astype(np.float64)
    if split.scaling == "unit":
        for X in (X_train, X_val, X_test):
            X /= 255.0
    elif split.scaling == "standard":  # fitted on the training part only: validation and test are unseen
        standardize(X_train, X_val, X_test)  # in place: the arrays are this function's own
    for array in (X_train, X_val, X_test, train_index, val_index, test_index):
        array.setflags(write=False)
    return PreparedData(
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        train_index=train_index,
        test_index=test_index,
        class_names=dataset.class_names,
        image=dataset.image,
        split=split,
        X_val=X_val,
        y_val=dataset.y[val_index],
        val_index=val_index,
    )


def load_folder(folder: str | os.PathLike, config: TrainConfig | None = None) -> PreparedData:
    """A folder of images (one sub-folder per class), decoded, split and scaled exactly as the app
    and ``regui run`` do for ``config`` (default: regui's defaults, 32x32 colour, standardized
    pixels, a stratified 75/25 split with seed 42): ``X_train``, ``y_train``, ``X_test``, ``y_test``,
    ``class_names``."""
    config = config or TrainConfig()
    return prepare(load_dataset(folder, config.image), config.split)
