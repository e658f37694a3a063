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
    modules = {p.name for folder in ("regui", "resources", "bench") for p in (ROOT / folder).rglob("*.py")}
    for name in re.findall(r"\b\w+\.py\b", layout_section()):
        assert name in modules, f"README's Layout section names {name}, which is not in the tree"


def test_the_notebook_snippet_runs_as_written(capsys):
    # The README's five lines, exactly, on the bundled sample instead of the Animals photos.
    from regui.core.locations import sample_dataset_dir

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### In a notebook")
    snippet = text[text.index("```python\n", start) + len("```python\n") : text.index("```\n", start + 20)]
    assert len([line for line in snippet.splitlines() if line.strip()]) == 5
    assert '"path/to/animals"' in snippet
    exec(snippet.replace('"path/to/animals"', repr(str(sample_dataset_dir()))), {})
    printed = capsys.readouterr().out
    accuracy, zeros = re.match(r"test accuracy ([\d.]+)%, zero weights (\d+)%", printed).groups()
    assert 30 < float(accuracy) <= 100 and 0 < int(zeros) < 100  # a trained, sparse model
