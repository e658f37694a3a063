"""What a file's header says about its image, read without decoding it (by Pillow).

The loader reads it before decoding: to refuse an image too large to decode (a 117 KB PNG can
declare 11000 x 11000 pixels), to count the memory a decode will take, and to choose how far a
large JPEG can be reduced while it is decoded (``reduced_decode``).
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass

import numpy as np

from regui.core import heif

# The largest image decoded: about 89 million pixels (10,000 x 8,900; any phone photo but the
# 108 and 200 megapixel modes). It is Pillow's own default limit, so Pillow, which reads the
# headers, never warns below it.
MAX_IMAGE_PIXELS = 89_478_485

# Pillow's names for a JPEG: "MPO" is one with more images after the first (a camera's stereo
# pair, a phone's depth or gain map), which OpenCV decodes as the JPEG it starts with.
JPEG_FORMATS = frozenset({"JPEG", "MPO"})
# EXIF orientations that turn the image a quarter: its stored width is shown as its height.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Header:
    width: int  # as stored in the file, before any EXIF rotation
    height: int
    format: str  # Pillow's name for it: "JPEG", "PNG", "HEIF", ...
    # A JPEG's EXIF orientation, 1 (as stored) to 8, for choosing its reduction; that of other
    # formats is not read (1): their decoders turn the image themselves and nothing else asks.
    orientation: int = 1
    progressive: bool = False  # a progressive JPEG: its decoder holds the whole image's coefficients

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def shown_size(self) -> tuple[int, int]:
        """Width and height as a viewer shows the image (EXIF rotation applied)."""
        if self.orientation in _QUARTER_TURNS:
            return self.height, self.width
        return self.width, self.height


#: What ``read_header`` returns for an image over Pillow's limit (Pillow refuses to say its size).
TOO_LARGE = Header(MAX_IMAGE_PIXELS + 1, 1, "")


def read_header(data: np.ndarray, is_heif: bool | None = None) -> Header | None:
    """The header of the file whose bytes are ``data``; None if Pillow does not know the format
    (then OpenCV's own limit still applies), ``TOO_LARGE`` for an image over the limit.
    ``is_heif``: ``heif.looks_like_heif(data)``, if the caller has asked already."""
    from PIL import Image, UnidentifiedImageError  # here, not at start-up: the app imports this module

    _quiet_pillow()
    if heif.looks_like_heif(data) if is_heif is None else is_heif:
        heif.register()  # Pillow reads HEIF headers only through pillow-heif (when installed)
    try:
        with Image.open(io.BytesIO(data.data)) as image:
            width, height = image.size
            name = image.format or ""
            orientation = _orientation(image) if name in JPEG_FORMATS else 1
            return Header(width, height, name, orientation, bool(image.info.get("progressive")))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return TOO_LARGE  # Pillow's limit is ours (where its warning is an error: tests)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _orientation(image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block is only a missing orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


@functools.cache
def _quiet_pillow() -> None:
    """Pillow warns of an image over its limit while reading the header; regui refuses that
    image itself (its limit is Pillow's), in its own words, so the warning would only be noise."""
    from PIL import Image

    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
