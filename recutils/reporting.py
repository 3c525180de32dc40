"""Result tables as files: Markdown for the README and the terminal, CSV for your own analysis.

Notebook 06 writes its leaderboard with :func:`write_leaderboard` to ``results/``;
``make course`` prints it at the end and ``tools/update_readme.py`` copies it into the README.
Files are written atomically (a temporary file in the same folder, then renamed), so a run
that is interrupted never leaves half a table behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
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


def with_interval(estimate: float, low: float, high: float, digits: int = 3) -> str:
    """``"0.077 ± 0.006"``: an estimate and half the width of its interval ``[low, high]``.

    Short enough for a table cell that does not wrap (the spaces are non-breaking); use it
    for intervals that are nearly symmetric, such as bootstrap intervals of a mean over
    thousands of users, and keep ``low`` and ``high`` in the CSV for the exact bounds.

    Example:
        >>> with_interval(0.0774, 0.0713, 0.0838).replace("\u00a0", " ")
        '0.077 ± 0.006'
    """
    values = [float(v) for v in (estimate, low, high)]
    if any(np.isnan(v) for v in values):
        return "-"
    if not values[1] <= values[2]:
        raise ValueError(f"low must not exceed high, got low={low!r} and high={high!r}")
    half = (values[2] - values[1]) / 2
    return f"{values[0]:.{digits}f}\u00a0±\u00a0{half:.{digits}f}"


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
    sections: Mapping[str, Sequence[str]] | None = None,
    intervals: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Path, Path]:
    """Write ``table`` (one row per model) as ``<directory>/leaderboard-<dataset>.md`` and
    ``.csv``.

    The CSV holds every column of ``table`` as it is. The Markdown file holds the table, or
    one table per entry of ``sections`` (title -> columns, each table with the model column
    first, so each fits a laptop screen), and then ``notes`` (one paragraph each: the
    protocol, the command that made it), so that it reads on its own in the README and the
    terminal.

    Args:
        table: one row per model, indexed by the model's name.
        directory: the folder to write to (created if missing).
        dataset: the dataset's name, for the file names (:func:`leaderboard_name`).
        notes: paragraphs written after the table(s).
        digits: decimals of the numbers in the Markdown file.
        sections: title -> column names; each becomes a table under a bold title line.
            Default: one table with every column.
        intervals: column -> (low column, high column): in the Markdown file the column is
            shown as ``"estimate ± half-width"`` (:func:`with_interval`) and the two bound
            columns are left out (they stay in the CSV).

    Returns:
        The paths of the Markdown and CSV files.

    Raises:
        ValueError: a section or interval names a column that ``table`` does not have.

    Example::

        write_leaderboard(table, "results", "shop", ["protocol ..."],
                          sections={"accuracy": ["nDCG@10", "recall@20"],
                                    "beyond accuracy": ["coverage@20"]},
                          intervals={"nDCG@10": ("nDCG@10 low", "nDCG@10 high")})
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    intervals = dict(intervals or {})
    named = [c for c, bounds in intervals.items() for c in (c, *bounds)]
    named += [c for columns in (sections or {}).values() for c in columns]
    missing = sorted({str(c) for c in named if c not in table.columns})
    if missing:
        raise ValueError(
            f"sections/intervals name column(s) {missing} that table does not have; it has "
            f"{list(map(str, table.columns))}"
        )
    shown = table.copy()
    hidden = {bound for bounds in intervals.values() for bound in bounds}
    for column, (low, high) in intervals.items():
        shown[column] = [
            with_interval(e, lo, hi, digits)
            for e, lo, hi in zip(table[column], table[low], table[high], strict=True)
        ]
    if sections is None:
        sections = {"": [c for c in table.columns if c not in hidden]}
    bodies = []
    for title, columns in sections.items():
        body = markdown_table(shown[list(columns)], digits=digits, index_label="model")
        bodies.append(f"**{title}**\n\n{body}" if title else body)
    stem = leaderboard_name(dataset)
    folder = Path(directory)
    text = "\n\n".join([*bodies, *[str(note).strip() for note in notes if str(note).strip()]])
    markdown = write_text_atomic(folder / f"{stem}.md", text + "\n")
    csv = write_text_atomic(folder / f"{stem}.csv", table.to_csv(index_label="model"))
    return markdown, csv
