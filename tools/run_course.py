"""Execute the course notebooks and report what ran, how long it took, and what failed.

    python tools/run_course.py                       # every notebook, in place (make course)
    python tools/run_course.py --jobs 1              # one notebook at a time
    python tools/run_course.py notebooks/01_*.ipynb  # some of them
    python tools/run_course.py notebooks/01_data_exploration.ipynb \\
        -p 'DATASETS={"online-retail": {}}' --output-dir runs/

Notebooks are executed with papermill, which starts a Jupyter kernel, runs every cell in order
and, with ``--parameter NAME=VALUE`` (VALUE a Python literal: a number, a quoted string, a list,
a dict), adds a cell tagged ``injected-parameters`` right after the cell tagged ``parameters``,
so a notebook can run on another dataset or size without editing it. Parameterised runs are
written to ``--output-dir``, never over the course's notebooks.

Two notebooks run at a time where this process may use two CPUs (logical cores) or more
(``--jobs``, default ``auto``; ``make course JOBS=1`` for one at a time). Much of a notebook is
one-threaded Python, so one notebook leaves the second core mostly idle; ``make test`` has run
notebooks two at a time for the same reason. They are started in the course's order, so a
notebook mostly finds what the earlier ones cached; a model (or text vectors, a cached result)
that the notebook beside it is still making, it waits for and then loads, instead of making it
too (``recutils.files.made_once``). A notebook that times this machine (its metadata
``course.run_alone`` says why: 13 load-tests a service, 15 measures Spark on both cores) runs
alone, when nothing else runs (the next notebooks take the free place meanwhile, so these mostly
run last), with the settings of a run one at a time, so its stored timings are the machine's.
The kernel of every other notebook gets the settings ``make test`` checks the stored outputs
with, unless they are set already: torch at 2 threads (``RECUTILS_TORCH_THREADS``; its ``auto``
would pick 1 beside another busy notebook, and some neural models' last digits differ between 1
and 2 threads) and OpenMP threads that sleep while they wait (``OMP_WAIT_POLICY=PASSIVE``:
spinning threads of two processes would take each other's cores;
``bench/results/load_bench.md``). The checked outputs do not depend on ``--jobs`` (one at a
time, on a quiet machine or with ``RECUTILS_TORCH_THREADS=2``); the other notebooks' timings
(each says which of its cells are timings) are taken beside another notebook, so run a notebook
alone (``--jobs 1``, or in JupyterLab) for this machine's own.

The course is never damaged by a failed run:

* every notebook runs, even after one has failed;
* a notebook is written over the stored one only if it ran to the end; a failed run goes to
  ``runs/failed/`` (``--runs-dir``), with papermill's note at the top saying which cell
  raised, and the table at the end says where;
* the exit status is 1 if anything failed, and the leaderboards in ``results/`` are printed
  only if this run wrote them.

Run times of in-place runs one notebook at a time (``--jobs 1``, or a single notebook) are
recorded in ``notebooks/runtimes.json``: every notebook's as the *first run* when the cache
folder (``recutils.cache_dir()``: embeddings, trained models) was empty at the start (a fresh
clone), and any notebook's as a *re-run* once it is filled; then copied into the README's
notebook table (tools/update_readme.py) and the course map's. Two at a time, each notebook's
seconds include sharing the CPU with another, which is not what a reader opening one notebook
waits, so they are printed but not recorded. The kernel's own stderr (start-up notices,
library warnings) goes to ``runs/logs/<notebook>.kernel.log``.
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager

from recutils.environment import usable_cpus
from recutils.files import LOCK_FOLDER, atomic_path
from recutils.spark import notebook_skip_reason

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RUNTIMES = NOTEBOOKS / "runtimes.json"
RUNS = ROOT / "runs"
#: Keys of runtimes.json: the first run of a fresh clone, and runs with the caches filled.
FIRST_RUN, RERUN = "first_run", "rerun"
#: Notebooks at a time with ``--jobs auto`` on a machine with at least this many CPUs.
AUTO_JOBS = 2
#: What each notebook's kernel gets when notebooks run side by side (unless already set): the
#: settings ``make test`` checks the stored outputs with (see the module docstring).
SIDE_BY_SIDE_ENVIRONMENT = {"RECUTILS_TORCH_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}


class QuietKernelManager(AsyncKernelManager):
    """A kernel manager that sends the kernel's stderr to a log file instead of the terminal.

    The kernel's stderr carries no cell output (that arrives through the kernel protocol),
    only ipykernel's start-up notice about its local TCP transport and native libraries'
    warnings, which would otherwise be mixed into the progress report.
    """

    log_path: Path | None = None
    #: Variables the kernel gets where its environment leaves them unset (:func:`with_defaults`).
    default_environment: ClassVar[Mapping[str, str]] = {}

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.default_environment:
            kw["env"] = with_defaults(kw.get("env") or os.environ, self.default_environment)
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
    #: When it started (``time.time()``): with ``seconds``, which files it wrote, by their times.
    started_at: float | None = None


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


def with_defaults(environment: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environment`` with each of ``defaults`` added where it is unset or empty."""
    merged = dict(environment)
    for name, value in defaults.items():
        if not merged.get(name, "").strip():
            merged[name] = value
    return merged


def execute(
    path: Path,
    parameters: dict[str, Any],
    output: Path,
    failed_dir: Path,
    logs_dir: Path,
    default_environment: Mapping[str, str] | None = None,
) -> Result:
    """Run one notebook; write it to ``output`` if it ran to the end, else to ``failed_dir``.
    Its kernel gets ``default_environment`` where this process's environment leaves a variable
    unset (:func:`with_defaults`)."""
    log = logs_dir / f"{path.stem}.kernel.log"
    settings = {"log_path": log, "default_environment": dict(default_environment or {})}
    manager = type("KernelManager", (QuietKernelManager,), settings)
    with tempfile.TemporaryDirectory(prefix="run_course-") as folder:
        executed = Path(folder) / path.name
        started_at = time.time()
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
            return Result(
                path.name, "FAILED", seconds, first_error_line(error), failed, started_at=started_at
            )
        seconds = time.perf_counter() - start
        notebook = nbformat.read(executed, as_version=4)
        cells = cell_times(notebook)
        with atomic_path(output) as temporary:
            nbformat.write(strip_run_metadata(notebook), temporary)
    return Result(path.name, "ok", seconds, written_to=output, cells=cells, started_at=started_at)


def print_table(results: list[Result], wall_seconds: float | None = None, jobs: int = 1) -> None:
    """The table of notebooks, their status and seconds; with ``jobs > 1`` also the wall time
    (the notebooks' seconds overlap, so their sum is more than the run took)."""
    print(f"\n{'notebook':<34}{'status':<8}{'time':>9}  error")
    for result in results:
        print(f"{result.name:<34}{result.status:<8}{result.seconds:7.1f} s  {result.error}")
    total = sum(result.seconds for result in results)
    print(f"{'total' if jobs == 1 else 'sum of the above':<42}{total:7.1f} s")
    if jobs > 1 and wall_seconds is not None:
        label = f"wall time, {jobs} notebooks at a time"
        print(f"{label:<42}{wall_seconds:7.1f} s")
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


def parse_jobs(value: str) -> int:
    """``--jobs``: a whole number >= 1, or ``auto`` (:func:`auto_jobs`)."""
    if value.strip().lower() == "auto":
        return auto_jobs()
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(
            f"--jobs must be a whole number >= 1 (notebooks at a time) or auto, got {value!r}"
        )
    return jobs


def auto_jobs() -> int:
    """:data:`AUTO_JOBS` notebooks at a time where this process may use that many CPUs, else 1.

    Not more on a larger machine: a notebook started before the earlier ones have cached their
    models trains those models itself, so more at a time repeats more training."""
    return AUTO_JOBS if usable_cpus() >= AUTO_JOBS else 1


def run_alone_reason(path: Path) -> str | None:
    """Why the notebook must run with no other notebook beside it, or ``None``: the reason in its
    metadata ``course.run_alone`` (a notebook that times this machine: its cores, a service
    under load), so that its stored timings are the machine's, not half of it."""
    course = nbformat.read(path, as_version=4).metadata.get("course", {})
    reason = course.get("run_alone") if isinstance(course, dict) else None
    return reason.strip() if isinstance(reason, str) and reason.strip() else None


def _execute_in_worker(
    path: Path,
    parameters: dict[str, Any],
    output: Path,
    failed_dir: Path,
    logs_dir: Path,
    times_the_machine: bool,
) -> Result:
    """:func:`execute` in a worker process: its kernel with :data:`SIDE_BY_SIDE_ENVIRONMENT`,
    unless the notebook times the machine (a :func:`run_alone_reason`), which gets this
    process's settings, as one at a time (sleeping OpenMP threads cost torch time on a quiet
    machine: bench/results/load_bench.md)."""
    defaults = None if times_the_machine else SIDE_BY_SIDE_ENVIRONMENT
    return execute(path, parameters, output, failed_dir, logs_dir, defaults)


def execute_all(
    tasks: list[tuple[Path, Path]],
    parameters: dict[str, Any],
    failed_dir: Path,
    logs_dir: Path,
    jobs: int,
) -> list[Result]:
    """Run ``(notebook, output)`` tasks, ``jobs`` at a time in worker processes, started in the
    given order (the next one when one ends), each announced as it starts and reported as it
    ends. A notebook with a :func:`run_alone_reason` starts when nothing runs, and nothing
    starts beside it; while it waits for the running ones to end, the free places go to the
    next notebooks that need not run alone (so a place is not left idle: the notebooks that run
    alone mostly come last). A worker that dies (out of memory, a crash in a native library)
    takes its pool down: the notebooks the pool was running run again, alone, in a new pool,
    and fail only if they die again; they keep the side-by-side settings, so their outputs are
    the ones ``make test`` checks. Returns the results in the given order."""
    results: dict[int, Result] = {}
    running: dict[Future[Result], tuple[int, Path, float]] = {}  # -> (number, path, start)
    waiting = list(enumerate(tasks))
    alone = {number: run_alone_reason(path) for number, (path, _) in waiting}
    times_the_machine = {number: reason is not None for number, reason in alone.items()}
    retried: set[int] = set()

    def next_to_start() -> int | None:
        """The place in ``waiting`` of the notebook to start now, or ``None``."""
        if not waiting:
            return None
        if not running:
            return 0  # the first waiting one, alone or not
        if len(running) >= jobs or any(alone[number] for number, _, _ in running.values()):
            return None
        return next(
            (place for place, (number, _) in enumerate(waiting) if alone[number] is None), None
        )

    # "spawn" on every system: a fresh interpreter per worker, not a fork of this one
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    broken = False
    try:
        while waiting or running:
            if broken and not running:
                pool.shutdown(wait=True)
                pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
                broken = False
            while not broken and (place := next_to_start()) is not None:
                number, (path, output) = waiting.pop(place)
                note = f" alone ({alone[number]})" if alone[number] else ""
                print(f"running {path.name}{note} ...", flush=True)
                future = pool.submit(
                    _execute_in_worker,
                    path,
                    parameters,
                    output,
                    failed_dir,
                    logs_dir,
                    times_the_machine[number],
                )
                running[future] = (number, path, time.perf_counter())
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                number, path, started = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    # A worker died (out of memory, a crash in a native library) and the pool
                    # stopped every worker with it: which notebook caused it is unknown, so
                    # each one it was running is run again, alone, and fails if it dies again.
                    broken = True
                    if number not in retried:
                        retried.add(number)
                        alone[number] = "its worker process stopped beside another notebook"
                        waiting = sorted([*waiting, (number, tasks[number])])
                        print(f"  {path.name}: its worker process stopped; running it again alone")
                        continue
                    seconds = time.perf_counter() - started
                    reason = "the process running it died (out of memory, or a crash in a native"
                    result = Result(
                        path.name, "FAILED", seconds, f"{reason} library), also when run alone"
                    )
                except Exception as error:  # execute itself raised (it catches a cell's errors)
                    seconds = time.perf_counter() - started
                    result = Result(path.name, "FAILED", seconds, first_error_line(error))
                results[number] = result
                ending = f" ({result.error})" if result.error else ""
                print(
                    f"  {result.name}: {result.status}, {result.seconds:.1f} s{ending}", flush=True
                )
    except KeyboardInterrupt:  # Ctrl+C: start nothing more; the workers stop their kernels
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return [results[number] for number in range(len(tasks))]


def cache_is_empty() -> bool:
    """True when nothing is cached yet (``recutils.cache_dir()`` missing, or empty but for the
    lock files of :func:`recutils.files.made_once`)."""
    from recutils.environment import cache_dir

    folder = cache_dir()
    return not folder.is_dir() or not any(
        path.is_file() and LOCK_FOLDER not in path.relative_to(folder).parts
        for path in folder.rglob("*")
    )


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
    jobs: int = 1,
) -> list[Result]:
    """Execute ``paths`` in order, ``jobs`` at a time (in place, or into ``output_dir``), and
    print the table. A full in-place run one at a time that succeeded records its times in
    runtimes.json (as the first run if the cache folder was empty at the start, else as a
    re-run), re-runs the course map and updates the README's table."""
    parameters = parameters or {}
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1 (notebooks at a time), got {jobs!r}")
    in_place = output_dir is None
    failed_dir, logs_dir = runs_dir / "failed", runs_dir / "logs"
    every_notebook = paths == sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    course_run = in_place and all(path.parent == NOTEBOOKS for path in paths)
    kind = FIRST_RUN if cache_is_empty() else RERUN
    results: list[Result | None] = []
    tasks: list[tuple[int, Path, Path]] = []
    for path in paths:
        skip_reason = notebook_skip_reason(path)
        if skip_reason is not None:
            print(skip_reason, flush=True)
            results.append(Result(path.name, "skipped", 0.0, "needs Java 17+ (see above)"))
            continue
        tasks.append((len(results), path, path if output_dir is None else output_dir / path.name))
        results.append(None)
    started = time.perf_counter()
    jobs = min(jobs, max(len(tasks), 1))  # no more at a time than there are notebooks to run
    if jobs == 1:
        for number, path, output in tasks:
            print(f"running {path.name} ...", flush=True)
            results[number] = execute(path, parameters, output, failed_dir, logs_dir)
    else:
        print(f"{len(tasks)} notebooks, {jobs} at a time (--jobs 1: one at a time)", flush=True)
        ran = execute_all(
            [(path, output) for _, path, output in tasks], parameters, failed_dir, logs_dir, jobs
        )
        for (number, _, _), result in zip(tasks, ran, strict=True):
            results[number] = result
    done = [result for result in results if result is not None]
    print_table(done, time.perf_counter() - started, jobs)
    all_ok = all(result.status != "FAILED" for result in done)
    record = course_run and all_ok and (every_notebook or kind == RERUN)
    if record and jobs > 1:
        print(
            "Run times not recorded in notebooks/runtimes.json: notebooks shared the CPU "
            "(make course JOBS=1 records them)."
        )
    elif record:
        record_runtimes([result for result in done if result.status == "ok"], kind)
        course_map = [path for path in paths if path.name.startswith("00_")]
        if course_map:  # its table of run times reads runtimes.json: show this run's times
            execute(course_map[0], {}, course_map[0], failed_dir, logs_dir)
        from update_readme import update_readme

        update_readme()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb"
    )
    parser.add_argument("--parameter", "-p", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--jobs",
        "-j",
        type=parse_jobs,
        default="auto",
        help=f"notebooks at a time (default auto: {AUTO_JOBS} on {AUTO_JOBS}+ CPUs, else 1)",
    )
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
    results = run_notebooks(paths, parameters, args.output_dir, args.runs_dir, args.jobs)
    print_leaderboards(since=started)
    all_ok = all(result.status != "FAILED" for result in results)
    if not all_ok:
        failed = sum(result.status == "FAILED" for result in results)
        print(f"\n{failed} of {len(results)} notebooks failed.", file=sys.stderr)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
