"""Execute the course notebooks in order, in place, and report what ran and how long it took.

    python tools/run_course.py                       # every notebook, in place (make course)
    python tools/run_course.py notebooks/01_*.ipynb  # some of them
    python tools/run_course.py notebooks/01_data_exploration.ipynb \\
        -p 'DATASETS={"online-retail": {}}' --output-dir runs/

``--parameter NAME=VALUE`` (VALUE a Python literal: a number, a quoted string, a list, a dict)
injects a cell after the notebook's cell tagged ``parameters``, as papermill does, so a
notebook can run on another dataset or size without editing it. Such runs are written to
``--output-dir`` (never over the course's notebooks) and do not update the recorded run times.

Run times of full in-place runs are recorded in ``notebooks/runtimes.json`` and copied into the
README's notebook table (tools/update_readme.py). At the end, the leaderboards that notebook 06
wrote to ``results/`` are printed.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RUNTIMES = NOTEBOOKS / "runtimes.json"


def inject_parameters(notebook: nbformat.NotebookNode, parameters: dict[str, str]) -> None:
    """Insert a cell assigning ``parameters`` right after the cell tagged ``parameters``."""
    tagged = [
        position
        for position, cell in enumerate(notebook.cells)
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if not tagged:
        raise SystemExit("the notebook has no cell tagged 'parameters'; cannot inject values")
    position = tagged[0]
    source = "# Injected by tools/run_course.py --parameter\n" + "\n".join(
        f"{name} = {value}" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(position + 1, cell)


def execute(path: Path, parameters: dict[str, str], output: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(notebook, parameters)
    client = NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    try:
        # The kernel's own stderr only carries ipykernel's start-up notice about its local TCP
        # transport; cell output, errors included, arrives through the kernel protocol.
        client.execute(stderr=subprocess.DEVNULL)
    finally:
        elapsed = time.perf_counter() - start
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
    return elapsed


def print_leaderboards() -> None:
    """Print the leaderboards notebook 06 wrote (``results/leaderboard-*.md``), if any."""
    for path in sorted((ROOT / "results").glob("leaderboard-*.md")):
        print(f"\n{path.relative_to(ROOT)}\n\n{path.read_text().strip()}")


def parse_parameters(items: list[str]) -> dict[str, str]:
    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"--parameter must look like NAME=VALUE, got {item!r}")
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(
                f"--parameter {name}: {value!r} is not a Python literal (a number, a quoted "
                f"string, a list or a dict); quote strings: -p {name}='\"text\"'"
            ) from None
        parameters[name] = value
    return parameters


def main() -> int:
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
    args = parser.parse_args()
    parameters = parse_parameters(args.parameter)
    if parameters and args.output_dir is None:
        parser.error(
            "--parameter needs --output-dir: parameterised runs never overwrite the course"
        )
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        parser.error(f"no notebooks found in {NOTEBOOKS}")
    in_place = args.output_dir is None
    runtimes: dict[str, float] = json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}
    results: list[tuple[str, str, float]] = []
    for path in paths:
        output = path if in_place else args.output_dir / path.name
        print(f"running {path.name} ...", flush=True)
        try:
            seconds = execute(path, parameters, output)
        except CellExecutionError as error:
            results.append((path.name, "FAILED", float("nan")))
            print(str(error)[-3000:], file=sys.stderr)
            break
        results.append((path.name, "ok", seconds))
        if in_place:
            runtimes[path.name] = round(seconds, 1)
    print("\nnotebook                                  status     time")
    for name, status, seconds in results:
        shown = "-" if seconds != seconds else f"{seconds:6.1f} s"
        print(f"{name:<42}{status:<9}{shown}")
    total = sum(s for _, status, s in results if status == "ok")
    print(f"{'total':<42}{'':<9}{total:6.1f} s")
    if in_place and all(status == "ok" for _, status, _ in results):
        RUNTIMES.write_text(json.dumps(dict(sorted(runtimes.items())), indent=1) + "\n")
        course_map = [p for p in paths if p.name.startswith("00_")]
        if course_map:  # its table of run times reads runtimes.json: show this run's times
            execute(course_map[0], {}, course_map[0])
        from update_readme import update_readme

        update_readme()
    print_leaderboards()
    return 0 if all(status == "ok" for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
