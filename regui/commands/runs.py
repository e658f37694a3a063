"""``regui runs``: the stored runs, listed, shown, shared (export, import) and deleted."""

from __future__ import annotations

import sys
from pathlib import Path

from regui.commands.common import EXIT_BAD_INPUT, EXIT_OK
from regui.core.config import PENALTY_LABELS, batch_column
from regui.core.errors import ConfigError
from regui.core.formatting import percent, sweep_place
from regui.core.store import DAMAGED, RunStore, StoredRun, StoreError, default_store_path, parse_setting

# What each action does to the store: reading opens it read-only (which refuses a missing
# store); deleting and noting change one that is there; only importing creates it.
_CHANGES = {"delete", "note"}


def cmd_runs(args) -> int:
    path = args.store or default_store_path()
    try:
        if args.action in _CHANGES and not _exists(path):
            raise StoreError(f"There is no run store at {path} (nothing has been stored there).", nothing_stored=True)
        store = RunStore(path, mode="write" if args.action in _CHANGES | {"import"} else "read")
    except StoreError as exc:
        if exc.nothing_stored and args.action == "list":
            print(f"No stored runs: {exc}")
            return EXIT_OK
        raise
    try:
        return _ACTIONS[args.action](store, args)
    finally:
        store.close()


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a folder on the way that may not be searched: opening it will say so
        return True


def _list(store: RunStore, args) -> int:
    runs = store.runs(
        folder=args.dataset,
        where=dict(parse_setting(text) for text in args.where or ()),
        status=args.status,
        sort=args.sort,
        descending=args.desc,
        limit=args.limit,
    )
    if not runs:
        print(f"No stored runs{' match' if args.dataset or args.where or args.status else ''} in {store.path}.")
        return EXIT_OK
    header = (
        f"{'id':>5}  {'started':<16} {'status':<11} {'penalty':<11} {'lambda':>8} {'lr':>7} {'batch':>6} {'epochs':>9} "
        f"{'val acc':>7} {'test acc':>8} {'zeros':>6}  {'dataset':<14} {'sweep':<7} name / note"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        c = run.config
        lam = "-" if c.penalty == "none" or run.damage else f"{c.alpha:g}"
        note = f"{run.name}" + (f" / {run.note}" if run.note else "") + (f"  [{run.damage}]" if run.damage else "")
        if run.damage:
            print(
                f"{run.id:>5}  {run.started_at[:16].replace('T', ' '):<16} {DAMAGED:<11} {'?':<11} {lam:>8} "
                f"{'?':>7} {'?':>6} {'?':>9} {'-':>7} {'-':>8} {'-':>6}  {'?':<14} {'':<7} {note}"
            )
            continue
        acc, val = percent(run.test_accuracy, missing="-"), percent(run.val_accuracy, missing="-")
        zeros = percent(run.zero_fraction, 1, missing="-")
        print(
            f"{run.id:>5}  {run.started_at[:16].replace('T', ' '):<16} {run.status:<11} "
            f"{PENALTY_LABELS.get(c.penalty, c.penalty):<11} {lam:>8} {c.eta0:>7g} "
            f"{batch_column(c.engine, c.batch_text, short=True):>6} "
            f"{f'{run.epochs_done}/{c.epochs}':>9} {val:>7} {acc:>8} "
            f"{zeros:>6}  {Path(run.folder).name[:14]:<14} {sweep_place(run.sweep, run.repeat):<7} {note}"
        )
    print(f"{len(runs)} run(s) in {store.path}")
    return EXIT_OK


def _show(store: RunStore, args) -> int:
    stored = _one(store, args.id)
    if stored.damage:
        print(f"run {args.id}: {stored.name}")
        print(f"  status      damaged: {stored.damage}")
        print(f"  started     {stored.started_at}, regui {stored.regui_version}")
        print(f"  It cannot be shown or opened; delete it with: regui runs delete {args.id}")
        return EXIT_OK
    record = store.load(args.id)
    d = record.dataset
    print(f"run {args.id}: {record.name}" + (f"  ({stored.note})" if stored.note else ""))
    print(f"  status      {record.status_text()}" + (f": {record.message}" if record.message else ""))
    print(
        f"  started     {record.started_at}, {record.seconds:.1f} s, regui {stored.regui_version}, "
        f"scikit-learn {stored.sklearn_version}"
    )
    print(
        f"  dataset     {d.get('folder', '?')}: {d.get('n_images', '?')} images, image {d.get('image', '?')}, "
        f"fingerprint {str(d.get('fingerprint', ''))[:12]}"
    )
    classes = ", ".join(f"{n} {k}" for n, k in zip(d.get("class_names", []), d.get("class_counts", [])))
    print(f"  classes     {classes}")
    print(f"  settings    {', '.join(f'{k}={v}' for k, v in record.config.to_dict().items())}")
    if record.sweep:
        print(f"  sweep       {record.sweep}, repeat {record.repeat}")
    if not record.epochs:
        print("  no epoch was finished")
        return EXIT_OK
    print(
        f"  {'epoch':>6} {'loss':>10} {'data':>10} {'penalty':>10} {'train acc':>9} {'test acc':>9} {'|W|':>10} "
        f"{'zeros':>6}"
    )
    for e in record.epochs:
        print(
            f"  {e.epoch:>6} {e.objective:>10.4g} {e.train_loss:>10.4g} {e.penalty:>10.4g} {e.train_accuracy:>9.2%} "
            f"{e.test_accuracy:>9.2%} {e.weight_l2:>10.4g} {e.zero_fraction:>6.1%}"
        )
    return EXIT_OK


def _export(store: RunStore, args) -> int:
    ids = [run.id for run in store.runs()] if args.all else args.ids
    if not ids:
        raise ConfigError("Name the runs to export (ids from 'regui runs list'), or give --all.")
    missing = sorted(i for i in set(ids) if store.get(i) is None)
    if missing:
        raise ConfigError(f"No stored run has id {', '.join(map(str, missing))}; nothing was written.")
    count = store.export(ids, args.out)
    print(f"{count} run(s) written to {args.out}; on another machine: regui runs import {args.out}")
    return EXIT_OK


def _import(store: RunStore, args) -> int:
    added, known, refused = store.import_from(args.file)
    print(f"{added} run(s) added to {store.path}" + (f"; {known} were there already" if known else ""))
    for why in refused:
        print(f"[WARN] not imported: {why}", file=sys.stderr)
    if refused:
        print(
            f"[WARN] {len(refused)} run(s) of {args.file} were not imported: they do not read as runs", file=sys.stderr
        )
    return EXIT_OK


def _delete(store: RunStore, args) -> int:
    present = {i: store.get(i) for i in args.ids}
    missing = sorted(i for i, run in present.items() if run is None)
    if missing:
        raise ConfigError(f"No stored run has id {', '.join(map(str, missing))}; nothing was deleted.")
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "regui: error: deleting needs --yes when not asked at a terminal; nothing was deleted.", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        names = ", ".join(f"{i} ({present[i].name})" for i in args.ids)
        if input(f"Delete {len(args.ids)} run(s): {names}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing was deleted.")
            return EXIT_OK
    print(f"{store.delete(args.ids)} run(s) deleted.")
    return EXIT_OK


def _note(store: RunStore, args) -> int:
    _one(store, args.id)
    store.annotate(args.id, name=args.name, note=args.text)
    print(f"run {args.id} updated.")
    return EXIT_OK


_ACTIONS = {"list": _list, "show": _show, "export": _export, "import": _import, "delete": _delete, "note": _note}


def _one(store: RunStore, run_id: int) -> StoredRun:
    run = store.get(run_id)
    if run is None:
        raise ConfigError(f"No stored run has id {run_id} (see 'regui runs list').")
    return run
