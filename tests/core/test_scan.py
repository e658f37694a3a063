import os
import time

import numpy as np
import pytest

from regui.core.errors import DatasetError
from regui.core.scan import scan_folder
from tests.helpers import write_png

PIXELS = np.zeros((4, 4, 3), np.uint8)


def touch_image(path):
    write_png(path, PIXELS)


def test_classes_are_sorted_non_hidden_top_level_folders(tmp_path):
    for name in ["zebra", "Apple", "mango", ".hidden", "__pycache__x"]:
        touch_image(tmp_path / name / "a.png")
    result = scan_folder(tmp_path)
    # Sorted by code point (uppercase first), the same on every platform; dot-folders ignored.
    assert result.class_names == ("Apple", "__pycache__x", "mango", "zebra")


def test_files_at_any_depth_belong_to_their_class_in_sorted_order(tmp_path):
    touch_image(tmp_path / "b" / "z.png")
    touch_image(tmp_path / "b" / "deep" / "er" / "a.png")
    touch_image(tmp_path / "a" / "y.png")
    touch_image(tmp_path / "a" / "sub" / "x.png")
    result = scan_folder(tmp_path)
    assert [(f.relpath, f.label) for f in result.files] == [
        ("a/sub/x.png", 0),
        ("a/y.png", 0),
        ("b/deep/er/a.png", 1),
        ("b/z.png", 1),
    ]


def test_extensions_match_case_insensitively(tmp_path):
    touch_image(tmp_path / "a" / "one.PNG")
    touch_image(tmp_path / "a" / "two.JpEg")
    touch_image(tmp_path / "b" / "three.png")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a/one.PNG", "a/two.JpEg", "b/three.png"]


def test_dot_files_thumbs_db_and_hidden_folders_are_ignored_silently(tmp_path):
    touch_image(tmp_path / "a" / "ok.png")
    touch_image(tmp_path / "b" / "ok.png")
    (tmp_path / ".DS_Store").write_bytes(b"\0" * 10)
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0" * 10)
    (tmp_path / "a" / "Thumbs.db").write_bytes(b"\0" * 10)
    touch_image(tmp_path / "a" / ".hidden.png")
    touch_image(tmp_path / "a" / ".ipynb_checkpoints" / "copy.png")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a/ok.png", "b/ok.png"]
    assert result.skipped == ()


def test_non_image_and_top_level_files_are_listed_as_skipped(tmp_path):
    touch_image(tmp_path / "a" / "ok.png")
    touch_image(tmp_path / "b" / "ok.png")
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "labels.csv").write_text("x")
    result = scan_folder(tmp_path)
    reasons = {s.relpath: s.reason for s in result.skipped}
    assert set(reasons) == {"a/notes.txt", "labels.csv"}
    assert "not an image" in reasons["a/notes.txt"]
    assert "not inside a class folder" in reasons["labels.csv"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_folder(tmp_path / "nope")


def test_a_file_instead_of_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="Not a folder"):
        scan_folder(tmp_path / "file.png")


@pytest.mark.parametrize("classes", [[], ["only"]])
def test_fewer_than_two_classes_is_a_clear_error(tmp_path, classes):
    for name in classes:
        touch_image(tmp_path / name / "a.png")
    with pytest.raises(DatasetError, match="at least two class"):
        scan_folder(tmp_path)


def test_a_class_without_images_is_a_clear_error(tmp_path):
    touch_image(tmp_path / "a" / "x.png")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="'empty' has no image files"):
        scan_folder(tmp_path)


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    touch_image(tmp_path / "a" / "x.png")
    touch_image(tmp_path / "b" / "y.png")
    first = scan_folder(tmp_path).fingerprint()
    assert scan_folder(tmp_path).fingerprint() == first
    later = time.time() + 10
    os.utime(tmp_path / "a" / "x.png", (later, later))
    assert scan_folder(tmp_path).fingerprint() != first


def test_symlink_loop_does_not_hang(tmp_path):
    touch_image(tmp_path / "a" / "x.png")
    touch_image(tmp_path / "b" / "y.png")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a/x.png", "b/y.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_with_an_image_name_is_skipped_not_read(tmp_path):
    touch_image(tmp_path / "a" / "x.png")
    touch_image(tmp_path / "b" / "y.png")
    os.mkfifo(tmp_path / "a" / "pipe.png")
    result = scan_folder(tmp_path)
    assert [f.relpath for f in result.files] == ["a/x.png", "b/y.png"]
    assert [(s.relpath, s.reason) for s in result.skipped] == [("a/pipe.png", "not a regular file")]


def test_non_ascii_names(tmp_path):
    touch_image(tmp_path / "猫" / "café ü.png")
    touch_image(tmp_path / "собака" / "файл.png")
    result = scan_folder(tmp_path)
    assert result.class_names == ("собака", "猫")
    assert [f.relpath for f in result.files] == ["собака/файл.png", "猫/café ü.png"]


def test_a_link_back_into_the_dataset_is_not_followed(tmp_path):
    touch_image(tmp_path / "a" / "x.png")
    touch_image(tmp_path / "b" / "y.png")
    touch_image(tmp_path / "b" / "sub" / "z.png")
    os.symlink(tmp_path, tmp_path / "a" / "up")  # the dataset root
    os.symlink(tmp_path / "b" / "sub", tmp_path / "a" / "other")  # another class
    os.symlink(tmp_path / "a", tmp_path / "b" / "sub" / "loop")  # into class a from class b
    result = scan_folder(tmp_path)
    assert [(f.relpath, f.label) for f in result.files] == [("a/x.png", 0), ("b/sub/z.png", 1), ("b/y.png", 1)]
    assert {s.relpath for s in result.skipped} == {"a/up", "a/other", "b/sub/loop"}


def test_a_link_to_a_folder_outside_the_dataset_is_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    touch_image(outside / "o.png")
    root = tmp_path / "data"
    touch_image(root / "a" / "x.png")
    touch_image(root / "b" / "y.png")
    os.symlink(outside, root / "a" / "more")
    result = scan_folder(root)
    assert [f.relpath for f in result.files] == ["a/more/o.png", "a/x.png", "b/y.png"]


@pytest.mark.parametrize("link", ["up", "root", "dotdot", "other class", "inside other class"])
def test_a_linked_class_folder_never_leaves_its_class(tmp_path, link):
    # A class linked to / walked the whole disk; to .. or . it took in the other classes too;
    # to another class it gave the same images two labels.
    outside = tmp_path / "outside"
    touch_image(outside / "o.png")
    root = tmp_path / "data"
    touch_image(root / "a" / "x.png")
    touch_image(root / "b" / "y.png")
    touch_image(root / "b" / "deep" / "z.png")
    target = {
        "up": tmp_path,
        "root": root,
        "dotdot": "..",
        "other class": root / "a",
        "inside other class": root / "b" / "deep",
    }[link]
    os.symlink(target, root / "c")
    result = scan_folder(root)
    assert result.class_names == ("a", "b")
    assert [f.relpath for f in result.files] == ["a/x.png", "b/deep/z.png", "b/y.png"]
    [skip] = result.skipped
    assert skip.relpath == "c" and "linked class folder" in skip.reason and "not followed" in skip.reason


def test_two_classes_linked_to_the_same_place_are_one_class(tmp_path):
    shared = tmp_path / "shared"
    touch_image(shared / "s.png")
    root = tmp_path / "data"
    touch_image(root / "a" / "x.png")
    os.symlink(shared, root / "b")
    os.symlink(shared, root / "c")
    result = scan_folder(root)
    assert result.class_names == ("a", "b") and [f.relpath for f in result.files] == ["a/x.png", "b/s.png"]
    assert [(s.relpath, "same images as class 'b'" in s.reason) for s in result.skipped] == [("c", True)]


def test_a_file_reached_twice_counts_once_in_sorted_order(tmp_path):
    root = tmp_path / "data"
    touch_image(root / "a" / "x.png")
    touch_image(root / "b" / "y.png")
    os.link(root / "a" / "x.png", root / "b" / "hard.png")  # the same file under two labels
    os.symlink(root / "b" / "y.png", root / "b" / "again.png")
    result = scan_folder(root)
    assert [f.relpath for f in result.files] == ["a/x.png", "b/again.png"]
    assert {s.relpath: s.reason for s in result.skipped} == {
        "b/hard.png": "the same file as a/x.png (reached through a link): counted once",
        "b/y.png": "the same file as b/again.png (reached through a link): counted once",
    }


def test_a_class_made_only_of_another_classes_files_is_an_error(tmp_path):
    root = tmp_path / "data"
    touch_image(root / "a" / "x.png")
    (root / "b").mkdir()
    os.symlink(root / "a" / "x.png", root / "b" / "x.png")
    with pytest.raises(DatasetError, match="'b' holds only images that are already in another class"):
        scan_folder(root)
