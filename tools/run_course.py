"""Execute the course notebooks in order and report what ran, how long it took, and what failed.

    python tools/run_course.py                       # every notebook, in place (make course)
    python tools/run_course.py notebooks/01_*.ipynb  # some of them
    python tools/run_course.py notebooks/01_data_exploration.ipynb \\
        -p 'DATASETS={"online-retail": {}}' --output-dir runs/

Notebooks are executed with papermill, which starts a Jupyter kernel, runs every cell in order
and, with ``--parameter NAME=VALUE`` (VALUE a Python literal: a number, a quoted string, a list,
a dict), adds a cell tagged ``injected-parameters`` right after the cell tagged ``parameters``,
so a notebook can run on another dataset or size without editing it. Parameterised runs are
written to ``--output-dir``, never over the course's notebooks.

The course is never damaged by a failed run:

* every notebook runs, even after one has failed;
* a notebook is written over the stored one only if it ran to the end; a failed run goes to
  ``runs/failed/`` (``--runs-dir``), with papermill's note at the top saying which cell
  raised, and the table at the end says where;
* the exit status is 1 if anything failed, and the leaderboards in ``results/`` are printed
  only if this run wrote them.

Run times of full in-place runs are recorded in ``notebooks/runtimes.json``, as the *first run*
when the cache folder (``recutils.cache_dir()``: embeddings, trained models) was empty at the
start (a fresh clone) and as a *re-run* otherwise, and copied into the README's notebook table
(tools/update_readme.py) and the course map's. The kernel's own stderr (start-up notices,
library warnings) goes to ``runs/logs/<notebook>.kernel.log``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager

from recutils.files import atomic_path
from recutils.spark import notebook_skip_reason

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RUNTIMES = NOTEBOOKS / "runtimes.json"
RUNS = ROOT / "runs"
#: Keys of runtimes.json: the first run of a fresh clone, and runs with the caches filled.
FIRST_RUN, RERUN = "first_run", "rerun"


class QuietKernelManager(AsyncKernelManager):
    """A kernel manager that sends the kernel's stderr to a log file instead of the terminal.

    The kernel's stderr carries no cell output (that arrives through the kernel protocol),
    only ipykernel's start-up notice about its local TCP transport and native libraries'
    warnings, which would otherwise be mixed into the progress report.
    """

    log_path: Path | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.log_path is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:  # the kernel process keeps its own copy open
            await super()._async_launch_kernel(kernel_cmd, **{**kw, "stderr": log})


@dataclass
class Result:
    """What happened to one notebook."""

    name: str
    status: str  # "ok", "FAILED" or "skipped" (it needs what this machine lacks: Java)
    seconds: float
    error: str = ""  # first line of the error, e.g. "FileNotFoundError: ..."
    written_to: Path | None = None
    #: (cell index, seconds, first line of the cell) for every code cell that ran.
    cells: list[tuple[int, float, str]] = field(default_factory=list)


def has_parameters_cell(notebook: nbformat.NotebookNode) -> bool:
    return any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in notebook.cells)


def cell_times(notebook: nbformat.NotebookNode) -> list[tuple[int, float, str]]:
    """(index, seconds, first line) of each code cell, from papermill's record of the run."""
    return [
        (
            index,
            float(cell.metadata.get("papermill", {}).get("duration") or 0.0),
            (cell.source.strip().splitlines() or [""])[0][:60],
        )
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    ]


def strip_run_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove what papermill and nbclient record about one run (times, paths, durations), so a
    re-run changes a stored notebook only where its outputs change."""
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:  # papermill gives every cell a tag list
            del cell.metadata["tags"]
    return notebook


def first_error_line(error: BaseException) -> str:
    """``"Name: message"`` of a papermill cell error (first line only), else the exception's."""
    name = getattr(error, "ename", None) or type(error).__name__
    value = getattr(error, "evalue", None)
    value = str(error) if value is None else value
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return f"{name}: {lines[0]}" if lines else name


def execute(
    path: Path, parameters: dict[str, Any], output: Path, failed_dir: Path, logs_dir: Path
) -> Result:
    """Run one notebook; write it to ``output`` if it ran to the end, else to ``failed_dir``."""
    log = logs_dir / f"{path.stem}.kernel.log"
    manager = type("KernelManager", (QuietKernelManager,), {"log_path": log})
    with tempfile.TemporaryDirectory(prefix="run_course-") as folder:
        executed = Path(folder) / path.name
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                path,
                executed,
                parameters=parameters or None,
                kernel_name="python3",
                cwd=path.parent,
                progress_bar=False,
                request_save_on_cell_execute=False,
                execution_timeout=1800,
                kernel_manager_class=manager,
            )
        except Exception as error:  # a cell raised, the kernel died, a timeout, ...
            seconds = time.perf_counter() - start
            failed = failed_dir / path.name
            if executed.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                os.replace(executed, failed)
            return Result(path.name, "FAILED", seconds, first_error_line(error), failed)
        seconds = time.perf_counter() - start
        notebook = nbformat.read(executed, as_version=4)
        cells = cell_times(notebook)
        with atomic_path(output) as temporary:
            nbformat.write(strip_run_metadata(notebook), temporary)
    return Result(path.name, "ok", seconds, written_to=output, cells=cells)


def print_table(results: list[Result]) -> None:
    print(f"\n{'notebook':<34}{'status':<8}{'time':>9}  error")
    for result in results:
        print(f"{result.name:<34}{result.status:<8}{result.seconds:7.1f} s  {result.error}")
    total = sum(result.seconds for result in results)
    print(f"{'total':<34}{'':<8}{total:7.1f} s")
    for result in results:
        if result.status != "ok" and result.written_to is not None:
            where = result.written_to
            shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
            print(f"{result.name} failed: the run is in {shown}; the stored notebook is unchanged")


def print_leaderboards(since: float) -> None:
    """Print the leaderboards this run wrote (``results/leaderboard-*.md`` changed since it
    started); the stored ones are not this run's results, so they are only mentioned."""
    written = [
        path
        for path in sorted((ROOT / "results").glob("leaderboard-*.md"))
        if path.stat().st_mtime >= since
    ]
    for path in written:
        print(f"\n{path.relative_to(ROOT)} (written by this run)\n\n{path.read_text().strip()}")
    if not written:
        print("\nThis run wrote no leaderboard; the ones in results/ are from an earlier run.")


def parse_parameters(items: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"--parameter must look like NAME=VALUE, got {item!r}")
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(
                f"--parameter {name}: {value!r} is not a Python literal (a number, a quoted "
                f"string, a list or a dict); quote strings: -p {name}='\"text\"'"
            ) from None
    return parameters


def cache_is_empty() -> bool:
    """True when nothing is cached yet (``recutils.cache_dir()`` missing or empty)."""
    from recutils.environment import cache_dir

    folder = cache_dir()
    return not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*"))


def record_runtimes(results: list[Result], kind: str) -> None:
    runtimes: dict[str, dict[str, float]] = (
        json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}
    )
    if runtimes and not all(isinstance(v, dict) for v in runtimes.values()):
        runtimes = {RERUN: runtimes}  # the file's earlier layout: re-run times only
    for result in results:
        runtimes.setdefault(kind, {})[result.name] = round(result.seconds, 1)
    runtimes = {key: dict(sorted(values.items())) for key, values in sorted(runtimes.items())}
    RUNTIMES.write_text(json.dumps(runtimes, indent=1) + "\n")


def run_notebooks(
    paths: list[Path],
    parameters: dict[str, Any] | None = None,
    output_dir: Path | None = None,
    runs_dir: Path = RUNS,
) -> list[Result]:
    """Execute ``paths`` in order (in place, or into ``output_dir``) and print the table. A full
    in-place run that succeeded records its times in runtimes.json (as the first run if the
    cache folder was empty at the start, else as a re-run), re-runs the course map and
    updates the README's table."""
    parameters = parameters or {}
    in_place = output_dir is None
    failed_dir, logs_dir = runs_dir / "failed", runs_dir / "logs"
    every_notebook = paths == sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    course_run = in_place and all(path.parent == NOTEBOOKS for path in paths)
    kind = FIRST_RUN if cache_is_empty() else RERUN
    results: list[Result] = []
    for path in paths:
        output = path if output_dir is None else output_dir / path.name
        skip_reason = notebook_skip_reason(path)
        if skip_reason is not None:
            print(skip_reason, flush=True)
            results.append(Result(path.name, "skipped", 0.0, "needs Java 17+ (see above)"))
            continue
        print(f"running {path.name} ...", flush=True)
        results.append(execute(path, parameters, output, failed_dir, logs_dir))
    print_table(results)
    all_ok = all(result.status != "FAILED" for result in results)
    if course_run and all_ok and (every_notebook or kind == RERUN):
        record_runtimes([result for result in results if result.status == "ok"], kind)
        course_map = [path for path in paths if path.name.startswith("00_")]
        if course_map:  # its table of run times reads runtimes.json: show this run's times
            execute(course_map[0], {}, course_map[0], failed_dir, logs_dir)
        from update_readme import update_readme

        update_readme()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb"
    )
    parser.add_argument("--parameter", "-p", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--output-dir", type=Path, help="write executed copies here (required with -p)"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=RUNS,
        help="failed runs go to RUNS_DIR/failed/, kernel logs to RUNS_DIR/logs/ (default runs/)",
    )
    args = parser.parse_args(argv)
    parameters = parse_parameters(args.parameter)
    if parameters and args.output_dir is None:
        parser.error(
            "--parameter needs --output-dir: parameterised runs never overwrite the course"
        )
    paths = [path.resolve() for path in args.notebooks] or sorted(
        NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
    )
    if not paths:
        parser.error(f"no notebooks found in {NOTEBOOKS}")
    for path in paths:
        if not path.is_file():
            parser.error(f"no notebook {path}")
        if parameters and not has_parameters_cell(nbformat.read(path, as_version=4)):
            parser.error(f"{path.name} has no cell tagged 'parameters'; cannot inject values")
    started = time.time()
    results = run_notebooks(paths, parameters, args.output_dir, args.runs_dir)
    print_leaderboards(since=started)
    all_ok = all(result.status != "FAILED" for result in results)
    if not all_ok:
        failed = sum(result.status == "FAILED" for result in results)
        print(f"\n{failed} of {len(results)} notebooks failed.", file=sys.stderr)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
