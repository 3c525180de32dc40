"""Fill the generated blocks of README.md from files the code wrote.

Blocks are delimited by ``<!-- name:start -->`` and ``<!-- name:end -->``:

* ``notebooks`` -- the notebook table: number, title (the notebook's first heading), its
  summary (notebook metadata ``course.summary``), and the run times that tools/run_course.py
  recorded in notebooks/runtimes.json, each notebook on its own: the first run of a fresh
  clone (empty cache) and a re-run (cache filled), and their sums one notebook at a time
  (``make course``, two at a time, takes less: bench/results/course_time.md), with and
  without the Spark notebooks
  (``recutils.spark.SPARK_NOTEBOOKS``: they need Java, and are skipped without it);
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

from recutils.spark import SPARK_NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _shown(seconds: float | None) -> str:
    if seconds is None:
        return "not yet run"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def notebook_rows() -> str:
    path = ROOT / "notebooks" / "runtimes.json"
    runtimes = json.loads(path.read_text()) if path.exists() else {}
    first, rerun = runtimes.get("first_run", {}), runtimes.get("rerun", {})
    lines = [
        "| notebook | what you will do | first run | re-run |",
        "| --- | --- | ---: | ---: |",
    ]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        first_cell = "".join(notebook.cells[0].source) if notebook.cells else ""
        title = next(
            (line.lstrip("# ").strip() for line in first_cell.splitlines() if line.startswith("#")),
            path.stem,
        )
        learn = notebook.metadata.get("course", {}).get("summary", "")
        lines.append(
            f"| [{title}](notebooks/{path.name}) | {learn} | "
            f"{_shown(first.get(path.name))} | {_shown(rerun.get(path.name))} |"
        )
    totals = [sum(times.values()) if times else None for times in (first, rerun)]
    # the sum: what a reader going through the notebooks one by one waits in all (make course,
    # two at a time, takes less: the course time table under this one)
    lines.append(
        f"| **the whole course, one notebook at a time** | | {_shown(totals[0])} "
        f"| {_shown(totals[1])} |"
    )
    # what a learner without Java runs (make course and make test skip the Spark notebooks)
    without = [
        sum(seconds for name, seconds in times.items() if name not in SPARK_NOTEBOOKS)
        if times
        else None
        for times in (first, rerun)
    ]
    lines.append(
        f"| **without Spark ({', '.join(name[:2] for name in SPARK_NOTEBOOKS)}: needs Java)** "
        f"| | {_shown(without[0])} | {_shown(without[1])} |"
    )
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
