"""Training benchmark: plain SGDClassifier(max_iter=E).fit vs regui's train_epochs for E epochs.

    python bench/bench_training.py [--dataset DIR] [--epochs E] [--repeat N] [--penalty P]

train_epochs does the same number of passes plus every per-epoch metric (losses on train and
test, penalty term, accuracies, norms, sparsity, a weight snapshot). The baseline runs in the
same process on the same arrays and threads; the ratio is what to read. Target <= 1.25x.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.linear_model import SGDClassifier  # noqa: E402

from regui.core.config import TrainConfig  # noqa: E402
from regui.core.dataset import load_dataset, prepare  # noqa: E402
from regui.core.locations import sample_dataset_dir  # noqa: E402
from regui.core.training import make_classifier, train_epochs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--penalty", default="l2")
    parser.add_argument("--jobs", type=int, default=None, help="OvR threads, the same for both")
    args = parser.parse_args()

    config = TrainConfig(penalty=args.penalty, epochs=args.epochs)
    dataset = load_dataset(args.dataset, config.image)
    data = prepare(dataset, config.split)

    def plain_fit():
        params = make_classifier(config, args.jobs).get_params()
        params.update(max_iter=args.epochs, tol=None, random_state=config.seed)
        SGDClassifier(**params).fit(data.X_train, data.y_train)

    def regui_epochs():
        records = list(train_epochs(data, config, n_jobs=args.jobs))
        assert len(records) == args.epochs

    base, ours = [], []
    for _ in range(args.repeat):  # interleaved, so drifting machine load hits both alike
        for fn, times in ((plain_fit, base), (regui_epochs, ours)):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    b, o = min(base), min(ours)
    print(
        f"dataset: {args.dataset} ({len(data.y_train)} train x {data.X_train.shape[1]} features, "
        f"{data.n_classes} classes), {args.epochs} epochs, penalty {args.penalty}, best of {args.repeat}"
    )
    print(f"SGDClassifier.fit      : {b:7.3f} s   1.00x")
    print(f"regui train_epochs     : {o:7.3f} s   {o / b:.3f}x   target <= 1.25x")


if __name__ == "__main__":
    main()
