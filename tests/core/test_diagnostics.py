import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion

from regui.core import diagnostics as dg
from regui.core.config import ImageSettings, SplitSettings, TrainConfig
from regui.core.dataset import load_dataset, prepare
from regui.core.records import EpochResult, keeps_snapshot, snapshot_stride, thin_snapshots
from regui.core.runs import run_training
from tests.helpers import write_png


def test_weight_images_follow_the_pixel_layout_of_the_loaded_images(tmp_path):
    # One red pixel at row 1, column 2: decoded by the real loader, its row of X read as a weight
    # row must show red at the same place (OpenCV's BGR turned into RGB).
    for cls in ("a", "b"):
        pixels = np.zeros((3, 4, 3), np.uint8)
        pixels[1, 2] = (0, 0, 255)  # BGR red
        write_png(tmp_path / cls / "x.png", pixels)
    image = ImageSettings(width=4, height=3)
    dataset = load_dataset(tmp_path, image)
    pictures = dg.weight_images(dataset.X[:1].astype(np.float32), image)
    assert pictures.shape == (1, 3, 4, 3)
    assert pictures[0, 1, 2].tolist() == [255, 0, 0]
    assert pictures.sum() == 255
    assert dg.channel_view(pictures, "red")[0, 1, 2] == 255
    assert dg.channel_view(pictures, "blue").sum() == 0
    assert dg.channel_view(pictures, "sum").shape == (1, 3, 4)


def test_grey_weight_images_and_row_names():
    coef = np.arange(2 * 12, dtype=np.float32).reshape(2, 12)
    pictures = dg.weight_images(coef, ImageSettings(width=4, height=3, color=False))
    assert np.array_equal(pictures[1], coef[1].reshape(3, 4))
    assert dg.channel_view(pictures, "sum") is pictures
    assert dg.row_names(["cat", "dog"], 1) == ["dog vs cat"]
    assert dg.row_names(["cat", "dog"], 2) == ["cat", "dog"]
    assert dg.row_names(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert dg.symmetric_limit([np.array([-3.0, 2.0]), np.array([1.0])]) == 3.0
    assert dg.symmetric_limit([np.zeros(3)]) == 1.0


def test_weight_histogram_counts_every_weight_and_the_exact_zeros():
    coef = np.array([[0.0, 0.0, 0.5, -0.5, 2.0], [-1.0, 0.0, 0.25, 0.0, 0.05]], np.float32)
    hist = dg.weight_histogram(coef, limit=1.0, bins=10)
    assert len(hist.edges) == 12  # made odd: 11 bins
    assert hist.edges[0] == -1.0 and hist.edges[-1] == 1.0
    middle = len(hist.counts) // 2
    assert hist.edges[middle] < 0 < hist.edges[middle + 1]  # 0 sits inside the middle bin
    assert hist.counts.sum() == coef.size  # 2.0 is clipped into the last bin, not lost
    assert hist.zeros == 4 and hist.zero_fraction == 0.4
    assert hist.counts[middle] == 4 + 1  # the zeros and 0.05 (the middle bin is ±1/11 wide)
    rows = dg.histogram_rows("#1", 3, hist)
    assert sum(r["count"] for r in rows) == coef.size and rows[0]["bin_from"] == -1.0


def test_confusion_matrix_and_per_class_accuracy_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    y_true[y_true == 3] = 2  # class 3 has no test images
    counts = dg.confusion_matrix(y_true, y_pred, 4)
    assert np.array_equal(counts, sk_confusion(y_true, y_pred, labels=[0, 1, 2, 3]))
    assert counts.sum() == 200
    fractions = dg.row_normalised(counts)
    assert np.allclose(fractions[:3].sum(axis=1), 1) and not fractions[3].any()
    accuracy = dg.per_class_accuracy(counts)
    for k in range(3):
        assert accuracy[k] == np.mean(y_pred[y_true == k] == k)
    assert np.isnan(accuracy[3])
    rows = dg.confusion_rows("#1", 5, counts, ["a", "b", "c", "d"])
    assert len(rows) == 16 and sum(r["count"] for r in rows) == 200


def test_mistakes_are_exactly_the_misclassified_images_most_confident_first():
    paths = [f"f{i}.png" for i in range(6)]
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 2, 2, 1, 0, 2])
    confidence = np.array([0.9, 0.4, 0.8, 0.7, 0.95, 0.5], np.float32)
    found = dg.mistakes(paths, y_true, y_pred, confidence)
    assert [m.path for m in found] == ["f4.png", "f3.png", "f1.png"]
    assert (found[0].true, found[0].predicted) == (1, 0)
    assert found[0].confidence == pytest.approx(0.95)


def _epoch(n: int) -> EpochResult:
    return EpochResult(
        n,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0.0,
        coef=np.ones((2, 3), np.float32),
        intercept=np.zeros(2),
        test_pred=np.zeros(4, np.int32),
        test_confidence=np.ones(4, np.float32),
    )


@pytest.mark.parametrize("limit", [3, 10, 100])
def test_thinning_keeps_at_most_limit_snapshots_spread_over_the_run(limit):
    epochs = []
    for n in range(1, 1001):
        epochs.append(_epoch(n))
        thin_snapshots(epochs, limit)
        kept = [e.epoch for e in epochs if e.has_snapshot]
        assert len(kept) <= limit and kept[-1] == n and kept[0] == 1
        # The same as deciding from scratch: the live copy and the engine's record agree.
        assert kept == [e for e in range(1, n + 1) if keeps_snapshot(e, n, limit)]
    stride = snapshot_stride(1000, limit)
    assert all(e % stride == 0 for e in kept[1:-1])
    assert len(kept) > limit // 2  # thinned, not emptied: 3 of 3, 9 of 10, 64 of 100
    light = [e for e in epochs if not e.has_snapshot][0]
    assert light.coef.size == light.test_pred.size == light.test_confidence.size == 0
    assert light == _epoch(light.epoch)  # the numbers stay


def test_every_epoch_is_kept_up_to_the_limit_and_limit_one_keeps_the_last():
    epochs = []
    for n in range(1, 51):
        epochs.append(_epoch(n))
        thin_snapshots(epochs, 50)
    assert all(e.has_snapshot for e in epochs)
    thin_snapshots(epochs, 1, everything=True)  # the limit lowered: applies to what is there
    assert [e.epoch for e in epochs if e.has_snapshot] == [50]
    for n in range(51, 53):
        epochs.append(_epoch(n))
        thin_snapshots(epochs, 1)
    assert [e.epoch for e in epochs if e.has_snapshot] == [52]


def test_run_records_keep_snapshots_as_asked_and_find_the_nearest(make_folder):
    image = ImageSettings(width=6, height=5)
    dataset = load_dataset(make_folder({"a": 12, "b": 12, "c": 12}), image)
    config = TrainConfig(epochs=12, scaling="unit", width=6, height=5)
    data = prepare(dataset, config.split)
    seen = []
    record = run_training(data, config, on_epoch=seen.append, snapshots=5)
    assert all(e.has_snapshot for e in seen)  # what is streamed carries every snapshot
    kept = [e.epoch for e in record.epochs if e.has_snapshot]
    assert kept == [1, 4, 8, 12]
    assert record.snapshot_at(7).epoch == 4 and record.snapshot_at(12).epoch == 12
    assert record.result_at(7).epoch == 7 and record.result_at(99).epoch == 12
    full = run_training(data, config)
    assert all(e.has_snapshot for e in full.epochs)
    assert [e.metrics() | {"elapsed": 0} for e in full.epochs] == [e.metrics() | {"elapsed": 0} for e in record.epochs]


def test_dataset_files_give_the_test_part_in_the_engines_order(make_folder):
    dataset = load_dataset(make_folder({"a": 9, "b": 7, "c": 8}), ImageSettings(width=6, height=5))
    split = SplitSettings(test_size=0.3, split_seed=3)
    paths, labels = dataset.files.test_part(split)
    data = prepare(dataset, split)
    assert np.array_equal(labels, data.y_test)
    assert paths == tuple(str(dataset.root / dataset.paths[i]) for i in data.test_index)
    assert dataset.files.test_part(split)[0] is paths  # computed once
