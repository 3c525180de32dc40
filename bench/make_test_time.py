"""Benchmark: how long ``make test`` takes after installation, step by step, on a cold cache.

Run from the repository root, with ``.venv`` installed and nothing else running::

    python bench/make_test_time.py --output bench/results/make_test_time.md

The steps are the recipe of ``make test`` itself, read from ``make -n`` (so the measurement
follows the Makefile, whatever it says), each run by the shell from the repository root with a
new, empty ``RECUTILS_CACHE_DIR`` shared by the steps, as in a fresh clone (``.ci/run``): the
notebooks train and encode everything. Reference, in the same run: the unit tests one file
after another (the recipe's ``-n 2 --dist loadfile`` left out), each test in its own cache.

The report: each step's seconds and the CPU cores the machine kept busy on average while it
ran (``/proc/stat``: 2.0 = both cores all the time; this counts the step's own processes, and
anything else running, which should be nothing), and the total of ``make test``'s steps against
the course's target of 15 minutes after installation.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import emit, machine

from recutils.environment import machine_busy_seconds

ROOT = Path(__file__).resolve().parents[1]
#: ``make test`` after installation, at most (seconds; issue 20).
TEST_TARGET = 15 * 60.0
#: What makes the unit tests run two at a time; the reference leaves it out.
PARALLEL_UNIT_TESTS = " -n 2 --dist loadfile"


def test_recipe(make: str = "make") -> list[str]:
    """The shell commands ``make test`` runs after installation, in order (``make -n``, the
    installation's stamp treated as up to date; continued lines joined)."""
    outside_make = {  # run from make itself (make test runs this file's tests), a nested make
        key: value  # would print "Entering directory" lines and inherit the outer flags
        for key, value in os.environ.items()
        if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    }
    printed = subprocess.run(
        [make, "--no-print-directory", "-n", "-o", ".venv/.installed", "test"],
        cwd=ROOT,
        env=outside_make,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.strip() for line in printed.replace("\\\n", " ").splitlines() if line.strip()]


def step_name(command: str) -> str:
    """What a recipe line does, for the table."""
    if "--nbval" in command:
        return "notebooks (nbval)"
    if "ruff" in command:
        return "lint (ruff)"
    if re.search(r"pytest.* tests$", command):
        return "unit tests"
    return command[:40]


def run_step(command: str, cache: str) -> tuple[float, float | None, int]:
    """Run ``command`` with ``bash`` in the repository root on the cache folder ``cache``:
    (seconds, average busy cores of the machine or None, exit code)."""
    environment = {**os.environ, "RECUTILS_CACHE_DIR": cache}
    environment.pop("RECUTILS_DATA_DIR", None)  # as .ci/run: what a learner has
    busy_start, start = machine_busy_seconds(), time.perf_counter()
    code = subprocess.run(["bash", "-c", command], cwd=ROOT, env=environment).returncode
    seconds = time.perf_counter() - start
    busy_end = machine_busy_seconds()
    cores = None if busy_start is None or busy_end is None else (busy_end - busy_start) / seconds
    return seconds, cores, code


def row(name: str, seconds: float, cores: float | None, code: int) -> str:
    cores_text = "?" if cores is None else f"{cores:.2f}"
    status = "" if code == 0 else f" (FAILED, exit {code})"
    return f"| {name}{status} | {seconds:.0f} | {seconds / 60:.1f} | {cores_text} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) here")
    parser.add_argument("--make", default="make", help="the make program")
    args = parser.parse_args()
    recipe = test_recipe(args.make)
    units = [command for command in recipe if step_name(command) == "unit tests"]
    reference = units[0].replace(PARALLEL_UNIT_TESTS, "") if units else None
    rows = [
        "| step | seconds | minutes | cores busy (average) |",
        "| --- | ---: | ---: | ---: |",
    ]
    failed = []
    if reference is not None and reference != units[0]:
        print(f"--- reference: {reference}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="test-time-reference-") as cache:
            seconds, cores, code = run_step(reference, cache)
        rows.append(row("reference: unit tests one file after another", seconds, cores, code))
        failed += ["reference"] * (code != 0)
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="test-time-cache-") as cache:
        for command in recipe:
            print(f"--- {command}", file=sys.stderr, flush=True)
            seconds, cores, code = run_step(command, cache)
            total += seconds
            rows.append(row(f"make test: {step_name(command)}", seconds, cores, code))
            if code != 0:
                failed.append(step_name(command))
                break  # make stops at the first failing step
    within = "yes" if total <= TEST_TARGET and not failed else "**no**"
    rows.append(
        f"| **make test, after installation** | {total:.0f} | {total / 60:.1f} "
        f"(target {TEST_TARGET / 60:.0f}, within: {within}) | |"
    )
    notes = (
        f"The recipe of `make test` (`make -n test`), its steps on one new, empty "
        f"RECUTILS_CACHE_DIR as in a fresh clone (the reference on another); {machine()}, "
        f"Python {platform.python_version()}. Cores busy: the whole machine's CPU-seconds per "
        "second of the step (its own processes, and anything else running)."
    )
    if failed:
        notes += " FAILED: " + ", ".join(failed) + "."
    emit("\n".join(rows), notes, output=args.output)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
