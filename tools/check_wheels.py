"""Check that every pinned package has a wheel for each supported Python and platform.

    python tools/check_wheels.py                     # 3.11-3.13 x 4 platforms (a few minutes)
    python tools/check_wheels.py --python 3.14       # one more Python

For each (Python version, platform) it asks pip which files it would install for the pins of
constraints.txt and requirements-lab.txt, each package alone (``--no-deps``: pip evaluates
dependency markers for the machine it runs on, not the target), wheels only (``--only-binary
:all:``), without downloading them (``--dry-run``; pip reads the wheels' metadata from the
index). pip stops at the first package without a wheel and names it. It needs the package
index, so it is a maintainer's tool, not a test. Exit status 1 if anything lacks a wheel.

Exempt (:data:`SOURCE_ONLY`): pure-Python packages published only as a source archive, which
pip turns into a wheel on any platform without a compiler.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13")
#: platform -> the wheel tags pip may take for it (manylinux up to glibc 2.39, macOS 11-15).
PLATFORMS: dict[str, list[str]] = {
    "Linux x86_64": [f"manylinux_2_{g}_x86_64" for g in range(17, 40)]
    + ["manylinux2014_x86_64", "linux_x86_64"],
    "Linux aarch64": [f"manylinux_2_{g}_aarch64" for g in range(17, 40)]
    + ["manylinux2014_aarch64", "linux_aarch64"],
    "macOS arm64": [f"macosx_{v}_0_{a}" for v in range(11, 16) for a in ("arm64", "universal2")],
    "Windows x86_64": ["win_amd64"],
}


#: Pure-Python packages with no wheel on PyPI (pip builds one locally, no compiler needed).
SOURCE_ONLY = {"pyspark": "Apache Spark's Python API (notebook 15): a source archive only"}


def pins() -> list[str]:
    lines = []
    for name in ("constraints.txt", "requirements-lab.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and line.split("==")[0].strip().lower() not in SOURCE_ONLY:
                lines.append(line)
    return sorted(set(lines))


def check(python: str, platform: str, requirements: Path, target: Path) -> tuple[bool, str]:
    abi = "cp" + python.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
        "--no-deps", "--only-binary", ":all:", "--python-version", python,
        "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
        "--platform", "any", "--target", str(target), "-r", str(requirements),
    ]  # fmt: skip
    for tag in PLATFORMS[platform]:
        command += ["--platform", tag]
    result = subprocess.run(command, capture_output=True, text=True)
    missing = "No matching distribution found for "
    errors = [line.split(missing)[1] for line in result.stderr.splitlines() if missing in line]
    return result.returncode == 0, ", ".join(errors) or result.stderr.strip()[-300:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", help=f"default: {', '.join(PYTHONS)}")
    args = parser.parse_args()
    pythons = args.python or list(PYTHONS)
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "pins.txt"
        requirements.write_text("\n".join(pins()) + "\n")
        print(f"{len(pins())} pinned packages\n")
        print("| Python | " + " | ".join(PLATFORMS) + " |")
        print("| --- |" + " --- |" * len(PLATFORMS))
        for python in pythons:
            cells = []
            for platform in PLATFORMS:
                ok, message = check(python, platform, requirements, Path(folder) / "target")
                cells.append("wheels for all" if ok else f"MISSING: {message}")
                failures += not ok
            print(f"| {python} | " + " | ".join(cells) + " |", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
