"""Check, before anything is installed, that this Python can run the course; say why if not.

The course is tested on CPython 3.11, 3.12 and 3.13. Every pinned package (requirements.txt,
constraints.txt, requirements-lab.txt) has wheels for them on Linux x86_64 and aarch64, macOS
arm64 and Windows (``python tools/check_wheels.py`` checks this against the package index).

* Python 3.10 and older cannot work: numpy 2.4, pandas 3.1, scipy 1.17 and other pins need
  3.11 or newer, so pip would find nothing to install. Refused.
* Python 3.14 and newer: the pinned packages have wheels, but the course has not been run
  there. Allowed, with a note.
* Other implementations than CPython (PyPy): torch has no wheels for them. Refused.
"""

import platform
import sys

SUPPORTED = ((3, 11), (3, 12), (3, 13))


def main() -> int:
    version = sys.version_info[:2]
    shown = f"Python {version[0]}.{version[1]} ({sys.executable})"
    how = "Install Python 3.11, 3.12 or 3.13 and run, e.g.: make course PYTHON=/path/to/python3.12"
    if platform.python_implementation() != "CPython":
        print(
            f"{shown} is {platform.python_implementation()}; the course needs CPython, because "
            f"torch publishes wheels only for CPython. {how}",
            file=sys.stderr,
        )
        return 1
    if version < SUPPORTED[0]:
        print(
            f"{shown} is too old: the course's pinned packages (numpy 2.4, pandas 3.1, scipy "
            f"1.17, ...) need Python 3.11 or newer. {how}",
            file=sys.stderr,
        )
        return 1
    if version > SUPPORTED[-1]:
        print(
            f"Note: {shown} is newer than the versions the course is tested on (3.11-3.13). "
            "Its pinned packages have wheels for it, so the installation should work, but "
            "stored notebook outputs may differ. If something fails, use Python 3.13.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
