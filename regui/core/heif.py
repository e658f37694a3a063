"""HEIC/HEIF photos (what iPhones write), decoded by pillow-heif: an optional extra, since it
brings its own codec libraries (``pip install -e ".[heic]"``, or pillow-heif alone).

OpenCV does not read HEIF. pillow-heif hands Pillow the image with the file's rotation already
applied (libheif applies the container's own rotation, which iPhones write along with the EXIF
tag, and pillow-heif then resets the EXIF tag so that nothing turns it twice); EXIF rotation is
still applied after, for files that carry only the tag. So a HEIC photo comes out the way a
viewer shows it, as a JPEG does.
"""

from __future__ import annotations

import functools
import io
import shlex
import sys

import numpy as np

#: The command that adds HEIC support to the Python regui runs on (a venv's, say), for the
#: reason a skipped file is given.
INSTALL_COMMAND = f"{shlex.quote(sys.executable)} -m pip install pillow-heif"
MISSING = f"a HEIC/HEIF photo: regui reads these with pillow-heif, not installed: {INSTALL_COMMAND}"
# Peak memory of decoding one, per pixel: measured 10.9 bytes on a 4032 x 3024 photo (libheif's
# planes, Pillow's image, the BGR copy).
BYTES_PER_PIXEL = 12
# Pillow's name for the format of a file pillow-heif opens.
PILLOW_FORMAT = "HEIF"

# The major brands of HEIF files (ISO/IEC 23008-12): HEVC-coded images and image sequences, and
# the generic still-image brands, which iPhones and cameras write too.
_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"})


_AVIF = frozenset({b"avif", b"avis"})


def looks_like_heif(data: np.ndarray) -> bool:
    """Whether the bytes start as a HEIF file does: an ``ftyp`` box with a HEIF brand. An AVIF
    image (the generic brands, with "avif" among the compatible ones) is left to OpenCV."""
    head = bytes(data[:64])
    if len(head) < 12 or head[4:8] != b"ftyp" or head[8:12] not in _BRANDS:
        return False
    size = min(int.from_bytes(head[:4], "big"), len(head))
    compatible = {head[i : i + 4] for i in range(16, size - 3, 4)}
    return head[8:12] not in (b"mif1", b"msf1") or not compatible & _AVIF


@functools.cache
def register() -> bool:
    """Teach Pillow to open HEIF files, once; False where pillow-heif is not installed."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception:  # noqa: BLE001 - not installed, or its compiled part will not load: no HEIC
        return False
    return True


def version() -> str:
    """pillow-heif's and libheif's versions (part of the cache key: a new codec may decode
    differently), or "" where it is not installed."""
    if not register():
        return ""
    import pillow_heif

    try:
        return f"pillow-heif {pillow_heif.__version__} libheif {pillow_heif.libheif_version()}"
    except Exception:  # noqa: BLE001 - a version it cannot say is still a version to key on
        return f"pillow-heif {getattr(pillow_heif, '__version__', '?')}"


def decode(data: np.ndarray) -> np.ndarray:
    """A HEIF file's bytes as an 8-bit BGR image (OpenCV's layout), rotated as a viewer shows it.

    Call only where ``register()`` is true; raises Pillow's own errors for a damaged file.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data.data)) as image:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # a copy only where there is something to turn
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))  # (a copy: 0.1 s at 12 MP)
    return np.ascontiguousarray(rgb[:, :, ::-1])
