"""The "bring your own log" examples of data/README.md run as written, on the shipped files."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "data" / "README.md"


def own_data_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Your own data") : text.index("## MovieLens 100K")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_three_export_shapes() -> None:
    blocks = own_data_examples()
    assert len(blocks) == 3
    assert "from_files" in blocks[0] and "timestamp_unit" in blocks[1] and "order=" in blocks[2]


@pytest.mark.parametrize("number", [0, 1, 2])
def test_each_example_runs_without_warnings(number: int) -> None:
    code = own_data_examples()[number]
    printed = io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
            warnings.simplefilter("error")
            exec(compile(code, f"data/README.md example {number + 1}", "exec"), {})
    finally:
        os.chdir(cwd)
    output = printed.getvalue()
    expected = [
        ["Dataset('my-shop': 4 users, 6 items, 22 events)", "day first", "'00981'"],
        ["2023-11-", "{'purchase': 1.0}"],
        ["Dataset('my-shop': 8 users", "8 held out"],
    ][number]
    if number == 0:
        expected.append("| 2 blank brands missing")
    for fragment in expected:
        assert fragment in output, output
