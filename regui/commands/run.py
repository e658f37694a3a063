"""``regui run``: the lesson's loop, one run per penalty (and lambda, learning rate, batch size) given."""

from __future__ import annotations

import functools
import itertools
import sys

from regui.commands.common import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    StopOnInterrupt,
    alphas,
    base_config,
    batch_sizes,
    check_jobs,
    check_outputs,
    load,
    open_log,
    report_stored,
)
from regui.core.admission import admit_run
from regui.core.config import SKLEARN_NOTE, TrainConfig, batch_column, run_label, uses_lambda
from regui.core.formatting import percent
from regui.core.health import learned_nothing
from regui.core.records import FINISHED, STOPPED, EpochResult, RunRecord
from regui.core.run_book import RunBook
from regui.core.run_log import Storing
from regui.core.runs import run_training


def _configs(args) -> list[TrainConfig]:
    """One config per combination of the penalties, lambdas and learning rates given."""
    check_jobs(args)
    base = base_config(args)
    lambdas = alphas(args)
    configs = []
    grid = itertools.product(dict.fromkeys(args.penalty), lambdas, args.lr, batch_sizes(args))
    for penalty, alpha, lr, batch in grid:
        if not uses_lambda(penalty, args.schedule):
            alpha = lambdas[0]  # lambda does nothing without a penalty: one run, not one per lambda
        config = base.with_(penalty=penalty, alpha=alpha, eta0=lr, batch_size=batch)
        if config not in configs:
            configs.append(config)
    for config in configs:
        admit_run(config)
    return configs


def cmd_run(args) -> int:
    from regui.core import export

    configs = _configs(args)
    check_outputs(args, args.out, args.history)
    dataset = load(args, configs[0])

    data = dataset.prepared(configs[0].split)
    val = f", {len(data.y_val)} validation" if len(data.y_val) else ""
    print(f"[INFO] {len(data.y_train)} training{val} and {len(data.y_test)} test images, pixels {configs[0].scaling}")
    if configs[0].sklearn:
        print(f"[INFO] {SKLEARN_NOTE}")

    # One book of this command's runs: the store writes each as it happens, the lesson's lines
    # are printed from it (in that order: what was seen is stored).
    book = RunBook(snapshots=1)  # the command line shows numbers only: it keeps the final weights
    summary = dataset.summary()
    log = open_log(args)
    book.subscribe(Storing(log))
    book.subscribe(_LessonPrinter(quiet=args.quiet))
    stop = StopOnInterrupt()  # Ctrl-C or SIGTERM: this run ends after its epoch, the rest are not started
    with stop:
        for number, config in enumerate(configs, start=1):
            record = book.add(number, config, run_label(number, config), summary)
            book.start(number)
            outcome = run_training(
                data,
                config,
                name=record.name,
                should_stop=stop.requested,
                on_epoch=functools.partial(book.epoch, number),
                n_jobs=args.jobs,
                snapshots=1,
            )
            book.finish(number, outcome)
            if stop.was_requested:
                break
    records = book.records()

    print_table(records)
    report_stored(log)
    if args.out is not None:
        export.write_csv(args.out, [r.summary_row() for r in records])
        print(f"[INFO] results written to {args.out}")
    if args.history is not None:
        export.write_json(args.history, export.results_document(records, summary))
        print(f"[INFO] per-epoch history written to {args.history}")
    if stop.was_requested:
        print(f"regui: {stop.how}; the runs so far are saved above", file=sys.stderr)
        return stop.exit_status
    return EXIT_OK if all(r.status == FINISHED for r in records) else EXIT_RUN_FAILED


class _LessonPrinter:
    """Each run as the lesson prints it: what is trained, a line per epoch, the accuracy."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def started(self, key, record: RunRecord) -> None:
        config = record.config
        print(f"[INFO] training model with '{config.penalty}' penalty ({_settings_text(config)})")

    def epoch(self, key, record: RunRecord, e: EpochResult) -> None:
        if self.quiet:
            return
        width = len(str(record.config.epochs))
        print(
            f"  epoch {e.epoch:>{width}}/{record.config.epochs}  loss {e.objective:.4f} "
            f"(data {e.train_loss:.4f} + penalty {e.penalty:.4f})  "
            f"train acc {e.train_accuracy:6.2%}  {_val_text(e)}test acc {e.test_accuracy:6.2%}  "
            f"|W| {e.weight_l2:.4g}  zeros {e.zero_fraction:.1%}",
            flush=True,
        )

    def ended(self, key, record: RunRecord) -> None:
        penalty = record.config.penalty
        if record.status in (FINISHED, STOPPED) and record.result is not None:
            acc = record.result.test_accuracy * 100
            print(f"[INFO] '{penalty}' penalty accuracy: {acc:.2f}%", end="")
            print("" if record.status == FINISHED else f"  ({record.status_text()})")
        elif record.status != FINISHED:
            print(f"[WARN] '{penalty}' penalty {record.status_text()}: {record.message}", file=sys.stderr)
        nothing = learned_nothing(record)
        if nothing:
            print(f"[WARN] '{penalty}' penalty learned nothing: {nothing}", file=sys.stderr)


def _val_text(e: EpochResult) -> str:
    return "" if e.val_accuracy != e.val_accuracy else f"val acc {e.val_accuracy:6.2%}  "


def _settings_text(config: TrainConfig) -> str:
    """The run's label (penalty, lambda, lr, batch or engine, pixels when not the usual), then the
    rest: "L2 lambda=0.1 lr=0.01 batch 64; constant schedule, 10 epochs, cross-entropy (softmax), seed=12"."""
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    return (
        f"{config.describe(lam='lambda', loss=False)}; {config.learning_rate} schedule, {epochs}, "
        f"{config.loss_label()}, seed={config.seed}"
    )


def print_table(records) -> None:
    if len(records) < 2:
        return
    print()
    header = (
        f"{'penalty':<11} {'lambda':>8} {'lr':>8} {'batch':>6} {'train acc':>9} {'val acc':>8} {'test acc':>9} "
        f"{'chosen: test (epoch)':>20} {'zeros':>6}  status"
    )
    print(header)
    print("-" * len(header))
    for r in records:
        c, f, chosen = r.config, r.result, r.chosen()
        lam = "-" if c.penalty == "none" else f"{c.alpha:g}"
        setting = f"{c.penalty:<11} {lam:>8} {c.eta0:>8g} {batch_column(c.engine, c.batch_text, short=True):>6}"
        if f is None:
            print(f"{setting} {'-':>9} {'-':>8} {'-':>9} {'-':>20} {'-':>6}  {r.status_text()}")
            continue
        picked = "-" if chosen is None else f"{chosen.test_accuracy:.2%} ({chosen.epoch})"
        val = percent(f.val_accuracy, missing="-")
        print(
            f"{setting} {f.train_accuracy:>9.2%} {val:>8} {f.test_accuracy:>9.2%} "
            f"{picked:>20} {f.zero_fraction:>6.1%}  {r.status_text()}"
        )
