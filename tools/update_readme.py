"""Fill the generated blocks of README.md from files the code wrote.

Blocks are delimited by ``<!-- name:start -->`` and ``<!-- name:end -->``:

* ``notebooks`` -- the notebook table: number, title (the notebook's first heading), its
  summary (notebook metadata ``course.summary``), and the run time that tools/run_course.py
  recorded in notebooks/runtimes.json;
* ``<file stem>`` for every ``bench/results/*.md`` -- a benchmark table written by a bench script;
* ``<file stem>`` for every ``results/leaderboard-*.md`` -- a leaderboard written by notebook 06
  (``make course`` for the shop, ``make leaderboard-online-retail`` for Online Retail).

tests/test_packaging.py checks the README is up to date, so every number in it comes from code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def notebook_rows() -> str:
    runtimes = (
        json.loads((ROOT / "notebooks" / "runtimes.json").read_text())
        if (ROOT / "notebooks" / "runtimes.json").exists()
        else {}
    )
    lines = ["| notebook | what you will do | run time (2-core CPU) |", "| --- | --- | --- |"]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        first = "".join(notebook.cells[0].source) if notebook.cells else ""
        title = next(
            (line.lstrip("# ").strip() for line in first.splitlines() if line.startswith("#")),
            path.stem,
        )
        learn = notebook.metadata.get("course", {}).get("summary", "")
        seconds = runtimes.get(path.name)
        shown = (
            "not yet run"
            if seconds is None
            else (f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min")
        )
        lines.append(f"| [{title}](notebooks/{path.name}) | {learn} | {shown} |")
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    generated = {"notebooks": notebook_rows()}
    for path in sorted((ROOT / "bench" / "results").glob("*.md")):
        generated[path.stem] = path.read_text().strip()
    for path in sorted((ROOT / "results").glob("leaderboard-*.md")):
        generated[path.stem] = path.read_text().strip()
    return generated


def render(text: str) -> str:
    for name, body in blocks().items():
        pattern = re.compile(
            rf"(<!-- {re.escape(name)}:start -->\n)(?:.*?\n)?(<!-- {re.escape(name)}:end -->)", re.S
        )
        text = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), text)
    return text


def update_readme() -> bool:
    """Rewrite README.md's generated blocks; returns True if something changed."""
    old = README.read_text()
    new = render(old)
    if new != old:
        README.write_text(new)
    return new != old


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already up to date")
