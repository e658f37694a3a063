"""Small helpers for building test image folders."""

import cv2


def write_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    data.tofile(str(path))


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
