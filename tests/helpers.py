"""Small helpers for building test image folders."""

import cv2
import numpy as np


def write_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    data.tofile(str(path))


def write_classes(root, counts: dict, first=40, step=60, noise=30, size=(12, 10), seed=0, file="img_{i:03d}.png"):
    """A folder of random colour PNGs (``size`` is width x height), ``counts[name]`` per class:
    class k's pixels are normal around ``first + step * k`` with spread ``noise``, so the classes
    are as far apart (or as close together) as a test needs. Returns ``root``."""
    rng = np.random.default_rng(seed)
    for label, (name, count) in enumerate(counts.items()):
        for i in range(count):
            pixels = np.clip(rng.normal(first + step * label, noise, (size[1], size[0], 3)), 0, 255)
            write_png(root / name / file.format(i=i), pixels.astype(np.uint8))
    return root


def damage_a_page(path, table="runs") -> bytes:
    """Overwrite the first page of ``table``'s b-tree in the SQLite file at ``path`` with garbage,
    as a bad disk sector would (no connection may be open on it); returns the file's bytes."""
    import sqlite3

    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\x17" * 64)
    return path.read_bytes()
