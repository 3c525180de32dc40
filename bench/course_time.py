"""Benchmark: how long the course takes, notebook by notebook and cell by cell, cold and warm.

Run from the repository root (nothing else running: the times are the machine's)::

    python bench/course_time.py                      # warm: the cache as it is
    python bench/course_time.py --cold               # a new, empty cache: cold, then warm
    python bench/course_time.py --cold --in-place --output bench/results/course_time.md
    python bench/course_time.py notebooks/06_evaluation.ipynb notebooks/07_cold_start.ipynb

Notebooks run through :func:`tools.run_course.run_notebooks` (papermill, a fresh kernel per
notebook, torch at 2 threads as in ``make test``), in the course's order, so a notebook finds
what the earlier ones cached. First one at a time: each notebook's seconds are what a
reader who opens it alone waits (the per-notebook target, the README's table). Then, with
``--jobs`` above 1 (default: as ``make course``, two at a time on 2 CPUs or more), the whole
course again as ``make course`` runs it, on a cache of its own: its wall time is the course's
(the whole-course targets). *Cold* uses a new, empty ``RECUTILS_CACHE_DIR``: what a
fresh clone has (text embeddings, the language model's float32 weights and trained models are
computed and written again). *Warm* runs the same notebooks again on that cache (or, without
``--cold``, on the course's own cache), as every later run of a learner does. Each cell's time
is papermill's record of it.

By default the executed notebooks go to a temporary folder and the stored ones are not
touched. ``--in-place`` writes them over the stored notebooks, as ``make course`` does; a run
of every notebook then also records its cold and warm times in ``notebooks/runtimes.json``,
whence the README's and the course map's tables of run times (first run = cold, re-run = warm).

The report: one row per notebook (cold, warm, and whether warm meets the course's target of
90 s), the totals one at a time and without the Spark notebooks (what a learner without Java
runs), the whole course as ``make course`` runs it against its targets (8 minutes warm, 12
cold), the slowest cells of each pass, and (with ``--cold``) the
models the cold pass trained, by class: what a first run pays for and a re-run loads; and, per
notebook, its cold minus its warm seconds with the models it trained (the cost of a first run,
and how much of it is training, notebook by notebook).
``--cells-output`` writes the whole profile, every code cell of every notebook with its cold
and warm seconds.
Notebooks that need Java (Spark) are skipped, with the reason, where Java 17+ is missing.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from report import emit, machine
from run_course import NOTEBOOKS, Result, parse_jobs, run_alone_reason, run_notebooks

from recutils.spark import SPARK_NOTEBOOKS

#: The course's targets (issue 20), seconds.
NOTEBOOK_TARGET, WARM_TARGET, COLD_TARGET = 90.0, 8 * 60.0, 12 * 60.0


def slowest_cells(results: list[Result], count: int) -> list[str]:
    """Markdown rows of the ``count`` slowest cells over ``results``."""
    cells = [
        (result.name.removesuffix(".ipynb"), index, seconds, line)
        for result in results
        for index, seconds, line in result.cells
    ]
    rows = ["| notebook | cell | seconds | first line |", "| --- | ---: | ---: | --- |"]
    rows += [
        f"| {name} | {index} | {seconds:.1f} | `{line.replace('|', '/')}` |"
        for name, index, seconds, line in sorted(cells, key=lambda cell: -cell[2])[:count]
    ]
    return rows


def cell_profile(passes: dict[str, list[Result]]) -> list[str]:
    """Markdown rows: every code cell of every notebook, in course order, with each pass's
    seconds (papermill's record of the cell; ``-``: the cell did not run in that pass, e.g. a
    notebook that failed or was skipped)."""
    kinds = list(passes)
    seconds = {
        kind: {(r.name, index): value for r in results for index, value, _ in r.cells}
        for kind, results in passes.items()
    }
    cells: dict[str, dict[int, str]] = {}  # notebook -> cell index -> first line, course order
    for results in passes.values():
        for result in results:
            for index, _, line in result.cells:
                cells.setdefault(result.name, {}).setdefault(index, line)
    rows = [
        "| notebook | cell | " + " | ".join(f"{kind} (s)" for kind in kinds) + " | first line |",
        "| --- | ---: | " + " | ".join("---:" for _ in kinds) + " | --- |",
    ]
    for name in sorted(cells):  # the notebooks' numbers are the course's order
        for index, line in sorted(cells[name].items()):
            times = " | ".join(
                f"{seconds[kind][name, index]:.1f}" if (name, index) in seconds[kind] else "-"
                for kind in kinds
            )
            first_line = line.replace("|", "/")
            rows.append(f"| {name.removesuffix('.ipynb')} | {index} | {times} | `{first_line}` |")
    return rows


def saved_fits(cache: Path) -> list[tuple[str, float | None, float]]:
    """``(model class, fit seconds or None, time written)`` of every model a pass trained and
    kept in the model cache ``cache/models`` (every fit of at least
    ``recutils.persistence.CACHE_MIN_SECONDS``; each saved model records its fit's seconds;
    the time is its ``model.json``'s modification time, as ``time.time()``).

    Folders being written (``.name.part``) or replaced are left out; an unreadable entry is
    named by its folder's class, without seconds."""
    fits = []
    for description in sorted((cache / "models").glob("*/model.json")):
        folder = description.parent.name
        if folder.startswith("."):
            continue
        try:
            written = description.stat().st_mtime
        except OSError:  # replaced since the listing
            continue
        try:
            saved = json.loads(description.read_text(encoding="utf-8"))
            name, seconds = saved["class"].rsplit(".", 1)[-1], saved["state"].get("fit_seconds_")
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            name, seconds = folder.split("-", 1)[0], None
        known = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        fits.append((name, float(seconds) if known else None, written))
    return fits


def trained_models(saved: list[tuple[str, float | None, float]]) -> list[str]:
    """Markdown rows: the models a pass trained (``saved``, from :func:`saved_fits`), by class:
    how many fits, their seconds in all and the longest; an unreadable entry counts without
    seconds (``?``). A model that fits others inside it (``Switching``) counts their seconds
    again, beside their own entries."""
    fits: dict[str, list[float | None]] = {}
    for name, seconds, _ in saved:
        fits.setdefault(name, []).append(seconds)
    rows = [
        "| model class | fits | seconds in all | longest fit (s) |",
        "| --- | ---: | ---: | ---: |",
    ]

    def total(times: list[float | None]) -> float:
        return sum(t for t in times if t is not None)

    for name, times in sorted(fits.items(), key=lambda item: (-total(item[1]), item[0])):
        known = [t for t in times if t is not None]
        unknown = " (?)" * (len(known) < len(times))
        longest = f"{max(known):.1f}" if known else "?"
        rows.append(f"| {name} | {len(times)} | {total(times):.0f}{unknown} | {longest} |")
    everything = sum(total(times) for times in fits.values())
    rows.append(f"| **all** | {sum(map(len, fits.values()))} | {everything:.0f} | |")
    return rows


def cold_time_by_notebook(
    saved: list[tuple[str, float | None, float]], cold: list[Result], warm: list[Result]
) -> list[str]:
    """Markdown rows: per notebook, what its cold run cost beyond its warm one, and about how
    much of that went to the models it trained (``saved``: :func:`saved_fits` of the cold
    pass's cache, read right after it), by class.

    ``cold`` ran one notebook at a time, so a model is charged to the last notebook that had
    started when it was written (coarse file times and a notebook's late writes land in the
    right row). A model that fits others inside it (``Switching``) counts their seconds again,
    so the fits can add up to more than the cold-only seconds; an unreadable entry counts 0 s.
    The rest of a notebook's cold-only time is mostly the other cached work: text vectors, the
    language model's weights and answers, the ONNX files, the generated shop."""
    started = sorted(
        (r.started_at, r.name) for r in cold if r.status != "skipped" and r.started_at is not None
    )
    by_notebook: dict[str, dict[str, list[float]]] = {}
    before_first = 0
    for name, seconds, written in saved:
        place = bisect.bisect_right([start for start, _ in started], written)
        if place == 0:
            before_first += 1
            continue
        owner = started[place - 1][1]
        by_notebook.setdefault(owner, {}).setdefault(name, []).append(seconds or 0.0)
    ok = {
        kind: {r.name: r.seconds for r in results if r.status == "ok"}
        for kind, results in (("cold", cold), ("warm", warm))
    }
    rows = [
        "| notebook | cold minus warm (s) | in model fits (s) | models trained: fits (seconds) |",
        "| --- | ---: | ---: | --- |",
    ]
    extra_total, fits_total = 0.0, 0.0
    for _, notebook in started:
        fits = by_notebook.get(notebook, {})
        in_fits = sum(sum(times) for times in fits.values())
        fits_total += in_fits
        if notebook in ok["cold"] and notebook in ok["warm"]:
            extra = max(ok["cold"][notebook] - ok["warm"][notebook], 0.0)
            extra_total += extra
            extra_text = f"{extra:.0f}"
        else:  # failed in a pass: no cold-only time to show
            extra_text = "-"
        trained = ", ".join(
            f"{name} {len(times)} ({sum(times):.0f})"
            for name, times in sorted(fits.items(), key=lambda item: (-sum(item[1]), item[0]))
        )
        rows.append(
            f"| {notebook.removesuffix('.ipynb')} | {extra_text} | {in_fits:.0f} "
            f"| {trained or '-'} |"
        )
    rows.append(f"| **all** | {extra_total:.0f} | {fits_total:.0f} | |")
    if before_first:
        plural = "s" * (before_first != 1)
        rows.append(f"| (written before the first notebook) | | | {before_first} model{plural} |")
    return rows


def course_table(
    passes: dict[str, list[Result]], together: dict[str, float] | None = None, jobs: int = 1
) -> list[str]:
    """Markdown rows: one per notebook (each pass's seconds, warm against the target), totals.

    ``passes`` ran one notebook at a time; ``together`` holds the wall seconds of each pass of
    the whole course run ``jobs`` at a time, as ``make course`` runs it: the whole-course
    targets are judged on those when given, else on the sums of ``passes``."""
    times = {kind: {r.name: r for r in results} for kind, results in passes.items()}
    names = list(times["warm"])
    rows = [
        "| notebook | cold (s) | warm (s) | warm within 90 s |",
        "| --- | ---: | ---: | :---: |",
    ]
    for name in names:
        warm = times["warm"][name]
        cold = times.get("cold", {}).get(name)
        if warm.status != "ok":
            rows.append(f"| {name.removesuffix('.ipynb')} | - | {warm.status} | - |")
            continue
        # rounded as runtimes.json stores them (0.1 s), so the README's two tables agree
        cold_text = (
            f"{round(cold.seconds, 1):.0f}" if cold is not None and cold.status == "ok" else "-"
        )
        within = "yes" if warm.seconds <= NOTEBOOK_TARGET else "**no**"
        rows.append(
            f"| {name.removesuffix('.ipynb')} | {cold_text} | {round(warm.seconds, 1):.0f} "
            f"| {within} |"
        )
    total = {  # notebooks that ran to the end (a failed one is named under the table)
        kind: sum(r.seconds for r in results if r.status == "ok")
        for kind, results in passes.items()
    }

    def minutes(seconds: dict[str, float], kind: str, target: float | None) -> str:
        if kind not in seconds:
            return "-"
        if seconds[kind] != seconds[kind]:  # NaN: a notebook failed in that pass
            return "incomplete (a notebook failed)"
        aim = ""
        if target is not None:
            within = "yes" if seconds[kind] <= target else "**no**"
            aim = f" (target {target / 60:.0f}, within: {within})"
        return f"{seconds[kind] / 60:.1f} min{aim}"

    one_at_a_time = ", one notebook at a time" if together else ""
    whole = "the whole course" if together else "the course"
    cold_aim, warm_aim = (None, None) if together else (COLD_TARGET, WARM_TARGET)
    rows.append(
        f"| **{whole}{one_at_a_time}** | {minutes(total, 'cold', cold_aim)} "
        f"| {minutes(total, 'warm', warm_aim)} | |"
    )
    if any(name in SPARK_NOTEBOOKS for name in names):  # what a learner without Java runs
        without = {
            kind: sum(
                r.seconds for r in results if r.status == "ok" and r.name not in SPARK_NOTEBOOKS
            )
            / 60
            for kind, results in passes.items()
        }
        spark = ", ".join(name[:2] for name in SPARK_NOTEBOOKS)
        cold_text = f"{without['cold']:.1f} min" if "cold" in without else "-"
        rows.append(
            f"| **without Spark ({spark}: needs Java){one_at_a_time}** | {cold_text} "
            f"| {without['warm']:.1f} min | |"
        )
    if together:
        rows.append(
            f"| **make course, {jobs} notebooks at a time (wall time)** "
            f"| {minutes(together, 'cold', COLD_TARGET)} "
            f"| {minutes(together, 'warm', WARM_TARGET)} | |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--cold", action="store_true", help="first run on a new, empty cache")
    parser.add_argument(
        "--in-place", action="store_true", help="write the executed notebooks over the stored ones"
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=parse_jobs,
        default="auto",
        help="notebooks at a time in the passes as make course runs them (default: as make "
        "course; 1 measures one at a time only)",
    )
    parser.add_argument("--cells", type=int, default=12, help="slowest cells to list per pass")
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) here")
    parser.add_argument(
        "--cells-output", type=Path, help="write every cell's seconds (Markdown) here"
    )
    args = parser.parse_args()
    paths = [path.resolve() for path in args.notebooks] or sorted(
        NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
    )
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    os.environ["RECUTILS_TORCH_THREADS"] = "2"  # as make test; "auto" would follow the load
    passes: dict[str, list[Result]] = {}
    together: dict[str, float] = {}  # wall seconds of the passes as make course runs them
    failed: list[str] = []
    models_trained: list[str] = []
    cold_fits: list[tuple[str, float | None, float]] = []
    cold_by_notebook: list[str] = []
    kinds = ["cold", "warm"] if args.cold else ["warm"]
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="course-")))
        output_dir = None if args.in_place else scratch
        with ExitStack() as cold_cache:  # removed before the next passes make their own
            if args.cold:
                cache = cold_cache.enter_context(tempfile.TemporaryDirectory(prefix="course-cold-"))
                os.environ["RECUTILS_CACHE_DIR"] = cache  # later kernels and workers inherit it
            for kind in kinds:
                print(f"--- {kind} pass, one notebook at a time", file=sys.stderr, flush=True)
                passes[kind] = run_notebooks(paths, output_dir=output_dir)  # failed: runs/failed
                failed += [f"{r.name} ({kind})" for r in passes[kind] if r.status == "FAILED"]
                if kind == "cold" and args.cold:  # the new cache: what the cold pass trained
                    cold_fits = saved_fits(Path(cache))
                    models_trained = trained_models(cold_fits)
                if kind == "warm" and args.cold:
                    cold_by_notebook = cold_time_by_notebook(
                        cold_fits, passes["cold"], passes["warm"]
                    )
        if args.jobs > 1:
            if args.cold:
                cache = stack.enter_context(tempfile.TemporaryDirectory(prefix="course-cold-"))
                os.environ["RECUTILS_CACHE_DIR"] = cache
            for kind in kinds:
                print(f"--- {kind} pass, {args.jobs} at a time", file=sys.stderr, flush=True)
                started = time.perf_counter()
                results = run_notebooks(paths, output_dir=scratch, jobs=args.jobs)
                together[kind] = time.perf_counter() - started
                failures = [r.name for r in results if r.status == "FAILED"]
                failed += [f"{name} ({kind}, {args.jobs} at a time)" for name in failures]
                if failures:  # a pass cut short is no measure of the course
                    together[kind] = float("nan")
    sections = ["\n".join(course_table(passes, together, args.jobs))]
    for kind, results in passes.items():
        sections += [f"The slowest cells ({kind}):", "\n".join(slowest_cells(results, args.cells))]
    if models_trained:
        sections += [
            "The models the cold pass trained and cached (a warm pass loads them):",
            "\n".join(models_trained),
        ]
    if cold_by_notebook:
        sections += [
            "What a first run pays for, notebook by notebook (one at a time): its cold minus its "
            "warm seconds, and about how many of them went to the models it trained (each "
            "charged to the notebook running when it was saved; a model that fits others, "
            "Switching, counts their seconds again); the rest is mostly the other cached work "
            "(text vectors, the language model's weights and answers, the ONNX files, the "
            "generated shop):",
            "\n".join(cold_by_notebook),
        ]
    alone = [path.name[:2] for path in paths if run_alone_reason(path)]
    alone_too = f" and for {' and '.join(alone)}" if alone else ""
    notes = (
        "Executed with papermill (tools/run_course.py), torch fixed at 2 threads, as make "
        "course fixes it for the notebooks it runs side by side (one at a time, as with "
        f"JOBS=1, in JupyterLab{alone_too}, recutils.setup picks 1 on a busy machine), "
        f"on {machine()}; cold = a new, empty "
        "RECUTILS_CACHE_DIR (a fresh clone), warm = the same notebooks again on the filled "
        "cache. The notebooks' rows, the slowest cells and the models: one notebook at a time."
    )
    alone_note = (
        f"; {' and '.join(alone)} alone, when nothing else runs: they time the machine"
        if alone
        else ""
    )
    if together:
        notes += (
            f" As make course runs it: {args.jobs} notebooks at a time in the course's order "
            f"(tools/run_course.py --jobs{alone_note}), wall time"
            + (", on a new cache of its own." if args.cold else ", on the same cache.")
        )
    skipped = [r.name for results in passes.values() for r in results if r.status == "skipped"]
    if skipped:
        notes += " Skipped (no Java 17+): " + ", ".join(sorted(set(skipped))) + "."
    if failed:
        notes += " FAILED: " + ", ".join(failed) + "."
    emit(*sections, notes, output=args.output)
    if args.cells_output is not None:
        emit(
            "Every code cell's seconds, in course order (bench/course_time.py):",
            "\n".join(cell_profile(passes)),
            notes,
            output=args.cells_output,
        )
    if args.in_place and args.output is not None:  # the README shows this report and the times
        from update_readme import update_readme

        update_readme()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
