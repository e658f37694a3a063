"""``regui sweep``: a grid of runs on all cores (or a Dask cluster), then mean and spread."""

from __future__ import annotations

import math
import sys
import time

from regui.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    StopOnInterrupt,
    base_config,
    check_outputs,
    load,
    open_log,
    report_stored,
)
from regui.core.admission import admit_sweep, weights_size
from regui.core.config import run_label
from regui.core.errors import ConfigError, ReguiError
from regui.core.formatting import duration, percent_mean_std
from regui.core.records import FINISHED, RunRecord
from regui.core.sweep import MAX_SWEEP_RUNS, SweepSpec, check_sweep_size, count_runs, log_space
from regui.core.sweep_runs import Runner, SerialRunner, SweepControl, SweepEvents, failed
from regui.core.sweep_summary import best_per_penalty, summarize

SWEEP_NAME = "S1"


def spec_from(args) -> SweepSpec:
    """The grid the arguments ask for, its size checked before anything is made of it."""
    if args.alpha:
        alphas: tuple[float, ...] = tuple(dict.fromkeys(args.alpha))
    else:
        low, high = args.alpha_range
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high) or args.points < 1:
            raise ConfigError("--alpha-range needs finite numbers 0 < LOW <= HIGH, and --points at least 1.")
        alphas = ()
    if args.points > MAX_SWEEP_RUNS:  # checked first: even 'none' alone would make every point
        raise ConfigError(f"--points may be at most {MAX_SWEEP_RUNS:,} (got {args.points:,}).")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1 (got {args.seeds}).")
    if args.jobs is not None and args.jobs != -1 and args.jobs < 1:
        raise ConfigError(f"--jobs must be -1 (all cores) or a whole number from 1 (got {args.jobs}).")
    learning_rates = tuple(dict.fromkeys(args.lr))
    count = count_runs(args.penalty, len(alphas) or args.points, len(learning_rates), args.seeds, args.schedule)
    check_sweep_size(count, args.epochs)
    if not alphas:
        alphas = log_space(*args.alpha_range, args.points)
    return SweepSpec(
        base=base_config(args),
        penalties=tuple(args.penalty),
        alphas=alphas,
        learning_rates=learning_rates,
        repeats=args.seeds,
        vary=args.vary,
    )


def cmd_sweep(args) -> int:
    from regui.core import export

    spec = spec_from(args)
    items = admit_sweep(spec)  # the settings, before the images are loaded
    check_outputs(args, args.out, args.summary, args.history)
    client = None
    if args.scheduler:  # before loading: a wrong address should not wait for the images
        from regui.core.dask_runner import connect

        client = connect(args.scheduler)
    dataset = load(args, spec.base)
    weights = weights_size(len(dataset.class_names), dataset.image.n_features)
    admit_sweep(spec, dataset.class_names, dataset.counts(), weights)  # and with them: splits, memory

    names = [run_label(item.index + 1, item.config) for item in items]
    runner, where = _runner(args, dataset, client)
    grid = " x ".join(
        _count(n, word)
        for n, word in (
            (len(spec.penalties), "penalty"),
            (len(spec.alphas), "lambda"),
            (len(spec.learning_rates), "learning rate"),
            (spec.repeats, "repeat"),
        )
    )
    print(
        f"[INFO] sweep of {_count(len(items), 'run')}: {grid} (varying the "
        f"{'split and model seeds' if spec.vary == 'split' else 'model seed'}), "
        f"{_count(spec.base.epochs, 'epoch')} each, {where}"
    )
    log = open_log(args)
    printer = _Printer(items, names, quiet=args.quiet, log=log, summary=dataset.summary())
    control = SweepControl()
    stop = StopOnInterrupt(on_request=control.stop)
    problem = None
    try:
        with stop:
            records = runner.run(items, printer, control, names=names, sweep=SWEEP_NAME)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - a lost cluster, a second Ctrl-C: keep what ended
        aborted = isinstance(exc, KeyboardInterrupt)
        problem = "aborted" if aborted else str(exc) if isinstance(exc, ReguiError) else f"{type(exc).__name__}: {exc}"
        records = [
            printer.records.get(item.index) or failed(item, names, SWEEP_NAME, f"Not run: {problem}", printer.summary)
            for item in items
        ]
    finally:
        runner.close()

    summaries = summarize(records)
    _print_summary(summaries)
    report_stored(log)
    if args.out is not None:
        export.write_csv(args.out, [r.summary_row() for r in records])
        print(f"[INFO] runs written to {args.out}")
    if args.summary is not None:
        export.write_csv(args.summary, [s.row() for s in summaries])
        print(f"[INFO] summary written to {args.summary}")
    if args.history is not None:
        export.write_json(args.history, export.results_document(records, dataset.summary()))
        print(f"[INFO] per-epoch history written to {args.history}")
    if problem is not None:
        print(f"regui: error: the sweep ended early ({problem}); the runs that ended are saved", file=sys.stderr)
        return EXIT_INTERRUPTED if problem == "aborted" else EXIT_RUN_FAILED
    if stop.was_requested:
        how = "terminated (SIGTERM)" if stop.signal_name == "SIGTERM" else "interrupted"
        print(f"regui: {how}; the runs that ended are saved above", file=sys.stderr)
        return stop.exit_status
    return EXIT_OK if all(r.status == FINISHED for r in records) else EXIT_RUN_FAILED


def _runner(args, dataset, client=None) -> tuple[Runner, str]:
    """The executor the arguments ask for, and a few words saying where runs happen."""
    if client is not None:
        from regui.core.dask_runner import DaskRunner

        runner = DaskRunner(dataset, client=client, owns_client=True)
        return runner, f"on the Dask cluster at {args.scheduler} ({runner.slots} at a time)"
    if args.jobs == 1:
        return SerialRunner(dataset), "one at a time in this process"
    from regui.core.pool import ProcessPool, limit_text

    pool = ProcessPool(dataset, args.jobs)
    return pool, f"{pool.jobs} at a time in worker processes{limit_text(pool)}"


class _Printer(SweepEvents):
    """One line per run as it ends, with the count and an estimate of the time left."""

    def __init__(self, items, names: list[str], quiet: bool, log=None, summary: dict | None = None) -> None:
        self.items = {item.index: item for item in items}
        self.total, self.names, self.quiet = len(items), names, quiet
        self.log, self.summary = log, summary or {}
        self.done = 0
        self.started_at = time.monotonic()
        self.records: dict[int, RunRecord] = {}  # what ended, should the runner itself fail later
        self.repeated = any(item.repeat for item in items)  # repeats share settings: the lines say which one

    # The store follows each run as it happens: begun, every epoch, its end.
    def started(self, index: int, attempt: int) -> None:
        if self.log is not None:
            item = self.items[index]
            self.log.started(
                index,
                RunRecord(
                    config=item.config,
                    name=self.names[index],
                    dataset=self.summary,
                    sweep=SWEEP_NAME,
                    repeat=item.repeat,
                ),
            )

    def epoch(self, index: int, result) -> None:
        if self.log is not None:
            self.log.epoch(index, result)

    def finished(self, index: int, record: RunRecord) -> None:
        self.records[index] = record
        if self.log is not None:
            self.log.finished(index, record)
        self.done += 1
        if self.quiet:
            return
        if record.final is not None:
            best = record.best_test()
            result = (
                f"test {record.final.test_accuracy:.2%} (best {best.test_accuracy:.2%} at epoch {best.epoch}), "
                f"zeros {record.final.zero_fraction:.1%}"
            )
        else:
            result = "no epoch"
        status = "" if record.status == FINISHED else f"  [{record.status_text()}]"
        print(
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {self._label(index)}: {result}{status}{self._eta()}",
            flush=True,
        )

    def failed(self, index: int, message: str) -> None:
        self.done += 1
        self.records[index] = failed(self.items[index], self.names, SWEEP_NAME, message, self.summary)
        if self.log is not None:
            self.log.failed(index, self.records[index])
        print(f"[{self.done}/{self.total}] {self._label(index)}: failed: {message}", file=sys.stderr, flush=True)

    def _label(self, index: int) -> str:
        """The run's name, and which repeat it is when the sweep has repeats."""
        return self.names[index] + (f" repeat {self.items[index].repeat + 1}" if self.repeated else "")

    def _eta(self) -> str:
        left = self.total - self.done
        if not left:
            return ""
        seconds = (time.monotonic() - self.started_at) / self.done * left
        return f"  (about {duration(seconds)} left)"


def _print_summary(summaries) -> None:
    if not summaries:
        print("[WARN] no run finished: nothing to summarize", file=sys.stderr)
        return
    print()
    header = (
        f"{'penalty':<11} {'lambda':>9} {'lr':>8} {'runs':>4}  {'test acc':>15}  {'best test acc':>15}  "
        f"{'train acc':>15}  {'zeros':>13}"
    )
    print(header)
    print("-" * len(header))
    pm = percent_mean_std
    for s in summaries:
        lam = "-" if s.alpha is None else f"{s.alpha:g}"
        if not s.n:
            print(f"{s.penalty:<11} {lam:>9} {s.eta0:>8g} {0:>4}  none of its runs finished: {s.count_text()}")
            continue
        note = "" if not s.others else f"  ({s.count_text()})"
        print(
            f"{s.penalty:<11} {lam:>9} {s.eta0:>8g} {s.n:>4}  {pm(s.test):>15}  {pm(s.best_test):>15}  "
            f"{pm(s.train):>15}  {pm(s.zeros, 1):>13}{note}"
        )
    print()
    for s in best_per_penalty(summaries):
        lam = "" if s.alpha is None else f" lambda={s.alpha:g}"
        print(f"[INFO] best '{s.penalty}':{lam} lr={s.eta0:g}: test accuracy {pm(s.test)} over {s.n} run(s)")


def _count(n: int, word: str) -> str:
    """ "1 lambda", "6 lambdas", "2 penalties"."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"
