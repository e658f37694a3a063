"""Small previews of the original image files (for the app), as RGB numpy arrays."""

from __future__ import annotations

import os

import numpy as np

from regui.core.images import UnreadableImage, cv2, decode_bytes, read_bytes
from regui.core.reduced_decode import reduction


def thumbnail(path: str | os.PathLike, max_side: int = 72) -> np.ndarray:
    """The image at ``path`` shrunk to fit ``max_side`` (aspect kept), RGB uint8 (H, W, 3).

    Raises UnreadableImage like the loader does.
    """
    # A large photo is decoded at reduced scale, as far as still gives at least twice the
    # preview's pixels: much faster, and a preview does not need every pixel.
    image, _ = decode_bytes(
        read_bytes(path), lambda image: _fit(image, max_side), lambda header: reduction(header, max_side, max_side, 2)
    )
    return image


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    elif scale >= 2:  # tiny images (8x8 digits) are blown up with crisp pixels
        k = int(scale)
        image = cv2.resize(image, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(image[:, :, ::-1])


def class_thumbnails(
    root, class_names, paths, labels, per_class: int = 4, max_side: int = 72
) -> list[list[np.ndarray]]:
    """Up to ``per_class`` previews per class, from the first files of each class."""
    out: list[list[np.ndarray]] = [[] for _ in class_names]
    for rel, label in zip(paths, labels):
        if len(out[label]) >= per_class:
            continue
        try:
            out[label].append(thumbnail(os.path.join(root, rel), max_side))
        except (UnreadableImage, cv2.error):
            continue
    return out
