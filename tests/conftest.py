"""Shared test set-up: offscreen Qt, a private image cache, and tiny image folders."""

import os

# Before anything can create a QApplication: tests never need (or have) a display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402

from tests.helpers import write_classes  # noqa: E402


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own decoded-image cache and run store, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("REGUI_CACHE_DIR", str(cache))
    monkeypatch.setenv("REGUI_STORE", str(tmp_path_factory.mktemp("store") / "runs.sqlite3"))
    return cache


@pytest.fixture
def make_folder(tmp_path):
    """make_folder({"cats": 6, "dogs": 5}) -> a folder of random 12x10 colour PNGs per class.

    Each class has its own mean brightness, so a linear model can learn something.
    """

    def make(spec: dict[str, int], root=None, size=(12, 10), seed: int = 0):
        return write_classes(root or tmp_path / "data", spec, size=size, seed=seed)

    return make


@pytest.fixture
def slow_decoding(monkeypatch):
    """Makes every image decode take a few milliseconds; returns the list of files started."""
    import time

    import regui.core.images as images

    started = []
    real_decode = images.decode_file

    def slow_decode(path, settings):
        started.append(path)
        time.sleep(0.004)
        return real_decode(path, settings)

    monkeypatch.setattr(images, "decode_file", slow_decode)
    return started


@pytest.fixture
def allow_divergence(monkeypatch):
    """Learning rates up to 1e300: far past what any front end accepts (core.config.LIMITS),
    but the way to see the engine's last safety net, a run whose weights overflow."""
    from regui.core import config

    monkeypatch.setitem(config.LIMITS, "eta0", (1e-6, 1e300))
