"""Run store load test: 500 stored runs of 50 epochs each.

    python bench/bench_store.py [--runs 500] [--epochs 50]

Fills a fresh store as the app and the command line do (every epoch its own transaction, final
weights of 3 x 3,072 float32 as for the Animals photos), then times what a run browser needs:
opening the store and listing every run; filtering by dataset and by a setting; sorting by a
metric; loading one run with its epochs; and the app's run browser itself (offscreen): opening
it on the store, and changing its filters. Reports the database size. Each figure is also given
as a ratio to a plain baseline measured in the same run: reading the same number of rows
from an in-memory list of dicts (what any list view has to touch at least).
Target: the browser opens and filters in well under a second.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from regui.core.config import TrainConfig  # noqa: E402
from regui.core.records import FINISHED, EpochResult, RunRecord  # noqa: E402
from regui.core.store import RunStore  # noqa: E402


def fake_run(i: int, epochs: int, rng) -> RunRecord:
    penalty = ("none", "l1", "l2", "elasticnet")[i % 4]
    config = TrainConfig(penalty=penalty, alpha=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1)[i % 5], epochs=epochs, seed=i)
    folder = ("/data/animals", "/data/digits", "/data/flowers")[i % 3]
    coef = rng.standard_normal((3, 3072)).astype(np.float32)
    results = [
        EpochResult(e, *rng.random(9), elapsed=0.05 * e, coef=np.empty((0, 0), np.float32), intercept=np.empty(0))
        for e in range(1, epochs + 1)
    ]
    results[-1] = EpochResult(epochs, *rng.random(9), elapsed=0.05 * epochs, coef=coef, intercept=rng.random(3))
    return RunRecord(
        config=config,
        name=f"#{i} {config.describe()}",
        status=FINISHED,
        epochs=results,
        dataset={
            "folder": folder,
            "n_images": 3000,
            "class_names": ["cats", "dogs", "panda"],
            "class_counts": [1000, 1000, 1000],
            "fingerprint": f"{i % 3:064x}",
        },
    )


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.sqlite3"
        t = time.perf_counter()
        with RunStore(path) as store:
            for i in range(args.runs):
                record = fake_run(i, args.epochs, rng)
                run_id = store.begin(RunRecord(config=record.config, name=record.name, dataset=record.dataset))
                for result in record.epochs:
                    store.add_epoch(run_id, result)
                store.finish(run_id, record)
        fill = time.perf_counter() - t
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(
            f"{args.runs} runs x {args.epochs} epochs written in {fill:.1f} s "
            f"({fill / (args.runs * args.epochs) * 1e3:.2f} ms per committed epoch); "
            f"database {size / 2**20:.1f} MB ({size / args.runs / 1024:.0f} KB a run)"
        )

        rows = [
            {"id": i, "name": f"run {i}", "test_accuracy": rng.random(), "folder": "/data/animals"}
            for i in range(args.runs)
        ]
        base, _ = best_of(args.repeat, lambda: sorted((dict(r) for r in rows), key=lambda r: r["test_accuracy"]))

        def open_and_list():
            with RunStore(path) as store:
                return store.runs()

        with RunStore(path) as store:
            figures = [
                ("open the store and list every run", open_and_list),
                ("filter by dataset", lambda: store.runs(folder="animals")),
                ("filter by a setting (penalty=l2)", lambda: store.runs(where={"penalty": "l2"})),
                ("sort by test accuracy", lambda: store.runs(sort="test_accuracy", descending=True)),
                ("load one run with its epochs", lambda: store.load(args.runs // 2)),
            ]
            print(f"baseline: copy and sort {args.runs} rows in memory: {base * 1e3:7.2f} ms   1.00x")
            for label, fn in figures:
                seconds, result = best_of(args.repeat, fn)
                count = len(result) if isinstance(result, list) else len(result.epochs)
                print(
                    f"{label:<36}: {seconds * 1e3:7.2f} ms   {seconds / base:6.1f}x   ({count} rows)   "
                    f"target: well under 1 s"
                )
        browser_figures(path, base, args.repeat)


def browser_figures(path, base: float, repeat: int) -> None:
    """The run browser as a person uses it: open it, then filter by dataset and by a setting."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from regui.gui.run_browser import RunBrowser

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must live while the browser does

    def open_browser():
        browser = RunBrowser(path)
        app.processEvents()
        return browser

    seconds, browser = best_of(repeat, open_browser)
    print(
        f"{'app: open the run browser':<36}: {seconds * 1e3:7.2f} ms   {seconds / base:6.1f}x   "
        f"({browser.model.rowCount()} rows)   target: well under 1 s"
    )

    def filter_by_dataset():
        browser.dataset.setText("" if browser.dataset.text() else "animals")
        app.processEvents()
        return browser.model.rowCount()

    def filter_by_setting():
        browser.settings_filter.setText("" if browser.settings_filter.text() else "penalty=l2 alpha=0.01")
        browser.settings_filter.editingFinished.emit()
        app.processEvents()
        return browser.model.rowCount()

    for label, fn in (("app: filter by dataset", filter_by_dataset), ("app: filter by settings", filter_by_setting)):
        seconds, rows = best_of(repeat, fn)
        print(f"{label:<36}: {seconds * 1e3:7.2f} ms   {seconds / base:6.1f}x   target: well under 1 s")
    browser.close()


if __name__ == "__main__":
    main()
