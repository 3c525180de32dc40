"""Benchmark: how long the course takes, notebook by notebook and cell by cell, cold and warm.

Run from the repository root (nothing else running: the times are the machine's)::

    python bench/course_time.py                      # warm: the cache as it is
    python bench/course_time.py --cold               # cold: an empty cache folder, then warm
    python bench/course_time.py --output bench/results/course_time.md
    python bench/course_time.py notebooks/06_evaluation.ipynb notebooks/07_cold_start.ipynb

Every notebook is executed with ``nbclient`` (the engine under papermill and nbval) in a fresh
kernel, in memory: the stored notebooks are not changed. Each cell's time is the kernel's
(``record_timing``: from the cell's execution request to its reply). *Cold* runs use a new,
empty ``RECUTILS_CACHE_DIR`` (what a fresh clone has: text embeddings, the language model's
weights and saved models are computed and written again); *warm* runs reuse the cache, as
every later run of a learner does. Torch uses 2 threads, as ``make test`` does.

The report: one row per notebook (cold, warm, and whether warm meets the course's target of
90 s), the totals against the targets for the whole course (8 minutes warm, 12 cold), and the
slowest cells of the warm run, where time can be won. Notebooks that need Java (Spark) are
skipped, with the reason, where Java 17+ is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: The course's targets (issue 20), seconds.
NOTEBOOK_TARGET, WARM_TARGET, COLD_TARGET = 90.0, 8 * 60.0, 12 * 60.0
CELL_TIMEOUT = 900


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """A cell's execution time from nbclient's timing metadata (0 for cells not run)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_notebook(path: Path, cache_dir: Path | None) -> tuple[float, list[tuple[int, float, str]]]:
    """Execute ``path`` in a fresh kernel; its wall time and (index, seconds, first line) per
    code cell."""
    notebook = nbformat.read(path, as_version=4)
    saved = {
        name: os.environ.get(name) for name in ("RECUTILS_CACHE_DIR", "RECUTILS_TORCH_THREADS")
    }
    os.environ["RECUTILS_TORCH_THREADS"] = "2"
    if cache_dir is not None:
        os.environ["RECUTILS_CACHE_DIR"] = str(cache_dir)
    try:
        start = time.perf_counter()
        NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            record_timing=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        wall = time.perf_counter() - start
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    cells = [
        (index, cell_seconds(cell), (cell.source.strip().splitlines() or [""])[0][:60])
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    ]
    return wall, cells


def skip_reason(path: Path) -> str | None:
    from recutils.spark import notebook_skip_reason

    return notebook_skip_reason(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--cold", action="store_true", help="also run with an empty cache first")
    parser.add_argument("--cells", type=int, default=15, help="slowest warm cells to list")
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) here")
    args = parser.parse_args()
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    runs: dict[str, dict[str, float]] = {}
    warm_cells: list[tuple[str, int, float, str]] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="course-cold-cache-") as empty_cache:
        for path in paths:
            path = path.resolve()
            reason = skip_reason(path)
            if reason is not None:
                skipped.append(reason)
                continue
            runs[path.stem] = {}
            if args.cold:
                runs[path.stem]["cold"], _ = run_notebook(path, Path(empty_cache))
            runs[path.stem]["warm"], cells = run_notebook(path, None)
            warm_cells += [(path.stem, index, seconds, line) for index, seconds, line in cells]
            print(f"{path.stem}: {runs[path.stem]}", file=sys.stderr, flush=True)
    rows = [
        "| notebook | cold (s) | warm (s) | warm within 90 s |",
        "| --- | ---: | ---: | :---: |",
    ]
    for name, times in runs.items():
        cold = f"{times['cold']:.0f}" if "cold" in times else "-"
        within = "yes" if times["warm"] <= NOTEBOOK_TARGET else "**no**"
        rows.append(f"| {name} | {cold} | {times['warm']:.0f} | {within} |")
    warm_total = sum(times["warm"] for times in runs.values())
    cold_total = sum(times.get("cold", 0.0) for times in runs.values())
    rows.append(
        f"| **the course** | {cold_total / 60:.1f} min (target {COLD_TARGET / 60:.0f}) "
        f"| {warm_total / 60:.1f} min (target {WARM_TARGET / 60:.0f}) | |"
        if args.cold
        else f"| **the course** | - | {warm_total / 60:.1f} min (target {WARM_TARGET / 60:.0f}) | |"
    )
    slowest = sorted(warm_cells, key=lambda cell: -cell[2])[: args.cells]
    cell_rows = ["| notebook | cell | warm (s) | first line |", "| --- | ---: | ---: | --- |"]
    cell_rows += [
        f"| {name} | {index} | {seconds:.1f} | `{line.replace('|', '/')}` |"
        for name, index, seconds, line in slowest
    ]
    notes = (
        f"Executed with nbclient, torch at 2 threads, on {os.cpu_count()} CPU cores; cold = an "
        "empty RECUTILS_CACHE_DIR (a fresh clone), warm = the cache filled."
    )
    if skipped:
        notes += " Skipped: " + "; ".join(skipped)
    emit(
        "\n".join(rows),
        "The slowest cells (warm):",
        "\n".join(cell_rows),
        notes,
        output=args.output,
    )


if __name__ == "__main__":
    main()
