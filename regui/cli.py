"""The ``regui`` command line.

    regui [DIR]                 open the app (on the bundled sample, or on DIR)
    regui run --dataset DIR [--penalty none l1 l2] [--alpha ...] [--epochs N] [--lr ...] ...

Errors in the input are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

from regui import __version__
from regui.core.config import LOSSES, PENALTIES, SCALINGS, SCHEDULES, TrainConfig, run_label
from regui.core.errors import ConfigError, ReguiError

COMMANDS = ("run",)
EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_UNEXPECTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _image_size(text: str) -> tuple[int, int]:
    """'32' -> (32, 32); '64x48' -> (64, 48) as width x height."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected N or WxH with positive whole numbers, got '{text}'")
    return parts[0], parts[1]


class _HelpFormatter(argparse.HelpFormatter):
    """Shows a default only where it tells something (not None, not an on/off flag)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default:" in text:
            return text
        if action.default in (None, False, True, argparse.SUPPRESS) or action.nargs == 0:
            return text
        default = " ".join(map(str, action.default)) if isinstance(action.default, list) else "%(default)s"
        return f"{text} (default: {default})"


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="regui",
        description="Explore how regularization shapes a linear (SGD) image classifier. "
        "'regui' alone opens the app on the bundled sample; 'regui DIR' opens it on DIR.",
    )
    parser.add_argument("--version", action="version", version=f"regui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="train one run per penalty (and per lambda / learning rate given) and print the results",
        description="Load an image folder (one sub-folder per class) once, then train one SGD run per "
        "combination of the values given, printing each epoch and a final accuracy per run.",
        formatter_class=_HelpFormatter,
    )
    run.add_argument("--dataset", metavar="DIR", default=None,
                     help="image folder with one sub-folder per class (default: the bundled sample)")
    model = run.add_argument_group("model (several values give one run each)")
    model.add_argument("--penalty", nargs="+", choices=PENALTIES, default=["none", "l1", "l2"],
                       help="regularization penalty R(W)")
    model.add_argument("--alpha", "--lambda", dest="alpha", nargs="+", type=float, default=[defaults.alpha],
                       metavar="LAMBDA", help="regularization strength")
    model.add_argument("--lr", nargs="+", type=float, default=[defaults.eta0], metavar="ETA0",
                       help="initial learning rate")
    model.add_argument("--l1-ratio", type=float, default=defaults.l1_ratio, help="elastic-net mix (0 = L2, 1 = L1)")
    model.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the training images")
    model.add_argument("--schedule", choices=SCHEDULES, default=defaults.learning_rate,
                       help="learning-rate schedule")
    model.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                       help="log_loss: cross-entropy (logistic regression); hinge: linear SVM")
    model.add_argument("--seed", type=int, default=defaults.seed, help="model seed (shuffling)")
    data = run.add_argument_group("data")
    data.add_argument("--size", type=_image_size, default=f"{defaults.width}x{defaults.height}", metavar="WxH",
                      help="resize every image to this size (N or WxH)")
    data.add_argument("--grayscale", action="store_true", help="one channel instead of three")
    data.add_argument("--scaling", choices=SCALINGS, default=defaults.scaling,
                      help="pixels as raw 0-255, scaled to [0, 1], or standardized on the training part")
    data.add_argument("--test-size", type=float, default=defaults.test_size, help="fraction held out for testing")
    data.add_argument("--split-seed", type=int, default=defaults.split_seed, help="seed of the train/test split")
    data.add_argument("--no-stratify", dest="stratify", action="store_false",
                      help="do not keep class proportions equal in train and test")
    data.add_argument("--no-cache", action="store_true", help="decode every image again, ignoring the cache")
    out = run.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="CSV", help="write the results table (one row per run)")
    out.add_argument("--history", type=Path, metavar="JSON", help="write every run's per-epoch history")
    out.add_argument("--quiet", "-q", action="store_true", help="no per-epoch lines")
    run.add_argument("--jobs", type=int, default=None,
                     help="threads for the one-vs-rest sub-problems (-1: all cores); numbers do not change")
    run.set_defaults(handler=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or (len(argv) == 1 and argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _open_app(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args.handler(args)
    except ReguiError as exc:
        print(f"regui: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nregui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, or a system fault such as a full disk: still one line
        if os.environ.get("REGUI_DEBUG"):
            raise
        print(f"regui: unexpected error: {type(exc).__name__}: {exc} (set REGUI_DEBUG=1 for details)",
              file=sys.stderr)  # fmt: skip
        return EXIT_UNEXPECTED


def _open_app(folder: str | None) -> int:
    """``regui`` opens the app on the bundled sample; ``regui DIR`` opens it on DIR."""
    if sys.platform.startswith("linux") and not any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        print("regui: error: no display to open the app on. Use 'regui run --dataset DIR' for the command "
              "line, or set QT_QPA_PLATFORM=offscreen.", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    from regui.gui.app import run_app

    return run_app(folder)


def _configs(args) -> list[TrainConfig]:
    """One config per combination of the penalties, lambdas and learning rates given."""
    if args.jobs is not None and args.jobs != -1 and args.jobs < 1:
        raise ConfigError(f"--jobs must be -1 (all cores) or a whole number from 1 (got {args.jobs}).")
    base = TrainConfig(
        epochs=args.epochs,
        l1_ratio=args.l1_ratio,
        learning_rate=args.schedule,
        loss=args.loss,
        seed=args.seed,
        width=args.size[0],
        height=args.size[1],
        color=not args.grayscale,
        scaling=args.scaling,
        test_size=args.test_size,
        split_seed=args.split_seed,
        stratify=args.stratify,
    )
    configs = []
    for penalty, alpha, lr in itertools.product(dict.fromkeys(args.penalty), args.alpha, args.lr):
        if penalty == "none" and args.schedule != "optimal":
            alpha = args.alpha[0]  # lambda does nothing without a penalty: one run, not one per lambda
        config = base.with_(penalty=penalty, alpha=alpha, eta0=lr)
        if config not in configs:
            configs.append(config)
    for config in configs:
        config.validate()
    return configs


def _check_outputs(args) -> None:
    from regui.core import export

    if args.out is not None and args.history is not None and args.out.resolve() == args.history.resolve():
        raise ConfigError("--out and --history name the same file; give them different names.")
    for path in (args.out, args.history):
        if path is not None:
            export.check_writable(path)


def _cmd_run(args) -> int:
    from regui.core import export
    from regui.core.dataset import load_dataset, prepare
    from regui.core.locations import sample_dataset_dir
    from regui.core.records import FINISHED, STOPPED
    from regui.core.runs import run_training

    configs = _configs(args)
    _check_outputs(args)
    if args.dataset is not None and not args.dataset.strip():
        raise ConfigError("--dataset is empty; give the folder that holds one sub-folder per class.")
    folder = Path(args.dataset) if args.dataset is not None else sample_dataset_dir()

    progress = _ProgressLine(f"[INFO] loading images from {folder}")
    dataset = load_dataset(folder, configs[0].image, progress=progress, use_cache=not args.no_cache)
    progress.close()
    source = "from cache" if dataset.from_cache else "decoded"
    print(f"[INFO] {dataset.describe()} ({source} in {dataset.seconds:.1f} s)")
    _print_skipped(dataset.skipped)
    for note in dataset.notes:
        print(f"[WARN] {note}", file=sys.stderr)

    data = prepare(dataset, configs[0].split)
    print(f"[INFO] {len(data.y_train)} training and {len(data.y_test)} test images, pixels {configs[0].scaling}")

    records = []
    interrupted = False
    for number, config in enumerate(configs, start=1):
        print(f"[INFO] training model with '{config.penalty}' penalty ({_settings_text(config)})")
        stop = _StopOnInterrupt()
        on_epoch = None if args.quiet else _epoch_printer(config)
        with stop:
            record = run_training(
                data, config, name=run_label(number, config), dataset_summary=dataset.summary(),
                should_stop=stop.requested, on_epoch=on_epoch, n_jobs=args.jobs,
            )
        records.append(record)
        if record.status in (FINISHED, STOPPED) and record.final is not None:
            acc = record.final.test_accuracy * 100
            print(f"[INFO] '{config.penalty}' penalty accuracy: {acc:.2f}%", end="")
            print("" if record.status == FINISHED else f"  ({record.status_text()})")
        elif record.status != FINISHED:
            print(f"[WARN] '{config.penalty}' penalty {record.status_text()}: {record.message}", file=sys.stderr)
        if stop.was_requested:
            interrupted = True
            break

    _print_table(records)
    if args.out is not None:
        export.write_csv(args.out, [r.summary_row() for r in records])
        print(f"[INFO] results written to {args.out}")
    if args.history is not None:
        export.write_json(args.history, export.results_document(records, dataset.summary()))
        print(f"[INFO] per-epoch history written to {args.history}")
    if interrupted:
        print("regui: interrupted; the runs so far are saved above", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if all(r.status == FINISHED for r in records) else EXIT_RUN_FAILED


def _settings_text(config: TrainConfig) -> str:
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    return f"{config.describe(lam='lambda')}, {config.learning_rate} schedule, {epochs}, {config.loss}, seed={config.seed}"


def _epoch_printer(config: TrainConfig):
    width = len(str(config.epochs))

    def show(e) -> None:
        print(
            f"  epoch {e.epoch:>{width}}/{config.epochs}  loss {e.objective:.4f} "
            f"(data {e.train_loss:.4f} + penalty {e.penalty:.4f})  "
            f"train acc {e.train_accuracy:6.2%}  test acc {e.test_accuracy:6.2%}  "
            f"|W| {e.weight_l2:.4g}  zeros {e.zero_fraction:.1%}",
            flush=True,
        )

    return show


def _print_skipped(skipped, limit: int = 5) -> None:
    for item in skipped[:limit]:
        print(f"[WARN] skipped {item.relpath}: {item.reason}", file=sys.stderr)
    if len(skipped) > limit:
        print(f"[WARN] ... and {len(skipped) - limit} more skipped files", file=sys.stderr)


def _print_table(records) -> None:
    if len(records) < 2:
        return
    print()
    header = f"{'penalty':<11} {'lambda':>8} {'lr':>8} {'train acc':>9} {'test acc':>9} {'best (epoch)':>16} {'zeros':>6}  status"
    print(header)
    print("-" * len(header))
    for r in records:
        c, f, b = r.config, r.final, r.best_test()
        lam = "-" if c.penalty == "none" else f"{c.alpha:g}"
        if f is None:
            print(f"{c.penalty:<11} {lam:>8} {c.eta0:>8g} {'-':>9} {'-':>9} {'-':>16} {'-':>6}  {r.status_text()}")
            continue
        best = f"{b.test_accuracy:.2%} ({b.epoch})"
        print(f"{c.penalty:<11} {lam:>8} {c.eta0:>8g} {f.train_accuracy:>9.2%} {f.test_accuracy:>9.2%} "
              f"{best:>16} {f.zero_fraction:>6.1%}  {r.status_text()}")  # fmt: skip


class _ProgressLine:
    """Loading progress on stderr: one updating line on a terminal, a few lines in a log."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_step = -1
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self.tty:
            sys.stderr.write(f"\r{self.label}: {done}/{total} ({done / total:.0%})")
            sys.stderr.flush()
            self.shown = True
        else:
            step = done * 4 // total  # 0%, 25%, 50%, 75%, 100%
            if step != self.last_step:
                self.last_step = step
                print(f"{self.label}: {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _StopOnInterrupt:
    """Ctrl-C during a run ends it after the current epoch (kept as 'stopped'); a second one aborts."""

    def __init__(self) -> None:
        self.was_requested = False
        self._previous = None

    def requested(self) -> bool:
        return self.was_requested

    def _handler(self, signum, frame) -> None:
        if self.was_requested:
            raise KeyboardInterrupt
        self.was_requested = True
        print("\n[INFO] stopping after this epoch (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


if __name__ == "__main__":
    raise SystemExit(main())
