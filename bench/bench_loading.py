"""Loading benchmark: the lesson's serial loop vs regui's loader, cold (no cache) and warm.

    python bench/bench_loading.py [--dataset DIR] [--repeat N] [--photos N]

The baseline is measured in the same process (machines are shared and noisy), so the ratios
are what to read. The page cache is warmed first so every variant reads the files from memory.

1. The dataset (default: the bundled sample; the Animals photos for the targets): cold <= 0.6x,
   warm <= 0.05x on a 2-core machine, and regui's pixels equal the loop's.
2. Phone-size photos: N of the dataset's photos made into 4000 x 3000 quality-92 JPEGs with
   grain (bench/large_photos.py) in a temporary folder. regui decodes them at reduced scale:
   cold <= 0.2x, and its pixels within one grey level of the loop's full decode (printed).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from large_photos import phone_photo  # noqa: E402

from regui.core.config import ImageSettings  # noqa: E402
from regui.core.dataset import load_dataset  # noqa: E402 (sets OpenCV's environment first)
from regui.core.locations import sample_dataset_dir  # noqa: E402
from regui.core.machine import default_workers  # noqa: E402
from regui.core.scan import scan_folder  # noqa: E402


def lesson_loop(paths, size=32):
    """What the lesson's SimpleDatasetLoader does: imread, resize, append, one file at a time."""
    data = []
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            continue
        data.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    return np.array(data).reshape((len(data), -1))


def best_of(repeat, fn):
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def cold_and_warm(folder: Path, repeat: int):
    """regui's load of ``folder`` with an empty cache, then with its entry: (seconds, Dataset) each."""
    with tempfile.TemporaryDirectory() as tmp:

        def cold():
            for entry in Path(tmp).glob("*.npz"):
                entry.unlink()
            return load_dataset(folder, ImageSettings(), cache_dir=Path(tmp))

        cold_t, cold_ds = best_of(repeat, cold)
        warm_t, warm_ds = best_of(repeat, lambda: load_dataset(folder, ImageSettings(), cache_dir=Path(tmp)))
    assert not cold_ds.from_cache and warm_ds.from_cache
    return (cold_t, cold_ds), (warm_t, warm_ds)


def files_of(folder: Path) -> list[Path]:
    scan = scan_folder(folder)
    paths = [scan.root / f.relpath for f in scan.files]
    for path in paths:  # warm the page cache: measure decoding, not the disk
        path.read_bytes()
    return paths


def make_phone_photos(paths: list[Path], count: int, folder: Path) -> None:
    """``count`` of ``paths`` as 4000 x 3000 JPEGs, one sub-folder per class as in the dataset."""
    rng = np.random.default_rng(0)
    step = max(1, len(paths) // count)
    for path in paths[::step][:count]:
        target = folder / path.parent.name / (path.stem + ".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(phone_photo(cv2.imread(str(path)), 4000, 3000, rng))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--photos", type=int, default=120, help="phone-size photos to make (0: skip that part)")
    args = parser.parse_args()

    paths = files_of(args.dataset)
    base_t, base_X = best_of(args.repeat, lambda: lesson_loop(paths))
    (cold_t, cold_ds), (warm_t, _) = cold_and_warm(args.dataset, args.repeat)
    assert np.array_equal(cold_ds.X, base_X), "regui's pixels differ from the lesson loop's"

    print(
        f"dataset: {args.dataset} ({len(paths)} files, {cold_ds.n_images} decoded), "
        f"{default_workers()} decode threads, best of {args.repeat}"
    )
    print(f"lesson serial loop : {base_t:8.3f} s   1.00x")
    print(f"regui cold (decode): {cold_t:8.3f} s   {cold_t / base_t:.3f}x   target <= 0.6x")
    print(f"regui warm (cache) : {warm_t:8.3f} s   {warm_t / base_t:.3f}x   target <= 0.05x")
    print("pixels: equal to the lesson loop's")
    if args.photos <= 0:
        return

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        make_phone_photos(paths, args.photos, Path(tmp))
        made = time.perf_counter() - started
        big = files_of(Path(tmp))
        repeat = max(1, args.repeat - 1)  # 120 full decodes take several seconds a time
        base_t, base_X = best_of(repeat, lambda: lesson_loop(big))
        (cold_t, cold_ds), (warm_t, _) = cold_and_warm(Path(tmp), repeat)
        exact_t, exact_ds = best_of(
            repeat, lambda: load_dataset(tmp, ImageSettings(exact_decode=True), use_cache=False)
        )
    diff = np.abs(cold_ds.X.astype(int) - base_X.astype(int))
    print(
        f"\nphone-size photos: {len(big)} JPEGs of 4000x3000, quality 92 (made in {made:.0f} s), "
        f"{cold_ds.n_reduced} decoded at reduced scale, best of {repeat}"
    )
    print(f"lesson serial loop : {base_t:8.3f} s   1.00x")
    print(f"regui cold (decode): {cold_t:8.3f} s   {cold_t / base_t:.3f}x   target <= 0.2x")
    print(f"regui --exact-decode:{exact_t:8.3f} s   {exact_t / base_t:.3f}x")
    print(f"regui warm (cache) : {warm_t:8.3f} s   {warm_t / base_t:.3f}x")
    print(
        f"pixels: largest difference to the full decode {diff.max()} grey level(s) (target <= 1), "
        f"mean {diff.mean():.3f}; {np.count_nonzero(diff)} of {diff.size:,} values differ"
    )
    assert np.array_equal(exact_ds.X, base_X), "exact decoding differs from the lesson loop's"


if __name__ == "__main__":
    main()
