"""The notebooks' prose quotes only numbers their code prints (tools/check_quoted_numbers.py)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from check_quoted_numbers import unsupported_numbers  # noqa: E402


def test_quoted_numbers_are_printed_by_the_notebooks():
    """Every decimal number the prose of a notebook quotes is printed by one of its outputs."""
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    found = [f"{path.name} cell {cell}: {number}" for path in notebooks
             for cell, number in unsupported_numbers(path)]
    assert not found, "numbers quoted but never printed:\n" + "\n".join(found)


def test_quoted_numbers_check_can_fail(tmp_path):
    notebook = {"cells": [
        {"cell_type": "code", "source": ["print(x)"], "outputs": [{"text": ["0.2174 12\n"]}]},
        {"cell_type": "markdown", "source": ["ALS leads with 0.217 (22%), section 5.1; not 0.25."]},
    ]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    assert unsupported_numbers(path) == [(1, "0.25")]
