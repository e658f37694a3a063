"""Loading benchmark: the lesson's serial loop vs regui's loader, cold (no cache) and warm.

    python bench/bench_loading.py [--dataset DIR] [--repeat N]

The baseline is measured in the same process (machines are shared and noisy), so the ratios
are what to read. Targets on a 2-core machine: cold <= 0.6x, warm <= 0.05x.
The page cache is warmed first so every variant reads the files from memory.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    scan = scan_folder(args.dataset)
    paths = [scan.root / f.relpath for f in scan.files]
    for path in paths:  # warm the page cache: measure decoding, not the disk
        path.read_bytes()
    settings = ImageSettings()

    base_t, base_X = best_of(args.repeat, lambda: lesson_loop(paths))

    with tempfile.TemporaryDirectory() as tmp:

        def cold():
            for entry in Path(tmp).glob("*.npz"):
                entry.unlink()
            return load_dataset(args.dataset, settings, cache_dir=Path(tmp))

        cold_t, cold_ds = best_of(args.repeat, cold)
        warm_t, warm_ds = best_of(args.repeat, lambda: load_dataset(args.dataset, settings, cache_dir=Path(tmp)))
    assert not cold_ds.from_cache and warm_ds.from_cache
    assert np.array_equal(cold_ds.X, base_X), "regui's pixels differ from the lesson loop's"

    print(
        f"dataset: {args.dataset} ({len(paths)} files, {cold_ds.n_images} decoded), "
        f"{default_workers()} decode threads, best of {args.repeat}"
    )
    print(f"lesson serial loop : {base_t:8.3f} s   1.00x")
    print(f"regui cold (decode): {cold_t:8.3f} s   {cold_t / base_t:.3f}x   target <= 0.6x")
    print(f"regui warm (cache) : {warm_t:8.3f} s   {warm_t / base_t:.3f}x   target <= 0.05x")


if __name__ == "__main__":
    main()
