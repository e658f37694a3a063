"""Sweep benchmark: the lesson's loop vs regui's sweep on worker processes.

    python bench/bench_sweep.py [--dataset DIR] [--jobs 2]

1. The lesson's loop: SGDClassifier(max_iter=10).fit for none, L1 and L2, one after another, on
   the prepared arrays; against regui's sweep of the same three runs with --jobs workers, on the
   same loaded images, each run with every per-epoch metric. Measured with the workers already
   started (as in the app, which keeps them for the dataset) and from cold (spawning them).
   Target: <= 0.6x. Also printed: the longest of the three fits alone, the bound no schedule
   of whole runs on any number of workers can beat.
   Also printed: the same three runs with regui's engine at its defaults.
2. A 4 penalties x 6 lambdas x 2 seeds grid with scikit-learn's engine on the workers: its wall
   time, and the time from the first run started to its first epoch reported; then the same grid
   with regui's engine (batch 64) on the workers in blocks (runs sharing a pass as one stack;
   target <= 0.1x), also with the split prepared in the workers before (as the app's workers
   have it once a folder has loaded), and run by run, and in this one process run by run and in
   blocks: ratios against the first grid's wall time.
3. The run store's cost: `regui sweep` of 7 runs (none, L1, L2 x 3 lambdas, 5 epochs, 2 jobs) as a
   person runs it, storing every run in a fresh store against --no-store. Target: about 1.0x
   (storing once made it 1.35x: the sweep's own process imported scikit-learn for its version).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.linear_model import SGDClassifier  # noqa: E402

from regui.core.blocks import MAX_BLOCK  # noqa: E402
from regui.core.config import LESSON, TrainConfig  # noqa: E402
from regui.core.dataset import load_dataset, prepare  # noqa: E402
from regui.core.locations import sample_dataset_dir  # noqa: E402
from regui.core.pool import ProcessPool  # noqa: E402
from regui.core.sweep import SweepItem, SweepSpec, expand, log_space  # noqa: E402
from regui.core.sweep_runs import SerialRunner, SweepEvents  # noqa: E402

# Time for a started worker to prepare the split it was told to expect (0.1-0.3 s measured).
PREPARED_AFTER_SECONDS = 2.0


class FirstEpoch(SweepEvents):
    def __init__(self) -> None:
        self.first_start = None
        self.first_epoch = None
        self.lock = threading.Lock()

    def started(self, index, attempt):
        with self.lock:
            self.first_start = self.first_start or time.perf_counter()

    def epoch(self, index, result):
        with self.lock:
            self.first_epoch = self.first_epoch or time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    base = LESSON  # the same runs as the lesson's loop: SGDClassifier, raw pixels
    dataset = load_dataset(args.dataset, base.image)
    data = prepare(dataset, base.split)

    single: dict[str, list[float]] = {}

    def lesson_loop():
        for penalty in (None, "l1", "l2"):
            t = time.perf_counter()
            SGDClassifier(
                loss="log_loss",
                penalty=penalty,
                max_iter=10,
                tol=None,
                learning_rate="constant",
                eta0=0.01,
                random_state=12,
            ).fit(data.X_train, data.y_train)
            single.setdefault(str(penalty), []).append(time.perf_counter() - t)

    lesson = expand(SweepSpec(base, penalties=("none", "l1", "l2")))
    started = time.perf_counter()
    pool = ProcessPool(dataset, args.jobs)
    pool.run(lesson, SweepEvents())
    cold = time.perf_counter() - started
    base_times, warm_times = [], []
    for _ in range(args.repeat):  # interleaved: drifting machine load hits both alike
        t = time.perf_counter()
        lesson_loop()
        base_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        pool.run(lesson, SweepEvents())
        warm_times.append(time.perf_counter() - t)
    ours = expand(SweepSpec(TrainConfig(), penalties=("none", "l1", "l2")))
    ours_times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        pool.run(ours, SweepEvents())
        ours_times.append(time.perf_counter() - t)
    b, w = min(base_times), min(warm_times)
    print(f"dataset: {args.dataset} ({dataset.n_images} images), 10 epochs, {args.jobs} jobs, best of {args.repeat}")
    print(f"lesson loop, serial fit x3      : {b:6.2f} s   1.00x")
    print(f"regui sweep, workers running    : {w:6.2f} s   {w / b:.2f}x   target <= 0.6x")
    print(f"regui sweep, workers from cold  : {cold:6.2f} s   {cold / b:.2f}x   (spawning {args.jobs} workers)")
    o = min(ours_times)
    print(f"  the same with regui's engine  : {o:6.2f} s   {o / b:.2f}x   (its defaults: batch 64, standardized)")
    longest, name = max((min(times), name) for name, times in single.items())
    label = f"its longest fit alone ({name})"
    print(
        f"{label:<32}: {longest:6.2f} s   {longest / b:.2f}x   (no schedule of whole runs "
        f"ends sooner; with a second fit running beside it, it slows by the shared memory bandwidth)"
    )

    items = expand(
        SweepSpec(base, penalties=("none", "l1", "l2", "elasticnet"), alphas=log_space(1e-6, 1e-1, 6), repeats=2)
    )
    events = FirstEpoch()
    t = time.perf_counter()
    records = pool.run(items, events)
    wall = time.perf_counter() - t
    mini = [
        SweepItem(i.index, i.config.with_(engine="minibatch", batch_size=64, scaling="standard"), i.repeat)
        for i in items
    ]
    block_events = FirstEpoch()
    t = time.perf_counter()
    pool.run(mini, block_events)  # in blocks: each seed's runs share a pass
    blocks_wall = time.perf_counter() - t
    pool.close()
    # As the app's workers are once a folder has loaded: started, with the split prepared.
    with ProcessPool(dataset, args.jobs, warm_split=mini[0].config.split) as ready:
        ready.start_workers()
        time.sleep(PREPARED_AFTER_SECONDS)  # a worker prepares the split after saying it is ready
        t = time.perf_counter()
        ready.run(mini, SweepEvents())
        prepared_wall = time.perf_counter() - t
    with ProcessPool(dataset, args.jobs, block=1) as by_run:
        by_run.run(mini[:1], SweepEvents())  # its workers started, as the first pool's were
        t = time.perf_counter()
        by_run.run(mini, SweepEvents())
        by_run_wall = time.perf_counter() - t
    # The same regui-engine grid in this one process, run by run and in blocks, with the same numbers.
    serial_times = {}
    for block in (1, MAX_BLOCK):
        t = time.perf_counter()
        SerialRunner(dataset, block=block).run(mini, SweepEvents())
        serial_times[block] = time.perf_counter() - t
    print(
        f"grid 4 penalties x 6 lambdas x 2 seeds = {len(items)} runs (none once per seed): {wall:6.1f} s "
        f"({wall / len(items):.2f} s a run, {sum(r.status == 'finished' for r in records)} finished)   1.000x"
    )
    print(f"  first run started -> its first epoch shown: {(events.first_epoch - events.first_start) * 1000:.0f} ms")
    print("the same grid with regui's engine (batch 64, 10 epochs):")
    print(
        f"  {args.jobs} workers, in blocks               : {blocks_wall:6.2f} s   {blocks_wall / wall:.3f}x   "
        f"target <= 0.1x; first epoch shown "
        f"{(block_events.first_epoch - block_events.first_start) * 1000:.0f} ms after the first run started"
    )
    print(
        f"  {args.jobs} workers, blocks, split ready     : {prepared_wall:6.2f} s   {prepared_wall / wall:.3f}x   "
        "(as the app's workers have it once a folder has loaded)"
    )
    print(f"  {args.jobs} workers, run by run              : {by_run_wall:6.2f} s   {by_run_wall / wall:.3f}x")
    one, blocks = serial_times[1], serial_times[MAX_BLOCK]
    print(f"  one process, run by run           : {one:6.2f} s   {one / wall:.3f}x")
    ratio = f"{blocks / wall:.3f}x   ({blocks / one:.2f}x run by run)"
    print(f"  one process, in blocks            : {blocks:6.2f} s   {ratio}")
    store_cost(args)


def store_cost(args) -> None:
    """The same command with and without the run store, interleaved, best of --repeat."""
    command = [
        sys.executable,
        "-m",
        "regui",
        "sweep",
        "--dataset",
        str(args.dataset),
        "--penalty",
        "none",
        "l1",
        "l2",
        "--alpha-range",
        "1e-4",
        "1e-2",
        "--points",
        "3",
        "--epochs",
        "5",
        "--jobs",
        str(args.jobs),
        "-q",
    ]
    stored, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            env = dict(os.environ, REGUI_STORE=str(Path(tmp) / f"runs{n}.sqlite3"))
            for times, extra in ((stored, []), (plain, ["--no-store"])):
                t = time.perf_counter()
                subprocess.run(command + extra, env=env, check=True, capture_output=True)
                times.append(time.perf_counter() - t)
    s, p = min(stored), min(plain)
    print(f"regui sweep of 7 runs, --no-store        : {p:6.2f} s   1.00x")
    print(f"regui sweep of 7 runs, storing every run : {s:6.2f} s   {s / p:.2f}x   target about 1.0x")


if __name__ == "__main__":
    main()
