"""The notebook runner (failures never damage the course; parameters) and the README updater.

The runner tests execute tiny notebooks in a real kernel (about two seconds each).
"""

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_course
from run_course import parse_parameters, strip_run_metadata
from update_readme import render


def write_notebook(path: Path, *sources: str, parameters: str | None = "X = 1") -> Path:
    cells = []
    if parameters is not None:
        cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(notebook, path)
    return path


def outputs(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]


def test_a_failing_notebook_is_not_written_over_and_the_others_still_run(tmp_path, capsys):
    broken = write_notebook(
        tmp_path / "01_broken.ipynb", "print('before')", "raise ValueError('broken on purpose')"
    )
    stored = broken.read_bytes()
    working = write_notebook(tmp_path / "02_working.ipynb", "print(X * 2)")
    runs = tmp_path / "runs"

    status = run_course.main([str(broken), str(working), "--runs-dir", str(runs)])

    assert status == 1
    assert broken.read_bytes() == stored  # the stored notebook is untouched
    failed = runs / "failed" / "01_broken.ipynb"
    assert "before\n" in outputs(failed)  # the failed run, with its outputs, kept aside
    assert outputs(working) == ["2\n"]  # the notebook after the failure ran and was written
    printed = capsys.readouterr()
    table = printed.out
    assert "01_broken.ipynb" in table and "FAILED" in table
    assert "ValueError: broken on purpose" in table  # the first line of the error
    assert "02_working.ipynb" in table and " ok " in table
    assert "runs/failed/01_broken.ipynb" in table.replace(os.sep, "/")
    assert "the stored notebook is unchanged" in table
    assert "This run wrote no leaderboard" in table
    assert "1 of 2 notebooks failed" in printed.err


def test_run_metadata_is_not_stored(tmp_path):
    notebook = write_notebook(tmp_path / "01_ok.ipynb", "print('hello')")
    assert run_course.main([str(notebook), "--runs-dir", str(tmp_path / "runs")]) == 0
    executed = nbformat.read(notebook, as_version=4)
    assert "papermill" not in executed.metadata
    for cell in executed.cells:
        assert set(cell.metadata) <= {"tags"}, cell.metadata  # no timings, no papermill notes


def test_parameters_are_injected_after_the_tagged_cell_into_a_copy(tmp_path):
    notebook = write_notebook(
        tmp_path / "01_p.ipynb", "print(X, DATA)", parameters="X = 1\nDATA = {}"
    )
    stored = notebook.read_bytes()
    out, runs = tmp_path / "out", tmp_path / "runs"
    parameters = ["-p", "X=5", "-p", 'DATA={"a": [1, 2]}']
    status = run_course.main(
        [str(notebook), *parameters, "--output-dir", str(out), "--runs-dir", str(runs)]
    )
    assert status == 0
    assert notebook.read_bytes() == stored  # parameterised runs never overwrite the course
    executed = nbformat.read(out / "01_p.ipynb", as_version=4)
    assert "injected-parameters" in executed.cells[1].metadata["tags"]
    assert outputs(out / "01_p.ipynb") == ["5 {'a': [1, 2]}\n"]


def test_bad_parameters_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        parse_parameters(["DATASET"])
    with pytest.raises(SystemExit, match="not a Python literal"):
        parse_parameters(["DATASET=online-retail"])
    assert parse_parameters(["DATASET='online-retail'", "K=20"]) == {
        "DATASET": "online-retail",
        "K": 20,
    }
    untagged = write_notebook(tmp_path / "01_u.ipynb", "x = 1", parameters=None)
    with pytest.raises(SystemExit):
        run_course.main([str(untagged), "-p", "x=2", "--output-dir", str(tmp_path / "out")])
    with pytest.raises(SystemExit):  # -p without --output-dir
        run_course.main([str(untagged), "-p", "x=2"])


def test_two_at_a_time_every_notebook_runs_in_order_with_the_checked_settings(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("RECUTILS_TORCH_THREADS", "1")  # set by the user: kept
    show = "import os\nprint(os.environ['OMP_WAIT_POLICY'], os.environ['RECUTILS_TORCH_THREADS'])"
    first = write_notebook(tmp_path / "01_first.ipynb", "import time\ntime.sleep(1)", show)
    broken = write_notebook(tmp_path / "02_broken.ipynb", "raise ValueError('broken on purpose')")
    stored = broken.read_bytes()
    last = write_notebook(tmp_path / "03_last.ipynb", "print(X + 1)")
    runs = tmp_path / "runs"

    status = run_course.main(
        [str(first), str(broken), str(last), "--jobs", "2", "--runs-dir", str(runs)]
    )

    assert status == 1
    assert outputs(first) == ["PASSIVE 1\n"]  # OpenMP threads sleep; the user's setting kept
    assert outputs(last) == ["2\n"]  # ran although the one before it failed
    assert broken.read_bytes() == stored and (runs / "failed" / "02_broken.ipynb").is_file()
    printed = capsys.readouterr().out
    assert printed.index("running 01_first") < printed.index("running 02_broken")
    assert printed.index("running 02_broken") < printed.index("running 03_last")
    assert "02_broken.ipynb: FAILED, " in printed and "ValueError: broken on purpose" in printed
    table = printed[printed.index("notebook ") :]
    names = [line.split()[0] for line in table.splitlines()[1:4]]
    assert names == ["01_first.ipynb", "02_broken.ipynb", "03_last.ipynb"]  # course order
    assert "wall time, 2 notebooks at a time" in table


def test_jobs_must_be_a_positive_whole_number_or_auto(tmp_path, monkeypatch):
    monkeypatch.setattr(run_course, "usable_cpus", lambda: 1)
    assert run_course.parse_jobs("auto") == 1  # one CPU: one at a time
    monkeypatch.setattr(run_course, "usable_cpus", lambda: 8)
    assert run_course.parse_jobs("auto") == run_course.AUTO_JOBS == 2  # not more: see auto_jobs
    assert run_course.parse_jobs("3") == 3
    for bad in ["0", "-1", "two", ""]:
        with pytest.raises(argparse.ArgumentTypeError, match="whole number >= 1"):
            run_course.parse_jobs(bad)
    notebook = write_notebook(tmp_path / "01_ok.ipynb", "print(1)")
    with pytest.raises(SystemExit):
        run_course.main([str(notebook), "--jobs", "0"])
    with pytest.raises(ValueError, match="jobs must be a whole number"):
        run_course.run_notebooks([notebook], jobs=0)


def test_strip_run_metadata_keeps_real_tags():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("a", metadata={"tags": [], "papermill": {}}),
            nbformat.v4.new_code_cell("b", metadata={"tags": ["parameters"], "execution": {}}),
        ]
    )
    notebook.metadata["papermill"] = {"duration": 1.0}
    strip_run_metadata(notebook)
    assert [cell.metadata for cell in notebook.cells] == [{}, {"tags": ["parameters"]}]
    assert "papermill" not in notebook.metadata


def test_readme_blocks_are_replaced_and_other_text_kept():
    text = "intro\n<!-- notebooks:start -->\nold table\n<!-- notebooks:end -->\noutro\n"
    rendered = render(text)
    assert rendered.startswith("intro\n<!-- notebooks:start -->\n| notebook |")
    assert "| first run | re-run |" in rendered and "the whole course" in rendered
    assert "old table" not in rendered and rendered.endswith("<!-- notebooks:end -->\noutro\n")
    assert render(rendered) == rendered


def test_leaderboards_are_readme_blocks_and_printed_only_when_this_run_wrote_them(capsys):
    text = "<!-- leaderboard-shop:start -->\n<!-- leaderboard-shop:end -->\n"
    rendered = render(text)
    path = run_course.ROOT / "results" / "leaderboard-shop.md"
    shop = path.read_text().strip()
    assert shop in rendered and "| model | nDCG@10" in shop
    run_course.print_leaderboards(since=time.time() + 60)  # written before this "run"
    printed = capsys.readouterr().out
    assert shop not in printed and "from an earlier run" in printed
    run_course.print_leaderboards(since=path.stat().st_mtime)
    printed = capsys.readouterr().out
    assert "results/leaderboard-shop.md (written by this run)" in printed and shop in printed


def test_lab_keeps_a_notebook_byte_identical_when_only_its_metadata_would_change(tmp_path):
    """make lab's pre-save hook: opening a notebook with another Python must not change it."""
    import logging

    from jupyter_server_config import keep_stored_metadata_if_cells_unchanged

    path = write_notebook(tmp_path / "01_read.ipynb", "print('hello')")
    stored = nbformat.read(path, as_version=4)
    stored.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nbformat.write(stored, path)

    class Contents:
        log = logging.getLogger("test")

        def _get_os_path(self, name):
            return str(tmp_path / name)

    def opened_with_python_313():
        notebook = nbformat.reads(nbformat.writes(stored), as_version=4)
        notebook.metadata["language_info"] = {"name": "python", "version": "3.13.0"}
        return notebook

    model = {"type": "notebook", "content": opened_with_python_313()}
    keep_stored_metadata_if_cells_unchanged(model, "01_read.ipynb", Contents())
    assert model["content"]["metadata"]["language_info"]["version"] == "3.11.7"

    edited = opened_with_python_313()
    edited.cells.append(nbformat.v4.new_code_cell("x = 1"))
    model = {"type": "notebook", "content": edited}
    keep_stored_metadata_if_cells_unchanged(model, "01_read.ipynb", Contents())
    assert model["content"]["metadata"]["language_info"]["version"] == "3.13.0"  # yours now


def _course_time(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    import course_time

    return course_time


def test_course_time_profile_lists_every_cell_of_both_passes(monkeypatch):
    course_time = _course_time(monkeypatch)
    cold = [
        run_course.Result("01_a.ipynb", "ok", 9.0, cells=[(2, 1.24, "import x"), (4, 7.0, "a|b")]),
        run_course.Result("02_b.ipynb", "ok", 5.0, cells=[(1, 5.0, "fit()")]),
    ]
    warm = [
        run_course.Result("01_a.ipynb", "ok", 3.0, cells=[(2, 0.5, "import x"), (4, 2.0, "a|b")]),
        run_course.Result("02_b.ipynb", "FAILED", 1.0, error="ValueError: no"),
    ]
    rows = course_time.cell_profile({"cold": cold, "warm": warm})
    assert rows[0] == "| notebook | cell | cold (s) | warm (s) | first line |"
    assert rows[2:] == [
        "| 01_a | 2 | 1.2 | 0.5 | `import x` |",
        "| 01_a | 4 | 7.0 | 2.0 | `a/b` |",
        "| 02_b | 1 | 5.0 | - | `fit()` |",  # failed in the warm pass: its cold time stays
    ]


def test_course_time_counts_the_models_a_cold_pass_trained(tmp_path, monkeypatch):
    course_time = _course_time(monkeypatch)
    for folder, name, seconds in [
        ("ALS-1", "recutils.models.factorization.ALS", 1.5),
        ("ALS-2", "recutils.models.factorization.ALS", 0.5),
        ("SASRec-1", "recutils.models.sequential.SASRec", 30.0),
        (".ALS-3.123-ab.part", "recutils.models.factorization.ALS", 9.0),  # being written
        ("EASE-1", "recutils.models.ease.EASE", None),  # no recorded time
    ]:
        (tmp_path / "models" / folder).mkdir(parents=True)
        state = {} if seconds is None else {"fit_seconds_": seconds}
        description = {"class": name, "state": state}
        (tmp_path / "models" / folder / "model.json").write_text(json.dumps(description))
    (tmp_path / "models" / "BPR-1").mkdir()
    (tmp_path / "models" / "BPR-1" / "model.json").write_text("{truncated")
    rows = course_time.trained_models(tmp_path)
    assert rows[2:] == [
        "| SASRec | 1 | 30 | 30.0 |",
        "| ALS | 2 | 2 | 1.5 |",
        "| BPR | 1 | 0 (?) | ? |",
        "| EASE | 1 | 0 (?) | ? |",
        "| **all** | 5 | 32 | |",
    ]
    assert course_time.trained_models(tmp_path / "empty")[2:] == ["| **all** | 0 | 0 | |"]


def test_course_time_totals_with_and_without_the_spark_notebooks(monkeypatch):
    course_time = _course_time(monkeypatch)
    spark = course_time.SPARK_NOTEBOOKS[0]

    def results(first, spark_seconds):
        return [
            run_course.Result("01_a.ipynb", "ok", first),
            run_course.Result(spark, "ok", spark_seconds),
        ]

    rows = course_time.course_table({"cold": results(120.0, 150.0), "warm": results(60.0, 90.0)})
    assert rows[-2] == "| **the course** | 4.5 min (target 12) | 2.5 min (target 8) | |"
    assert rows[-1] == f"| **without Spark ({spark[:2]}: needs Java)** | 2.0 min | 1.0 min | |"
    assert "without Spark" not in course_time.course_table({"warm": results(60.0, 90.0)[:1]})[-1]
    # with the passes as make course runs them, the targets are judged on their wall times
    passes = {"cold": results(120.0, 150.0), "warm": results(60.0, 90.0)}
    rows = course_time.course_table(passes, {"cold": 180.0, "warm": 96.0}, jobs=2)
    assert rows[-3] == "| **the course, one notebook at a time** | 4.5 min | 2.5 min | |"
    assert rows[-2].startswith(f"| **without Spark ({spark[:2]}: needs Java), one notebook at")
    assert rows[-1] == (
        "| **the course as make course runs it, 2 at a time** | 3.0 min (target 12) "
        "| 1.6 min (target 8) | |"
    )


def _make_test_time(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    import make_test_time

    return make_test_time


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_time_reads_the_steps_from_the_makefile(monkeypatch):
    make_test_time = _make_test_time(monkeypatch)
    recipe = make_test_time.test_recipe()
    steps = [make_test_time.step_name(command) for command in recipe]
    assert steps == ["lint (ruff)", "unit tests", "notebooks (nbval)"]
    nbval = recipe[-1]
    assert "\\" not in nbval and nbval.endswith(" notebooks")  # the continued line, joined
    assert make_test_time.PARALLEL_UNIT_TESTS in recipe[1]  # what the reference leaves out


def test_make_test_time_rows_say_failures_and_unmeasured_load(monkeypatch):
    make_test_time = _make_test_time(monkeypatch)
    assert make_test_time.row("unit tests", 86.4, 1.734, 0) == "| unit tests | 86 | 1.4 | 1.73 |"
    assert make_test_time.row("lint", 3.0, None, 1) == "| lint (FAILED, exit 1) | 3 | 0.1 | ? |"


def test_reports_name_the_machine_they_were_measured_on(monkeypatch):
    _course_time(monkeypatch)  # puts bench/ on the path
    from report import machine

    described = machine()
    assert f"{os.cpu_count()} CPUs" in described and platform.machine() in described
    from numpy._core._multiarray_umath import __cpu_features__

    assert ("AVX-512" in described) == bool(__cpu_features__.get("AVX512F"))
