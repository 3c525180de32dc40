"""Exercises a learner can check alone: right or wrong, without being shown the answer.

Each exercise in a notebook ends with a check cell::

    my_cosine = None  # exercise 00.2: your code here
    check("00.2", my_cosine, expected=similarity[0, 1])     # agree with a computation, or
    check("00.3", my_guess, digest="5f0c2e9a41d7b36e")      # match a hidden answer

* ``expected=``: the exercise asks the learner to reproduce something the course computes
  (a score by its formula, a propagated vector); the check compares within a tolerance.
* ``digest=``: the exercise asks for a value, a choice or a prediction. The notebook holds
  only a salted hash of the canonical answer (:func:`digest`), so reading the check cell does
  not give the answer away. Numbers are compared at ``decimals`` places, and the neighbours
  one unit away in the last place are accepted too, so an answer that rounds the other way
  near a boundary is still right; an integer stands for the same real number (``0`` for
  ``0.00``).

Neither kind ever fills in the answer. Worked solutions live in ``solutions/`` at the root of
the repository, one Python file per notebook (``solutions/03_collaborative_filtering.py``)
with one function per exercise, ``exercise_1(nb)``, that computes the answer from the
notebook's variables (``nb.train``, ``nb.SEED``, ...).

Solutions are tested, not trusted: with ``RECUTILS_CHECK_SOLUTIONS=1`` in the environment
(``make test`` sets it for nbval), every ``check`` also runs the solution on the notebook's
variables and raises :class:`SolutionMismatch` if the solution does not pass its own check. It
prints exactly what it prints without the variable, so the stored outputs still match.

Canonical answers (what :func:`digest` hashes): ``None`` is not an answer; booleans as
``True``/``False``; integers as integers; other real numbers at ``decimals`` places (required
for them); strings stripped and lower-cased; sequences in order and sets sorted, element by
element; NumPy arrays as sequences.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterable
from numbers import Integral, Real
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["SolutionMismatch", "check", "digest", "solutions_dir"]

#: Environment variable that makes :func:`check` verify the worked solutions.
CHECK_SOLUTIONS = "RECUTILS_CHECK_SOLUTIONS"


class SolutionMismatch(AssertionError):
    """A worked solution in ``solutions/`` does not pass its exercise's check."""


def solutions_dir() -> Path:
    """The ``solutions/`` folder of the course repository (next to ``notebooks/``)."""
    root = Path(__file__).resolve().parent.parent
    return root / "solutions"


def _exercise_id(exercise: str) -> tuple[str, int]:
    notebook, dot, number = str(exercise).partition(".")
    if not (dot and len(notebook) == 2 and notebook.isdigit() and number.isdigit()):
        raise ValueError(
            f"exercise must be 'NN.k' (notebook number, exercise number), e.g. '03.1'; "
            f"got {exercise!r}"
        )
    return notebook, int(number)


def _canonical(
    answer: Any, decimals: int | None, shift: int = 0, integers_as_reals: bool = False
) -> str:
    if answer is None:
        raise ValueError("None is not an answer")
    if isinstance(answer, bool | np.bool_):
        return str(bool(answer))
    if isinstance(answer, Integral) and not (integers_as_reals and decimals is not None):
        return str(int(answer))
    if isinstance(answer, Real):
        value = float(answer)
        if not math.isfinite(value):
            return str(value)
        if decimals is None:
            raise ValueError(
                f"the answer {value!r} is a real number: give decimals= (the places the "
                "check compares)"
            )
        units = round(value * 10**decimals) + shift
        text = f"{units / 10**decimals:.{decimals}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text
    if isinstance(answer, str):
        return answer.strip().lower()
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, set | frozenset):
        parts = sorted(_canonical(e, decimals, shift, integers_as_reals) for e in answer)
        return "{" + ",".join(parts) + "}"
    if isinstance(answer, Iterable):
        parts = [_canonical(e, decimals, shift, integers_as_reals) for e in answer]
        return "[" + ",".join(parts) + "]"
    raise TypeError(
        f"cannot check an answer of type {type(answer).__name__}: give a number, a string, "
        "True/False, or a list, tuple, set or array of those"
    )


def _hash(exercise: str, canonical: str) -> str:
    return hashlib.sha256(f"recutils exercise {exercise}: {canonical}".encode()).hexdigest()[:16]


def digest(exercise: str, answer: Any, decimals: int | None = None) -> str:
    """The salted hash a notebook stores instead of the answer to ``exercise``.

    ``digest(exercise, answer) = sha256("recutils exercise " + exercise + ": " +
    canonical(answer))``, first 16 hex digits (canonical forms: module docstring).

    Args:
        exercise: ``"NN.k"``, e.g. ``"06.2"``; it salts the hash, so equal answers to two
            exercises have different digests.
        answer: the right answer.
        decimals: places at which real numbers are compared (required for them).

    Example:
        >>> digest("01.3", True)
        '6962f3a0e340649d'
    """
    _exercise_id(exercise)
    return _hash(exercise, _canonical(answer, decimals))


def _is_right(
    exercise: str,
    answer: Any,
    expected: Any,
    digest_: str | None,
    decimals: int | None,
    tolerance: float,
) -> bool:
    if digest_ is not None:
        # an integer where the answer has decimals (0 for 0.00) is the same number
        shifts = (0, -1, 1) if decimals is not None else (0,)
        try:
            return any(
                _hash(exercise, _canonical(answer, decimals, shift, as_reals)) == digest_
                for shift in shifts
                for as_reals in (False, True)
            )
        except (TypeError, ValueError):
            return False
    try:
        got = np.asarray(_as_numpy(answer), dtype=float)
        want = np.asarray(_as_numpy(expected), dtype=float)
    except (TypeError, ValueError):
        return bool(answer == expected)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=0, atol=tolerance))


def _as_numpy(value: Any) -> Any:
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return value


def _solution(notebook: str, number: int) -> Callable[[SimpleNamespace], Any]:
    folder = solutions_dir()
    files = sorted(folder.glob(f"{notebook}_*.py"))
    if len(files) != 1:
        raise SolutionMismatch(
            f"expected one solutions file {folder}/{notebook}_*.py for exercise "
            f"{notebook}.{number}, found {len(files)}"
        )
    module = _load_module(files[0])
    function = getattr(module, f"exercise_{number}", None)
    if function is None:
        raise SolutionMismatch(f"{files[0].name} has no function exercise_{number}(nb)")
    return function


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(
    exercise: str,
    answer: Any,
    *,
    expected: Any = None,
    digest: str | None = None,
    decimals: int | None = None,
    tolerance: float = 1e-5,
    hint: str = "",
) -> bool | None:
    """Say whether ``answer`` is right, without showing the right answer.

    Args:
        exercise: ``"NN.k"``: notebook number and exercise number, e.g. ``"03.1"``.
        answer: the learner's answer; ``None`` means "not answered yet".
        expected: a value computed in the notebook to agree with (numbers, arrays, tensors;
            within ``tolerance``), for exercises that reproduce a computation.
        digest: the stored :func:`digest` of the hidden answer, for exercises that ask for
            a value, a choice or a prediction. Give exactly one of ``expected`` and ``digest``.
        decimals: places at which real answers are compared against ``digest``.
        tolerance: absolute tolerance against ``expected``.
        hint: printed when the answer is wrong.

    Returns:
        ``None`` if not answered yet, else whether the answer is right; prints the verdict.

    Example:
        >>> check("01.3", True, digest="6962f3a0e340649d")
        Exercise 01.3: right.
        True
    """
    notebook, number = _exercise_id(exercise)
    if (expected is None) == (digest is None):
        raise ValueError(f"exercise {exercise}: give exactly one of expected= and digest=")
    if os.environ.get(CHECK_SOLUTIONS) == "1":
        namespace = SimpleNamespace(**sys._getframe(1).f_globals)
        solution = _solution(notebook, number)(namespace)
        if not _is_right(exercise, solution, expected, digest, decimals, tolerance):
            raise SolutionMismatch(
                f"the solution of exercise {exercise} in solutions/{notebook}_*.py does not "
                "pass the notebook's check"
            )
    if answer is None:
        print(f"Exercise {exercise}: not answered yet - replace None above, then run this cell.")
        return None
    right = _is_right(exercise, answer, expected, digest, decimals, tolerance)
    if right:
        print(f"Exercise {exercise}: right.")
    else:
        print(f"Exercise {exercise}: not yet." + (f" Hint: {hint}" if hint else ""))
    return right
