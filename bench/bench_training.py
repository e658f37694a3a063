"""Training benchmark: plain SGDClassifier(max_iter=E).fit against regui's train_epochs for E epochs.

    python bench/bench_training.py [--dataset DIR] [--epochs E] [--repeat N] [--penalty P]

train_epochs does the same number of passes plus every per-epoch metric (losses on train and
test, penalty term, accuracies, norms, sparsity, a weight snapshot). The baseline runs in the
same process on the same arrays; the ratios are what to read (the machine's load moves both).

- scikit-learn's engine, as the lesson trains it (raw pixels): target <= 1.25x.
- regui's engine on [0, 1] pixels, against SGDClassifier.fit on the same [0, 1] pixels: batch
  64 target <= 0.6x, batch 1 (per-sample SGD, 22,500 steps on the Animals photos) <= 3x, full
  batch (vanilla gradient descent) reported.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.linear_model import SGDClassifier  # noqa: E402

from regui.core.config import FULL_BATCH, LESSON  # noqa: E402
from regui.core.dataset import load_dataset, prepare  # noqa: E402
from regui.core.locations import sample_dataset_dir  # noqa: E402
from regui.core.training import make_classifier, train_epochs  # noqa: E402


def best_of(repeat, *fns):
    """The best time of each function over ``repeat`` rounds, interleaved so that drifting
    machine load hits them alike."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times):
            started = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - started)
    return [min(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--penalty", default="l2")
    parser.add_argument("--jobs", type=int, default=None, help="OvR threads of scikit-learn's engine")
    args = parser.parse_args()

    lesson = LESSON.with_(penalty=args.penalty, epochs=args.epochs)
    dataset = load_dataset(args.dataset, lesson.image)

    def baseline(config, data):
        def fit():
            params = make_classifier(config, args.jobs).get_params()
            params.update(max_iter=args.epochs, tol=None, random_state=config.seed)
            SGDClassifier(**params).fit(data.X_train, data.y_train)

        return fit

    def ours(config, data):
        def train():
            records = list(train_epochs(data, config, n_jobs=args.jobs))
            assert len(records) == args.epochs

        return train

    raw = prepare(dataset, lesson.split)
    print(
        f"dataset: {args.dataset} ({len(raw.y_train)} train x {raw.X_train.shape[1]} features, "
        f"{raw.n_classes} classes), {args.epochs} epochs, penalty {args.penalty}, best of {args.repeat}"
    )
    b, o = best_of(args.repeat, baseline(lesson, raw), ours(lesson, raw))
    print("scikit-learn's engine, raw pixels (the lesson)")
    print(f"  SGDClassifier.fit          : {b:7.3f} s   1.00x")
    print(f"  regui train_epochs         : {o:7.3f} s   {o / b:.3f}x   target <= 1.25x")

    unit = lesson.with_(engine="minibatch", scaling="unit", alpha=1e-4)
    data = prepare(dataset, unit.split)
    targets = {64: "target <= 0.6x", 1: "target <= 3x", FULL_BATCH: "reported"}
    fns = [baseline(lesson.with_(scaling="unit"), data)] + [ours(unit.with_(batch_size=b), data) for b in targets]
    times = best_of(args.repeat, *fns)
    print("regui's engine, [0, 1] pixels, every per-epoch metric")
    print(f"  SGDClassifier.fit          : {times[0]:7.3f} s   1.00x")
    for (batch, target), spent in zip(targets.items(), times[1:]):
        name = f"batch {'full' if batch == FULL_BATCH else batch}"
        print(f"  regui {name:<21}: {spent:7.3f} s   {spent / times[0]:.3f}x   {target}")


if __name__ == "__main__":
    main()
