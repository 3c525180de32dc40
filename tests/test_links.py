"""Every notebook a notebook or a README names exists, every relative link resolves, and no
existing notebook is still called "planned"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXISTING = {path.name[:2] for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}

# "notebook 08", "notebooks 08-10", "notebooks 08, 09 and 10", "Notebook 11's"
NAMED = re.compile(r"\b[Nn]otebooks?\s+((?:\d\d)(?:\s*(?:-|–|,|and|or|to)\s*\d\d)*)")
FILE = re.compile(r"\b(\d\d)_[a-z0-9_]+\.ipynb")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PLANNED = re.compile(r"\b(planned|not written yet|coming soon|to come)\b", re.IGNORECASE)


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every cell of every notebook and every Markdown file of the course."""
    texts = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells):
            texts.append((f"{path.name} cell {number}", "".join(cell["source"])))
    markdown = [ROOT / "README.md", *sorted(ROOT.glob("*/README.md"))]
    markdown += sorted(ROOT.glob("docs/*.md"))
    texts += [(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")) for path in markdown]
    return texts


def _numbers(group: str) -> set[str]:
    numbers = set(re.findall(r"\d\d", group))
    for first, last in re.findall(r"(\d\d)\s*(?:-|–|to)\s*(\d\d)", group):
        numbers |= {f"{n:02d}" for n in range(int(first), int(last) + 1)}
    return numbers


def _named_notebooks(text: str) -> set[str]:
    names = {m for group in NAMED.findall(text) for m in _numbers(group)}
    return names | set(FILE.findall(text))


TEXTS = _texts()


@pytest.mark.parametrize(("where", "text"), TEXTS, ids=[where for where, _ in TEXTS])
def test_named_notebooks_exist(where, text):
    missing = sorted(_named_notebooks(text) - EXISTING)
    assert not missing, f"{where} names notebook(s) {missing}, which do not exist"


@pytest.mark.parametrize(("where", "text"), TEXTS, ids=[where for where, _ in TEXTS])
def test_relative_links_resolve(where, text):
    base = NOTEBOOKS if where.endswith(tuple(f"cell {n}" for n in range(1000))) else None
    if base is None:
        base = (ROOT / where).parent
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (base / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{where} links to {broken}, which do not exist"


@pytest.mark.parametrize(("where", "text"), TEXTS, ids=[where for where, _ in TEXTS])
def test_existing_notebooks_are_not_called_planned(where, text):
    stale = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n|\n\|", text):
        if PLANNED.search(sentence):
            stale += sorted(_named_notebooks(sentence) & EXISTING)
    assert not stale, f"{where} calls notebook(s) {stale} planned, but they exist"


def test_the_patterns_find_what_they_should():
    found = _named_notebooks("see notebooks 08-10 and 05_bert_hybrid.ipynb")
    assert found == {"05", "08", "09", "10"}
    assert _named_notebooks("notebook 11 (sequences)") == {"11"}
    assert _named_notebooks("Notebooks 03, 04 and 07 use it") == {"03", "04", "07"}
