import os
import threading
import time

import numpy as np
import pytest

from regui.core import cache
from regui.core.config import ImageSettings, SplitSettings
from regui.core.dataset import load_dataset, prepare
from regui.core.errors import Cancelled, ConfigError, DatasetError
from regui.core.images import decode_file
from regui.core.locations import sample_dataset_dir
from tests.helpers import write_png

SMALL = ImageSettings(width=6, height=5)


def test_loads_every_image_in_scan_order_with_labels(make_folder):
    root = make_folder({"cats": 4, "dogs": 3})
    ds = load_dataset(root, SMALL)
    assert ds.class_names == ("cats", "dogs")
    assert ds.paths == tuple(f"cats/img_{i:03d}.png" for i in range(4)) + tuple(
        f"dogs/img_{i:03d}.png" for i in range(3)
    )
    assert ds.y.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert ds.X.shape == (7, 6 * 5 * 3) and ds.X.dtype == np.uint8
    for row, rel in zip(ds.X, ds.paths):
        assert np.array_equal(row, decode_file(root / rel, SMALL)[0])
    assert ds.counts() == [4, 3]
    assert not ds.X.flags.writeable


def test_bad_files_are_skipped_with_reasons_and_the_rest_loads(make_folder):
    root = make_folder({"a": 3, "b": 3})
    (root / "a" / "empty.png").write_bytes(b"")
    (root / "b" / "garbage.jpg").write_bytes(b"\x00\x01" * 50)
    (root / "b" / "notes.txt").write_text("hi")
    ds = load_dataset(root, SMALL)
    assert ds.n_images == 6
    reasons = {s.relpath: s.reason for s in ds.skipped}
    assert set(reasons) == {"a/empty.png", "b/garbage.jpg", "b/notes.txt"}
    assert "empty" in reasons["a/empty.png"]
    assert "not a readable image" in reasons["b/garbage.jpg"]
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]


def test_a_class_whose_files_all_fail_is_a_clear_error(make_folder):
    root = make_folder({"a": 3})
    (root / "b").mkdir()
    (root / "b" / "x.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="class 'b' could be read"):
        load_dataset(root, SMALL)


def test_progress_ends_at_total(make_folder):
    root = make_folder({"a": 5, "b": 5})
    calls = []
    load_dataset(root, SMALL, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (10, 10)


def test_cancel_raises_cancelled(make_folder):
    root = make_folder({"a": 30, "b": 30})
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        load_dataset(root, SMALL, should_stop=stop.is_set)


def test_second_load_comes_from_cache_with_equal_arrays(make_folder, private_cache):
    root = make_folder({"a": 4, "b": 4})
    (root / "a" / "bad.png").write_bytes(b"bad")
    first = load_dataset(root, SMALL)
    second = load_dataset(root, SMALL)
    assert not first.from_cache and second.from_cache
    assert np.array_equal(first.X, second.X) and np.array_equal(first.y, second.y)
    assert first.paths == second.paths and first.skipped == second.skipped
    assert len(list(private_cache.glob("*.npz"))) == 1


def test_cache_is_not_used_when_told_not_to(make_folder, private_cache):
    root = make_folder({"a": 2, "b": 2})
    load_dataset(root, SMALL)
    assert not load_dataset(root, SMALL, use_cache=False).from_cache


def test_changed_file_or_settings_miss_the_cache(make_folder):
    root = make_folder({"a": 3, "b": 3})
    load_dataset(root, SMALL)
    assert not load_dataset(root, ImageSettings(width=6, height=5, color=False)).from_cache
    assert not load_dataset(root, ImageSettings(width=7, height=5)).from_cache
    # Rewrite one file with new pixels (new size and time): the new pixels must be used.
    write_png(root / "a" / "img_000.png", np.full((10, 12, 3), 200, np.uint8))
    later = time.time() + 5
    os.utime(root / "a" / "img_000.png", (later, later))
    reloaded = load_dataset(root, SMALL)
    assert not reloaded.from_cache
    assert (reloaded.X[0] == 200).all()


def test_added_file_misses_the_cache(make_folder):
    root = make_folder({"a": 3, "b": 3})
    load_dataset(root, SMALL)
    write_png(root / "b" / "new.png", np.zeros((4, 4, 3), np.uint8))
    reloaded = load_dataset(root, SMALL)
    assert not reloaded.from_cache and reloaded.n_images == 7


@pytest.mark.parametrize("damage", ["garbage", "truncate", "wrong_shape"])
def test_corrupt_cache_entry_is_rebuilt_not_trusted(make_folder, private_cache, damage):
    root = make_folder({"a": 3, "b": 3})
    good = load_dataset(root, SMALL)
    [entry] = list(private_cache.glob("*.npz"))
    if damage == "garbage":
        entry.write_bytes(b"not a zip file")
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:200])
    else:
        with np.load(entry) as archive:
            key = str(archive["key"])
        np.savez(
            entry,
            key=np.array(key),
            X=np.zeros((2, 3), np.uint8),
            failed_index=np.zeros(0, np.int64),
            failed_reason=np.zeros(0, np.str_),
        )
    rebuilt = load_dataset(root, SMALL)
    assert not rebuilt.from_cache
    assert np.array_equal(rebuilt.X, good.X)
    assert load_dataset(root, SMALL).from_cache  # and the rebuilt entry is good again


def test_unwritable_cache_is_a_note_not_a_failure(make_folder, tmp_path):
    root = make_folder({"a": 2, "b": 2})
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the cache folder should be")
    ds = load_dataset(root, SMALL, cache_dir=blocker / "cache")
    assert ds.n_images == 4
    assert ds.notes and "could not write the image cache" in ds.notes[0]


def test_cache_prunes_least_recently_used(tmp_path):
    for i in range(5):
        path = tmp_path / f"{i}.npz"
        path.write_bytes(b"x" * 10)
        os.utime(path, (1000 + i, 1000 + i))
    cache.prune(tmp_path, max_entries=3)
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["2.npz", "3.npz", "4.npz"]


def test_a_killed_cache_write_leaves_no_temporary_file_for_long(make_folder, private_cache):
    import subprocess
    import sys

    # A writer killed mid-write: its process is gone, its temporary file was left.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    private_cache.mkdir(exist_ok=True)
    dead = private_cache / f".tmp-{int(gone.stdout)}-k1q2.npz"
    alive = private_cache / f".tmp-{os.getpid()}-w3e4.npz"  # a write going on now: kept
    old = private_cache / ".tmp-a9b8.npz"  # from a regui that did not name its process
    fresh = private_cache / ".tmp-c7d6.npz"
    for path in (dead, alive, old, fresh):
        path.write_bytes(b"x" * 1000)
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    load_dataset(make_folder({"a": 3, "b": 3}), SMALL)  # a load that writes the cache prunes it
    assert sorted(p.name for p in private_cache.glob(".tmp-*")) == sorted([alive.name, fresh.name])


def test_bundled_sample_loads_whole():
    ds = load_dataset(sample_dataset_dir(), ImageSettings(8, 8, color=False))
    assert ds.class_names == tuple(str(d) for d in range(10))
    assert ds.n_images == 1797 and ds.skipped == ()


def test_sample_script_reproduces_the_bundled_pixels(tmp_path):
    import runpy

    from regui.core.locations import resources_dir

    script = runpy.run_path(str(resources_dir() / "make_sample_dataset.py"))
    script["main"](tmp_path / "sample")
    settings = ImageSettings(8, 8, color=False)
    ours = load_dataset(sample_dataset_dir(), settings, use_cache=False)
    made = load_dataset(tmp_path / "sample", settings, use_cache=False)
    assert ours.paths == made.paths
    assert np.array_equal(ours.X, made.X)


# --- split and scaling -------------------------------------------------------------------


@pytest.fixture
def ds(make_folder):
    return load_dataset(make_folder({"a": 12, "b": 8, "c": 4}), SMALL)


def test_split_is_seeded_disjoint_and_complete(ds):
    one = prepare(ds, SplitSettings(test_size=0.25, split_seed=3))
    two = prepare(ds, SplitSettings(test_size=0.25, split_seed=3))
    other = prepare(ds, SplitSettings(test_size=0.25, split_seed=4))
    assert np.array_equal(one.test_index, two.test_index)
    assert not np.array_equal(one.test_index, other.test_index)
    assert len(one.test_index) == 6 and len(one.train_index) == 18
    assert sorted(np.concatenate([one.train_index, one.test_index]).tolist()) == list(range(24))
    assert np.array_equal(one.y_test, ds.y[one.test_index])
    assert np.array_equal(one.X_test, ds.X[one.test_index].astype(float))


def test_stratified_split_keeps_class_proportions(ds):
    data = prepare(ds, SplitSettings(test_size=0.25, split_seed=0, stratify=True))
    assert np.bincount(data.y_test).tolist() == [3, 2, 1]


def test_stratify_needs_two_images_per_class(make_folder):
    ds = load_dataset(make_folder({"a": 5, "b": 1}), SMALL)
    with pytest.raises(DatasetError, match="Class 'b' has only 1"):
        prepare(ds, SplitSettings(test_size=0.4))
    # Without stratify it works when the lone image lands in training...
    assert len(prepare(ds, SplitSettings(test_size=0.4, stratify=False, split_seed=1)).y_test) == 3
    # ... and says so when it would not be trained on at all.
    with pytest.raises(DatasetError, match="class 'b' has no training image"):
        prepare(ds, SplitSettings(test_size=0.4, stratify=False, split_seed=0))


def test_unit_scaling_divides_by_255(ds):
    raw = prepare(ds, SplitSettings(scaling="raw"))
    unit = prepare(ds, SplitSettings(scaling="unit"))
    assert raw.X_train.max() > 1.0
    assert np.array_equal(unit.X_train, raw.X_train / 255.0)
    assert np.array_equal(unit.X_test, raw.X_test / 255.0)


def test_standard_scaling_uses_training_statistics_only(ds):
    raw = prepare(ds, SplitSettings(scaling="raw"))
    std = prepare(ds, SplitSettings(scaling="standard"))
    mean = raw.X_train.mean(axis=0)
    scale = raw.X_train.std(axis=0)
    scale[scale == 0] = 1.0
    np.testing.assert_allclose(std.X_train, (raw.X_train - mean) / scale, atol=1e-12)
    np.testing.assert_allclose(std.X_test, (raw.X_test - mean) / scale, atol=1e-12)
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0, atol=1e-12)
    assert np.abs(std.X_test.mean(axis=0)).max() > 1e-3  # the test part was not refitted


def test_bad_split_settings_are_clear_errors(ds):
    with pytest.raises(ConfigError, match="scaling"):
        prepare(ds, SplitSettings(scaling="minmax"))
    with pytest.raises(ConfigError, match="test fraction"):
        prepare(ds, SplitSettings(test_size=1.5))
    with pytest.raises(DatasetError, match="fewer than one image per class"):
        prepare(ds, SplitSettings(test_size=0.05))


def test_read_errors_are_retried_not_cached(make_folder, private_cache, monkeypatch):
    import regui.core.images as images

    root = make_folder({"a": 3, "b": 3})
    real_read = images.read_bytes
    flaky = str(root / "a" / "img_001.png")

    def failing_once(path):
        if str(path) == flaky:
            raise images.UnreadableImage("cannot read: Input/output error", transient=True)
        return real_read(path)

    monkeypatch.setattr(images, "read_bytes", failing_once)
    first = load_dataset(root, SMALL)
    assert [s.relpath for s in first.skipped] == ["a/img_001.png"]
    assert first.notes and "tried again" in first.notes[0]
    assert list(private_cache.glob("*.npz")) == []  # nothing remembered
    monkeypatch.setattr(images, "read_bytes", real_read)
    second = load_dataset(root, SMALL)
    assert second.n_images == 6 and second.skipped == () and not second.from_cache


def test_same_size_rewrite_with_kept_mtime_misses_the_cache(make_folder):
    root = make_folder({"a": 3, "b": 3})
    target = root / "a" / "img_000.png"
    load_dataset(root, SMALL)
    st = target.stat()
    data = bytearray(target.read_bytes())
    replacement = root / "replacement.tmp"
    replacement.write_bytes(bytes(data))  # same size, same bytes, but a new file (new inode)
    os.replace(replacement, target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p / rsync -t would keep it
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    assert not load_dataset(root, SMALL).from_cache


def test_a_load_too_big_for_memory_is_refused_before_decoding(make_folder, monkeypatch):
    import regui.core.machine as machine

    root = make_folder({"a": 3, "b": 3})
    monkeypatch.setattr(machine, "physical_memory", lambda: 1_000)
    with pytest.raises(DatasetError, match="need about .* GB of memory"):
        load_dataset(root, SMALL)


def test_cancel_during_scan(make_folder):
    root = make_folder({"a": 3, "b": 3})
    with pytest.raises(Cancelled):
        load_dataset(root, SMALL, should_stop=lambda: True)


def test_sweep_workers_are_limited_by_memory(monkeypatch):
    import regui.core.machine as machine
    from regui.core.memory_checks import workers_that_fit

    image = ImageSettings(64, 64)  # 12,288 features
    monkeypatch.setattr(machine, "physical_memory", lambda: 16 * 2**30)
    assert workers_that_fit(3000, image, 4) == 4
    # 10,000 images at 128x128 colour: 4.3 GB of floats per worker, 12.8 GB to spare, less the
    # sweep's own process's copy
    assert workers_that_fit(10_000, ImageSettings(128, 128), 8) == 2
    monkeypatch.setattr(machine, "physical_memory", lambda: None)
    assert workers_that_fit(10_000, ImageSettings(128, 128), 8) == 8


def test_runs_record_the_folder_resolved_however_it_was_typed(make_folder, tmp_path, monkeypatch):
    root = make_folder({"a": 3, "b": 3})
    (tmp_path / "link").symlink_to(root)
    monkeypatch.chdir(tmp_path)
    for given in ("data", str(root), "link", "./link/../data"):
        dataset = load_dataset(given, SMALL)
        assert dataset.summary()["folder"] == os.path.realpath(root)
        assert dataset.is_folder("link") and dataset.is_folder(str(root))  # runs stored before, as typed
        assert not dataset.is_folder(str(tmp_path)) and not dataset.is_folder("")


def test_a_prepared_split_is_made_once_one_split_at_a_time_and_equals_prepare(make_folder):
    dataset = load_dataset(make_folder({"a": 12, "b": 12}), ImageSettings(width=4, height=3))
    first, other = SplitSettings(), SplitSettings(split_seed=7)
    made = dataset.prepared(first)
    assert dataset.prepared(first) is made  # the next run on the split reuses it
    expected = prepare(dataset, first)
    for name in ("X_train", "X_val", "X_test", "y_train", "train_index", "test_index"):
        assert np.array_equal(getattr(made, name), getattr(expected, name))
    moved = dataset.prepared(other)
    assert moved is not made and dataset.__dict__["_prepared"] == {other: moved}  # the old copy let go
    # Threads asking at once wait for one preparation and share it.
    results = []
    threads = [threading.Thread(target=lambda: results.append(dataset.prepared(first))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(r) for r in results}) == 1
