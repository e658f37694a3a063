"""README's Layout section names every module of the package, so it stays true as files come and go."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Layout")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_layout_names_every_module_and_folder():
    layout = layout_section()
    named = set(re.findall(r"[\w/]+\.py|[\w]+/", layout))
    missing = []
    for path in sorted((ROOT / "regui").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        in_views = path.parent.name == "views"
        if not (path.name in named or path.relative_to(ROOT).as_posix() in named or in_views):
            missing.append(path.relative_to(ROOT).as_posix())
    assert missing == [], f"README's Layout section does not name {missing}"
    for folder in ("regui/core/", "regui/gui/", "regui/commands/", "views/", "tests/", "bench/", "resources/"):
        assert folder in layout


def test_the_layout_names_no_module_that_is_gone():
    modules = {p.name for p in (ROOT / "regui").rglob("*.py")} | {p.name for p in (ROOT / "resources").glob("*.py")}
    for name in re.findall(r"\b\w+\.py\b", layout_section()):
        assert name in modules, f"README's Layout section names {name}, which is not in the tree"
