"""How every benchmark ends: print its report and, with ``--output PATH``, write it there.

``tools/update_readme.py`` copies each ``bench/results/NAME.md`` into the README between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``. The file is written atomically
(:func:`recutils.files.write_text_atomic`), so an interrupted run leaves the last good report.
"""

from __future__ import annotations

from pathlib import Path

from recutils.files import write_text_atomic


def emit(*parts: str, output: Path | None) -> None:
    """Print ``parts`` (a table, the facts under it, ...) separated by blank lines, and write
    the same text to ``output`` if given (its folder is created)."""
    text = "\n\n".join(parts)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(output, text + "\n")
