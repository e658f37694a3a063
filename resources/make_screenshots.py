"""Render screenshots of the main window after real runs, for the README and docs/.

    python resources/make_screenshots.py [--dataset DIR] [--out docs] [--epochs 30]

Opens the real window (offscreen unless a display is set), loads DIR (default: the bundled
sample), trains none, L1 and L2 with the given settings (default: regui's) and saves the window
and the plots; trains L2 with batch sizes 1, 64 and full and saves the loss plot with every
mini-batch's loss (batch-sizes.png); then runs a sweep (4 penalties x lambda x repeats) and
saves the window on its Sweep tab.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    from regui.core.locations import sample_dataset_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=sample_dataset_dir())
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--epochs", type=int, default=None, help="default: regui's")
    parser.add_argument("--alpha", type=float, default=None, help="default: regui's")
    parser.add_argument("--lr", type=float, default=None, help="default: regui's")
    parser.add_argument("--scaling", default=None, help="default: regui's")
    parser.add_argument("--name", default="main-window")
    parser.add_argument("--sweep-points", type=int, default=5, help="lambda values of the sweep shot (0: none)")
    parser.add_argument("--sweep-repeats", type=int, default=3)
    parser.add_argument("--size", default="1440x900", help="the window's size, WxH (1354x690: a 1366x768 laptop's)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from regui.core.config import TrainConfig
    from regui.gui.app import dispose
    from regui.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must live while the window does
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        window.resize(width, height)
        window.show()

        def wait(condition, seconds=600):
            deadline = time.time() + seconds
            while not condition() and time.time() < deadline:
                loop = QEventLoop()
                QTimer.singleShot(30, loop.quit)
                loop.exec()

        def settle() -> None:  # let the last updates paint
            wait(lambda: False, seconds=0.4)

        defaults = TrainConfig()
        base = defaults.with_(
            epochs=args.epochs or defaults.epochs,
            alpha=args.alpha or defaults.alpha,
            eta0=args.lr or defaults.eta0,
            scaling=args.scaling or defaults.scaling,
        )
        window.params.set_config(base)
        window.load_folder(str(args.dataset))
        wait(lambda: window.dataset is not None and window.controller.is_idle())
        for penalty in ("none", "l1", "l2"):
            window.params.set_config(base.with_(penalty=penalty))
            window.start_run()
            wait(lambda: not window.session.running())
        window.plots.show_parts.setChecked(True)
        window.table.selectAll()  # none vs L1 vs L2, side by side in the views
        wait(lambda: True)
        settle()
        args.out.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out / f"{args.name}.png"))
        # Each inspection view, raised in turn, the window as a whole and the view alone.
        inspector = window.inspector
        for view in inspector.views:
            inspector.docks[view].raise_()
            if view is inspector.confusion or view is inspector.mistakes:
                window.table.selectRow(2)  # one run: L2
            settle()
            inspector.thumbs.wait_idle()
            settle()
            slug = view.title.lower().replace(" ", "-")
            view.export_png(str(args.out / f"{args.name}-{slug}.png"))
        inspector.docks[inspector.weights].raise_()
        window.table.selectAll()
        settle()
        window.plots.export_png(str(args.out / f"{args.name}-plots.png"), width=1600)
        for entry in window.runs.entries():
            f = entry.record.final
            print(f"{entry.label}: test {f.test_accuracy:.2%}, zeros {f.zero_fraction:.1%}, |W| {f.weight_l2:.3g}")

        # Batch sizes: per-sample SGD's noisy descent against gradient descent's smooth one.
        from regui.core.config import FULL_BATCH

        shown_before = [entry.run_id for entry in window.runs.entries()]
        for run_id in shown_before:
            window.runs.set_visible(run_id, False)
        for batch in (1, 64, FULL_BATCH):
            window.params.set_config(base.with_(penalty="l2", batch_size=batch))
            window.start_run()
            wait(lambda: not window.session.running())
        window.plots.show_parts.setChecked(False)
        window.plots.show_train.setChecked(False)
        window.plots.show_batches.setChecked(True)
        window.plots.log_loss.setChecked(True)
        window.table.clearSelection()
        settle()
        window.plots.export_png(str(args.out / "batch-sizes.png"), width=1400)
        window.plots.show_batches.setChecked(False)
        window.plots.log_loss.setChecked(False)
        for run_id in shown_before:
            window.runs.set_visible(run_id, True)
        window.params.set_config(base)

        if args.sweep_points:
            from regui.core.sweep import SweepSpec, log_space

            spec = SweepSpec(
                base,
                penalties=("none", "l1", "l2", "elasticnet"),
                alphas=log_space(1e-5, 1e-1, args.sweep_points),
                repeats=args.sweep_repeats,
            )
            window.start_sweep(spec)
            wait(lambda: window.controller.is_idle() and not window.session.sweep_running(), seconds=1800)
            window.sweep_panel.refresh()
            settle()
            window.grab().save(str(args.out / f"{args.name}-sweep.png"))
        window.close()
        dispose(window)
    print(f"saved {args.out / (args.name + '.png')} and the plots" + (" and the sweep" if args.sweep_points else ""))


if __name__ == "__main__":
    main()
