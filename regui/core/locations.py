"""Where regui finds its bundled files and keeps its cache."""

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    # A wheel carries the top-level folder inside the package (see pyproject.toml);
    # a source checkout or editable install has it next to the package.
    inside = _PACKAGE / "_bundled" / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def sample_dataset_dir() -> Path:
    """The small sample dataset that ships with regui (scikit-learn's digits as PNGs)."""
    return _bundled("dataset")


def resources_dir() -> Path:
    return _bundled("resources")


def default_cache_dir() -> Path:
    """Decoded-image cache: ``$REGUI_CACHE_DIR`` if set, else the user cache directory."""
    override = os.environ.get("REGUI_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("regui", appauthor=False)) / "images"
