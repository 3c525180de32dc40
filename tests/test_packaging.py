"""The pinned stack is the same everywhere it is written, and README numbers come from code."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_environment_yml_pins_equal_requirements():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    environment = pins((ROOT / "environment.yml").read_text().splitlines())
    assert environment == requirements
    assert "-c constraints.txt" in (ROOT / "environment.yml").read_text()


def test_constraints_pin_every_requirement_to_the_same_version():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    constraints = pins((ROOT / "constraints.txt").read_text().splitlines())
    assert requirements["torch"] == "2.13.0" and constraints["torch"] == "2.13.0"
    mismatched = {
        n: (v, constraints.get(n)) for n, v in requirements.items() if constraints.get(n) != v
    }
    assert not mismatched


def test_readme_generated_blocks_are_up_to_date():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from update_readme import render
    finally:
        sys.path.pop(0)
    text = (ROOT / "README.md").read_text()
    assert render(text) == text, "README.md is stale: run `python tools/update_readme.py`"
    assert "make course" in text and "make test" in text
