"""Fail early, with a clear message, when make is run with a Python other than 3.11."""

import sys

if sys.version_info[:2] != (3, 11):
    sys.exit(
        "The course pins its packages for Python 3.11, but this is Python "
        f"{sys.version_info[0]}.{sys.version_info[1]} ({sys.executable}). "
        "Install Python 3.11 and run, e.g.: make course PYTHON=/path/to/python3.11"
    )
