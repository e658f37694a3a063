import os
import signal
import threading
import time

import numpy as np
import pytest

from regui.core.config import FULL_BATCH, ImageSettings, TrainConfig
from regui.core.dataset import load_dataset
from regui.core.pool import ProcessPool
from regui.core.records import FAILED, FINISHED, STOPPED
from regui.core.sweep import SweepItem, SweepSpec, expand, log_space
from regui.core.sweep_runs import SweepControl, SweepEvents, run_serial
from regui.core.sweep_summary import summarize

SMALL = dict(width=6, height=5, scaling="unit", epochs=4, eta0=0.02)


def test_log_space_reads_well():
    assert log_space(1e-6, 1e-1, 6) == (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    assert log_space(1e-4, 1e-2, 4) == (1e-4, 0.000464, 0.00215, 0.01)
    assert log_space(0.5, 0.5, 1) == (0.5,)
    with pytest.raises(ValueError):
        log_space(0, 1, 3)


def test_grid_expansion():
    base = TrainConfig(seed=12, split_seed=42)
    spec = SweepSpec(
        base,
        penalties=("none", "l1", "l2"),
        alphas=(1e-4, 1e-3, 1e-2),
        learning_rates=(0.01, 0.1),
        repeats=2,
        vary="split",
    )
    items = expand(spec)
    # no penalty: lambda plays no part, so once per lr and repeat; the others per lambda too
    assert len(items) == 1 * 2 * 2 + 2 * 3 * 2 * 2
    assert [i.index for i in items] == list(range(len(items)))
    assert {i.config.penalty for i in items[:4]} == {"none"}
    first_l1 = [i for i in items if i.config.penalty == "l1"][:4]
    assert [(i.config.alpha, i.config.eta0, i.repeat) for i in first_l1] == [
        (1e-4, 0.01, 0),
        (1e-4, 0.01, 1),
        (1e-4, 0.1, 0),
        (1e-4, 0.1, 1),
    ]
    assert [(i.config.seed, i.config.split_seed) for i in first_l1[:2]] == [(12, 42), (13, 43)]
    model_only = expand(SweepSpec(base, penalties=("l2",), repeats=3, vary="model"))
    assert [(i.config.seed, i.config.split_seed) for i in model_only] == [(12, 42), (13, 42), (14, 42)]
    optimal = expand(SweepSpec(base.with_(learning_rate="optimal"), penalties=("none",), alphas=(1e-4, 1e-3)))
    assert len(optimal) == 2  # 'optimal' derives its step from lambda, so lambda matters


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from tests.helpers import write_classes

    root = write_classes(
        tmp_path_factory.mktemp("sweepdata"), dict.fromkeys("abc", 12), 50, 60, 40, (6, 5), 0, "{i}.png"
    )
    return load_dataset(root, ImageSettings(6, 5), use_cache=False)


@pytest.fixture(scope="module")
def pool(dataset):
    with ProcessPool(dataset, jobs=2) as p:  # runs that share a pass in blocks, as sweeps run
        yield p


@pytest.fixture(scope="module")
def pool_by_run(dataset):
    """A pool that trains one run at a time: what these tests say of a run (queued, paused,
    lost) holds for a block's runs together; one at a time, each run's fate is its own."""
    with ProcessPool(dataset, jobs=2, block=1) as p:
        yield p


def grid(repeats=2):
    return expand(SweepSpec(TrainConfig(**SMALL), penalties=("none", "l1", "l2"), alphas=(1e-3, 1e-1), repeats=repeats))


def wait_until(condition, seconds=60):
    """Wait for ``condition()`` (a sweep running on another thread), up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def long_runs(items, epochs):
    return [SweepItem(i.index, i.config.with_(epochs=epochs), i.repeat) for i in items]


class Recorder(SweepEvents):
    def __init__(self, on_epoch=None):
        self.log = []
        self.on_epoch = on_epoch
        self.lock = threading.Lock()

    def started(self, index, attempt):
        with self.lock:
            self.log.append(("started", index, attempt))

    def epoch(self, index, result):
        with self.lock:
            self.log.append(("epoch", index, result.epoch))
        if self.on_epoch:
            self.on_epoch(index, result)

    def finished(self, index, record):
        with self.lock:
            self.log.append(("finished", index, record.status))

    def failed(self, index, message):
        with self.lock:
            self.log.append(("failed", index, message))


def same_numbers(a, b):
    assert a.status == b.status and len(a.epochs) == len(b.epochs)
    for x, y in zip(a.epochs, b.epochs):
        assert x == y  # every metric, exactly
        assert np.array_equal(x.batch_losses, y.batch_losses)
    if a.epochs:  # sweeps keep the weights of the last epoch only
        assert np.array_equal(a.epochs[-1].coef, b.epochs[-1].coef) and a.epochs[-1].coef.size
        assert np.array_equal(a.epochs[-1].intercept, b.epochs[-1].intercept)
        assert all(e.coef.size == 0 for e in a.epochs[:-1] + b.epochs[:-1])


def test_processes_give_the_serial_numbers_with_either_engine_and_any_batch_size(dataset, pool):
    mini = expand(SweepSpec(TrainConfig(**SMALL), penalties=("l1",), alphas=(1e-3,), batch_sizes=(1, 4, FULL_BATCH)))
    sk = expand(SweepSpec(TrainConfig(**SMALL, engine="sgdclassifier"), penalties=("l2",), alphas=(1e-3,)))
    items = [SweepItem(i, item.config, item.repeat) for i, item in enumerate(mini + sk)]
    serial = run_serial(dataset, items, SweepEvents())
    parallel = pool.run(items, SweepEvents())
    assert [r.config.batch_size for r in parallel] == [1, 4, FULL_BATCH, 1]
    assert [r.config.engine for r in parallel] == ["minibatch"] * 3 + ["sgdclassifier"]
    for a, b in zip(serial, parallel):
        same_numbers(a, b)
    # Per-sample: one loss per training image (what the validation part leaves of them).
    assert len(parallel[0].epochs[-1].batch_losses) == parallel[0].dataset["n_train"] == 21
    assert len(parallel[2].epochs[-1].batch_losses) == 1 and parallel[3].epochs[-1].batch_losses.size == 0


def test_processes_give_the_serial_numbers(dataset, pool):
    items = grid()
    serial = run_serial(dataset, items, SweepEvents())
    events = Recorder()
    parallel = pool.run(items, events, sweep="S9")
    assert [r.status for r in parallel] == [FINISHED] * len(items)
    for a, b in zip(serial, parallel):
        same_numbers(a, b)
    assert {r.sweep for r in parallel} == {"S9"} and [r.repeat for r in parallel] == [i.repeat for i in items]
    epochs_seen = [e for e in events.log if e[0] == "epoch"]
    assert len(epochs_seen) == len(items) * SMALL["epochs"]  # every epoch streamed live


def test_a_small_sweep_can_stream_and_keep_every_snapshot(dataset, pool):
    # The app's penalty comparison shows each run's weights live, epoch by epoch.
    items = grid(repeats=1)[:3]
    serial = run_serial(dataset, items, SweepEvents(), snapshots=None)
    streamed = []
    events = Recorder(on_epoch=lambda i, r: streamed.append(r))
    parallel = pool.run(items, events, snapshots=None)
    assert len(serial) == len(parallel) == 3
    for a, b in zip(serial, parallel):
        assert a.epochs == b.epochs and all(e.has_snapshot for e in a.epochs + b.epochs)
        for x, y in zip(a.epochs, b.epochs):
            assert np.array_equal(x.coef, y.coef) and np.array_equal(x.test_pred, y.test_pred)
            assert np.array_equal(x.test_confidence, y.test_confidence)
    assert len(streamed) == 3 * SMALL["epochs"] and all(r.has_snapshot for r in streamed)
    thinned = pool.run(items[:1], SweepEvents(), snapshots=3)[0]
    assert [e.epoch for e in thinned.epochs if e.has_snapshot] == [1, 2, 4]


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_workers_started_ahead_wait_idle_below_the_interfaces_priority(dataset):
    with ProcessPool(dataset, jobs=2) as pool:
        pool.start_workers()
        workers = list(pool._idle)
        assert len(workers) == pool.jobs
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert all(os.getpriority(os.PRIO_PROCESS, w.process.pid) >= min(19, mine + 10) for w in workers)
        records = pool.run(grid(repeats=1)[:1], SweepEvents())
        assert [r.status for r in records] == [FINISHED]
        assert all(w.process.is_alive() for w in workers)
        assert sorted(w.process.pid for w in pool._idle) == sorted(w.process.pid for w in workers)  # no new ones


def test_a_worker_started_ahead_prepares_the_split_it_was_told_to_expect(dataset):
    from regui.core.dataset import prepare
    from regui.core.pool_worker import _prepare_expected, _warm_up, open_shared_dataset, read_meta

    split = grid(repeats=1)[0].config.split
    with ProcessPool(dataset, jobs=1, warm_split=split) as pool:
        meta = read_meta(str(pool._dir))
        shared = open_shared_dataset(str(pool._dir), meta)  # what a worker opens, here in this process
        _warm_up(shared)
        _prepare_expected(shared, meta["warm_split"])
        made = shared.__dict__["_prepared"][split]
        assert shared.prepared(split) is made  # the first block finds it made
        assert np.array_equal(made.X_train, prepare(dataset, split).X_train)
        records = pool.run(grid(repeats=1)[:2], SweepEvents())  # and the workers train as before
        assert [r.status for r in records] == [FINISHED] * 2


def test_a_worker_prepares_the_expected_split_after_it_says_it_is_ready(dataset, monkeypatch):
    import dataclasses
    import multiprocessing

    import regui.core.pool_worker as pool_worker

    split = grid(repeats=1)[0].config.split
    with ProcessPool(dataset, jobs=1, warm_split=split) as pool:  # its folder, served here rather than in a process
        ours, theirs = multiprocessing.Pipe()
        said = []  # (the split expected, whether "ready" was already sent) as it prepares
        monkeypatch.setattr(pool_worker, "_prepare_expected", lambda data, split: said.append((split, ours.poll())))
        ours.send(None)  # nothing to train: it leaves once it has started
        pool_worker._serve(theirs, str(pool._dir), os.getppid())
        assert said == [(dataclasses.asdict(split), True)] and ours.recv() == ("ready", None, None)


def test_pause_holds_new_runs_and_resume_goes_on(pool_by_run):
    items = grid(repeats=1)
    control = SweepControl()
    paused_after = []

    class PauseAfterFirst(Recorder):
        def finished(self, index, record):
            super().finished(index, record)
            if not paused_after:
                control.pause()
                paused_after.append(len([e for e in self.log if e[0] == "started"]))

    events = PauseAfterFirst()
    done = []
    thread = threading.Thread(target=lambda: done.append(pool_by_run.run(items, events, control)))
    thread.start()
    wait_until(lambda: paused_after)  # the workers may be starting still
    thread.join(0.5)
    started = len([e for e in events.log if e[0] == "started"])
    assert paused_after and started == paused_after[0] < len(items)  # nothing new while paused
    control.resume()
    thread.join(60)
    assert [r.status for r in done[0]] == [FINISHED] * len(items)


def test_stop_keeps_what_finished_and_ends_the_rest(dataset, pool_by_run):
    items = grid(repeats=2)
    control = SweepControl()
    finished_first = threading.Event()

    class StopAfterFirst(Recorder):
        def finished(self, index, record):
            super().finished(index, record)
            if not finished_first.is_set():
                finished_first.set()
                control.stop()

    records = pool_by_run.run(items, StopAfterFirst(), control)
    statuses = [r.status for r in records]
    assert statuses.count(FINISHED) >= 1
    assert set(statuses) <= {FINISHED, STOPPED}
    never = [r for r in records if r.message == "Stopped before it started."]
    assert never and all(r.dataset["class_names"] == list(dataset.class_names) for r in never)  # still says its data


def test_stopping_one_run_leaves_the_others(pool):
    items = grid(repeats=1)[:3]
    items = [items[0], items[1].__class__(1, items[1].config.with_(epochs=100_000), 0), items[2]]
    control = SweepControl()
    records = pool.run(
        items, Recorder(on_epoch=lambda i, r: control.stop_run(1) if i == 1 and r.epoch == 3 else None), control
    )
    assert [r.status for r in records] == [FINISHED, STOPPED, FINISHED]
    assert records[1].status_text().startswith("stopped at epoch")


def test_one_failing_run_does_not_stop_the_sweep(pool):
    items = grid(repeats=1)[:3]
    broken = items[1].__class__(1, items[1].config.with_(test_size=0.01), 0)  # no test image per class
    records = pool.run([items[0], broken, items[2]], Recorder())
    assert [r.status for r in records] == [FINISHED, FAILED, FINISHED]
    assert "fewer than one image per class" in records[1].message
    assert records[1].dataset["fingerprint"] == pool.summary["fingerprint"]


def test_a_killed_worker_costs_only_its_run_which_is_retried(dataset, pool_by_run):
    items = grid(repeats=1)[:3]
    items = [i.__class__(i.index, i.config.with_(epochs=30), i.repeat) for i in items]
    killed = []

    def kill_once(index, result):
        if index == 1 and result.epoch == 2 and not killed:
            pid = pool_by_run.running()[1]
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    events = Recorder(on_epoch=kill_once)
    records = pool_by_run.run(items, events)
    assert killed
    assert [r.status for r in records] == [FINISHED] * 3
    assert ("started", 1, 2) in events.log  # tried again on a fresh worker
    for a, b in zip(run_serial(dataset, items, SweepEvents()), records):
        same_numbers(a, b)  # the retried run starts over: same numbers


def test_a_run_whose_worker_dies_while_paused_starts_again_at_once_and_holds(pool_by_run):
    # Pausing starts no new runs and holds the running ones; the lost run was running, so it
    # starts over at once, to hold with the others. Run 0 runs until run 2 has started (then it
    # is stopped), so it holds its worker throughout however fast the others' epochs are.
    items = long_runs(grid(1)[:3], 30)
    items[0] = SweepItem(0, items[0].config.with_(epochs=100_000), 0)
    control = SweepControl()
    killed = []

    def pause_and_kill(index, result):
        if index == 1 and result.epoch == 2 and not killed:
            control.pause()
            killed.append(pool_by_run.running()[1])
            os.kill(killed[0], signal.SIGKILL)
        if index == 2:
            control.stop_run(0)

    events = Recorder(on_epoch=pause_and_kill)
    done = []
    thread = threading.Thread(target=lambda: done.append(pool_by_run.run(items, events, control)))
    thread.start()
    try:
        wait_until(lambda: ("started", 1, 2) in events.log)
        assert control.paused.is_set() and ("started", 1, 2) in events.log  # while paused
        time.sleep(0.3)
        assert ("started", 2, 1) not in events.log and ("finished", 1, FINISHED) not in events.log  # held
        events.log.append(("resumed",))
    finally:
        control.resume()
        thread.join(60)
    assert killed and [r.status for r in done[0]] == [STOPPED, FINISHED, FINISHED]
    log = events.log
    assert log.index(("started", 1, 2)) < log.index(("resumed",)) < log.index(("started", 2, 1))


def test_summary_mean_and_spread(dataset):
    records = run_serial(dataset, grid(repeats=3), SweepEvents())
    summaries = summarize(records)
    assert len(summaries) == 5  # none once; l1 and l2 at two lambdas
    l2 = next(s for s in summaries if s.penalty == "l2" and s.alpha == 1e-3)
    chosen = [r for r in records if r.config.penalty == "l2" and r.config.alpha == 1e-3]
    values = [r.final.test_accuracy for r in chosen]
    assert l2.n == 3 and l2.test == pytest.approx((np.mean(values), np.std(values, ddof=1)))
    none = next(s for s in summaries if s.penalty == "none")
    assert none.alpha is None and none.n == 3


def test_a_stop_that_arrives_at_the_last_epoch_leaves_the_workers_healthy(pool):
    items = grid(repeats=1)[:2]
    control = SweepControl()
    last = SMALL["epochs"]
    records = pool.run(items, Recorder(on_epoch=lambda i, r: control.stop_run(i) if r.epoch == last else None), control)
    assert [r.status for r in records] == [FINISHED, FINISHED]  # nothing was left to stop
    events = Recorder()
    again = pool.run(items, events)
    assert [r.status for r in again] == [FINISHED, FINISHED]
    assert all(attempt == 1 for kind, _, attempt in events.log if kind == "started")  # no worker was lost


def test_workers_ignore_ctrl_c_the_sweep_decides(pool):
    items = [i.__class__(i.index, i.config.with_(epochs=40), i.repeat) for i in grid(repeats=1)[:2]]
    interrupted = []

    def interrupt(index, result):
        if result.epoch == 2 and not interrupted:
            interrupted.append(pool.running()[index])
            os.kill(interrupted[0], signal.SIGINT)  # as a terminal's Ctrl-C reaches every process

    records = pool.run(items, Recorder(on_epoch=interrupt))
    assert interrupted and [r.status for r in records] == [FINISHED, FINISHED]


def test_a_run_whose_worker_dies_after_it_was_stopped_keeps_its_epochs(pool):
    items = [i.__class__(i.index, i.config.with_(epochs=100_000), i.repeat) for i in grid(repeats=1)[:1]]
    control = SweepControl()

    def stop_then_kill(index, result):
        if result.epoch == 3:
            pid = pool.running()[index]
            control.stop_run(index)
            os.kill(pid, signal.SIGKILL)

    [record] = pool.run(items, Recorder(on_epoch=stop_then_kill), control)
    assert record.status == STOPPED and len(record.epochs) >= 3


def test_shared_data_is_removed_on_close_and_orphans_are_cleaned(dataset, tmp_path):
    import tempfile
    from pathlib import Path

    orphan = Path(tempfile.gettempdir()) / "regui-pool-999999999-abc"
    orphan.mkdir(exist_ok=True)
    pool = ProcessPool(dataset, jobs=1)
    folder = pool._dir
    assert folder.is_dir() and not orphan.exists()  # a folder of a process that is gone
    pool.run(grid(repeats=1)[:1], SweepEvents())
    processes = [w.process for w in pool._idle]
    pool.close()
    assert not folder.exists()
    assert all(not p.is_alive() for p in processes)


def test_one_run_failing_with_an_unexpected_error_fails_only_it(dataset, monkeypatch):
    import regui.core.runs as runs

    real = runs.run_training
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("pretend")
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run_training", flaky)
    records = run_serial(dataset, grid(repeats=1)[:3], SweepEvents())
    assert [r.status for r in records] == [FINISHED, FAILED, FINISHED]
    assert "MemoryError" in records[1].message


def test_blocks_on_processes_train_runs_together_with_the_numbers_of_each_run_alone(dataset, pool):
    items = grid(repeats=2)  # two seeds: two passes, a block each, one per worker
    alone = [run_serial(dataset, [SweepItem(0, i.config, i.repeat)], SweepEvents())[0] for i in items]
    together = []

    def where(index, result):
        if result.epoch == 1:
            together.append(frozenset(i for i, pid in pool.running().items() if pid == pool.running().get(index)))

    records = pool.run(items, Recorder(on_epoch=where))
    for a, b in zip(alone, records):
        same_numbers(a, b)
    assert max(len(runs) for runs in together) == 5  # each seed's five runs trained in one worker


def test_a_killed_worker_costs_its_block_whose_runs_start_again_together(dataset, pool):
    items = long_runs(grid(repeats=1), 30)
    killed = []

    def kill_once(index, result):
        if index == 1 and result.epoch == 2 and not killed:
            killed.append(pool.running()[1])
            os.kill(killed[0], signal.SIGKILL)

    events = Recorder(on_epoch=kill_once)
    records = pool.run(items, events)
    assert killed and [r.status for r in records] == [FINISHED] * len(items)
    lost = {index for kind, index, attempt in events.log if kind == "started" and attempt == 2}
    assert 1 in lost and len(lost) > 1  # its block-mates were lost with it, and started again
    for a, b in zip(run_serial(dataset, items, SweepEvents()), records):
        same_numbers(a, b)  # the block starts over: the same numbers


def test_stopping_one_run_of_a_block_on_processes_leaves_the_others_numbers(dataset, pool):
    items = long_runs(grid(repeats=1), 40)
    items[1] = SweepItem(1, items[1].config.with_(epochs=100_000), 0)
    control = SweepControl()
    events = Recorder(on_epoch=lambda i, r: control.stop_run(1) if i == 1 and r.epoch == 3 else None)
    records = pool.run(items, events, control)
    assert records[1].status == STOPPED and len(records[1].epochs) >= 3
    others = [i for i in range(len(items)) if i != 1]
    for k in others:
        same_numbers(run_serial(dataset, [SweepItem(0, items[k].config, 0)], SweepEvents())[0], records[k])
    # Its record came as soon as it left the block, while its block-mates trained on.
    log = events.log
    assert log.index(("finished", 1, STOPPED)) < min(log.index(("finished", k, FINISHED)) for k in others)


def test_pause_holds_a_running_block_and_resume_goes_on_with_the_same_numbers(dataset, pool):
    items = long_runs(grid(repeats=1), 60)
    control = SweepControl()
    paused_once = []

    def pause_once(index, result):
        if result.epoch == 2 and not paused_once:
            paused_once.append(index)
            control.pause()

    events = Recorder(on_epoch=pause_once)
    done = []
    thread = threading.Thread(target=lambda: done.append(pool.run(items, events, control)))
    thread.start()
    try:
        wait_until(control.paused.is_set)
        time.sleep(0.5)  # what was on its way arrives

        def count():
            return sum(1 for e in events.log if e[0] == "epoch")

        held = count()
        time.sleep(0.5)
        assert count() == held < len(items) * 60  # every run holds
    finally:
        control.resume()
        thread.join(60)
    assert [r.status for r in done[0]] == [FINISHED] * len(items)
    for a, b in zip(run_serial(dataset, items, SweepEvents()), done[0]):
        same_numbers(a, b)  # held between two steps: the same numbers
