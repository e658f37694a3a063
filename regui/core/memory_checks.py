"""Will it fit? The memory checks made before loading a folder and before starting a sweep's
worker processes, from the machine's memory (``machine.physical_memory``)."""

from __future__ import annotations

from regui.core import machine
from regui.core.config import ImageSettings
from regui.core.errors import DatasetError


def memory_needed(n_images: int, image: ImageSettings) -> int:
    """Bytes a load and one run need: the decoded pixels (1 byte each) and the float64 train and
    test arrays made from them (8 bytes each), with the decoding work on top."""
    return int(n_images * image.n_features * (1 + 8) * 1.1)


def check_memory(n_images: int, image: ImageSettings) -> None:
    """Refuse, before decoding anything, a load this machine cannot hold in memory: the arrays,
    and the images being decoded at once (``images.decode_budget``)."""
    from regui.core.images import decode_budget

    total = machine.physical_memory()
    decoding = decode_budget()
    needed = memory_needed(n_images, image) + decoding
    if total and needed > 0.8 * total:
        raise DatasetError(
            f"{n_images:,} images at {image.width}x{image.height} {'colour' if image.color else 'grayscale'} "
            f"need about {needed / 2**30:.1f} GB of memory to train on ({decoding / 2**30:.2f} GB of it to decode "
            f"them), more than this machine can spare ({total / 2**30:.1f} GB in all). Choose a smaller image size, "
            "or grayscale."
        )


def workers_that_fit(n_images: int, image: ImageSettings, wanted: int) -> int:
    """How many of ``wanted`` sweep workers fit in memory: each holds its own float64 train and
    test arrays, as the sweep's own process may (the decoded pixels are shared once). At least 1."""
    total = machine.physical_memory()
    if not total:
        return wanted
    shared = n_images * image.n_features
    per_worker = n_images * image.n_features * 8 * 1.1
    # One more float copy: the app's own, kept for its next run (``Dataset.prepared``).
    return max(1, min(wanted, int((0.8 * total - shared - per_worker) // per_worker)))
