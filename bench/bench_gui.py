"""App responsiveness: start-up time and the GUI thread's longest stall during real work.

    python bench/bench_gui.py [--dataset DIR] [--epochs 20] [--repeat 3]

1. Start-up: wall time from starting `python -m regui` to its window shown, next to the time of
   a process that only imports PySide6, pyqtgraph, scikit-learn and cv2 (same run, best of N).
   Target: <= 1.3x.
2. Heartbeat: with the real main window, opened as `regui` opens it (on the bundled sample), a
   10 ms QTimer records when the GUI thread gets to run while DIR is loaded cold (empty cache)
   and then a run of E epochs trains on it, then "Compare penalties" runs four at once on
   worker processes (started when DIR loaded, as the app starts them), then a sweep of 4 penalties x 25 lambdas x 5
   folds (380 runs, 10 epochs) on the same workers, runs that share a pass in blocks. The
   largest gap between beats is the longest the window froze. Target: no gap over 50 ms. Also
   printed: how long after Start the first epoch reached the window (target < 0.5 s). Each
   phase starts PAUSE_SECONDS after the one before, as a person clicks on.
   By default every inspection view is open and visible at once (weights, histogram, loss
   terms, confusion, mistakes with thumbnails, all docked in a larger window, none behind a
   tab), redrawing as epochs stream; --views floating|tabbed|none for the other ways.
Runs offscreen unless a display is set (QT_QPA_PLATFORM=xcb under xvfb-run for a real one).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Between phases, as a person looks at a result before the next click (the app starts its
# worker processes once it has been idle for a second after a load).
PAUSE_SECONDS = 2.0
IMPORTS = "import PySide6.QtWidgets, pyqtgraph, sklearn.linear_model, cv2; import time; print(f'{time.time():.6f}')"


def startup(repeat: int) -> tuple[float, float]:
    base, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, REGUI_EXIT_WHEN_SHOWN="1", XDG_CONFIG_HOME=tmp, REGUI_CACHE_DIR=tmp, PYTHONPATH=str(ROOT)
        )
        for _ in range(repeat):
            started = time.time()
            out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, env=env, check=True)
            base.append(float(out.stdout.split()[-1]) - started)
            started = time.time()
            out = subprocess.run([sys.executable, "-m", "regui"], capture_output=True, text=True, env=env, check=True)
            shown = [line for line in out.stdout.splitlines() if "window shown at" in line]
            ours.append(float(shown[0].split()[-1]) - started)
    return min(base), min(ours)


def heartbeat(dataset: Path, epochs: int, views: str = "all") -> dict:
    cache = tempfile.mkdtemp(prefix="regui-bench-cache-")
    os.environ["REGUI_CACHE_DIR"] = cache  # cold: nothing decoded yet
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from regui.core.config import TrainConfig
    from regui.core.locations import sample_dataset_dir
    from regui.core.sweep import SweepSpec, log_space
    from regui.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must live while the window does
    settings = QSettings(str(Path(cache) / "bench.ini"), QSettings.Format.IniFormat)
    # As a person meets it: `regui` opens on the bundled sample; then they load their folder.
    window = MainWindow(initial_folder=sample_dataset_dir(), settings=settings, warm_workers=True)  # as regui opens it
    window.params.set_config(TrainConfig(epochs=epochs))
    window.show()
    docks = list(window.inspector.docks.values())
    for n, dock in enumerate(docks):
        if views == "floating":  # each its own window
            dock.setFloating(True)
            dock.setGeometry(40 + 300 * n, 60, 480, 520)
            dock.show()
        elif views == "all":  # all in the main window at once, none hidden behind a tab
            if n:
                window.splitDockWidget(
                    docks[n - 1], dock, Qt.Orientation.Vertical if n % 2 else Qt.Orientation.Horizontal
                )
            dock.show()
        elif views == "none":
            dock.hide()
    if views == "all":
        window.resize(1900, 1150)

    beats: list[float] = []
    epochs_shown: list[float] = []  # when each epoch reached the window
    window.session.run_epoch.connect(lambda *_: epochs_shown.append(time.perf_counter()))
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(clock.nsecsElapsed() / 1e6))
    timer.start()

    def wait(condition, seconds=600):
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(20)
        deadline = time.time() + seconds
        check.timeout.connect(lambda: loop.quit() if condition() or time.time() > deadline else None)
        check.start()
        loop.exec()
        check.stop()

    def pause(seconds: float) -> None:
        until = time.time() + seconds
        wait(lambda: time.time() > until)

    wait(lambda: window.dataset is not None and window.controller.is_idle())  # the sample, at start-up
    window.session.dataset = None
    phases = {}
    for name, start, done in (
        ("load (cold)", lambda: window.load_folder(str(dataset)), lambda: window.dataset is not None),
        (
            f"train ({epochs} epochs)",
            window.start_run,
            lambda: window.runs.rowCount() and window.runs.entry_at(0).record.status != "running",
        ),
        (
            "compare 4 penalties",
            window.compare_penalties,
            lambda: window.controller.is_idle() and not window.session.sweep_running(),
        ),
        (
            "sweep 4x25x5 folds",
            lambda: window.start_sweep(
                SweepSpec(
                    window.params.config().with_(epochs=10),
                    penalties=("none", "l1", "l2", "elasticnet"),
                    alphas=log_space(1e-6, 1e-1, 25),
                    cv=5,
                )
            ),
            lambda: window.controller.is_idle() and not window.session.sweep_running(),
        ),
    ):
        pause(PAUSE_SECONDS)  # a person looks, then clicks on
        first, shown = len(beats), len(epochs_shown)
        t0 = time.perf_counter()
        start()
        wait(done)
        seconds = time.perf_counter() - t0
        first_epoch = epochs_shown[shown] - t0 if len(epochs_shown) > shown else float("nan")
        gaps = [b - a for a, b in zip(beats[first:], beats[first + 1 :])]
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        at = (beats[first + worst] - beats[first]) / 1000  # seconds into the phase
        p99 = sorted(gaps)[int(0.99 * (len(gaps) - 1))]
        phases[name] = (seconds, max(gaps), p99, sum(g > 50 for g in gaps), at, first_epoch)
    record = window.runs.entry_at(0).record
    timer.stop()
    window.close()
    from regui.gui.app import dispose

    dispose(window)
    return {
        "phases": phases,
        "status": record.status,
        "test_accuracy": record.final.test_accuracy,
        "n_images": window.dataset.n_images,
    }


def main() -> None:
    from regui.core.locations import sample_dataset_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--views",
        choices=("all", "floating", "tabbed", "none"),
        default="all",
        help="inspection views while measuring: all visible in the window (default), each floating "
        "in its own window, tabbed as the app starts (one visible), or closed",
    )
    args = parser.parse_args()

    base, ours = startup(args.repeat)
    print(f"start-up (best of {args.repeat}, platform {os.environ['QT_QPA_PLATFORM']})")
    print(f"  import PySide6+pyqtgraph+sklearn+cv2 : {base:6.2f} s   1.00x")
    print(f"  regui launch -> window shown         : {ours:6.2f} s   {ours / base:.2f}x   target <= 1.3x")

    result = heartbeat(args.dataset, args.epochs, views=args.views)
    print(
        f"heartbeat on {args.dataset} ({result['n_images']} images), 10 ms timer in the GUI thread, "
        f"inspection views: {args.views} open"
    )
    for name, (seconds, worst, p99, over, at, first_epoch) in result["phases"].items():
        print(
            f"  {name:<18}: {seconds:6.2f} s   largest gap {worst:5.1f} ms (at {at:4.1f} s)   99th pct {p99:5.1f} ms   "
            f"gaps > 50 ms: {over}   target: none over 50 ms"
        )
        if first_epoch == first_epoch:  # not NaN: the phase trains
            print(f"  {'':<18}  first epoch on screen {first_epoch * 1000:.0f} ms after Start   target < 500 ms")
    print(f"  run {result['status']}, test accuracy {result['test_accuracy']:.2%}")


if __name__ == "__main__":
    main()
