"""Sweeps on a Dask cluster: a LocalCluster started by the test, worker processes and all."""

import sys

import pytest

distributed = pytest.importorskip("distributed")

from regui.core.dask_runner import DaskRunner  # noqa: E402
from regui.core.records import FINISHED  # noqa: E402
from regui.core.sweep_runs import SweepEvents, run_serial  # noqa: E402
from tests.core.test_sweep import Recorder, dataset, grid, same_numbers  # noqa: E402,F401


@pytest.fixture(scope="module")
def client():
    # Not the default client, as in the app and the command line, which connect by address. The
    # dashboard on any free port: the default one may be taken by another cluster on the machine.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client


def test_dask_gives_the_serial_numbers_and_streams_epochs(dataset, client):  # noqa: F811
    items = grid(repeats=1)
    runner = DaskRunner(dataset, client=client)
    try:
        assert runner.slots == 2
        events = Recorder()
        records = runner.run(items, events, sweep="D1")
    finally:
        runner.close()
    assert [r.status for r in records] == [FINISHED] * len(items)
    for a, b in zip(run_serial(dataset, items, SweepEvents()), records):
        same_numbers(a, b)
    assert sum(1 for e in events.log if e[0] == "epoch") == len(items) * 4
    assert {r.sweep for r in records} == {"D1"}


def test_workers_do_not_import_qt(dataset, client):  # noqa: F811
    runner = DaskRunner(dataset, client=client)
    try:
        runner.run(grid(repeats=1)[:1], SweepEvents())
    finally:
        runner.close()
    loaded = client.run(lambda: sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph")))
    assert all(mods == [] for mods in loaded.values())
    assert all(client.run(lambda: "regui.core.runs" in sys.modules).values())  # they did train


def prepared_splits() -> list:
    from regui.core import dask_runner

    return [id(data) for kept in dask_runner._dataset_cache.values() for data in kept.__dict__["_prepared"].values()]


def test_a_worker_prepares_a_split_once_for_all_its_blocks(dataset, client):  # noqa: F811
    items = grid(repeats=1)  # one split: runs that do not share a pass each make a block
    runner = DaskRunner(dataset, client=client, block=1)
    try:
        first = runner.run(items, SweepEvents())
        kept = client.run(prepared_splits)
        again = runner.run(items, SweepEvents())
    finally:
        runner.close()
    assert [r.status for r in first + again] == [FINISHED] * (2 * len(items))
    assert all(len(ids) <= 1 for ids in kept.values()) and any(kept.values())  # one split per worker
    assert client.run(prepared_splits) == kept  # the second sweep used the same arrays


def test_a_block_whose_worker_is_killed_starts_again_elsewhere_with_the_same_numbers(dataset):  # noqa: F811
    import os
    import signal

    from regui.core.sweep import SweepItem

    # Long enough that both blocks are still training when the first run reaches epoch 3.
    items = [SweepItem(i.index, i.config.with_(epochs=300), i.repeat) for i in grid(repeats=1)]
    killed = []

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster, set_as_default=False) as own:
            pids = own.run(os.getpid)

            def kill_at_epoch_3(index, result) -> None:
                """Kill the worker training ``index``'s block (a task's key names its first run)."""
                if result.epoch == 3 and not killed:
                    firsts = {
                        int(key.split("-")[-2]): worker for worker, keys in own.processing().items() for key in keys
                    }
                    worker = firsts[max(first for first in firsts if first <= index)]
                    killed.append(worker)
                    os.kill(pids[worker], signal.SIGKILL)

            runner = DaskRunner(dataset, client=own)  # blocks: both workers' runs share a pass
            try:
                events = Recorder(on_epoch=kill_at_epoch_3)
                records = runner.run(items, events)
            finally:
                runner.close()
    assert killed
    restarted = [e for e in events.log if e[0] == "started" and e[2] > 1]
    assert restarted  # the killed worker's block began again, all of its runs together
    assert [r.status for r in records] == [FINISHED] * len(items)
    for item, record in zip(items, records):  # each run's epochs once, from its last attempt
        assert [e.epoch for e in record.epochs] == list(range(1, 301))
        same_numbers(run_serial(dataset, [SweepItem(0, item.config, 0)], SweepEvents())[0], record)


def test_an_unreachable_scheduler_is_a_clear_error(dataset):  # noqa: F811
    from regui.core.errors import ReguiError

    with pytest.raises(ReguiError, match="Could not connect to the Dask scheduler"):
        DaskRunner(dataset, "tcp://127.0.0.1:9", timeout=1)


@pytest.mark.parametrize("address", ["notaurl", "tcp://host", "tcp://host:port", "inproc://x"])
def test_a_malformed_address_is_refused_before_any_client_is_made(dataset, monkeypatch, address):  # noqa: F811
    """A Client that fails half-built hangs for 20 s at exit and prints a traceback."""
    from regui.core.errors import ReguiError

    def no_client(*args, **kwargs):
        raise AssertionError("a Client was made")

    monkeypatch.setattr(distributed, "Client", no_client)
    with pytest.raises(ReguiError, match="is not a Dask scheduler address"):
        DaskRunner(dataset, address)


@pytest.mark.parametrize("block", [1, 32])
def test_stopping_a_sweep_on_the_cluster(dataset, client, block):  # noqa: F811
    from regui.core.records import STOPPED
    from regui.core.sweep_runs import SweepControl

    items = [i.__class__(i.index, i.config.with_(epochs=100_000), i.repeat) for i in grid(repeats=1)[:3]]
    control = SweepControl()
    runner = DaskRunner(dataset, client=client, block=block)
    try:
        records = runner.run(items, Recorder(on_epoch=lambda i, r: control.stop() if r.epoch == 3 else None), control)
    finally:
        runner.close()
    assert [r.status for r in records] == [STOPPED] * 3
    if block == 1:  # two slots: the third run was waiting
        assert any(r.epochs for r in records) and any(r.message == "Stopped before it started." for r in records)
    else:  # in two blocks, all three were training
        assert all(len(r.epochs) >= 3 for r in records)


def test_stopping_one_run_of_a_block_on_the_cluster_leaves_the_others_numbers(dataset, client):  # noqa: F811
    from regui.core.records import STOPPED
    from regui.core.sweep import SweepItem
    from regui.core.sweep_runs import SweepControl

    items = [SweepItem(i.index, i.config.with_(epochs=30), i.repeat) for i in grid(repeats=1)]
    items[1] = SweepItem(1, items[1].config.with_(epochs=100_000), 0)
    control = SweepControl()
    runner = DaskRunner(dataset, client=client)
    try:
        events = Recorder(on_epoch=lambda i, r: control.stop_run(1) if i == 1 and r.epoch == 3 else None)
        records = runner.run(items, events, control)
    finally:
        runner.close()
    assert records[1].status == STOPPED and len(records[1].epochs) >= 3
    for k in (0, 2, 3, 4):
        same_numbers(run_serial(dataset, [SweepItem(0, items[k].config, 0)], SweepEvents())[0], records[k])
