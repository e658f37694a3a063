"""Small helpers for building test image folders."""

import cv2


def write_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    data.tofile(str(path))
