import struct
import threading
import zlib

import cv2
import numpy as np
import pytest

from regui.core.config import ImageSettings
from regui.core.errors import Cancelled
from regui.core.images import UnreadableImage, decode_file, decode_files
from tests.helpers import write_png


def png_bytes(width, height, color_type, raw_rows, palette=None):
    """A minimal hand-made PNG (lets tests build palette files and lying headers)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw_rows)) + chunk(b"IEND", b"")


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an EXIF APP1 segment holding only the Orientation tag after the JPEG's SOI."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + app1 + jpeg[2:]


SAME_SIZE = ImageSettings(width=4, height=2)


def test_colour_png_keeps_bgr_order_and_flattens_row_major(tmp_path):
    pixels = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(2, 4, 3)
    write_png(tmp_path / "x.png", pixels)
    out = decode_file(tmp_path / "x.png", SAME_SIZE)[0]
    assert out.dtype == np.uint8
    assert np.array_equal(out, pixels.reshape(-1))


def test_resize_is_inter_area_to_exact_size(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    write_png(tmp_path / "x.png", pixels)
    out = decode_file(tmp_path / "x.png", ImageSettings(width=8, height=6))[0]
    expected = cv2.resize(pixels, (8, 6), interpolation=cv2.INTER_AREA).reshape(-1)
    assert np.array_equal(out, expected)


def test_grayscale_png_is_expanded_to_three_equal_channels(tmp_path):
    gray = np.array([[0, 50, 100, 255], [10, 20, 30, 40]], np.uint8)
    write_png(tmp_path / "g.png", gray)
    out = decode_file(tmp_path / "g.png", SAME_SIZE)[0].reshape(2, 4, 3)
    for c in range(3):
        assert np.array_equal(out[..., c], gray)


def test_grayscale_mode_gives_one_channel_with_opencv_luminance(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, size=(2, 4, 3), dtype=np.uint8)
    write_png(tmp_path / "c.png", pixels)
    out = decode_file(tmp_path / "c.png", ImageSettings(width=4, height=2, color=False))[0]
    assert out.shape == (8,)
    assert np.array_equal(out, cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY).reshape(-1))


def test_palette_png_gives_its_palette_colours(tmp_path):
    palette = bytes([255, 0, 0, 0, 0, 255])  # RGB: red, blue
    rows = b"\x00" + bytes([0, 1, 1, 0]) + b"\x00" + bytes([1, 1, 0, 0])  # filter byte + indices
    (tmp_path / "p.png").write_bytes(png_bytes(4, 2, 3, rows, palette))
    out = decode_file(tmp_path / "p.png", SAME_SIZE)[0].reshape(2, 4, 3)
    red, blue = [0, 0, 255], [255, 0, 0]  # BGR
    assert out.tolist() == [[red, blue, blue, red], [blue, blue, red, red]]


def test_rgba_png_drops_alpha_and_keeps_colour(tmp_path):
    bgra = np.zeros((2, 4, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = 10, 20, 30
    bgra[..., 3] = [[0, 64, 128, 255], [255, 0, 0, 0]]
    write_png(tmp_path / "a.png", bgra)
    out = decode_file(tmp_path / "a.png", SAME_SIZE)[0].reshape(2, 4, 3)
    assert np.array_equal(out, bgra[..., :3])


def test_sixteen_bit_png_keeps_the_high_byte(tmp_path):
    values = np.array([[256 * 64, 65535, 0, 300], [256 * 200 + 255, 256, 511, 1000]], np.uint16)
    write_png(tmp_path / "d.png", values)
    out = decode_file(tmp_path / "d.png", SAME_SIZE)[0].reshape(2, 4, 3)
    assert np.array_equal(out[..., 0], (values >> 8).astype(np.uint8))


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((16, 32, 3), np.uint8)  # wide: left half dark, right half bright
    pixels[:, 16:] = 255
    ok, jpeg = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    (tmp_path / "plain.jpg").write_bytes(jpeg.tobytes())
    (tmp_path / "rotated.jpg").write_bytes(with_exif_orientation(jpeg.tobytes(), 6))
    tall = ImageSettings(width=16, height=32)
    wide = ImageSettings(width=32, height=16)
    plain = decode_file(tmp_path / "plain.jpg", wide)[0].reshape(16, 32, 3)
    rotated = decode_file(tmp_path / "rotated.jpg", tall)[0].reshape(32, 16, 3)
    # Orientation 6: the stored image is shown turned 90 degrees clockwise.
    assert np.array_equal(rotated, np.rot90(plain, k=-1))
    assert rotated[:16].mean() < 20 and rotated[16:].mean() > 235  # bright half now at the bottom


def test_non_ascii_path(tmp_path):
    path = tmp_path / "données" / "猫 ü.png"
    write_png(path, np.full((2, 4, 3), 7, np.uint8))
    assert decode_file(path, SAME_SIZE)[0].tolist() == [7] * 24


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is not an image at all" * 10, "not a readable image"),
        ("truncated", "not a readable image"),
        (png_bytes(40000, 40000, 2, b"\x00" * 10), "image too large"),
    ],
)
def test_bad_files_raise_with_a_reason(tmp_path, content, reason):
    if content == "truncated":
        ok, jpeg = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
        content = jpeg.tobytes()[: len(jpeg) // 2]
    (tmp_path / "bad.jpg").write_bytes(content)
    with pytest.raises(UnreadableImage, match=reason):
        decode_file(tmp_path / "bad.jpg", SAME_SIZE)[0]


def test_missing_file_raises_with_a_reason_and_counts_as_transient(tmp_path):
    with pytest.raises(UnreadableImage, match="cannot read") as info:
        decode_file(tmp_path / "gone.png", SAME_SIZE)[0]
    assert info.value.transient


def test_decode_files_keeps_order_reports_failures_and_progress(tmp_path):
    paths = []
    for i in range(20):
        path = tmp_path / f"{i:02d}.png"
        if i in (3, 11):
            path.write_bytes(b"broken")
        else:
            write_png(path, np.full((2, 4, 3), i, np.uint8))
        paths.append(path)
    calls = []
    decoded = decode_files(paths, SAME_SIZE, progress=lambda d, t: calls.append((d, t)), workers=3)
    assert sorted(decoded.failures) == [3, 11] and decoded.transient == set()
    for i in range(20):
        expected = 0 if i in (3, 11) else i
        assert (decoded.X[i] == expected).all()
    assert calls[0] == (0, 20) and calls[-1] == (20, 20)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_decode_files_stops_promptly_when_asked(tmp_path, slow_decoding):
    import time

    paths = []
    for i in range(400):
        path = tmp_path / f"{i:03d}.png"
        write_png(path, np.full((8, 8, 3), i % 256, np.uint8))
        paths.append(path)
    stop = threading.Event()

    def progress(done, total):
        if done >= 20:
            stop.set()

    with pytest.raises(Cancelled):
        decode_files(paths, SAME_SIZE, progress=progress, should_stop=stop.is_set, workers=2)
    time.sleep(0.1)  # anything still queued would start now
    assert len(slow_decoding) < 100  # the rest of the queue was dropped, not decoded


def test_a_small_file_declaring_a_huge_image_is_refused_without_decoding(tmp_path, monkeypatch):
    # 11000 x 11000 decodes to 740 MB (measured); the file itself is a few bytes here.
    (tmp_path / "bomb.png").write_bytes(png_bytes(11000, 11000, 2, b"\x00" * 100))
    decoded = []
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(a))
    with pytest.raises(
        UnreadableImage,
        match=r"image too large \((121,000,000|over 89,478,485) pixels; at most 89,478,485 are decoded\)",
    ):
        decode_file(tmp_path / "bomb.png", SAME_SIZE)[0]
    assert decoded == []


@pytest.mark.parametrize("side, most_at_once", [(100, 2), (10, 4)])
def test_decoding_threads_share_a_memory_budget(tmp_path, monkeypatch, side, most_at_once):
    import time

    import regui.core.images as images

    paths = []
    for i in range(12):
        write_png(tmp_path / f"{i}.png", np.full((side, side, 3), i, np.uint8))
        paths.append(tmp_path / f"{i}.png")
    # Room for two 100 x 100 images at once (6 bytes a pixel while decoding).
    monkeypatch.setattr(images, "decode_budget", lambda: 2 * 100 * 100 * images.DECODE_BYTES_PER_PIXEL)
    running, most = [0], [0]
    lock = threading.Lock()
    real_imdecode = cv2.imdecode

    def counting_imdecode(data, flags):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.03)
        with lock:
            running[0] -= 1
        return real_imdecode(data, flags)

    monkeypatch.setattr(cv2, "imdecode", counting_imdecode)
    decoded = decode_files(paths, SAME_SIZE, workers=4)
    assert not decoded.failures and [int(row[0]) for row in decoded.X] == list(range(12))
    assert most[0] == most_at_once


def test_the_memory_check_counts_the_decoding_budget(monkeypatch):
    import regui.core.memory_checks as memory_checks
    from regui.core.errors import DatasetError

    monkeypatch.setattr(memory_checks.machine, "physical_memory", lambda: 300 * 2**20)
    monkeypatch.setattr("regui.core.images.physical_memory", lambda: 300 * 2**20)
    with pytest.raises(DatasetError, match="0.25 GB of it to decode them"):
        memory_checks.check_memory(10, ImageSettings(8, 8))  # the arrays alone are a few KB
