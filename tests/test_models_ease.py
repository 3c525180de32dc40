"""Tests of recutils.models.ease: the closed form, the automatic lambda and the interface."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models import EASE
from recutils.models.ease import AUTO_L2_FACTORS, inverse_spd
from recutils.splitting import holdout_split


def random_train(seed: int = 0, n_users: int = 60, n_items: int = 25) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    matrix = sp.random(
        n_users, n_items, density=0.25, random_state=rng, format="csr", dtype=np.float32
    )
    matrix.data[:] = rng.integers(1, 4, size=matrix.nnz)  # weights 1..3
    return matrix


def closed_form(x: np.ndarray, l2: float) -> np.ndarray:
    """Steck's solution, written out densely: B = I - P / diag(P), P = (X^T X + l2 I)^-1."""
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize("binary", [True, False])
def test_matches_dense_closed_form(binary: bool) -> None:
    matrix = random_train()
    x = matrix.toarray().astype(np.float64)
    if binary:
        x = (x > 0).astype(np.float64)
    model = EASE(l2=7.5, binary=binary).fit(matrix)
    expected = closed_form(x, 7.5)
    np.testing.assert_allclose(model.weights_, expected, atol=1e-6)
    np.testing.assert_allclose(model.score(np.arange(60)), x @ expected, rtol=1e-5, atol=1e-5)
    assert model.weights_.dtype == np.float32
    assert model.l2_ == 7.5 and model.l2_search_ == {}


def test_diagonal_is_zero_and_large_l2_shrinks_scores_to_zero() -> None:
    matrix = random_train()
    model = EASE(l2=10.0).fit(matrix)
    assert (np.diag(model.weights_) == 0).all()
    # For lambda -> infinity, B ~ X^T X / lambda: the scores fall like 1 / lambda.
    large = EASE(l2=1e9).fit(matrix).score(np.arange(60))
    assert np.abs(large).max() < 1e-5
    assert np.abs(model.score(np.arange(60))).max() > 0.1


def test_inverse_spd_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 300))
    gram = a @ a.T + np.eye(300)
    np.testing.assert_allclose(inverse_spd(np.asfortranarray(gram)), np.linalg.inv(gram), atol=1e-8)


def test_holdout_split_keeps_one_item_per_user() -> None:
    matrix = random_train()
    kept, held = holdout_split(matrix, 0.2, seed=3)
    np.testing.assert_array_equal((kept + held).toarray(), matrix.toarray())
    assert kept.multiply(held).nnz == 0
    counts = np.diff(matrix.indptr)
    expected = np.minimum(np.round(0.2 * counts), counts - 1)
    np.testing.assert_array_equal(np.diff(sp.csr_matrix(held).indptr), expected)


def test_auto_l2_is_on_the_grid_and_deterministic() -> None:
    matrix = random_train(n_users=200, n_items=30)
    first = EASE().fit(matrix)
    second = EASE().fit(matrix)
    grid = np.array(list(first.l2_search_))
    assert grid.size == len(AUTO_L2_FACTORS)
    np.testing.assert_allclose(grid / grid[0], np.array(AUTO_L2_FACTORS) / AUTO_L2_FACTORS[0])
    assert first.l2_ in first.l2_search_
    assert first.l2_search_[first.l2_] == max(first.l2_search_.values())
    assert first.l2_ == second.l2_ and first.l2_search_ == second.l2_search_
    np.testing.assert_array_equal(first.weights_, second.weights_)
    # the final weights are refitted on all of train with the chosen lambda
    np.testing.assert_allclose(first.weights_, EASE(l2=first.l2_).fit(matrix).weights_)


def test_refuses_a_catalog_too_large_for_dense_matrices() -> None:
    with pytest.raises(ValueError, match=r"25 x 25 .* ItemKNN .* ALS"):
        EASE(max_memory_gb=1e-6).fit(random_train())


# --------------------------------------------------------------------------------------------
# The interface shared by every model
# --------------------------------------------------------------------------------------------


def test_recommend_excludes_training_items_and_pads() -> None:
    matrix = random_train()
    model = EASE(l2=5.0).fit(matrix)
    recommended = model.recommend(np.arange(60), k=10).items
    for user in range(60):
        assert not set(matrix[user].indices) & set(recommended[user][recommended[user] >= 0])
    padded = model.recommend([0], k=40).items
    n_candidates = 25 - matrix[0].nnz
    assert (padded[0, :n_candidates] >= 0).all() and (padded[0, n_candidates:] == -1).all()


def test_similar_items_are_rows_of_b_without_the_item() -> None:
    model = EASE(l2=5.0).fit(random_train())
    neighbours, similarities = model.similar_items(np.arange(25), k=24)
    assert not (neighbours == np.arange(25)[:, None]).any()
    expected = np.take_along_axis(model.weights_, neighbours, axis=1)
    np.testing.assert_allclose(similarities, expected)
    assert (np.diff(similarities, axis=1) <= 0).all()


def test_reproducible() -> None:
    first = EASE(l2=5.0).fit(random_train()).recommend(np.arange(60), k=10).items
    second = EASE(l2=5.0).fit(random_train()).recommend(np.arange(60), k=10).items
    np.testing.assert_array_equal(first, second)


def test_invalid_input() -> None:
    model = EASE(l2=5.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])
    with pytest.raises(ValueError, match="no interactions"):
        model.fit(sp.csr_matrix((5, 4), dtype=np.float32))
    model.fit(random_train())
    with pytest.raises(ValueError, match="unknown user"):
        model.recommend([60])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend([0], k=0)
    with pytest.raises(ValueError, match="unknown item"):
        model.similar_items([25])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"l2": 0.0}, "l2 must be a finite number > 0 \\(or 'auto'"),
        ({"l2": "best"}, "l2 must be a finite number > 0 \\(or 'auto'"),
        ({"l2": float("nan")}, "l2 must be a finite number > 0 \\(or 'auto'"),
        ({"binary": 1}, "binary must be True or False"),
        ({"max_memory_gb": -1}, "max_memory_gb must be a number > 0"),
    ],
)
def test_invalid_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EASE(**params)


def test_auto_l2_needs_users_with_enough_interactions() -> None:
    single = sp.csr_matrix(np.eye(5, dtype=np.float32))  # one item per user: nothing to hold out
    with pytest.raises(ValueError, match="pass a number"):
        EASE().fit(single)
