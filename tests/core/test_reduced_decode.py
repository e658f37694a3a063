"""Large JPEGs decoded at reduced scale: the rule, the pixels (against OpenCV's full decode),
exact decoding, the cache key, and the memory counted."""

import cv2
import numpy as np
import pytest

from regui.core import images
from regui.core.config import ImageSettings
from regui.core.dataset import load_dataset
from regui.core.image_header import Header, read_header
from regui.core.images import decode_file
from regui.core.reduced_decode import MIN_RATIO, decode_bytes_needed, reduction
from tests.core.test_images import with_exif_orientation

TARGET = ImageSettings(width=8, height=8)


def photo(width, height, seed=0, progressive=False) -> bytes:
    """A photo-like JPEG: smooth shapes (a coarse random image scaled up) with a fine grain."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, (12, 16, 3)).astype(np.float32)
    big = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    big += rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else [])
    ok, data = cv2.imencode(".jpg", np.clip(big, 0, 255).astype(np.uint8), params)
    assert ok
    return data.tobytes()


def full_decode(path, settings: ImageSettings, flag=cv2.IMREAD_COLOR) -> np.ndarray:
    """What the lesson's loop makes of a file: OpenCV's decode, then INTER_AREA."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), flag)
    return cv2.resize(image, (settings.width, settings.height), interpolation=cv2.INTER_AREA).reshape(-1)


@pytest.mark.parametrize(
    ("size", "orientation", "target", "factor"),
    [
        ((4000, 3000), 1, (32, 32), 4),  # a 12-megapixel phone photo: 1000 x 750 is 23x the target
        ((4032, 3024), 1, (32, 32), 4),
        ((8000, 6000), 1, (32, 32), 8),
        ((1600, 1200), 1, (32, 32), 1),  # 800 x 600 would be 19x: too close (the largest Animals photo)
        ((1280, 960), 1, (8, 8), 4),  # 320 x 240 is 30x; at 1/8 its 120 rows would be only 15x
        ((1280, 960), 1, (8, 6), 8),  # ... for a target 6 high they are 20x
        ((4002, 3000), 1, (32, 32), 2),  # 4 and 8 do not divide 4002: a partial block would stretch it
        ((4001, 3000), 1, (32, 32), 1),
        ((3000, 1000), 1, (16, 48), 1),  # wide photo, tall target: 1000 / 48 < 20 even in full
        ((3000, 1000), 6, (16, 48), 2),  # ... but turned a quarter by its EXIF tag it is tall
    ],
)
def test_the_largest_factor_that_keeps_the_reduced_image_20x_the_target(size, orientation, target, factor):
    header = Header(size[0], size[1], "JPEG", orientation)
    assert reduction(header, *target) == factor
    if factor > 1:  # the rule, restated: MIN_RATIO x on each side, and no larger factor would do
        shown = header.shown_size
        assert all(side // factor >= MIN_RATIO * t for side, t in zip(shown, target))


@pytest.mark.parametrize("kind", ["PNG", "WEBP", "HEIF", ""])
def test_other_formats_always_decode_in_full(kind):
    assert reduction(Header(8000, 6000, kind), 32, 32) == 1
    assert reduction(None, 32, 32) == 1


def test_large_jpeg_decodes_reduced_within_one_level_of_the_full_decode(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(photo(1280, 960))
    row, factor = decode_file(path, TARGET)
    assert factor == 4
    # It is OpenCV's 1/4 decode, resized as always ...
    assert np.array_equal(row, full_decode(path, TARGET, cv2.IMREAD_REDUCED_COLOR_4))
    # ... and within one grey level of the full decode, which it is not equal to everywhere.
    full = full_decode(path, TARGET)
    assert np.abs(row.astype(int) - full.astype(int)).max() <= 1
    exact, factor = decode_file(path, ImageSettings(width=8, height=8, exact_decode=True))
    assert factor == 1 and np.array_equal(exact, full)


def test_grayscale_reduced_is_the_reduced_colour_image_converted(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(photo(1280, 960, seed=3))
    grey = ImageSettings(width=8, height=8, color=False)
    row, factor = decode_file(path, grey)
    reduced = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    expected = cv2.resize(cv2.cvtColor(reduced, cv2.COLOR_BGR2GRAY), (8, 8), interpolation=cv2.INTER_AREA)
    assert factor == 4 and np.array_equal(row, expected.reshape(-1))


def test_small_jpeg_decodes_exactly(tmp_path):
    path = tmp_path / "small.jpg"
    path.write_bytes(photo(400, 300))
    row, factor = decode_file(path, ImageSettings())
    assert factor == 1 and np.array_equal(row, full_decode(path, ImageSettings()))


def test_a_rotated_large_jpeg_is_reduced_and_turned(tmp_path):
    plain = photo(1280, 960, seed=5)
    (tmp_path / "rotated.jpg").write_bytes(with_exif_orientation(plain, 6))
    tall = ImageSettings(width=6, height=8)  # the photo is shown tall, 120 x 160 at 1/8: 20x
    row, factor = decode_file(tmp_path / "rotated.jpg", tall)
    assert factor == 8  # (taken as stored, 1280 x 960 wide, its 120 rows at 1/8 would be only 15x)
    full = full_decode(tmp_path / "rotated.jpg", tall)  # OpenCV applies the EXIF rotation too
    assert np.abs(row.astype(int) - full.astype(int)).max() <= 1
    (tmp_path / "plain.jpg").write_bytes(plain)
    unturned = full_decode(tmp_path / "plain.jpg", ImageSettings(width=8, height=6)).reshape(6, 8, 3)
    assert np.abs(row.reshape(8, 6, 3).astype(int) - np.rot90(unturned, k=-1).astype(int)).max() <= 1


def test_the_dataset_counts_reduced_files_and_the_cache_keeps_modes_apart(tmp_path):
    root = tmp_path / "photos"
    for name, seed in (("cats", 0), ("dogs", 1)):
        (root / name).mkdir(parents=True)
        (root / name / "big.jpg").write_bytes(photo(1280, 960, seed=seed))
        (root / name / "small.jpg").write_bytes(photo(320, 240, seed=seed + 10))
    cache = tmp_path / "cache"
    exact = ImageSettings(width=8, height=8, exact_decode=True)

    reduced = load_dataset(root, TARGET, cache_dir=cache)
    assert reduced.n_reduced == 2 and not reduced.from_cache
    assert "2 large JPEGs decoded at reduced scale" in reduced.describe()
    assert reduced.summary()["n_reduced"] == 2
    # Exact decoding is a different entry: not the reduced pixels from the cache.
    full = load_dataset(root, exact, cache_dir=cache)
    assert not full.from_cache and full.n_reduced == 0 and "reduced" not in full.describe()
    for row, rel in zip(full.X, full.paths):
        assert np.array_equal(row, full_decode(root / rel, exact))
    assert not np.array_equal(full.X, reduced.X)
    # Each mode then finds its own entry, with its count.
    again = load_dataset(root, TARGET, cache_dir=cache)
    assert again.from_cache and again.n_reduced == 2 and np.array_equal(again.X, reduced.X)
    again_full = load_dataset(root, exact, cache_dir=cache)
    assert again_full.from_cache and again_full.n_reduced == 0 and np.array_equal(again_full.X, full.X)


@pytest.mark.parametrize("progressive", [False, True])
def test_memory_counted_for_a_reduced_decode_includes_full_size_buffers(tmp_path, monkeypatch, progressive):
    path = tmp_path / "big.jpg"
    path.write_bytes(photo(1280, 960, progressive=progressive))
    header = read_header(np.fromfile(path, np.uint8))
    assert header is not None and header.progressive == progressive
    taken = []
    real_take = images._BUDGET.take
    monkeypatch.setattr(images._BUDGET, "take", lambda amount: taken.append(amount) or real_take(amount))
    _, factor = decode_file(path, TARGET)
    pixels = 1280 * 960
    assert factor == 4 and taken == [decode_bytes_needed(header, 4)]
    # A progressive JPEG's decoder holds every coefficient of the full image (measured 3.2 bytes
    # a pixel at 1/8): counted at 4. A baseline one holds a few rows of them.
    assert taken[0] >= (4 if progressive else 0.25) * pixels
    assert taken[0] < images.DECODE_BYTES_PER_PIXEL * pixels  # less than a full decode


def test_an_mpo_jpeg_is_reduced_as_a_jpeg_is(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    first = Image.fromarray(rng.integers(40, 215, (960, 1280, 3), dtype=np.uint8))
    path = tmp_path / "stereo.jpg"  # a camera's stereo pair, or a phone photo with a gain map
    first.save(path, format="MPO", save_all=True, append_images=[first.rotate(90)], quality=92)
    header = read_header(np.fromfile(path, np.uint8))
    assert header is not None and header.format == "MPO"
    row, factor = decode_file(path, TARGET)
    assert factor == 4 and np.array_equal(row, full_decode(path, TARGET, cv2.IMREAD_REDUCED_COLOR_4))
