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


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_notebook_is_not_written_over_and_the_others_still_run(tmp_path, capsys, jobs):
    broken = write_notebook(
        tmp_path / "01_broken.ipynb", "print('before')", "raise ValueError('broken on purpose')"
    )
    stored = broken.read_bytes()
    working = write_notebook(tmp_path / "02_working.ipynb", "print(X * 2)")
    runs = tmp_path / "runs"

    status = run_course.main([str(broken), str(working), "--runs-dir", str(runs), "--jobs", jobs])

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


def interval_notebook(path: Path, log: Path, seconds: float = 2.0, **metadata) -> Path:
    """A notebook that appends "name start end" (wall clock) to ``log`` around a sleep."""
    write_notebook(
        path,
        f"import time\nstart = time.time()\ntime.sleep({seconds})\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        f"    log.write(f'{path.stem} {{start}} {{time.time()}}\\n')",
    )
    if metadata:
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["course"] = metadata
        nbformat.write(notebook, path)
    return path


def partner_notebook(path: Path, log: Path, partner: str) -> Path:
    """A notebook that marks its start, waits (up to a minute) for ``partner``'s mark, prints
    "met" if it came and "alone" if not, and appends "name start end" to ``log``: two notebooks
    that both print "met" ran at the same time, however slowly their kernels started."""
    marks = log.parent
    return write_notebook(
        path,
        f"import pathlib, time\nstart = time.time()\nmarks = pathlib.Path({str(marks)!r})\n"
        f"(marks / '{path.stem}.started').touch()\n"
        f"while not (marks / '{partner}.started').exists() and time.time() < start + 60:\n"
        f"    time.sleep(0.05)\n"
        f"print('met' if (marks / '{partner}.started').exists() else 'alone')\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        f"    log.write(f'{path.stem} {{start}} {{time.time()}}\\n')",
    )


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    return {n: (float(a), float(b)) for n, a, b in (line.split() for line in log.open())}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return max(a[0], b[0]) < min(a[1], b[1])


def test_two_at_a_time_notebooks_overlap_in_order_with_the_checked_settings(
    tmp_path, capsys, monkeypatch
):
    for name in run_course.SIDE_BY_SIDE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "times.log"
    first = partner_notebook(tmp_path / "01_first.ipynb", log, "02_second")
    second = partner_notebook(tmp_path / "02_second.ipynb", log, "01_first")
    show = "import os\nprint(os.environ['OMP_WAIT_POLICY'], os.environ['RECUTILS_TORCH_THREADS'])"
    shown = write_notebook(tmp_path / "03_shown.ipynb", show)
    java = tmp_path / "04_java.ipynb"  # skipped (as 15 is without Java), between two that run
    write_notebook(java, "print('should not run')")
    last = write_notebook(tmp_path / "05_last.ipynb", "print(X + 1)")
    monkeypatch.setattr(
        run_course, "notebook_skip_reason", lambda path: "no Java" if path == java else None
    )
    notebooks = [first, second, shown, java, last]

    status = run_course.main([*map(str, notebooks), "--jobs", "2", "--runs-dir", str(tmp_path)])

    assert status == 0
    assert outputs(first) == outputs(second) == ["met\n"]  # two at a time, really
    assert outputs(shown) == ["PASSIVE 2\n"]  # the settings make test checks outputs with
    assert outputs(java) == [] and outputs(last) == ["2\n"]
    printed = capsys.readouterr().out
    starts = [printed.index(f"running {path.name}") for path in [first, second, shown, last]]
    assert starts == sorted(starts)  # started in the course's order
    table = printed[printed.index("notebook ") :].splitlines()[1:6]
    expected = ["ok", "ok", "ok", "skipped", "ok"]
    assert [line.split()[:2] for line in table] == [
        [path.name, state] for path, state in zip(notebooks, expected, strict=True)
    ]
    assert "wall time, 2 notebooks at a time" in printed


def test_a_notebook_that_times_the_machine_runs_alone(tmp_path, capsys, monkeypatch):
    # 01 runs alone: nothing starts beside it, although a place is free; then 02 and 03 meet
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    log = tmp_path / "times.log"
    reason = "it times this machine"
    notebooks = [
        interval_notebook(tmp_path / "01_alone.ipynb", log, run_alone=reason),
        partner_notebook(tmp_path / "02_after.ipynb", log, "03_after"),
        partner_notebook(tmp_path / "03_after.ipynb", log, "02_after"),
    ]
    alone = nbformat.read(notebooks[0], as_version=4)  # alone: as one at a time, not PASSIVE
    alone.cells.append(
        nbformat.v4.new_code_cell("import os\nprint(os.environ.get('OMP_WAIT_POLICY'))")
    )
    nbformat.write(alone, notebooks[0])
    assert run_course.run_alone_reason(notebooks[0]) == reason
    assert run_course.run_alone_reason(notebooks[1]) is None

    assert run_course.main([*map(str, notebooks), "--jobs", "2", "--runs-dir", str(tmp_path)]) == 0

    ran = intervals(log)
    assert not overlap(ran["01_alone"], ran["02_after"])
    assert not overlap(ran["01_alone"], ran["03_after"])
    assert outputs(notebooks[1]) == outputs(notebooks[2]) == ["met\n"]  # two at a time after it
    assert outputs(notebooks[0]) == ["None\n"]
    assert f"running 01_alone.ipynb alone ({reason}) ..." in capsys.readouterr().out


def test_a_place_a_waiting_run_alone_notebook_leaves_goes_to_the_next_ones(tmp_path, capsys):
    # 02 must run alone, so it waits for 01 to end; meanwhile 03 runs beside 01 (they meet)
    log = tmp_path / "times.log"
    notebooks = [
        partner_notebook(tmp_path / "01_first.ipynb", log, "03_next"),
        interval_notebook(tmp_path / "02_alone.ipynb", log, run_alone="it times this machine"),
        partner_notebook(tmp_path / "03_next.ipynb", log, "01_first"),
    ]

    assert run_course.main([*map(str, notebooks), "--jobs", "2", "--runs-dir", str(tmp_path)]) == 0

    assert outputs(notebooks[0]) == outputs(notebooks[2]) == ["met\n"]
    ran = intervals(log)
    assert not overlap(ran["02_alone"], ran["01_first"])
    assert not overlap(ran["02_alone"], ran["03_next"])
    printed = capsys.readouterr().out
    assert printed.index("running 03_next") < printed.index("running 02_alone")
    table = printed[printed.index("notebook ") :].splitlines()[1:4]
    assert [line.split()[0] for line in table] == [path.name for path in notebooks]  # in order


@pytest.mark.skipif(os.name != "posix", reason="kills its worker process with SIGKILL")
def test_a_worker_that_dies_fails_its_notebook_and_the_others_still_run(
    tmp_path, capsys, monkeypatch
):
    # the kernel's parent is the worker process that runs papermill: kill it, as an
    # out-of-memory kill would; the pool stops the other worker with it
    dying = write_notebook(
        tmp_path / "01_dying.ipynb", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
    )
    stored = dying.read_bytes()
    threads = "import os\nprint(os.environ.get('RECUTILS_TORCH_THREADS'))"
    beside = write_notebook(tmp_path / "02_beside.ipynb", f"import time\ntime.sleep(3)\n{threads}")
    later = write_notebook(tmp_path / "03_later.ipynb", "print(X * 3)")
    runs = tmp_path / "runs"
    notebooks = [dying, beside, later]

    monkeypatch.delenv("RECUTILS_TORCH_THREADS", raising=False)

    status = run_course.main([*map(str, notebooks), "--jobs", "2", "--runs-dir", str(runs)])

    assert status == 1
    assert dying.read_bytes() == stored
    # stopped with the pool, run again alone, with the side-by-side settings make test checks
    assert outputs(beside) == [run_course.SIDE_BY_SIDE_ENVIRONMENT["RECUTILS_TORCH_THREADS"] + "\n"]
    assert outputs(later) == ["3\n"]  # in a new pool
    printed = capsys.readouterr().out
    assert "01_dying.ipynb: its worker process stopped; running it again alone" in printed
    assert "01_dying.ipynb: FAILED" in printed and "also when run alone" in printed  # again
    assert "02_beside.ipynb: ok" in printed


def test_the_side_by_side_settings_keep_what_the_user_set():
    user = {"RECUTILS_TORCH_THREADS": "1", "OMP_WAIT_POLICY": " ", "HOME": "/home/x"}
    kernel = run_course.with_defaults(user, run_course.SIDE_BY_SIDE_ENVIRONMENT)
    assert kernel == {
        "RECUTILS_TORCH_THREADS": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
        "HOME": "/home/x",
    }
    assert user["OMP_WAIT_POLICY"] == " "  # a copy: the caller's mapping is left alone


def test_one_notebook_runs_in_this_process_whatever_jobs_says(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "01_one.ipynb", "print(X)")
    assert run_course.main([str(notebook), "--jobs", "2", "--runs-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "wall time" not in printed and "at a time" not in printed
    assert outputs(notebook) == ["1\n"]


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
    rows = course_time.trained_models(course_time.saved_fits(tmp_path))
    assert rows[2:] == [
        "| SASRec | 1 | 30 | 30.0 |",
        "| ALS | 2 | 2 | 1.5 |",
        "| BPR | 1 | 0 (?) | ? |",
        "| EASE | 1 | 0 (?) | ? |",
        "| **all** | 5 | 32 | |",
    ]
    empty = course_time.saved_fits(tmp_path / "empty")
    assert course_time.trained_models(empty)[2:] == ["| **all** | 0 | 0 | |"]


def test_course_time_charges_each_model_to_the_notebook_that_was_running(tmp_path, monkeypatch):
    course_time = _course_time(monkeypatch)
    for folder, name, seconds, written in [
        ("ALS-0", "recutils.models.factorization.ALS", 0.5, 990.0),  # before the first notebook
        ("ALS-1", "recutils.models.factorization.ALS", 1.0, 1005.0),
        ("LightGCN-1", "recutils.models.graph.LightGCN", 20.0, 1030.0),
        ("LightGCN-2", "recutils.models.graph.LightGCN", 10.0, 1040.0),
        ("EASE-1", "recutils.models.ease.EASE", 4.0, 1055.0),  # after 01 ended: still 01's
        ("SASRec-1", "recutils.models.sequential.SASRec", 30.0, 1090.0),
        ("BPR-1", "recutils.models.factorization.BPR", 3.0, 1120.0),  # 05 failed warm
    ]:
        (tmp_path / "models" / folder).mkdir(parents=True)
        description = tmp_path / "models" / folder / "model.json"
        description.write_text(json.dumps({"class": name, "state": {"fit_seconds_": seconds}}))
        os.utime(description, (written, written))
    cold = [
        run_course.Result("01_a.ipynb", "ok", 50.0, started_at=1000.0),
        run_course.Result("02_b.ipynb", "skipped", 0.0),
        run_course.Result("03_c.ipynb", "ok", 40.0, started_at=1060.0),
        run_course.Result("04_d.ipynb", "ok", 5.0, started_at=1101.0),
        run_course.Result("05_e.ipynb", "ok", 30.0, started_at=1110.0),
    ]
    warm = [
        run_course.Result("01_a.ipynb", "ok", 12.0),
        run_course.Result("02_b.ipynb", "skipped", 0.0),
        run_course.Result("03_c.ipynb", "ok", 6.0),
        run_course.Result("04_d.ipynb", "ok", 5.5),
        run_course.Result("05_e.ipynb", "FAILED", 2.0),
    ]
    saved = course_time.saved_fits(tmp_path)
    rows = course_time.cold_time_by_notebook(saved, cold, warm)
    assert rows[2:] == [
        "| 01_a | 38 | 35 | LightGCN 2 (30), EASE 1 (4), ALS 1 (1) |",
        "| 03_c | 34 | 30 | SASRec 1 (30) |",
        "| 04_d | 0 | 0 | - |",  # a warm run a little slower than the cold one: nothing extra
        "| 05_e | - | 3 | BPR 1 (3) |",  # no warm time to subtract
        "| **all** | 72 | 68 | |",
        "| (written before the first notebook) | | | 1 model |",
    ]


def test_course_time_totals_with_and_without_the_spark_notebooks(monkeypatch):
    course_time = _course_time(monkeypatch)
    spark = course_time.SPARK_NOTEBOOKS[0]

    def results(first, spark_seconds):
        return [
            run_course.Result("01_a.ipynb", "ok", first),
            run_course.Result(spark, "ok", spark_seconds),
        ]

    rows = course_time.course_table({"cold": results(120.0, 150.0), "warm": results(60.0, 90.0)})
    assert rows[-2] == (
        "| **the course** | 4.5 min (target 12, within: yes) | 2.5 min (target 8, within: yes) | |"
    )
    assert rows[-1] == f"| **without Spark ({spark[:2]}: needs Java)** | 2.0 min | 1.0 min | |"
    assert "without Spark" not in course_time.course_table({"warm": results(60.0, 90.0)[:1]})[-1]
    # with the passes as make course runs them, the targets are judged on their wall times
    passes = {"cold": results(120.0, 150.0), "warm": results(60.0, 90.0)}
    rows = course_time.course_table(passes, {"cold": 780.0, "warm": 96.0}, jobs=2)
    assert rows[-3] == "| **the whole course, one notebook at a time** | 4.5 min | 2.5 min | |"
    assert rows[-2].startswith(f"| **without Spark ({spark[:2]}: needs Java), one notebook at")
    assert rows[-1] == (
        "| **make course, 2 notebooks at a time (wall time)** | 13.0 min (target 12, within: "
        "**no**) | 1.6 min (target 8, within: yes) | |"
    )
    failed = course_time.course_table(passes, {"cold": float("nan"), "warm": 96.0}, jobs=2)
    assert "| incomplete (a notebook failed) |" in failed[-1]


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


def test_a_cache_with_only_lock_files_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    assert run_course.cache_is_empty()
    (tmp_path / "models" / ".locks").mkdir(parents=True)
    (tmp_path / "models" / ".locks" / "ALS-1f2e.lock").touch()  # left by recutils.files.made_once
    assert run_course.cache_is_empty()
    (tmp_path / "models" / "ALS-1f2e").mkdir()
    (tmp_path / "models" / "ALS-1f2e" / "model.json").write_text("{}")
    assert not run_course.cache_is_empty()
