"""Write the bundled sample dataset: scikit-learn's 8x8 handwritten digits as PNG files.

scikit-learn ships these 1,797 images inside the package, so the sample needs no download.
Each image becomes an 8-bit grayscale PNG (pixel values 0-16 stretched to 0-255) in a
folder named after its digit, the class-per-folder layout regui reads:

    dataset/0/digit_0000.png, dataset/0/digit_0010.png, ..., dataset/9/...

Run from the repository root:  python resources/make_sample_dataset.py [OUT_DIR]
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.datasets import load_digits


def main(out_dir: Path) -> None:
    digits = load_digits()
    for index, (image, target) in enumerate(zip(digits.images, digits.target)):
        pixels = np.rint(image * (255.0 / 16.0)).astype(np.uint8)
        folder = out_dir / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", pixels)
        if not ok:
            raise RuntimeError(f"could not encode image {index}")
        encoded.tofile(folder / f"digit_{index:04d}.png")
    print(f"wrote {len(digits.images)} images in {len(set(digits.target))} classes to {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "dataset")
