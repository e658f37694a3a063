"""Phone-size photos made from the Animals photos, for the decoding benchmarks (never stored).

A photo is scaled up with cubic interpolation (smooth, like a real photo's large areas) and
given a fine grain (Gaussian, 4 grey levels, the same on each channel: a camera's luminance
noise after its own denoising), then written as a quality-92 JPEG, as phones write them.
"""

from __future__ import annotations

import cv2
import numpy as np

QUALITY = 92
GRAIN = 4.0


def phone_photo(source: np.ndarray, width: int, height: int, rng: np.random.Generator) -> bytes:
    """``source`` (BGR) as a ``width`` x ``height`` JPEG's bytes, with grain."""
    big = cv2.resize(source, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big += rng.normal(0, GRAIN, (height, width, 1)).astype(np.float32)
    ok, data = cv2.imencode(".jpg", np.clip(big, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    assert ok
    return data.tobytes()
