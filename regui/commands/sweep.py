"""``regui sweep``: a grid of runs on all cores (or a Dask cluster), then mean and spread."""

from __future__ import annotations

import functools
import math
import sys
import time

from regui.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    StopOnInterrupt,
    base_config,
    batch_sizes,
    check_jobs,
    check_outputs,
    load,
    open_log,
    report_stored,
)
from regui.core.admission import admit_sweep, admit_sweep_data
from regui.core.config import batch_column, uses_lambda
from regui.core.errors import ConfigError, ReguiError
from regui.core.formatting import duration, percent_mean_std
from regui.core.records import FAILED, FINISHED, RUNNING, WAITING, RunRecord
from regui.core.run_book import RunBook
from regui.core.run_log import Storing
from regui.core.sweep import MAX_SWEEP_RUNS, SweepSpec, check_sweep_size, count_runs, log_space
from regui.core.sweep_runs import BookEvents, Runner, SerialRunner, SweepControl, item_name
from regui.core.sweep_summary import chosen_per_penalty, summarize

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
    check_jobs(args)
    learning_rates = tuple(dict.fromkeys(args.lr))
    batches = tuple(batch_sizes(args))
    # Counted as asked, before the lambda points are made (admit_sweep counts the grid again,
    # once those of them that round to the same value are merged).
    if args.cv == 1 or not 0 <= args.cv <= 20:
        raise ConfigError(f"--cv takes 2 to 20 folds (or 0 for none; got {args.cv}).")
    count = count_runs(
        args.penalty, len(alphas) or args.points, len(learning_rates), args.seeds, args.schedule, len(batches), args.cv
    )
    check_sweep_size(count, args.epochs)
    if not alphas:
        alphas = log_space(*args.alpha_range, args.points)
    return SweepSpec(
        base=base_config(args),
        penalties=tuple(args.penalty),
        alphas=alphas,
        learning_rates=learning_rates,
        batch_sizes=batches,
        repeats=args.seeds,
        vary=args.vary,
        cv=args.cv,
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
    admit_sweep_data(spec, items, dataset.class_names, dataset.counts(), dataset.image.n_features)  # splits, memory

    names = [item_name(item, None) for item in items]
    runner, where = _runner(args, dataset, client)
    grid = " x ".join(
        _count(n, word)
        for n, word in (
            (len(spec.penalties), "penalty"),
            (len(spec.alphas), "lambda"),
            (len(spec.learning_rates), "learning rate"),
            *([(len(spec.batch_sizes), "batch size")] if len(spec.batch_sizes) > 1 else []),
            *([(spec.cv, "fold")] if spec.cv else []),
            (spec.repeats, "repeat"),
        )
    )
    if "none" in spec.penalties and len(spec.alphas) > 1 and not uses_lambda("none", spec.base.learning_rate):
        grid += ", no penalty once rather than per lambda"
    varying = (
        ""
        if spec.repeats == 1
        else f" (varying the {'split and model seeds' if spec.vary == 'split' else 'model seed'})"
    )
    print(
        f"[INFO] sweep of {_count(len(items), 'run')}: {grid}{varying}, "
        f"{_count(spec.base.epochs, 'epoch')} each, {where}"
    )
    # One book of the sweep's runs, by item: the store writes each as it happens, a line is
    # printed as each ends.
    book = RunBook(snapshots=1)
    summary = dataset.summary()
    for item in items:
        book.add(item.index, item.config, names[item.index], summary, SWEEP_NAME, item.repeat)
    log = open_log(args)
    book.subscribe(Storing(log))
    printer = _SweepPrinter(len(items), repeated=spec.repeats > 1, quiet=args.quiet)
    book.subscribe(printer)
    control = SweepControl()
    stop = StopOnInterrupt(on_request=control.stop)
    problem = None
    try:
        with stop:
            runner.run(items, BookEvents(book), control, names=names, sweep=SWEEP_NAME)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - a lost cluster, a second Ctrl-C: keep what ended
        aborted = isinstance(exc, KeyboardInterrupt)
        problem = "aborted" if aborted else str(exc) if isinstance(exc, ReguiError) else f"{type(exc).__name__}: {exc}"
        printer.silent = True  # the runs that never ended: said once, below, not a line each
        for item in items:
            if book.record(item.index).status in (WAITING, RUNNING):
                book.fail(item.index, f"Not run: {problem}")
    finally:
        runner.close()
    records = book.records()

    summaries = summarize(records)
    _print_summary(summaries)
    if spec.cv and problem is None and not stop.was_requested:
        printer.silent = True  # these are not runs of the grid: their own lines follow
        _retrain_chosen(summaries, records, dataset, spec, book, summary)
        records = book.records()  # the retrained runs too, for the files below
    report_stored(log)
    if args.out is not None:
        export.write_csv(args.out, [r.summary_row() for r in records])
        print(f"[INFO] runs written to {args.out}")
    if args.summary is not None:
        export.write_csv(args.summary, [s.row() for s in summaries])
        print(f"[INFO] summary written to {args.summary}")
    if args.history is not None:
        export.write_json(args.history, export.results_document(records, summary))
        print(f"[INFO] per-epoch history written to {args.history}")
    if problem is not None:
        print(f"regui: error: the sweep ended early ({problem}); the runs that ended are saved", file=sys.stderr)
        return EXIT_INTERRUPTED if problem == "aborted" else EXIT_RUN_FAILED
    if stop.was_requested:
        print(f"regui: {stop.how}; the runs that ended are saved above", file=sys.stderr)
        return stop.exit_status
    return EXIT_OK if all(r.status == FINISHED for r in records) else EXIT_RUN_FAILED


def _runner(args, dataset, client=None) -> tuple[Runner, str]:
    """The executor the arguments ask for, and a few words saying where runs happen."""
    if client is not None:
        from regui.core.dask_runner import DaskRunner

        runner = DaskRunner(dataset, client=client, owns_client=True)
        return runner, f"on the Dask cluster at {args.scheduler} ({runner.slots} at a time){_IN_BLOCKS}"
    if args.jobs == 1:
        from regui.core.blocks import MAX_BLOCK

        return SerialRunner(dataset, block=MAX_BLOCK), f"in this process{_IN_BLOCKS}"
    from regui.core.pool import ProcessPool, limit_text

    pool = ProcessPool(dataset, args.jobs)
    return pool, f"{pool.jobs} at a time in worker processes{limit_text(pool)}{_IN_BLOCKS}"


_IN_BLOCKS = ", runs that share a pass in blocks"


class _SweepPrinter:
    """One line per run as it ends, with the count and an estimate of the time left."""

    def __init__(self, total: int, repeated: bool, quiet: bool) -> None:
        self.total, self.repeated, self.quiet = total, repeated, quiet
        self.done = 0
        self.silent = False
        self.started_at = time.monotonic()

    def started(self, key, record: RunRecord) -> None:
        pass

    def epoch(self, key, record: RunRecord, result) -> None:
        pass

    def ended(self, key, record: RunRecord) -> None:
        self.done += 1
        if self.silent:
            return
        if record.status == FAILED:
            print(
                f"[{self.done}/{self.total}] {self._label(record)}: failed: {record.message}",
                file=sys.stderr,
                flush=True,
            )
            return
        if self.quiet:
            return
        if record.result is not None:
            final = record.result
            val = "" if final.val_accuracy != final.val_accuracy else f"validation {final.val_accuracy:.2%}, "
            result = f"{val}test {final.test_accuracy:.2%}, zeros {final.zero_fraction:.1%}"
        else:
            result = "no epoch"
        status = "" if record.status == FINISHED else f"  [{record.status_text()}]"
        print(
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {self._label(record)}: {result}{status}{self._eta()}",
            flush=True,
        )

    def _label(self, record: RunRecord) -> str:
        """The run's name, and which repeat it is when the sweep has repeats."""
        return record.name + (f" repeat {record.repeat + 1}" if self.repeated else "")

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
        f"{'penalty':<11} {'lambda':>9} {'lr':>8} {'batch':>6} {'runs':>4}  {'train acc':>15}  {'val acc':>15}  "
        f"{'test acc':>15}  {'zeros':>13}"
    )
    print(header)
    print("-" * len(header))
    pm = percent_mean_std
    for s in summaries:
        lam = "-" if s.alpha is None else f"{s.alpha:g}"
        if not s.n:
            setting = f"{s.penalty:<11} {lam:>9} {s.eta0:>8g} {_batch(s):>6}"
            print(f"{setting} {0:>4}  none of its runs finished: {s.count_text()}")
            continue
        note = "" if not s.others else f"  ({s.count_text()})"
        val = "-" if math.isnan(s.val[0]) else pm(s.val)
        print(
            f"{s.penalty:<11} {lam:>9} {s.eta0:>8g} {_batch(s):>6} {s.n:>4}  {pm(s.train):>15}  {val:>15}  "
            f"{pm(s.test):>15}  {pm(s.zeros, 1):>13}{note}"
        )
    print("(mean ± standard deviation of the runs of each setting, at each run's result: its last epoch, or kept one)")
    print()
    chosen = chosen_per_penalty(summaries)
    if not chosen:
        print("[INFO] no validation part (--validation 0): no setting is chosen; choosing on test would flatter it")
    for s in chosen:
        lam = "" if s.alpha is None else f" lambda={s.alpha:g}"
        sem = "" if s.n < 2 else f", standard error of the mean {s.sem(s.test) * 100:.2f}"
        print(
            f"[INFO] chosen '{s.penalty}' (on validation {pm(s.val)}):{lam} lr={s.eta0:g} batch {_batch(s)}: "
            f"test accuracy {pm(s.test)} (std of {s.n} run(s){sem})"
        )


def _retrain_chosen(summaries, records, dataset, spec: SweepSpec, book: RunBook, dataset_summary) -> None:
    """Each setting chosen per penalty by cross-validation, trained once on the whole training part
    and tested once (see ``core.cross_validation``). Its runs go into the book (and so the store)
    with the sweep's."""
    from regui.core.cross_validation import retrained_text, retrainings
    from regui.core.runs import run_training

    for number, plan in enumerate(retrainings(summaries, records, spec.base), start=len(records) + 1):
        config = plan.config
        name = f"#{number} {plan.name}"  # numbered on from the grid's runs
        data = dataset.prepared(config.split)
        key = ("retrained", plan.penalty)
        book.add(key, config, name, dataset_summary, SWEEP_NAME)
        book.start(key)
        outcome = run_training(data, config, name=name, on_epoch=functools.partial(book.epoch, key), snapshots=1)
        book.finish(key, outcome)
        record = book.record(key)
        text = retrained_text(plan, record, spec.cv, len(data.y_train))
        print(f"[INFO] {text}" if record.status == FINISHED else f"[WARN] {text}", flush=True)


def _batch(summary) -> str:
    """The batch column: the size, or "sgd" for SGDClassifier's runs (one image per step)."""
    return batch_column(summary.engine, summary.batch, short=True)


def _count(n: int, word: str) -> str:
    """ "1 lambda", "6 lambdas", "2 penalties"."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"
