"""Find numbers quoted in a notebook's prose that none of its outputs prints.

A sentence such as "SASRec leads with 0.210" must quote a number the code printed. For each
Markdown cell, every decimal number (``0.217``, ``12.5``, ``3.4%``, ``p = 0.03``) is looked
for among the numbers the notebook's outputs print (or its code sets: a setting), as printed
or rounded to the quoted number of places (a printed 0.2174 supports a quoted 0.217 or 0.22;
a printed share 0.217 supports 21.7% or 22%). Headings and numbers that name things ("section
5.1", "formula 3.2", "Python 3.12", "the 2.5% quantile") are skipped;
integers are not checked (counts, years).

Usage: python tools/check_quoted_numbers.py notebooks/08_sequential.ipynb [...]
Exit status 1 if any quoted number has no printed source; the report names cell and number.
"""

from __future__ import annotations

import json
import re
import sys
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*\.\d+(?:e[-+]?\d+)?%?|(?<![\w.])[-+−]?\d+(?:\.\d+)?%")
SKIP_MARKDOWN = re.compile(r"\$\$.*?\$\$|`[^`]*`|\$[^$]*\$|\]\([^)]*\)|<[^>]+>", re.S)


# Numbers that are names, not results: "section 5.1", "formula 3.2", "Python 3.12", "the 2.5%
# quantile".
NAME_BEFORE = re.compile(
    r"(section|formula|equation|python|version|§)s?\s*(?:\d+(?:\.\d+)?\s*(?:,|or|and|to)\s*)*$",
    re.I,
)
NAME_AFTER = re.compile(r"^\s*(quantile|percentile)", re.I)


def _numbers(text: str) -> list[str]:
    found = []
    for match in NUMBER.finditer(text):
        before, after = text[max(0, match.start() - 30) : match.start()], text[match.end() :]
        if NAME_BEFORE.search(before) or NAME_AFTER.match(after[:20]):
            continue
        found.append(match.group(0).replace("−", "-").replace(",", ""))
    return found


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        for kind in ("text/plain", "text/html", "text/markdown"):
            if kind in output.get("data", {}):
                parts.append("".join(output["data"][kind]))
    return "\n".join(parts)


def _printed_values(notebook: dict) -> set[Decimal]:
    values = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = _output_text(cell) + "\n" + "".join(cell["source"])  # printed, or a setting
        for token in re.findall(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?%?", text):
            token = token.replace(",", "").rstrip("%")
            try:
                values.add(Decimal(token))
            except InvalidOperation:
                continue
    return values


def _supported(quoted: str, printed: set[Decimal]) -> bool:
    percent = quoted.endswith("%")
    text = quoted.rstrip("%").lstrip("+")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return True
    places = Decimal(1).scaleb(-(len(text.split(".")[1]) if "." in text else 0))
    candidates = [value, -value]
    for number in printed:
        for scaled in ([number, number * 100] if percent else [number]):
            for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
                if not scaled.is_finite():
                    continue
                try:
                    rounded = scaled.quantize(places, rounding=rounding)
                except InvalidOperation:  # too many digits for the context: not this number
                    continue
                if rounded in candidates:
                    return True
    return False


def unsupported_numbers(path: Path) -> list[tuple[int, str]]:
    """(cell index, quoted number) for every quoted decimal number no output supports."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    printed = _printed_values(notebook)
    markdown = "".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )
    # an equation's number, "(16.2)", refers to the formula tagged \tag{16.2}: a name
    tags = "|".join(re.escape(tag) for tag in re.findall(r"\\tag\{([\d.]+)\}", markdown))
    equation_references = re.compile(rf"\((?:{tags})\)") if tags else None
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        lines = "".join(cell["source"]).splitlines()
        text = "\n".join(line for line in lines if not line.startswith("#"))  # not headings
        prose = SKIP_MARKDOWN.sub(" ", text)
        if equation_references is not None:
            prose = equation_references.sub(" ", prose)
        found += [(index, n) for n in _numbers(prose) if not _supported(n, printed)]
    return found


def main(paths: list[str]) -> int:
    status = 0
    for name in paths:
        for index, number in unsupported_numbers(Path(name)):
            print(f"{name} cell {index}: {number} is not printed by any output")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
