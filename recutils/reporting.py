"""Result tables as files: Markdown for the README and the terminal, CSV for your own analysis.

Notebook 06 writes its leaderboard with :func:`write_leaderboard` to ``results/``;
``make course`` prints it at the end and ``tools/update_readme.py`` copies it into the README.
Files are written atomically (a temporary file in the same folder, then renamed), so a run
that is interrupted never leaves half a table behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.files import write_text_atomic


def markdown_table(frame: pd.DataFrame, digits: int = 3, index_label: str | None = None) -> str:
    """``frame`` as a GitHub Markdown table: numbers right-aligned with ``digits`` decimals,
    integers as integers, text as it is; the index is the first column (``index_label``, by
    default the index's name or empty)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")

    def cell(value: object) -> str:
        if isinstance(value, (bool, np.bool_)):
            return str(value)
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        if isinstance(value, (float, np.floating)):
            return "-" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value).replace("|", "\\|")

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    label = index_label if index_label is not None else (frame.index.name or "")
    header = "| " + " | ".join([label, *map(str, frame.columns)]) + " |"
    rule = "| --- | " + " | ".join("---:" if n else "---" for n in numeric) + " |"
    rows = [
        "| " + " | ".join([str(name), *(cell(v) for v in values)]) + " |"
        for name, values in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return "\n".join([header, rule, *rows])


def leaderboard_name(dataset: str) -> str:
    """File stem of a dataset's leaderboard: ``leaderboard-<dataset>`` (safe characters)."""
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a non-empty name such as 'shop', got {dataset!r}")
    return "leaderboard-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset.strip()).strip("-")


def write_leaderboard(
    table: pd.DataFrame,
    directory: str | os.PathLike[str],
    dataset: str,
    notes: Sequence[str] = (),
    digits: int = 3,
) -> tuple[Path, Path]:
    """Write ``table`` (one row per model) as ``<directory>/leaderboard-<dataset>.md`` and
    ``.csv``.

    The Markdown file holds the table and then ``notes`` (one paragraph each: the protocol,
    the command that made it), so that it reads on its own in the README and the terminal.

    Returns:
        The paths of the Markdown and CSV files.
    """
    stem = leaderboard_name(dataset)
    folder = Path(directory)
    body = markdown_table(table, digits=digits, index_label="model")
    text = "\n\n".join([body, *[str(note).strip() for note in notes if str(note).strip()]])
    markdown = write_text_atomic(folder / f"{stem}.md", text + "\n")
    csv = write_text_atomic(folder / f"{stem}.csv", table.to_csv(index_label="model"))
    return markdown, csv
