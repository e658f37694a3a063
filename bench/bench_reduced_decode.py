"""Where reduced JPEG decoding stays within one grey level of the full decode.

    python bench/bench_reduced_decode.py [--dataset DIR] [--photos N] [--size 32]

Each of N Animals photos is made into phone-like JPEGs (bench/large_photos.py) of 768 to 3072
rows (4:3), and each is decoded in full and at 1/2, 1/4 and 1/8 scale, then resized to the
target with INTER_AREA as regui does. Printed per band of "reduced image / target" (per side):
the largest difference to the full decode in grey levels, the share of photos with any pixel
off by more than one, and the mean difference. regui reduces only as far as keeps that ratio at
``reduced_decode.MIN_RATIO`` or more; this is the measurement behind that number.
"""

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from large_photos import phone_photo  # noqa: E402

from regui.core.reduced_decode import MIN_RATIO  # noqa: E402
from regui.core.scan import scan_folder  # noqa: E402

FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
BANDS = (4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48)  # MIN_RATIO is one of them


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/animals")
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--size", type=int, default=32, help="target side (square)")
    args = parser.parse_args()

    scan = scan_folder(args.dataset)
    step = max(1, len(scan.files) // args.photos)
    sources = [cv2.imread(str(scan.root / f.relpath)) for f in scan.files[::step][: args.photos]]
    rng = np.random.default_rng(0)
    bands: dict[int, list[tuple[int, float]]] = defaultdict(list)
    seconds: dict[int, float] = defaultdict(float)
    decodes = 0
    for source in sources:
        for rows in range(768, 3073, 96):
            data = np.frombuffer(phone_photo(source, rows * 4 // 3, rows, rng), np.uint8)
            results = {}
            for factor, flag in FLAGS.items():
                started = time.perf_counter()
                image = cv2.imdecode(data, flag)
                results[factor] = cv2.resize(image, (args.size, args.size), interpolation=cv2.INTER_AREA).astype(int)
                seconds[factor] += time.perf_counter() - started
            decodes += 1
            for factor in (2, 4, 8):
                ratio = rows / factor / args.size
                band = max((b for b in BANDS if b <= ratio), default=0)
                if band:
                    diff = np.abs(results[factor] - results[1])
                    bands[band].append((int(diff.max()), float(diff.mean())))
    sizes = decodes // len(sources)
    print(f"{len(sources)} photos x {sizes} sizes, target {args.size}x{args.size}, regui's MIN_RATIO {MIN_RATIO}")
    print("reduced/target   decodes  largest diff  photos >1 level  mean diff")
    for low, high in zip(BANDS, BANDS[1:] + (None,)):
        if low not in bands:
            continue
        values = bands[low]
        label = f"{low}-{high}x" if high else f">={low}x"
        share = np.mean([d > 1 for d, _ in values])
        largest, mean = max(d for d, _ in values), np.mean([m for _, m in values])
        print(f"{label:>14}  {len(values):8d}  {largest:12d}  {share:15.1%}  {mean:9.3f}")
    print(
        "decode + resize, mean per photo: "
        + ", ".join(f"1/{f}: {1000 * t / decodes:.1f} ms" for f, t in seconds.items())
    )


if __name__ == "__main__":
    main()
