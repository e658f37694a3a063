"""Which JPEGs are decoded at reduced scale, by how much, and the memory a decode takes.

A JPEG decoder can scale the image down by 2, 4 or 8 while it decodes (fewer DCT coefficients
turned into pixels); OpenCV asks for it with ``IMREAD_REDUCED_COLOR_2/4/8``. A 12-megapixel
phone photo then decodes about 3x faster, with the 32x32 result within one grey level of the
full decode: the image is still averaged over the same areas, from fewer, already-averaged pixels.
That holds only while the reduced image stays much larger than the target; measured with
``bench/bench_reduced_decode.py`` (16 Animals photos scaled up to 25 sizes of 768-3072 rows,
with grain, written as quality-92 JPEGs; 32x32 targets), the largest difference to the full
decode, and the share of decodes with any pixel more than one level off, were:

    reduced image / target, per side:  6-8x   8-10x  10-12x  12-14x  14-16x  16-48x
    largest difference (grey levels):    4      3       2       2       1       1
    decodes off by more than 1:         55%    26%     18%      1%      0       0

The differences left come mostly from near-white and near-black areas, where the full decode
clips each pixel and the reduced one clips averages. A JPEG is reduced by the largest factor
that keeps the reduced image at least ``MIN_RATIO`` = 20 times the target on each side: a
margin over the measured 14x for photos unlike those (heavy colour noise was seen 2 levels off
at 20-24x). And only by a factor that divides both of its sides: the decoder rounds a partial
block up to a whole pixel, which stretches the image by up to a pixel (measured: up to 16
levels off at a 7x ratio). A 4000 x 3000 photo going to 32x32 is decoded at 1000 x 750 (23x);
every Animals photo (the largest is 1600 x 1200: 19x at 1/2) and every non-JPEG in full.
"""

from __future__ import annotations

from regui.core import heif
from regui.core.image_header import JPEG_FORMATS, Header

#: The reduced image is at least this many times the target, on each side.
MIN_RATIO = 20
REDUCTIONS = (8, 4, 2)

# Peak memory of decoding and resizing one image in full, per pixel: measured 693 MB for an
# 8-bit 11000 x 11000 PNG (5.7 bytes a pixel) and 369 MB for a 16-bit RGBA 8000 x 8000 one (5.8).
DECODE_BYTES_PER_PIXEL = 6
# Decoding at reduced scale, measured on a 4000 x 3000 JPEG (bytes per pixel of the full image):
# baseline 1.69 (1/2), 0.56 (1/4), 0.26 (1/8); progressive 3.9, 3.3, 3.2, because the decoder of
# a progressive JPEG holds every coefficient of the full image whatever the scale. Counted as
# 8 bytes per reduced pixel plus 1/4 (baseline) or 4 (progressive) bytes per full-size pixel.
_REDUCED_BYTES_PER_PIXEL = 8
_FULL_SIZE_BUFFERS = {False: 0.25, True: 4.0}


def reduction(header: Header | None, width: int, height: int, min_ratio: float = MIN_RATIO) -> int:
    """The factor (1, 2, 4 or 8) a file with ``header`` is decoded at, for a ``width`` x ``height``
    target: 1 (in full) for anything but a JPEG large enough."""
    if header is None or header.format not in JPEG_FORMATS:
        return 1
    shown_width, shown_height = header.shown_size
    for factor in REDUCTIONS:
        if header.width % factor or header.height % factor:
            continue
        if shown_width // factor >= min_ratio * width and shown_height // factor >= min_ratio * height:
            return factor
    return 1


def decode_bytes_needed(header: Header, factor: int) -> int:
    """Peak bytes of decoding ``header``'s image at ``factor`` and resizing it (see above; a
    HEIF photo's, always in full, measured in ``heif``)."""
    if header.format == heif.PILLOW_FORMAT:
        return heif.BYTES_PER_PIXEL * header.pixels
    if factor == 1:
        return DECODE_BYTES_PER_PIXEL * header.pixels
    reduced = header.pixels // factor**2
    return int(_REDUCED_BYTES_PER_PIXEL * reduced + _FULL_SIZE_BUFFERS[header.progressive] * header.pixels)
