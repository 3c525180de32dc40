"""Exercise checks: right/wrong without revealing the answer; solutions verified on request."""

import numpy as np
import pytest

from recutils import exercises
from recutils.exercises import SolutionMismatch, check, digest


def test_digest_hides_and_salts_the_answer():
    assert digest("01.1", 0.25, decimals=2) != digest("01.2", 0.25, decimals=2)
    assert "0.25" not in digest("01.1", 0.25, decimals=2)
    assert len(digest("01.1", "yes")) == 16


def test_check_accepts_the_right_answer_and_its_neighbours(capsys):
    stored = digest("02.1", 0.1234, decimals=3)  # canonical 0.123
    assert check("02.1", 0.1234, digest=stored, decimals=3) is True
    assert check("02.1", 0.1236, digest=stored, decimals=3) is True  # rounds to 0.124: one away
    assert check("02.1", 0.1251, digest=stored, decimals=3) is False
    assert check("02.1", None, digest=stored, decimals=3) is None
    out = capsys.readouterr().out
    assert "right" in out and "not yet" in out and "not answered yet" in out
    assert "0.123" not in out


def test_integers_count_as_the_same_real_number():
    stored = digest("01.1", (0.0, 0.75), decimals=2)
    assert check("01.1", (0, 0.75), digest=stored, decimals=2) is True
    assert check("01.1", (0.0, 0.751), digest=stored, decimals=2) is True
    assert check("01.1", (1, 0.75), digest=stored, decimals=2) is False
    assert check("01.2", 481, digest=digest("01.2", 481)) is True


def test_check_canonical_forms():
    assert check("03.1", "  ALS ", digest=digest("03.1", "als")) is True
    assert check("03.1", True, digest=digest("03.1", True)) is True
    assert check("03.1", 1, digest=digest("03.1", True)) is False
    assert check("03.1", {3, 1, 2}, digest=digest("03.1", [1, 2, 3])) is False
    assert check("03.1", {3, 1, 2}, digest=digest("03.1", {1, 2, 3})) is True
    assert check("03.1", np.array([1, 2]), digest=digest("03.1", [1, 2])) is True
    assert check("03.1", -0.0001, digest=digest("03.1", 0.0, decimals=3), decimals=3) is True


def test_check_expected_within_tolerance(capsys):
    assert check("04.1", np.array([0.5, 0.25]), expected=np.array([0.5, 0.250001])) is True
    assert check("04.1", np.array([0.5]), expected=np.array([0.5, 0.25])) is False
    assert check("04.1", "a string", expected=1.0) is False
    assert check("04.1", 2.0, expected=1.0, hint="look at row 3") is False
    assert "Hint: look at row 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "exactly one"), ({"expected": 1, "digest": "x"}, "exactly one")],
)
def test_check_needs_one_reference(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check("05.1", 1.0, **kwargs)


def test_bad_exercise_ids_and_answers():
    with pytest.raises(ValueError, match=r"'NN\.k'"):
        check("3.1", 1, expected=1)
    with pytest.raises(ValueError, match="decimals"):
        digest("03.1", 0.5)
    with pytest.raises(TypeError, match="cannot check"):
        digest("03.1", object())


def test_solution_mode_runs_the_solution(tmp_path, monkeypatch, capsys):
    (tmp_path / "07_topic.py").write_text(
        "def exercise_1(nb):\n    return nb.base * 2\n\n"
        "def exercise_2(nb):\n    return 'wrong'\n"
    )
    monkeypatch.setattr(exercises, "solutions_dir", lambda: tmp_path)
    monkeypatch.setenv(exercises.CHECK_SOLUTIONS, "1")
    globals()["base"] = 21  # the solution reads the caller's globals, as in a notebook
    try:
        assert check("07.1", None, digest=digest("07.1", 42)) is None
        assert "not answered yet" in capsys.readouterr().out
        with pytest.raises(SolutionMismatch, match=r"07\.2"):
            check("07.2", None, digest=digest("07.2", "right"))
        with pytest.raises(SolutionMismatch, match="exercise_3"):
            check("07.3", None, expected=1.0)
        with pytest.raises(SolutionMismatch, match="one solutions file"):
            check("08.1", None, expected=1.0)
    finally:
        del globals()["base"]
