"""The command line's arguments: every command, option and its check (bad input is one line
and exit status 2, before any work), and which function handles each command."""

from __future__ import annotations

import argparse
from pathlib import Path

from regui import __version__
from regui.core.config import (
    ENGINES,
    LESSON,
    LOSSES,
    MAX_BATCH,
    PENALTIES,
    SCALINGS,
    SCHEDULES,
    TrainConfig,
    parse_batch,
)

COMMANDS = ("run", "sweep", "runs")


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


def _path(text: str) -> Path:
    """A file named on the command line; ``~`` means the home folder, as in ``--dataset``."""
    return Path(text).expanduser()


def _run_id(text: str) -> int:
    """A stored run's id: a whole number from 1 (a huge one is bad input, not a crash)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(
            f"expected a run id, a whole number from 1 (see 'regui runs list'), got '{text}'"
        )
    return value


def _batch_size(text: str) -> int:
    try:
        return parse_batch(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a batch size is a whole number from 1 to {MAX_BATCH:,}, or 'full' (got {text!r})"
        ) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, got '{text}'")
    return value


class _IntermixedParser(argparse.ArgumentParser):
    """Takes positionals after options too: ``runs note 5 --name N TEXT`` (plain argparse binds
    an optional positional, here TEXT, at the first positional it meets, and then refuses it)."""

    _parsing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._parsing:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


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
    _add_dataset(run)
    model = run.add_argument_group("model (several values give one run each)")
    model.add_argument(
        "--penalty", nargs="+", choices=PENALTIES, default=["none", "l1", "l2"], help="regularization penalty R(W)"
    )
    model.add_argument(
        "--alpha",
        "--lambda",
        dest="alpha",
        nargs="+",
        type=float,
        default=None,
        metavar="LAMBDA",
        help=f"regularization strength (default {DEFAULTS.alpha:g}; {LESSON.alpha:g} with --lesson)",
    )
    _add_model(model)
    _add_data(run.add_argument_group("data"))
    out = run.add_argument_group("output")
    out.add_argument("--out", type=_path, metavar="CSV", help="write the results table (one row per run)")
    out.add_argument("--history", type=_path, metavar="JSON", help="write every run's per-epoch history")
    out.add_argument("--quiet", "-q", action="store_true", help="no per-epoch lines")
    _add_store(out)
    run.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="threads for the one-vs-rest sub-problems (-1: all cores); numbers do not change",
    )
    run.set_defaults(handler=_run)

    sweep = commands.add_parser(
        "sweep",
        help="train a grid of penalties x lambdas x learning rates x repeats in parallel, and summarize",
        description="Load an image folder once and train every combination of the penalties, lambdas "
        "(a log-spaced range) and learning rates given, each repeated with other seeds, on all cores "
        "or a Dask cluster. Prints each run as it ends, then the mean and spread per setting and the "
        "best setting per penalty.",
        formatter_class=_HelpFormatter,
    )
    _add_dataset(sweep)
    grid = sweep.add_argument_group("grid")
    grid.add_argument(
        "--penalty",
        nargs="+",
        choices=PENALTIES,
        default=["none", "l1", "l2", "elasticnet"],
        help="penalties to compare",
    )
    grid.add_argument(
        "--alpha-range",
        nargs=2,
        type=float,
        default=[1e-6, 1e-1],
        metavar=("LOW", "HIGH"),
        help="lambda from LOW to HIGH, log-spaced",
    )
    grid.add_argument("--points", type=int, default=6, help="lambda values in the range")
    grid.add_argument(
        "--alpha",
        "--lambda",
        dest="alpha",
        nargs="+",
        type=float,
        metavar="LAMBDA",
        help="these lambda values instead of a range",
    )
    grid.add_argument(
        "--seeds", type=int, default=1, metavar="R", help="repeats of each setting, with seeds seed, seed+1, ..."
    )
    grid.add_argument(
        "--cv", type=int, default=0, metavar="K", help="K-fold cross-validation; the chosen settings are tested once"
    )
    grid.add_argument(
        "--vary",
        choices=("split", "model"),
        default="split",
        help="what repeats change: the train/test split and the model's shuffling, or the latter only",
    )
    _add_model(sweep.add_argument_group("model"))
    _add_data(sweep.add_argument_group("data"))
    where = sweep.add_argument_group("where it runs")
    where.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at once, each in a worker process (default: all cores; 1: one by one, here)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this Dask cluster instead (needs pip install 'regui[dask]')",
    )
    out = sweep.add_argument_group("output")
    out.add_argument("--out", type=_path, metavar="CSV", help="write every run (one row each)")
    out.add_argument("--summary", type=_path, metavar="CSV", help="write mean and std per setting")
    out.add_argument("--history", type=_path, metavar="JSON", help="write every run's per-epoch history")
    out.add_argument("--quiet", "-q", action="store_true", help="no line per finished run")
    _add_store(out)
    sweep.set_defaults(handler=_sweep)
    _add_runs(commands)
    return parser


def _add_runs(commands) -> None:
    runs = commands.add_parser(
        "runs",
        help="the stored runs: list, show, export, import, delete, note",
        description="Every run of the app, 'regui run' and 'regui sweep' is kept in a local database "
        "(the run store). List and show them, share them as one file (export, import), delete them, or "
        "rename and annotate one.",
        formatter_class=_HelpFormatter,
    )
    actions = runs.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_IntermixedParser)

    def action(name: str, help: str):
        sub = actions.add_parser(
            name, help=help, description=help[0].upper() + help[1:] + ".", formatter_class=_HelpFormatter
        )
        sub.add_argument(
            "--store",
            type=_path,
            metavar="FILE",
            help="the run store (default: runs.sqlite3 in the user data folder, or $REGUI_STORE)",
        )
        return sub

    listing = action("list", "list stored runs, filtered and sorted")
    listing.add_argument("--dataset", metavar="TEXT", help="only runs whose dataset folder contains TEXT")
    listing.add_argument(
        "--where",
        nargs="+",
        metavar="SETTING=VALUE",
        help="only runs with these settings, e.g. penalty=l2 alpha=0.01 scaling=unit",
    )
    listing.add_argument("--status", help="only runs with this status (finished, stopped, interrupted, ...)")
    listing.add_argument(
        "--sort", default="id", help="test_accuracy, val_accuracy, chosen_test_accuracy, started_at, seconds, ..."
    )
    listing.add_argument("--desc", action="store_true", help="largest first")
    listing.add_argument("--limit", type=_positive, help="at most this many")
    show = action("show", "show one run: settings, dataset, versions and every epoch")
    show.add_argument("id", type=_run_id)
    export = action("export", "write runs (with epochs and final weights) to one file to share")
    export.add_argument("ids", type=_run_id, nargs="*", metavar="ID")
    export.add_argument("--all", action="store_true", help="every stored run")
    export.add_argument("--out", type=_path, required=True, metavar="FILE", help="a new file (.sqlite3)")
    importing = action("import", "add the runs of an exported file (runs already here are skipped)")
    importing.add_argument("file", type=_path)
    delete = action("delete", "delete runs")
    delete.add_argument("ids", type=_run_id, nargs="+", metavar="ID")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    note = action("note", "rename a run or write a note on it")
    note.add_argument("id", type=_run_id)
    note.add_argument("text", nargs="?", default=None, help="the note")
    note.add_argument("--name", help="a new name")
    runs.set_defaults(handler=_runs)


DEFAULTS = TrainConfig()


def _add_store(group) -> None:
    group.add_argument(
        "--store",
        type=_path,
        metavar="FILE",
        help="the run store to write to (default: runs.sqlite3 in the user data folder, or $REGUI_STORE)",
    )
    group.add_argument("--no-store", action="store_true", help="do not keep these runs in the run store")


def _add_dataset(parser) -> None:
    parser.add_argument(
        "--dataset",
        metavar="DIR",
        default=None,
        help="image folder with one sub-folder per class (default: the bundled sample)",
    )


def _add_model(group) -> None:
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="minibatch: regui's engine, softmax or multi-class SVM by mini-batch SGD (default); "
        "sgdclassifier: scikit-learn's SGDClassifier, one-vs-rest, one image per step (the lesson's script)",
    )
    group.add_argument(
        "--batch-size",
        nargs="+",
        type=_batch_size,
        default=None,
        metavar="N",
        help=f"images per step of regui's engine: 1 (per-sample SGD) up to 'full' (vanilla gradient descent); "
        f"several give one run each (default {DEFAULTS.batch_size})",
    )
    group.add_argument(
        "--lesson",
        action="store_true",
        help="the lesson script's settings for anything not given: scikit-learn's engine, raw pixels, lambda "
        f"{LESSON.alpha:g}",
    )
    group.add_argument(
        "--lr", nargs="+", type=float, default=[DEFAULTS.eta0], metavar="ETA0", help="initial learning rate(s)"
    )
    group.add_argument("--l1-ratio", type=float, default=DEFAULTS.l1_ratio, help="elastic-net mix (0 = L2, 1 = L1)")
    group.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="passes over the training images")
    group.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=DEFAULTS.learning_rate,
        help="learning-rate schedule ('optimal' is SGDClassifier's only)",
    )
    group.add_argument(
        "--loss",
        choices=LOSSES,
        default=DEFAULTS.loss,
        help="log_loss: softmax cross-entropy (one-vs-rest logistic with sgdclassifier); hinge: multi-class SVM "
        "(one-vs-rest linear SVM with sgdclassifier)",
    )
    group.add_argument("--seed", type=int, default=DEFAULTS.seed, help="model seed (shuffling)")
    group.add_argument(
        "--early-stopping", action="store_true", help="end a run once validation accuracy stalls; keep its best epoch"
    )
    group.add_argument("--patience", type=int, default=DEFAULTS.patience, help="epochs without improvement allowed")


def _add_data(group) -> None:
    group.add_argument(
        "--size",
        type=_image_size,
        default=f"{DEFAULTS.width}x{DEFAULTS.height}",
        metavar="WxH",
        help="resize every image to this size (N or WxH)",
    )
    group.add_argument("--grayscale", action="store_true", help="one channel instead of three")
    group.add_argument("--exact-decode", action="store_true", help="large JPEGs in full, not at reduced scale")
    group.add_argument(
        "--scaling",
        choices=SCALINGS,
        default=None,
        help=f"pixels as raw 0-255, scaled to [0, 1], or standardized on the training part (default "
        f"{DEFAULTS.scaling}; {LESSON.scaling} with --lesson)",
    )
    group.add_argument("--test-size", type=float, default=DEFAULTS.test_size, help="fraction held out for testing")
    group.add_argument(
        "--validation",
        type=float,
        default=None,
        metavar="F",
        help=f"fraction of the training part held out to choose on (best epoch, best setting); 0: none "
        f"(default {DEFAULTS.validation:g}; {LESSON.validation:g} with --lesson)",
    )
    group.add_argument("--split-seed", type=int, default=DEFAULTS.split_seed, help="seed of the train/test split")
    group.add_argument(
        "--no-stratify",
        dest="stratify",
        action="store_false",
        help="do not keep class proportions equal in train and test",
    )
    group.add_argument("--no-cache", action="store_true", help="decode every image again, ignoring the cache")


def _run(args) -> int:
    from regui.commands.run import cmd_run

    return cmd_run(args)


def _sweep(args) -> int:
    from regui.commands.sweep import cmd_sweep

    return cmd_sweep(args)


def _runs(args) -> int:
    from regui.commands.runs import cmd_runs

    return cmd_runs(args)
