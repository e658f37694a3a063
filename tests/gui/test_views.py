"""The inspection views, driven from real runs on a tmp dataset and checked against the numbers."""

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from regui.core.config import LESSON, TrainConfig
from regui.core.dataset import load_dataset, prepare
from tests.core.test_training import reference_epochs

# scikit-learn's engine: the views are checked against runs written directly against it.
SMALL = LESSON.with_(width=6, height=5, scaling="unit", epochs=6, eta0=0.05)


@pytest.fixture
def folder(make_folder):
    return make_folder({"cats": 14, "dogs": 12, "panda": 10})


@pytest.fixture
def loaded(window, load, folder):
    """The window with ``folder`` loaded at the tests' small image size."""
    window.params.set_config(SMALL)
    load(window, folder)
    return window


def train(qtbot, win, config):
    win.params.set_config(config)
    with qtbot.waitSignal(win.controller.run_finished, timeout=30_000) as blocker:
        qtbot.mouseClick(win.run_button, Qt.MouseButton.LeftButton)
    return win.runs.entry(blocker.args[0])


def raise_view(qtbot, win, view):
    win.inspector.docks[view].raise_()
    qtbot.waitUntil(view.isVisible, timeout=5_000)
    win.inspector.push()  # what the views draw follows at once, not after the redraw timer
    qtbot.waitUntil(lambda: not win.inspector.drawing(), timeout=5_000)


def sklearn_models(folder, config):
    """The same runs written directly against scikit-learn: the model after each epoch."""
    data = prepare(load_dataset(folder, config.image), config.split)
    return data, [(clf.coef_.copy(), clf.predict(data.X_test)) for clf in reference_epochs(data, config)]


def test_weight_images_are_the_reshaped_rows_of_w(qtbot, window, loaded, folder):
    entry = train(qtbot, window, SMALL.with_(penalty="l2", alpha=0.01))
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    _, models = sklearn_models(folder, entry.record.config)
    coef = models[-1][0]
    for mode, channel in (("red", 2), ("green", 1), ("blue", 0), ("sum", None)):  # pixels are stored BGR
        view.mode.setCurrentIndex(view.mode.findData(mode))
        for k in range(3):
            pixels = coef[k].reshape(5, 6, 3)
            expected = pixels.sum(axis=2) if channel is None else pixels[:, :, channel]
            assert np.allclose(view.drawn(entry.run_id, k), expected, rtol=1e-5, atol=1e-6)
    box = view.mosaics[entry.run_id].getViewBox().sceneBoundingRect()
    assert box.height() > 40 and box.width() > 100  # laid out at a size a person can see
    limit = float(np.abs(coef.reshape(3, 5, 6, 3).sum(axis=3)).max())
    assert view.limits[entry.run_id] == pytest.approx(limit, rel=1e-5)  # a scale centred on 0
    assert tuple(view.bars[entry.run_id].levels()) == pytest.approx((-limit, limit), rel=1e-5)
    view.mode.setCurrentIndex(view.mode.findData("rgb"))
    rgb = view.drawn(entry.run_id, 0)
    assert rgb.shape == (5, 6, 3) and rgb.min() >= 0 and rgb.max() <= 1  # grey is 0
    assert entry.run_id not in view.bars


def test_runs_side_by_side_on_a_shared_scale_or_their_own(qtbot, window, loaded, folder):
    l1 = train(qtbot, window, SMALL.with_(penalty="l1", alpha=0.02))
    none = train(qtbot, window, SMALL.with_(penalty="none"))
    window.table.selectAll()
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    assert set(view.mosaics) == {l1.run_id, none.run_id}
    largest = {e.run_id: float(np.abs(e.record.final.coef.reshape(3, 5, 6, 3).sum(axis=3)).max()) for e in (l1, none)}
    assert view.limits[l1.run_id] == view.limits[none.run_id] == pytest.approx(max(largest.values()), rel=1e-5)
    view.shared.setChecked(False)
    for run_id, value in largest.items():
        assert view.limits[run_id] == pytest.approx(value, rel=1e-5)


def test_histogram_counts_every_weight_and_states_the_zeros(qtbot, window, loaded, folder, tmp_path):
    entry = train(qtbot, window, SMALL.with_(penalty="l1", alpha=0.03))
    view = window.inspector.histogram
    raise_view(qtbot, window, view)
    final = entry.record.final
    epoch, hist = view.histograms[entry.run_id]
    assert epoch == 6 and hist.counts.sum() == final.coef.size == 3 * 90
    assert hist.zeros == np.count_nonzero(final.coef == 0) and hist.zero_fraction == final.zero_fraction > 0
    assert f"{final.zero_fraction:.1%} of 270 weights exactly 0" in view.note.text()
    x, y = view.curves[view.zero_plot].items[entry.run_id].getData()
    assert list(y) == pytest.approx([e.zero_fraction * 100 for e in entry.record.epochs])
    view.log_count.setChecked(True)  # empty bins have no log: drawn as gaps, not errors
    assert window.inspector.export(view, "csv", str(tmp_path / "hist.csv"))
    with open(tmp_path / "hist.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["count"]) for r in rows) == 270 and {r["exact_zeros_in_run"] for r in rows} == {str(hist.zeros)}


def test_loss_terms_are_the_data_loss_and_the_penalty(qtbot, window, loaded, folder):
    entry = train(qtbot, window, SMALL.with_(penalty="l2", alpha=0.05))
    view = window.inspector.loss_terms
    raise_view(qtbot, window, view)
    epochs = entry.record.epochs
    _, data = view.curves.items[(entry.run_id, "data")].getData()
    _, penalty = view.curves.items[(entry.run_id, "penalty")].getData()
    assert list(data) == [e.train_loss for e in epochs]
    assert list(penalty) == [e.penalty for e in epochs] and min(penalty) > 0
    assert "stacked" not in view.plot.titleLabel.text
    view.stacked.setChecked(True)
    assert "stacked" in view.plot.titleLabel.text  # the title says what is drawn
    _, top = view.curves.items[(entry.run_id, "penalty")].getData()
    assert list(top) == pytest.approx([e.objective for e in epochs], rel=1e-12)
    assert (entry.run_id, "fill-penalty") in view.curves.items
    assert not view.log_scale.isEnabled()


def test_confusion_matrix_sums_to_the_test_part_and_matches_scikit_learn(qtbot, window, loaded, folder, tmp_path):
    entry = train(qtbot, window, SMALL.with_(penalty="l2", alpha=0.001))
    view = window.inspector.confusion
    raise_view(qtbot, window, view)
    data, models = sklearn_models(folder, entry.record.config)
    from sklearn.metrics import confusion_matrix

    expected = confusion_matrix(data.y_test, models[-1][1], labels=[0, 1, 2])
    assert np.array_equal(view.counts, expected)
    assert view.counts.sum() == entry.record.dataset["n_test"] == len(data.y_test)
    assert np.trace(view.counts) / view.counts.sum() == entry.record.final.test_accuracy
    shown = [[int(view.table.item(i, j).text().replace(",", "")) for j in range(3)] for i in range(3)]
    assert shown == expected.tolist()
    view.show_as.setCurrentIndex(1)
    assert view.table.item(0, 0).text() == f"{expected[0, 0] / expected[0].sum():.1%}"
    assert window.inspector.export(view, "csv", str(tmp_path / "confusion.csv"))
    with open(tmp_path / "confusion.csv", encoding="utf-8-sig", newline="") as f:
        assert sum(int(r["count"]) for r in csv.DictReader(f)) == len(data.y_test)


def test_mistakes_gallery_holds_exactly_the_misclassified_files(qtbot, window, loaded, folder):
    entry = train(qtbot, window, SMALL.with_(penalty="l2", alpha=0.001, epochs=2, eta0=0.5))
    view = window.inspector.mistakes
    raise_view(qtbot, window, view)
    data, models = sklearn_models(folder, entry.record.config)
    dataset = window.dataset
    wrong = {
        str(dataset.root / dataset.paths[i]) for i, y, p in zip(data.test_index, data.y_test, models[-1][1]) if y != p
    }
    assert wrong, "the test needs some mistakes to look at"
    assert {m.path for m in view.model.items} == wrong and len(view.model.items) == len(wrong)
    confidences = [m.confidence for m in view.model.items]
    assert confidences == sorted(confidences, reverse=True)
    first = view.model.items[0]
    names = dataset.class_names
    assert view.model.index(0).data().startswith(f"{names[first.true]} → {names[first.predicted]}")
    window.inspector.thumbs.wait_idle()
    assert view.model.index(0).data(Qt.ItemDataRole.DecorationRole).width() > 0
    # filters: only mistakes of one true class
    view.true_box.setCurrentIndex(view.true_box.findData(first.true))
    assert {m.true for m in view.model.items} == {first.true}
    view.open_larger(view.model.index(0))
    assert view.last_dialog.isVisible()
    view.last_dialog.close()


def test_the_epoch_bar_shows_any_earlier_epoch_of_a_finished_run(qtbot, window, loaded, folder):
    entry = train(qtbot, window, SMALL.with_(penalty="l2", alpha=0.001))
    _, models = sklearn_models(folder, entry.record.config)
    inspector = window.inspector
    raise_view(qtbot, window, inspector.confusion)
    inspector.bar.spin.setValue(2)
    qtbot.waitUntil(lambda: not inspector.drawing(), timeout=5_000)
    assert not inspector.bar.latest.isChecked() and inspector.confusion.shown[1] == 2
    from sklearn.metrics import confusion_matrix

    test_y = entry.files.test_part(entry.record.config.split)[1]
    assert np.array_equal(inspector.confusion.counts, confusion_matrix(test_y, models[1][1], labels=[0, 1, 2]))
    raise_view(qtbot, window, inspector.weights)
    assert np.allclose(
        inspector.weights.drawn(entry.run_id, 0), models[1][0][0].reshape(5, 6, 3).sum(axis=2), rtol=1e-5, atol=1e-6
    )
    inspector.bar.latest.setChecked(True)
    assert inspector.bar.spin.value() == 6


def test_long_runs_keep_thinned_snapshots_and_say_which_epoch_is_shown(qtbot, window, loaded, folder):
    window.set_snapshot_limit(3)
    entry = train(qtbot, window, SMALL.with_(epochs=8))
    assert [e.epoch for e in entry.record.epochs if e.has_snapshot] == [1, 4, 8]
    assert len(entry.record.epochs) == 8  # every epoch's numbers stay
    inspector = window.inspector
    raise_view(qtbot, window, inspector.weights)
    inspector.bar.spin.setValue(6)
    qtbot.waitUntil(lambda: not inspector.drawing(), timeout=5_000)
    assert "weights of epoch 4, the nearest kept" in inspector.weights.titles[entry.run_id].text
    assert window.settings.value("snapshots/per_run", type=int) == 3


def test_compare_penalties_streams_weights_for_all_four_side_by_side(qtbot, window, loaded, folder):
    window.params.set_config(SMALL.with_(alpha=0.01))
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    with qtbot.waitSignal(window.controller.sweep_ended, timeout=60_000):
        qtbot.mouseClick(window.compare_button, Qt.MouseButton.LeftButton)
    window.inspector.push()
    entries = [e for e in window.runs.entries() if e.record.sweep == "C1"]
    assert set(view.mosaics) == {e.run_id for e in entries}  # nothing selected: the comparison
    for entry in entries:
        assert all(e.has_snapshot for e in entry.record.epochs)  # a small sweep keeps them all


def test_every_view_exports_a_png_and_a_bad_path_is_a_message(qtbot, window, loaded, folder, tmp_path):
    train(qtbot, window, SMALL)
    for view in window.inspector.views:
        raise_view(qtbot, window, view)
        path = tmp_path / f"{view.title}.png"
        assert window.inspector.export(view, "png", str(path))
        image = QImage(str(path))
        assert not image.isNull() and image.width() > 50
    blocked = tmp_path / "no-such-folder" / "x.png"
    assert not window.inspector.export(window.inspector.weights, "png", str(blocked))
    assert "no-such-folder" in window.last_message
    assert len(window.runs.entries()) == 1  # nothing lost


def test_views_follow_the_newest_run_and_then_the_selection(qtbot, window, loaded, folder):
    first = train(qtbot, window, SMALL)
    second = train(qtbot, window, SMALL.with_(penalty="l1"))
    inspector = window.inspector
    inspector.push()
    assert [e.run_id for e in inspector.entries] == [second.run_id]
    window.table.selectRow(0)
    assert [e.run_id for e in inspector.entries] == [first.run_id]
    assert "selected" in inspector.bar.what.text()


def test_two_classes_with_hinge_loss_and_a_file_deleted_since_loading(qtbot, window, make_folder):
    # Two classes: one row of W ("dogs vs cats"); hinge: margins, not probabilities; a class name
    # that looks like HTML; a test image removed after loading is shown as missing, not an error.
    import os

    folder = make_folder({"cats": 12, "<b>dogs": 12})
    window.params.set_config(SMALL)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.load_folder(str(folder))
    entry = train(qtbot, window, SMALL.with_(loss="hinge", penalty="l2", alpha=3.0, epochs=2, eta0=0.05))
    inspector = window.inspector
    raise_view(qtbot, window, inspector.weights)
    assert inspector.weights.tiles[entry.run_id] and len(inspector.weights.tiles[entry.run_id]) == 1
    assert np.allclose(
        inspector.weights.drawn(entry.run_id, 0),
        entry.record.final.coef[0].reshape(5, 6, 3).sum(axis=2),
        rtol=1e-5,
        atol=1e-6,
    )
    raise_view(qtbot, window, inspector.confusion)
    assert inspector.confusion.counts.shape == (2, 2) and inspector.confusion.counts.sum() == 6
    raise_view(qtbot, window, inspector.mistakes)
    items = inspector.mistakes.model.items
    assert items, "needs a mistake to look at (a strong penalty leaves the weights near 0)"
    assert "margin" in inspector.mistakes.model.index(0).data()
    os.remove(items[0].path)
    inspector.thumbs._images.pop(items[0].path, None)  # not decoded before it went
    inspector.thumbs.get(items[0].path)
    inspector.thumbs.wait_idle()
    assert items[0].path in inspector.thumbs.failed
    assert "Cannot be shown" in inspector.mistakes.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    inspector.mistakes.open_larger(inspector.mistakes.model.index(0))
    assert (
        "Cannot show this file" in inspector.mistakes.last_dialog.findChildren(type(inspector.mistakes.note))[0].text()
    )
    inspector.mistakes.last_dialog.close()
    # The class name is shown as text, never read as markup.
    raise_view(qtbot, window, inspector.weights)
    labels = [item.textItem.toPlainText() for item in inspector.weights.canvas.items() if isinstance(item, pg.TextItem)]
    assert labels == ["cats vs <b>dogs"]  # read as markup, it would be "cats vs dogs"


def test_regui_engine_views_two_classes_with_a_row_each_and_svm_margins(qtbot, window, make_folder):
    # regui's engine keeps a row of W per class even for two; its hinge confidences are margins
    # of the two scores; every view is checked against the scores recomputed from the weights.
    from tests.helpers import write_png

    folder = make_folder({"cats": 12, "dogs": 12})
    rng = np.random.default_rng(5)
    for path in sorted(folder.rglob("*.png")):  # both classes the same noise: some answers must be wrong
        write_png(path, np.clip(rng.normal(90, 50, size=(10, 12, 3)), 0, 255).astype(np.uint8))
    config = TrainConfig(width=6, height=5, epochs=3, batch_size=4, eta0=0.05, loss="hinge", penalty="l1", alpha=0.01)
    window.params.set_config(config)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.load_folder(str(folder))
    entry = train(qtbot, window, config)
    final = entry.record.final
    inspector = window.inspector
    raise_view(qtbot, window, inspector.weights)
    assert len(inspector.weights.tiles[entry.run_id]) == 2
    for k in range(2):
        expected = final.coef[k].reshape(5, 6, 3).sum(axis=2)
        assert np.allclose(inspector.weights.drawn(entry.run_id, k), expected, rtol=1e-5, atol=1e-6)
    labels = [item.textItem.toPlainText() for item in inspector.weights.canvas.items() if isinstance(item, pg.TextItem)]
    assert sorted(labels) == ["cats", "dogs"]
    data = prepare(load_dataset(folder, config.image), config.split)
    scores = data.X_test @ final.coef.astype(np.float64).T + final.intercept
    raise_view(qtbot, window, inspector.confusion)
    predicted = scores.argmax(axis=1)
    expected_counts = np.bincount(data.y_test * 2 + predicted, minlength=4).reshape(2, 2)
    assert np.array_equal(inspector.confusion.counts, expected_counts)
    raise_view(qtbot, window, inspector.mistakes)
    margins = np.abs(scores[:, 1] - scores[:, 0])
    wrong = predicted != data.y_test
    assert wrong.any() and (~wrong).any(), "needs right and wrong answers to look at"
    shown = sorted(m.confidence for m in inspector.mistakes.model.items)
    assert shown == pytest.approx(sorted(margins[wrong]), rel=1e-4)
    raise_view(qtbot, window, inspector.loss_terms)
    assert "one-vs-rest" not in inspector.loss_terms.note.text()  # this engine descends what is plotted


def test_grey_images_keep_the_colour_map_in_any_mode(qtbot, window, folder):
    grey = SMALL.with_(color=False)
    window.params.set_config(grey)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.load_folder(str(folder))
    entry = train(qtbot, window, grey)
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    view.mode.setCurrentIndex(view.mode.findData("rgb"))
    assert entry.run_id in view.bars  # still blue-white-red, with its bar
    assert np.allclose(view.drawn(entry.run_id, 1), entry.record.final.coef[1].reshape(5, 6), rtol=1e-6)


def test_a_sweep_run_stopped_before_it_started_shows_as_empty(qtbot, window, loaded):
    from regui.core.records import STOPPED
    from regui.core.sweep import SweepSpec

    long = SMALL.with_(epochs=100_000)
    name = window.start_sweep(SweepSpec(long, penalties=("l1", "l2"), alphas=(1e-3, 1e-2)), jobs=1)
    entries = [e for e in window.runs.entries() if e.record.sweep == name]
    window.controller.stop_all()
    qtbot.waitUntil(lambda: window.session.sweeps[name].ended, timeout=30_000)
    never = [e for e in entries if not e.record.epochs]
    assert never and all(e.record.status == STOPPED for e in never)
    window.select_runs([never[0].run_id])
    for view in window.inspector.views:
        raise_view(qtbot, window, view)  # no error, a note instead
        assert view.note.text()


@pytest.mark.parametrize(
    "limit, labels",
    [
        (1e6, ["-1e6", "-5e5", "0", "5e5", "1e6"]),
        (8.2e4, ["-5e4", "0", "5e4"]),
        (0.37, ["-0.2", "0", "0.2"]),
        (3e-5, ["-2e-5", "0", "2e-5"]),
    ],
)
def test_the_colour_bar_keeps_its_numbers_at_any_magnitude(limit, labels):
    from regui.gui.views.weights import symmetric_ticks

    ticks = symmetric_ticks(limit)
    assert [label for _, label in ticks] == labels
    assert all(abs(value) <= limit for value, _ in ticks) and [v for v, _ in ticks] == [-v for v, _ in ticks[::-1]]


def test_huge_weights_get_labels_on_both_sides_of_the_bar(qtbot, window, loaded):
    entry = train(qtbot, window, SMALL.with_(scaling="raw", eta0=1000.0, loss="hinge"))  # weights near 1e5
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    limit = view.limits[entry.run_id]
    assert limit > 1e4
    [level] = view.bars[entry.run_id].axis._tickLevels
    values = [value for value, _ in level]
    assert min(values) < 0 < max(values) and all(len(label) <= 5 for _, label in level)


def test_an_early_stopped_runs_views_show_the_epoch_it_kept(qtbot, window, tmp_path):
    from tests.helpers import write_png

    rng = np.random.default_rng(1)  # classes close together: validation peaks mid-run (as in test_validation)
    for label, name in enumerate(["a", "b", "c"]):
        for i in range(60):
            pixels = np.clip(rng.normal(90 + 6 * label, 60, (5, 6, 3)), 0, 255).astype(np.uint8)
            write_png(tmp_path / "slow" / name / f"{i}.png", pixels)
    config = TrainConfig(
        width=6, height=5, epochs=60, batch_size=64, eta0=0.03, validation=0.25, early_stopping=True, patience=3
    )
    window.params.set_config(config)
    with qtbot.waitSignal(window.controller.loaded, timeout=20_000):
        window.load_folder(str(tmp_path / "slow"))
    entry = train(qtbot, window, config)
    kept = entry.record.result
    assert 1 < kept.epoch < len(entry.record.epochs)
    view = window.inspector.weights
    raise_view(qtbot, window, view)
    assert view.epoch_for(entry) == kept.epoch
    assert np.allclose(view.drawn(entry.run_id, 0), kept.coef[0].reshape(5, 6, 3).sum(axis=2), rtol=1e-5, atol=1e-6)


def test_the_run_chooser_adds_a_growing_sweeps_runs_and_keeps_the_choice(qtbot):
    from regui.core.records import RunRecord
    from regui.gui.run_entry import RunEntry
    from regui.gui.run_styles import style_for
    from regui.gui.views.common_run import RunChooser

    entries = [RunEntry(n, RunRecord(config=TrainConfig(alpha=10.0**-n)), style_for(n)) for n in range(1, 5)]
    chooser = RunChooser()
    qtbot.addWidget(chooser)
    assert chooser.set_entries(entries[:2]) is entries[0]
    chooser.setCurrentIndex(1)
    first_item = chooser.itemText(0)
    assert chooser.set_entries(entries[:3]) is entries[1]  # one more run: the choice stays
    assert [chooser.itemText(i) for i in range(3)] == [e.label for e in entries[:3]]
    assert chooser.itemText(0) == first_item
    assert chooser.set_entries([entries[3], entries[1]]) is entries[1]  # another set: made anew, in its order
    assert [chooser.itemData(i) for i in range(chooser.count())] == [4, 2]
