"""HEIC/HEIF photos: decoded through pillow-heif, turned as a viewer shows them, and where the
library is missing, skipped with a reason that names the command adding it."""

import numpy as np
import pytest

from regui.core import heif
from regui.core.config import ImageSettings
from regui.core.dataset import load_dataset
from regui.core.images import UnreadableImage, decode_file

pillow_heif = pytest.importorskip("pillow_heif")  # in the test extra; the "heic" extra for users


def write_heic(path, rgb: np.ndarray, orientation: int = 1) -> None:
    """A lossless HEIC of ``rgb`` written by pillow-heif, with an EXIF orientation tag."""
    from PIL import Image

    heif.register()
    image = Image.fromarray(rgb)
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="HEIF", quality=-1, exif=exif.tobytes())


def wide_picture() -> np.ndarray:
    """32 x 16 RGB: the left half dark, the right half bright, a red band on top."""
    rgb = np.full((16, 32, 3), 30, np.uint8)
    rgb[:, 16:] = 220
    rgb[:4, :, 0] = 250
    return rgb


def test_heic_decodes_to_its_pixels_in_bgr(tmp_path):
    rgb = wide_picture()
    write_heic(tmp_path / "plain.heic", rgb)
    out = decode_file(tmp_path / "plain.heic", ImageSettings(width=32, height=16))[0].reshape(16, 32, 3)
    # Lossless HEVC still goes through YCbCr: within a few levels, and in OpenCV's BGR order.
    assert np.abs(out.astype(int) - rgb[:, :, ::-1].astype(int)).max() <= 4


def test_heic_orientation_is_applied(tmp_path):
    write_heic(tmp_path / "plain.heic", wide_picture())
    write_heic(tmp_path / "rotated.heic", wide_picture(), orientation=6)
    plain = decode_file(tmp_path / "plain.heic", ImageSettings(width=32, height=16))[0].reshape(16, 32, 3)
    rotated = decode_file(tmp_path / "rotated.heic", ImageSettings(width=16, height=32))[0].reshape(32, 16, 3)
    # Orientation 6: shown turned 90 degrees clockwise, as a JPEG with that tag is.
    assert np.abs(rotated.astype(int) - np.rot90(plain, k=-1).astype(int)).max() <= 1
    assert rotated[:16].mean() < 100 and rotated[16:].mean() > 150  # the bright half now at the bottom


def test_a_folder_with_heic_photos_loads_them(tmp_path):
    for name, level in (("cats", 40), ("dogs", 200)):
        for i in range(2):
            write_heic(tmp_path / "data" / name / f"IMG_{i}.HEIC", np.full((12, 16, 3), level + i, np.uint8))
    dataset = load_dataset(tmp_path / "data", ImageSettings(width=4, height=3), cache_dir=tmp_path / "cache")
    assert dataset.n_images == 4 and not dataset.skipped
    assert dataset.X[dataset.y == 0].mean() < 60 and dataset.X[dataset.y == 1].mean() > 180


def test_without_pillow_heif_a_heic_is_skipped_with_the_command_that_adds_it(tmp_path, monkeypatch):
    write_heic(tmp_path / "data" / "cats" / "IMG_1.heic", wide_picture())
    write_heic(tmp_path / "data" / "dogs" / "IMG_2.heic", wide_picture())
    from tests.helpers import write_png

    write_png(tmp_path / "data" / "cats" / "a.png", np.zeros((4, 4, 3), np.uint8))
    write_png(tmp_path / "data" / "dogs" / "b.png", np.full((4, 4, 3), 255, np.uint8))
    monkeypatch.setattr(heif, "register", lambda: False)  # as where it is not installed

    with pytest.raises(UnreadableImage, match=r"-m pip install pillow-heif$"):
        decode_file(tmp_path / "data" / "cats" / "IMG_1.heic", ImageSettings())[0]
    dataset = load_dataset(tmp_path / "data", ImageSettings(width=4, height=4), cache_dir=tmp_path / "cache")
    assert dataset.n_images == 2
    assert {s.relpath for s in dataset.skipped} == {"cats/IMG_1.heic", "dogs/IMG_2.heic"}
    assert all(heif.INSTALL_COMMAND in s.reason for s in dataset.skipped)


def test_a_damaged_heic_is_reported_not_raised(tmp_path):
    write_heic(tmp_path / "good.heic", wide_picture())
    data = (tmp_path / "good.heic").read_bytes()
    (tmp_path / "cut.heic").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImage, match=r"^not a readable image \(corrupt, truncated"):
        decode_file(tmp_path / "cut.heic", ImageSettings())[0]


def test_only_heif_brands_look_like_heif(tmp_path):
    write_heic(tmp_path / "x.heic", wide_picture())
    assert heif.looks_like_heif(np.fromfile(tmp_path / "x.heic", np.uint8))
    assert not heif.looks_like_heif(np.frombuffer(b"\xff\xd8\xff\xe0" + bytes(20), np.uint8))
    assert not heif.looks_like_heif(np.frombuffer(b"\x00\x00", np.uint8))


def test_an_avif_image_is_left_to_opencv():
    def ftyp(major: bytes, *compatible: bytes) -> np.ndarray:
        body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
        return np.frombuffer(len(body + b"1234").to_bytes(4, "big") + body + bytes(16), np.uint8)

    assert heif.looks_like_heif(ftyp(b"heic", b"mif1", b"heic"))
    assert heif.looks_like_heif(ftyp(b"mif1", b"mif1", b"heic"))  # generic brand, a HEVC image
    assert not heif.looks_like_heif(ftyp(b"mif1", b"mif1", b"avif"))  # generic brand, an AV1 image
    assert not heif.looks_like_heif(ftyp(b"avif", b"mif1", b"avif"))


def test_a_heic_decode_takes_its_measured_memory_from_the_shared_budget(tmp_path, monkeypatch):
    from regui.core import images

    write_heic(tmp_path / "plain.heic", wide_picture())
    taken = []
    real_take = images._BUDGET.take
    monkeypatch.setattr(images._BUDGET, "take", lambda amount: taken.append(amount) or real_take(amount))
    decode_file(tmp_path / "plain.heic", ImageSettings(width=32, height=16))
    assert taken == [heif.BYTES_PER_PIXEL * 32 * 16]  # libheif's planes and the copies, in full
