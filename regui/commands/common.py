"""What the commands share: settings from the arguments, loading with progress, Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path

from regui.core.config import LESSON, TrainConfig
from regui.core.errors import ConfigError

# Exit statuses of every command (the README lists them).
EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_UNEXPECTED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


def check_jobs(args) -> None:
    """``--jobs``: -1 (all cores) or a whole number from 1 (argparse took any whole number)."""
    if args.jobs is not None and args.jobs != -1 and args.jobs < 1:
        raise ConfigError(f"--jobs must be -1 (all cores) or a whole number from 1 (got {args.jobs}).")


def defaults(args) -> TrainConfig:
    """Where settings not given come from: regui's defaults, or the lesson script's (--lesson)."""
    return LESSON if args.lesson else TrainConfig()


def batch_sizes(args) -> list[int]:
    """The batch sizes asked for; refused for scikit-learn's engine, which steps once per image."""
    engine = args.engine or defaults(args).engine
    if args.batch_size is None:  # regui's engine's default, even with --lesson (whose engine steps per image)
        return [TrainConfig().batch_size if engine == "minibatch" else 1]
    if engine == "sgdclassifier":
        raise ConfigError(
            "--batch-size is for regui's engine: scikit-learn's SGDClassifier steps once per image. "
            "Leave it out, or use --engine minibatch."
        )
    return list(dict.fromkeys(args.batch_size))


def alphas(args) -> list[float]:
    """The lambdas of ``regui run`` (the sweep makes its own range when none are given)."""
    return list(args.alpha) if args.alpha else [defaults(args).alpha]


def base_config(args) -> TrainConfig:
    """The settings every run of a command shares (penalty, lambda, lr and batch size vary per run)."""
    start = defaults(args)
    return start.with_(
        engine=args.engine or start.engine,
        batch_size=batch_sizes(args)[0],
        alpha=alphas(args)[0],
        scaling=args.scaling or start.scaling,
        validation=start.validation if args.validation is None else args.validation,
        early_stopping=args.early_stopping,
        patience=args.patience,
        epochs=args.epochs,
        l1_ratio=args.l1_ratio,
        learning_rate=args.schedule,
        loss=args.loss,
        seed=args.seed,
        width=args.size[0],
        height=args.size[1],
        color=not args.grayscale,
        exact_decode=args.exact_decode,
        test_size=args.test_size,
        split_seed=args.split_seed,
        stratify=args.stratify,
    )


def open_log(args):
    """Where the command's runs are stored as they happen (nothing with --no-store)."""
    from regui.core.run_log import RunLog

    def warn(message: str) -> None:
        print(f"[WARN] {message}", file=sys.stderr)

    if args.no_store:
        return RunLog(None, warn)
    return RunLog.open(args.store, warn)


def report_stored(log) -> None:
    if log.store is not None and log.ids:
        print(f"[INFO] {len(log.ids)} run(s) stored in {log.store.path} (see them with: regui runs list)")
    log.close()


def check_outputs(args, *paths: Path | None) -> None:
    """Refuse unwritable or clashing output files, and any that is the run store, before any
    work is done."""
    from regui.core import export

    given = [p for p in paths if p is not None]
    if len({p.resolve() for p in given}) < len(given):
        raise ConfigError("Two outputs name the same file; give them different names.")
    stores = (args.store,) if args.store is not None else ()
    for path in given:
        export.check_writable(path, stores)


def load(args, config: TrainConfig):
    """The dataset named by ``--dataset`` (default: the bundled sample), with progress and notes."""
    from regui.core.dataset import load_dataset
    from regui.core.locations import sample_dataset_dir

    if args.dataset is not None and not args.dataset.strip():
        raise ConfigError("--dataset is empty; give the folder that holds one sub-folder per class.")
    folder = Path(args.dataset) if args.dataset is not None else sample_dataset_dir()
    progress = ProgressLine(f"[INFO] loading images from {folder}")
    dataset = load_dataset(folder, config.image, progress=progress, use_cache=not args.no_cache)
    progress.close()
    source = "from cache" if dataset.from_cache else "decoded"
    print(f"[INFO] {dataset.describe()} ({source} in {dataset.seconds:.1f} s)")
    print_skipped(dataset.skipped)
    for note in dataset.notes:
        print(f"[WARN] {note}", file=sys.stderr)
    return dataset


def print_skipped(skipped, limit: int = 5) -> None:
    for item in skipped[:limit]:
        print(f"[WARN] skipped {item.relpath}: {item.reason}", file=sys.stderr)
    if len(skipped) > limit:
        print(f"[WARN] ... and {len(skipped) - limit} more skipped files", file=sys.stderr)


class ProgressLine:
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


class StopOnInterrupt:
    """Ctrl-C, or SIGTERM (a service manager, ``kill``), ends the running run(s) after the current
    epoch (kept as 'stopped', the files still written); a second one aborts. ``on_request`` is
    called on the first (e.g. to stop a whole sweep)."""

    def __init__(self, on_request=None) -> None:
        self.was_requested = False
        self.signal_name = ""
        self._previous: dict = {}
        self._on_request = on_request

    def requested(self) -> bool:
        return self.was_requested

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as shells report it: 130 for Ctrl-C, 143 for SIGTERM."""
        return EXIT_TERMINATED if self.signal_name == "SIGTERM" else EXIT_INTERRUPTED

    @property
    def how(self) -> str:
        """What stopped the command, in the words of its last line."""
        return "terminated (SIGTERM)" if self.signal_name == "SIGTERM" else "interrupted"

    def _handler(self, signum, frame) -> None:
        import signal

        if self.was_requested:
            raise KeyboardInterrupt
        self.was_requested = True
        self.signal_name = signal.Signals(signum).name
        how = "Ctrl-C" if signum == signal.SIGINT else self.signal_name
        print(f"\n[INFO] {how}: stopping after this epoch ({how} again to abort)", file=sys.stderr, flush=True)
        if self._on_request is not None:
            self._on_request()

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()
