"""The notebook runner's parameter injection and the README updater."""

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from run_course import inject_parameters, parse_parameters
from update_readme import render


def notebook_with_parameters():
    cells = [
        nbformat.v4.new_code_cell("import recutils"),
        nbformat.v4.new_code_cell("DATASET = 'shop'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(DATASET)"),
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_parameters_are_injected_right_after_the_tagged_cell():
    notebook = notebook_with_parameters()
    inject_parameters(notebook, parse_parameters(["DATASET='online-retail'", "K=20"]))
    assert [c.source.splitlines()[-1] for c in notebook.cells] == [
        "import recutils",
        "DATASET = 'shop'",
        "K = 20",
        "print(DATASET)",
    ]
    assert "DATASET = 'online-retail'" in notebook.cells[2].source


def test_bad_parameters_are_refused():
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        parse_parameters(["DATASET"])
    with pytest.raises(SystemExit, match="not a Python literal"):
        parse_parameters(["DATASET=online-retail"])
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(SystemExit, match="no cell tagged 'parameters'"):
        inject_parameters(untagged, {"x": "2"})


def test_readme_blocks_are_replaced_and_other_text_kept():
    text = "intro\n<!-- notebooks:start -->\nold table\n<!-- notebooks:end -->\noutro\n"
    rendered = render(text)
    assert rendered.startswith("intro\n<!-- notebooks:start -->\n| notebook |")
    assert "old table" not in rendered and rendered.endswith("<!-- notebooks:end -->\noutro\n")
    assert render(rendered) == rendered


def test_leaderboards_are_readme_blocks_and_printed(capsys):
    import run_course

    text = "<!-- leaderboard-shop:start -->\n<!-- leaderboard-shop:end -->\n"
    rendered = render(text)
    shop = (run_course.ROOT / "results" / "leaderboard-shop.md").read_text().strip()
    assert shop in rendered and shop.startswith("| model | nDCG@10 |")
    run_course.print_leaderboards()
    printed = capsys.readouterr().out
    assert "results/leaderboard-shop.md" in printed and shop in printed
