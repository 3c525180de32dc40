"""Tests of recutils.models.ease: the closed form, the automatic lambda and the interface."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.metrics import ranking_metrics
from recutils.models import EASE
from recutils.models.ease import (
    AUTO_FOLDS,
    AUTO_HOLDOUT_FRACTION,
    AUTO_K,
    AUTO_L2_FACTORS,
    AUTO_SEED,
    AUTO_TOLERANCE,
    content_order,
    ease_weights,
    inverse_spd,
    near_best_l2,
)
from recutils.ranking import top_k_items
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


def test_inverse_spd_and_weights_in_float32() -> None:
    matrix = random_train()
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    single = inverse_spd(np.asfortranarray(gram + 30 * np.eye(25), dtype=np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, np.linalg.inv(gram + 30 * np.eye(25)), rtol=1e-4, atol=1e-7)
    weights = ease_weights(gram, 30.0, dtype=np.float32)
    assert weights.dtype == np.float32 and (np.diag(weights) == 0).all()
    np.testing.assert_allclose(weights, ease_weights(gram, 30.0), atol=1e-5)


def test_holdout_split_keeps_one_item_per_user() -> None:
    matrix = random_train()
    kept, held = holdout_split(matrix, 0.2, seed=3)
    np.testing.assert_array_equal((kept + held).toarray(), matrix.toarray())
    assert kept.multiply(held).nnz == 0
    counts = np.diff(matrix.indptr)
    expected = np.minimum(np.round(0.2 * counts), counts - 1)
    np.testing.assert_array_equal(np.diff(sp.csr_matrix(held).indptr), expected)


# --------------------------------------------------------------------------------------------
# Choosing lambda: l2="auto"
# --------------------------------------------------------------------------------------------


def test_near_best_l2_is_the_geometric_middle_of_the_near_ties() -> None:
    quality = {1.0: 0.20, 2.0: 0.295, 4.0: 0.30, 8.0: 0.299, 16.0: 0.296, 32.0: 0.25}
    # within 2% of 0.30 (>= 0.294): 2, 4, 8, 16 -> (2 * 4 * 8 * 16) ** (1 / 4)
    assert near_best_l2(quality, 0.02) == pytest.approx(1024**0.25)
    assert near_best_l2(quality, 0.0) == 4.0  # no tolerance: the best alone
    assert near_best_l2(quality, 0.5) == pytest.approx(np.exp(np.mean(np.log(list(quality)))))
    assert near_best_l2({3.0: 0.0, 12.0: 0.0}, 0.02) == pytest.approx(6.0)


def test_content_order_ignores_the_column_order_but_not_the_weights() -> None:
    matrix = random_train(n_users=40, n_items=12)
    permutation = np.random.default_rng(5).permutation(12)
    permuted = matrix[:, permutation]
    ordered = matrix[:, content_order(matrix)]
    assert (ordered != permuted[:, content_order(permuted)]).nnz == 0
    assert sorted(content_order(matrix)) == list(range(12))
    # columns 0 and 1 have the same users but other weights: two contents, two keys
    weighted = sp.csr_matrix(np.array([[1, 2, 0], [1, 2, 1], [0, 0, 1]], dtype=np.float32))
    swapped = weighted[:, [1, 0, 2]]
    assert (weighted[:, content_order(weighted)] != swapped[:, content_order(swapped)]).nnz == 0


def test_auto_l2_searches_a_relative_grid_and_refits_on_all_of_train() -> None:
    matrix = random_train(n_users=200, n_items=30)
    first = EASE().fit(matrix)
    second = EASE().fit(matrix)
    scale = (matrix > 0).sum() / 30  # mean(diag(X^T X)) of all of train, binary
    np.testing.assert_allclose(list(first.l2_search_), np.array(AUTO_L2_FACTORS) * scale)
    assert first.l2_ == near_best_l2(first.l2_search_, AUTO_TOLERANCE)
    assert first.l2_ == second.l2_ and first.l2_search_ == second.l2_search_
    np.testing.assert_array_equal(first.weights_, second.weights_)
    # the final weights are refitted on all of train with the chosen lambda
    np.testing.assert_allclose(first.weights_, EASE(l2=first.l2_).fit(matrix).weights_)


def test_auto_l2_averages_the_ndcg_of_every_hold_out() -> None:
    matrix = random_train(n_users=200, n_items=30)
    model = EASE().fit(matrix)
    ordered = sp.csr_matrix(matrix[:, content_order(matrix > 0, AUTO_SEED)] > 0, dtype=np.float32)
    ordered.sort_indices()
    expected = np.zeros(len(AUTO_L2_FACTORS))
    for fold in range(AUTO_FOLDS):
        kept, held = holdout_split(ordered, AUTO_HOLDOUT_FRACTION, AUTO_SEED + fold)
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        gram = (kept.T @ kept).toarray()
        for position, factor in enumerate(AUTO_L2_FACTORS):
            # each hold-out's lambda is relative to the interactions it keeps
            weights = ease_weights(gram, factor * np.mean(np.diag(gram)), dtype=np.float32)
            recommended = top_k_items(kept[users] @ weights, AUTO_K, exclude=kept[users])
            metrics = ranking_metrics(recommended, held[users], k=AUTO_K)
            expected[position] += metrics.loc[AUTO_K, "ndcg"] / AUTO_FOLDS
    assert AUTO_FOLDS >= 2
    np.testing.assert_allclose(list(model.l2_search_.values()), expected, rtol=1e-12)


def test_auto_l2_does_not_depend_on_the_order_of_the_catalog() -> None:
    matrix = random_train(seed=4, n_users=300, n_items=40)
    permutation = np.random.default_rng(2).permutation(40)
    original = EASE().fit(matrix)
    permuted = EASE().fit(matrix[:, permutation])
    assert permuted.l2_ == original.l2_
    assert permuted.l2_search_ == original.l2_search_
    users = np.arange(300)
    np.testing.assert_allclose(
        permuted.score(users), original.score(users)[:, permutation], rtol=1e-5, atol=1e-6
    )


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
