"""recutils.checks: the argument checks shared by the package (the ones not covered through the
modules that use them)."""

import doctest

import numpy as np
import pandas as pd
import pytest

from recutils import checks


def test_examples_in_the_docstrings_hold():
    assert doctest.testmod(checks).failed == 0


def test_finite_vector_returns_float64_and_names_what_is_wrong():
    values = checks.finite_vector(pd.Series([1, 2, 3]), "values")
    assert values.dtype == np.float64 and values.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"scores must be 1-D \(one score per pair\)"):
        checks.finite_vector(np.zeros((2, 2)), "scores", "one score per pair")
    with pytest.raises(ValueError, match="scores is empty"):
        checks.finite_vector([], "scores")
    with pytest.raises(ValueError, match="scores must hold numbers"):
        checks.finite_vector(["a"], "scores")
    with pytest.raises(ValueError, match=r"2 NaN or infinite value\(s\) \(e.g. nan at position 1"):
        checks.finite_vector([0.0, np.nan, np.inf], "scores")
    with pytest.raises(ValueError, match=r"finite number\. Fill them with 0$"):
        checks.finite_vector([np.nan], "scores", fix="Fill them with 0")


def test_item_lists_accepts_empty_slots_and_rejects_what_is_not_an_item():
    lists = checks.item_lists(np.array([[3, 0, -1]], dtype=np.int32), n_items=4)
    assert lists.dtype == np.int64 and lists.tolist() == [[3, 0, -1]]
    with pytest.raises(ValueError, match=r"candidates must be a 2-D array"):
        checks.item_lists([1, 2], 4, "candidates")
    with pytest.raises(ValueError, match="integer item indices, got dtype float64"):
        checks.item_lists([[1.0]], 4)
    with pytest.raises(ValueError, match="integer item indices, got dtype bool"):
        checks.item_lists([[True]], 4)
    with pytest.raises(ValueError, match=r"1 entries below -1 \(e.g. -2 in row 0, column 1\)"):
        checks.item_lists([[0, -2]], 4)
    with pytest.raises(ValueError, match=r"1 item indices >= n_items=4 \(e.g. 4 in row 1"):
        checks.item_lists([[0, 1], [4, 2]], 4)
