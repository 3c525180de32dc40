"""Tests of recutils.metrics: hand-computed examples, edge cases and a pure-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recutils import metrics
from recutils.metrics import (
    METRICS,
    average_popularity,
    catalog_coverage,
    intra_list_diversity,
    novelty,
    ranking_metrics,
    ranking_metrics_per_user,
)
from recutils.ranking import excluded_columns, top_k_excluding, top_k_items


def csr(rows: list[list[int]], n_items: int) -> sparse.csr_array:
    """A 0/1 user-item matrix from one list of item indices per user."""
    dense = np.zeros((len(rows), n_items))
    for user, items in enumerate(rows):
        dense[user, items] = 1.0
    return sparse.csr_array(dense)


# --------------------------------------------------------------------------------------------
# A small pure-Python reference, written for reading, not speed
# --------------------------------------------------------------------------------------------


def reference_top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    result = np.full((scores.shape[0], k), -1)
    for user, row in enumerate(scores):
        candidates = [
            item
            for item in range(len(row))
            if row[item] > -math.inf and (exclude is None or exclude[user, item] == 0)
        ]
        ranked = sorted(candidates, key=lambda item: (-row[item], item))[:k]
        result[user, : len(ranked)] = ranked
    return result


def reference_metrics(ranking: list[int], relevant: set[int], k: int) -> dict[str, float]:
    rel = [1 if item >= 0 and item in relevant else 0 for item in ranking[:k]]
    hits = sum(rel)
    dcg = sum(r / math.log2(j + 2) for j, r in enumerate(rel))
    idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(relevant))))
    average_precision = sum(sum(rel[: j + 1]) / (j + 1) * rel[j] for j in range(k))
    first = next((j + 1 for j, r in enumerate(rel) if r), None)
    return {
        "precision": hits / k,
        "recall": hits / len(relevant),
        "ndcg": dcg / idcg,
        "map": average_precision / len(relevant),
        "hit_rate": float(hits > 0),
        "mrr": 0.0 if first is None else 1 / first,
    }


# --------------------------------------------------------------------------------------------
# Hand-computed metrics
# --------------------------------------------------------------------------------------------

# Three users, catalog of 7 items, lists of length 3.
#   A: relevant {1, 4},       ranking [4, 2, 1] -> rel = [1, 0, 1]
#   B: relevant {3},          ranking [0, 3, 5] -> rel = [0, 1, 0]
#   C: relevant {0, 2, 5, 6}, ranking [1, 3, 4] -> rel = [0, 0, 0]
HAND_RECOMMENDED = np.array([[4, 2, 1], [0, 3, 5], [1, 3, 4]])
HAND_RELEVANT = csr([[1, 4], [3], [0, 2, 5, 6]], n_items=7)
LOG2_3 = math.log2(3)  # 1.58496...

# At k = 3, user by user:
#   precision: A 2/3, B 1/3, C 0
#   recall:    A 2/2, B 1/1, C 0/4
#   nDCG:      A (1/log2 2 + 1/log2 4) / (1/log2 2 + 1/log2 3) = 1.5 / (1 + 1/log2 3)
#              B (1/log2 3) / (1/log2 2)                        = 1/log2 3
#              C 0
#   MAP:       A (P@1 * 1 + P@3 * 1) / 2 = (1 + 2/3) / 2 = 5/6
#              B (P@2 * 1) / 1 = 1/2;  C 0
#   hit rate:  A 1, B 1, C 0
#   MRR:       A 1/1, B 1/2, C 0
HAND_AT_3 = {
    "precision": [2 / 3, 1 / 3, 0.0],
    "recall": [1.0, 1.0, 0.0],
    "ndcg": [1.5 / (1 + 1 / LOG2_3), 1 / LOG2_3, 0.0],
    "map": [5 / 6, 1 / 2, 0.0],
    "hit_rate": [1.0, 1.0, 0.0],
    "mrr": [1.0, 0.5, 0.0],
}
# At k = 1 only A has a hit (item 4 at rank 1):
#   precision 1/1, recall 1/2, nDCG 1/1 (IDCG@1 = 1), MAP (P@1 * 1) / 2 = 1/2, hit 1, MRR 1
HAND_AT_1 = {
    "precision": [1.0, 0.0, 0.0],
    "recall": [0.5, 0.0, 0.0],
    "ndcg": [1.0, 0.0, 0.0],
    "map": [0.5, 0.0, 0.0],
    "hit_rate": [1.0, 0.0, 0.0],
    "mrr": [1.0, 0.0, 0.0],
}


def test_per_user_metrics_match_hand_computation() -> None:
    per_user = ranking_metrics_per_user(HAND_RECOMMENDED, HAND_RELEVANT, k=[1, 3])
    assert list(per_user.index) == [0, 1, 2]
    assert list(per_user["n_relevant"]) == [2, 1, 4]
    for name in METRICS:
        np.testing.assert_allclose(per_user[f"{name}@3"], HAND_AT_3[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(per_user[f"{name}@1"], HAND_AT_1[name], rtol=0, atol=1e-12)


def test_mean_metrics_match_hand_computation() -> None:
    table = ranking_metrics(HAND_RECOMMENDED, HAND_RELEVANT, k=3)
    assert list(table.index) == [3]
    assert table.index.name == "k"
    row = table.loc[3]
    # Means over the three users, e.g. precision (2/3 + 1/3 + 0) / 3 = 1/3,
    # MAP (5/6 + 1/2 + 0) / 3 = 4/9, MRR (1 + 1/2 + 0) / 3 = 1/2.
    assert row["precision"] == pytest.approx(1 / 3, abs=1e-12)
    assert row["recall"] == pytest.approx(2 / 3, abs=1e-12)
    assert row["ndcg"] == pytest.approx((1.5 / (1 + 1 / LOG2_3) + 1 / LOG2_3) / 3, abs=1e-12)
    assert row["map"] == pytest.approx(4 / 9, abs=1e-12)
    assert row["hit_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert row["mrr"] == pytest.approx(1 / 2, abs=1e-12)
    # Items shown: {4, 2, 1} u {0, 3, 5} u {1, 3, 4} = {0, 1, 2, 3, 4, 5} -> 6 of 7 items.
    assert row["coverage"] == pytest.approx(6 / 7, abs=1e-12)
    assert row["users"] == 3
    assert "novelty" not in table.columns


def test_k_as_a_list_gives_one_row_per_k_equal_to_single_calls() -> None:
    table = ranking_metrics(HAND_RECOMMENDED, HAND_RELEVANT, k=[3, 1, 3])  # repeat dropped
    assert list(table.index) == [1, 3]
    assert list(table.columns) == [*METRICS, "coverage", "users"]
    for cut in (1, 3):
        single = ranking_metrics(HAND_RECOMMENDED, HAND_RELEVANT, k=cut)
        pd.testing.assert_frame_equal(table.loc[[cut]], single)
    # Coverage at k=1 counts only the first column: {4, 0, 1} -> 3 of 7 items.
    assert table.loc[1, "coverage"] == pytest.approx(3 / 7, abs=1e-12)
    assert table.loc[1, "precision"] == pytest.approx(1 / 3, abs=1e-12)  # (1 + 0 + 0) / 3


def test_user_without_test_items_is_excluded_from_means_and_counted() -> None:
    # User 1 has no relevant items; with it counted, every mean would be halved.
    recommended = np.array([[2, 0], [1, 2]])
    relevant = csr([[2], []], n_items=3)
    table = ranking_metrics(recommended, relevant, k=2)
    assert table.loc[2, "users"] == 1
    assert table.loc[2, "precision"] == pytest.approx(1 / 2)  # 1 hit / k=2, user 0 only
    assert table.loc[2, "recall"] == pytest.approx(1.0)
    assert table.loc[2, "mrr"] == pytest.approx(1.0)
    # Coverage still looks at every user's list: {2, 0, 1} -> 3 of 3.
    assert table.loc[2, "coverage"] == pytest.approx(1.0)
    per_user = ranking_metrics_per_user(recommended, relevant, k=2)
    assert list(per_user.index) == [0]


def test_no_relevant_items_at_all_is_an_error() -> None:
    with pytest.raises(ValueError, match="no user can be evaluated"):
        ranking_metrics(np.array([[0, 1]]), csr([[]], n_items=3), k=2)


def test_minus_one_slots_never_count_as_hits() -> None:
    # Keys u * n_items + item: an empty slot of user 1 would naively get the key
    # 1 * 4 + (-1) = 3, which is the key of (user 0, item 3), a relevant pair.
    recommended = np.array([[0, -1], [-1, -1]])
    relevant = csr([[3], [3]], n_items=4)
    per_user = ranking_metrics_per_user(recommended, relevant, k=2)
    assert per_user["precision@2"].tolist() == [0.0, 0.0]
    assert per_user["mrr@2"].tolist() == [0.0, 0.0]


def test_k_larger_than_catalog_pads_with_minus_one_and_keeps_denominator_k() -> None:
    scores = np.array([[0.2, 0.9, 0.5]])
    recommended = top_k_items(scores, k=5)
    assert recommended.tolist() == [[1, 2, 0, -1, -1]]
    table = ranking_metrics(recommended, csr([[0]], n_items=3), k=5)
    # One hit (item 0 at rank 3): precision 1/5 (not 1/3), recall 1/1,
    # nDCG (1/log2 4) / (1/log2 2) = 1/2, MAP (P@3 * 1) / 1 = 1/3, MRR 1/3.
    assert table.loc[5, "precision"] == pytest.approx(1 / 5)
    assert table.loc[5, "recall"] == pytest.approx(1.0)
    assert table.loc[5, "ndcg"] == pytest.approx(0.5)
    assert table.loc[5, "map"] == pytest.approx(1 / 3)
    assert table.loc[5, "mrr"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------------
# top_k_items
# --------------------------------------------------------------------------------------------


def test_top_k_orders_by_score() -> None:
    scores = np.array([[0.1, 0.7, 0.3, 0.9], [5.0, -1.0, 2.0, 0.0]])
    assert top_k_items(scores, k=3).tolist() == [[3, 1, 2], [0, 2, 3]]
    assert top_k_items(scores, k=3).dtype == np.int64


def test_ties_put_the_lower_item_index_first() -> None:
    # Items 0, 2 and 3 tie at 0.5 behind item 1; k=2 must take item 0, k=3 items 0 and 2.
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0]])
    assert top_k_items(scores, k=2).tolist() == [[1, 0], [0, 1]]
    assert top_k_items(scores, k=3).tolist() == [[1, 0, 2], [0, 1, 2]]
    # The tie order must not depend on where the tied items sit: reversed tie positions.
    scores = np.array([[0.1, 0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.5]])
    assert top_k_items(scores, k=3).tolist() == [[3, 1, 2]]


def test_training_items_are_excluded() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.4]])
    train = csr([[0, 2], [3]], n_items=4)
    assert top_k_items(scores, k=2, exclude=train).tolist() == [[1, 3], [2, 1]]
    # Everything excluded but one item: the rest of the list is empty.
    assert top_k_items(scores, k=3, exclude=csr([[0, 1, 2], []], 4)).tolist() == [
        [3, -1, -1],
        [3, 2, 1],
    ]


def test_stored_zeros_in_exclude_do_not_exclude() -> None:
    exclude = sparse.csr_array((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([0, 1]))), (1, 3))
    assert top_k_items(np.array([[0.9, 0.8, 0.7]]), k=2, exclude=exclude).tolist() == [[0, 2]]


def test_minus_inf_scores_are_never_recommended_and_plus_inf_first() -> None:
    scores = np.array([[-np.inf, 0.3, np.inf, -np.inf, 0.1]])
    assert top_k_items(scores, k=4).tolist() == [[2, 1, 4, -1]]


def test_nan_scores_raise_with_count() -> None:
    scores = np.array([[0.1, np.nan, 0.3], [np.nan, 0.2, np.nan]])
    with pytest.raises(ValueError, match=r"scores has 3 NaN value\(s\) \(e.g. user 0, item 1\)"):
        top_k_items(scores, k=2, batch_size=1)


def test_top_k_accepts_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    scores = torch.tensor([[0.1, 0.7, 0.3]], dtype=torch.bfloat16)
    assert top_k_items(scores, k=2).tolist() == [[1, 2]]


def test_top_k_matches_reference_with_ties_and_exclusion() -> None:
    rng = np.random.default_rng(7)
    # Integer scores 0..3 on 40 items: many ties straddle the k-th place.
    scores = rng.integers(0, 4, size=(60, 40)).astype(np.float64)
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    exclude = (rng.random(scores.shape) < 0.3).astype(float)
    exclude[0] = 1.0  # a user with every item excluded
    expected = reference_top_k(scores, 12, exclude)
    for batch_size in (1, 7, None):
        got = top_k_items(scores, 12, sparse.csr_array(exclude), batch_size=batch_size)
        np.testing.assert_array_equal(got, expected)
    assert (expected[0] == -1).all()
    # Continuous float32 scores take the argpartition path without ties.
    floats = rng.random((30, 50), dtype=np.float32)
    np.testing.assert_array_equal(top_k_items(floats, 5), reference_top_k(floats, 5))
    np.testing.assert_array_equal(top_k_items(floats, 50), reference_top_k(floats, 50))


def test_excluded_columns_of_some_rows_rank_as_the_matrix_of_those_rows() -> None:
    """recommend's path: the excluded columns read from the rows of a matrix (no matrix built)
    give the lists the matrix of those rows gives (the same rows more than once, empty rows)."""
    rng = np.random.default_rng(11)
    scores = rng.integers(0, 4, size=(25, 40)).astype(np.float64)  # many ties
    matrix = sparse.csr_matrix((rng.random((50, 40)) < 0.3) * rng.random((50, 40)))
    matrix[[3, 8]] = 0  # rows without entries
    matrix.eliminate_zeros()
    for rows in (np.array([8]), np.array([5]), rng.integers(0, 50, size=25)):
        part = scores[: rows.size]
        expected = top_k_items(part, 12, sparse.csr_array(matrix[rows]))
        indptr, indices = excluded_columns(matrix, rows)
        np.testing.assert_array_equal(indptr, matrix[rows].indptr)
        np.testing.assert_array_equal(indices, matrix[rows].indices)
        for batch_size in (1, 4, None):
            np.testing.assert_array_equal(
                top_k_excluding(part, 12, (indptr, indices), batch_size), expected
            )
    np.testing.assert_array_equal(top_k_excluding(scores, 5, None), top_k_items(scores, 5))
    # a stored zero is no entry (as top_k_items reads an exclude matrix), unsorted columns rank
    # the same, and the result is the caller's to change
    odd = sparse.csr_matrix(
        (np.array([1.0, 0.0, 2.0, 3.0, 0.0]), np.array([7, 3, 1, 9, 4]), np.array([0, 3, 3, 5])),
        shape=(3, 40),
    )
    indptr, indices = excluded_columns(odd, [2, 0, 1, 0])
    assert indptr.tolist() == [0, 1, 3, 3, 5] and indices.tolist() == [9, 7, 1, 7, 1]
    np.testing.assert_array_equal(
        top_k_excluding(scores[:4], 12, (indptr, indices)),
        top_k_items(scores[:4], 12, sparse.csr_array(odd[[2, 0, 1, 0]])),
    )
    indices[:] = 0
    assert odd.indices.tolist() == [7, 3, 1, 9, 4]
    with pytest.raises(ValueError, match="excluded gives columns for 2 rows but scores has 25"):
        top_k_excluding(scores, 5, excluded_columns(matrix, np.array([1, 2])))
    with pytest.raises(ValueError, match=r"column numbers outside 0..39"):
        top_k_excluding(scores[:1], 5, (np.array([0, 1]), np.array([40])))
    with pytest.raises(TypeError, match="CSR matrix, got csc_matrix in CSC format"):
        excluded_columns(matrix.tocsc(), [0])
    with pytest.raises(ValueError, match=r"unknown user\(s\) \[50\]"):
        excluded_columns(matrix, [50])


# --------------------------------------------------------------------------------------------
# Randomised comparison with the reference metrics
# --------------------------------------------------------------------------------------------


def test_metrics_match_reference_on_random_data(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n_users, n_items, width = 80, 30, 8
    recommended = np.full((n_users, width), -1)
    relevant_rows = []
    for user in range(n_users):
        filled = rng.integers(0, width + 1)  # some lists are short or empty
        recommended[user, :filled] = rng.choice(n_items, size=filled, replace=False)
        relevant_rows.append(list(rng.choice(n_items, size=rng.integers(0, 6), replace=False)))
    relevant = csr(relevant_rows, n_items)
    ks = [1, 3, 8]

    per_user = ranking_metrics_per_user(recommended, relevant, k=ks)
    table = ranking_metrics(recommended, relevant, k=ks)
    evaluated = [u for u in range(n_users) if relevant_rows[u]]
    assert list(per_user.index) == evaluated
    assert table["users"].tolist() == [len(evaluated)] * len(ks)
    for k in ks:
        expected = pd.DataFrame(
            [reference_metrics(list(recommended[u]), set(relevant_rows[u]), k) for u in evaluated]
        )
        for name in METRICS:
            np.testing.assert_allclose(
                per_user[f"{name}@{k}"].to_numpy(), expected[name], rtol=0, atol=1e-12
            )
            assert table.loc[k, name] == pytest.approx(expected[name].mean(), abs=1e-12)
    # Hits are looked up in batches of users; batches of 3 users must give the same values.
    monkeypatch.setattr(metrics, "_BITMAP_CELLS", 3 * n_items)
    pd.testing.assert_frame_equal(ranking_metrics_per_user(recommended, relevant, k=ks), per_user)


# --------------------------------------------------------------------------------------------
# Coverage and novelty
# --------------------------------------------------------------------------------------------


def test_catalog_coverage() -> None:
    # Items shown: {3, 1, 0}; -1 is not an item -> 3 of 10 items.
    assert catalog_coverage(np.array([[3, 1], [1, 0], [-1, -1]]), n_items=10) == 0.3
    assert catalog_coverage(np.array([[-1]]), n_items=4) == 0.0


# Training users 0..3 (user 4 has no training interaction and does not count):
#   item 0: 4 of 4 users -> p = 1   -> -log2 p = 0 bits
#   item 1: 2 of 4 users -> p = 1/2 -> 1 bit
#   item 2: 1 of 4 users -> p = 1/4 -> 2 bits
#   item 3: 0 users, clipped to 1 -> p = 1/4 -> 2 bits
NOVELTY_TRAIN = csr([[0, 1], [0, 1], [0, 2], [0], []], n_items=4)


def test_novelty_hand_computed() -> None:
    # Filled slots: 0, 1, 2, 3, 1 -> (0 + 1 + 2 + 2 + 1) / 5 = 1.2 bits.
    recommended = np.array([[0, 1], [2, -1], [3, 1]])
    assert novelty(recommended, NOVELTY_TRAIN) == pytest.approx(1.2, abs=1e-12)
    assert novelty(np.array([[0], [0]]), NOVELTY_TRAIN) == 0.0


def test_novelty_in_ranking_metrics_uses_first_k_columns() -> None:
    recommended = np.array([[0, 2], [1, 3]])
    relevant = csr([[2], [1]], n_items=4)
    table = ranking_metrics(recommended, relevant, k=[1, 2], train=NOVELTY_TRAIN)
    assert list(table.columns) == [*METRICS, "coverage", "novelty", "users"]
    assert table.loc[1, "novelty"] == pytest.approx((0 + 1) / 2)  # items 0, 1
    assert table.loc[2, "novelty"] == pytest.approx((0 + 2 + 1 + 2) / 4)  # items 0, 2, 1, 3


def test_novelty_errors() -> None:
    with pytest.raises(ValueError, match="train has no nonzero entries"):
        novelty(np.array([[0]]), csr([[]], n_items=2))
    with pytest.raises(ValueError, match="no filled slots"):
        novelty(np.array([[-1, -1]]), NOVELTY_TRAIN)


# --------------------------------------------------------------------------------------------
# Average popularity (ARP) and intra-list diversity
# --------------------------------------------------------------------------------------------


def test_average_popularity_hand_computed() -> None:
    # Shares of the 4 training users (NOVELTY_TRAIN): item 0: 4/4, item 1: 2/4, item 2: 1/4,
    # item 3: 0/4. Filled slots 0, 1, 2, 3, 1 -> (1 + 0.5 + 0.25 + 0 + 0.5) / 5 = 0.45.
    recommended = np.array([[0, 1], [2, -1], [3, 1]])
    assert average_popularity(recommended, NOVELTY_TRAIN) == pytest.approx(0.45, abs=1e-12)
    # Only the most popular item: its share (every training user had it).
    assert average_popularity(np.array([[0], [0]]), NOVELTY_TRAIN) == 1.0
    # Only item 1 (had by users 0 and 1 of the 4 training users): 0.5.
    assert average_popularity(np.array([[1, -1]]), NOVELTY_TRAIN) == 0.5
    assert average_popularity(np.array([[3]]), NOVELTY_TRAIN) == 0.0


def test_average_popularity_errors() -> None:
    with pytest.raises(ValueError, match="train has no nonzero entries; average_popularity"):
        average_popularity(np.array([[0]]), csr([[]], n_items=2))
    with pytest.raises(ValueError, match="no filled slots"):
        average_popularity(np.array([[-1, -1]]), NOVELTY_TRAIN)
    with pytest.raises(ValueError, match=r"item indices >= n_items=4 \(e.g. 4 in row 0"):
        average_popularity(np.array([[4, 0]]), NOVELTY_TRAIN)


def reference_intra_list_diversity(recommended: np.ndarray, vectors: np.ndarray) -> float:
    """Mean over lists with >= 2 items of the mean of 1 - cos over all pairs, pair by pair."""
    per_list = []
    for row in recommended:
        items = [item for item in row if item >= 0]
        distances = [
            1 - vectors[i] @ vectors[j] / (np.linalg.norm(vectors[i]) * np.linalg.norm(vectors[j]))
            for position, i in enumerate(items)
            for j in items[position + 1 :]
        ]
        if distances:
            per_list.append(np.mean(distances))
    return float(np.mean(per_list))


def test_intra_list_diversity_hand_computed() -> None:
    # Item vectors e1, e2, -e1, 2*e1 (the length does not matter, only the direction).
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    # Row 0: pairs (e1, e2) 1, (e1, -e1) 2, (e2, -e1) 1 -> 4/3.
    # Row 1: (e1, e2) -> 1.  Row 2: (e1, 2 e1) -> 0.  Row 3: one item, skipped.
    recommended = np.array([[0, 1, 2], [1, -1, 0], [3, 0, -1], [2, -1, -1]])
    expected = (4 / 3 + 1 + 0) / 3
    assert intra_list_diversity(recommended, vectors) == pytest.approx(expected, abs=1e-12)
    assert intra_list_diversity(np.array([[0, 3]]), vectors) == pytest.approx(0.0, abs=1e-12)
    assert intra_list_diversity(np.array([[0, 2]]), vectors) == pytest.approx(2.0, abs=1e-12)


def test_intra_list_diversity_matches_pairwise_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(12)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)  # like MiniLM: float32, not unit
    recommended = np.array([rng.permutation(30)[:6] for _ in range(40)])
    recommended[rng.random(recommended.shape) < 0.3] = -1  # some empty slots
    expected = reference_intra_list_diversity(recommended, vectors.astype(np.float64))
    assert intra_list_diversity(recommended, vectors) == pytest.approx(expected, abs=1e-6)
    # Lists are processed in batches; batches of 2 lists give the same value.
    monkeypatch.setattr(metrics, "_VECTORS_PER_BATCH", 2 * 6 * 8)
    assert intra_list_diversity(recommended, vectors) == pytest.approx(expected, abs=1e-6)


def test_intra_list_diversity_errors() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"2 item\(s\) with a zero vector \(e.g. items \[1, 3\]\)"):
        intra_list_diversity(np.array([[0, 2]]), vectors)
    with pytest.raises(ValueError, match="no row of recommended has 2 or more filled slots"):
        intra_list_diversity(np.array([[0, -1], [-1, 2]]), np.eye(3))
    with pytest.raises(ValueError, match="item_vectors must be a 2-D numeric array"):
        intra_list_diversity(np.array([[0, 1]]), np.ones(3))
    with pytest.raises(ValueError, match=r"1 row\(s\) with NaN or infinite values \(e.g. item 2\)"):
        intra_list_diversity(np.array([[0, 1]]), np.array([[1.0], [2.0], [np.nan]]))
    with pytest.raises(ValueError, match="item indices >= n_items=3"):
        intra_list_diversity(np.array([[0, 3]]), np.eye(3))
    with pytest.raises(TypeError, match="item_vectors must be a dense"):
        intra_list_diversity(np.array([[0, 1]]), sparse.csr_array(np.eye(3)))


# --------------------------------------------------------------------------------------------
# Input validation: errors name the input and what would be valid
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -3, 2.0, True, "5"])
def test_top_k_rejects_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k_items(np.zeros((2, 3)), k=k)  # type: ignore[arg-type]


def test_top_k_error_messages() -> None:
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        top_k_items(np.zeros((2, 3)), k=0)
    with pytest.raises(
        ValueError, match=r"exclude has shape \(2, 4\) but must have shape \(2, 3\)"
    ):
        top_k_items(np.zeros((2, 3)), k=1, exclude=sparse.csr_array((2, 4)))
    with pytest.raises(TypeError, match=r"exclude must be a scipy\.sparse matrix"):
        top_k_items(np.zeros((2, 3)), k=1, exclude=np.zeros((2, 3)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scores must be 2-D"):
        top_k_items(np.zeros(3), k=1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        top_k_items(np.zeros((2, 3)), k=1, batch_size=0)


def test_ranking_metrics_error_messages() -> None:
    relevant = csr([[1], [2]], n_items=4)
    with pytest.raises(ValueError, match="recommended has 3 rows but relevant has 2"):
        ranking_metrics(np.zeros((3, 2), dtype=int), relevant, k=1)
    with pytest.raises(ValueError, match="k=3 is larger than the 2 columns of recommended"):
        ranking_metrics(np.array([[0, 1], [1, 2]]), relevant, k=[1, 3])
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        ranking_metrics(np.array([[0, 1], [1, 2]]), relevant, k=[0, 1])
    with pytest.raises(ValueError, match="entries below -1"):
        ranking_metrics(np.array([[0, -2], [1, 2]]), relevant, k=2)
    with pytest.raises(ValueError, match=r"item indices >= n_items=4 \(e.g. 4 in row 1"):
        ranking_metrics(np.array([[0, 1], [1, 4]]), relevant, k=2)
    with pytest.raises(ValueError, match="must hold integer item indices, got dtype float64"):
        ranking_metrics(np.array([[0.0, 1.0], [1.0, 2.0]]), relevant, k=2)
    with pytest.raises(ValueError, match="row 1 lists item 2 more than once"):
        ranking_metrics(np.array([[0, 1], [2, 2]]), relevant, k=2)
    with pytest.raises(TypeError, match=r"relevant must be a scipy\.sparse matrix"):
        ranking_metrics(np.array([[0, 1], [1, 2]]), relevant.toarray(), k=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="train has 5 columns but the catalog has 4 items"):
        ranking_metrics(np.array([[0, 1], [1, 2]]), relevant, k=2, train=csr([[0]], 5))


def test_repeats_after_the_largest_k_are_ignored() -> None:
    # Only the first max(k) columns are evaluated, so a repeat beyond them is harmless.
    table = ranking_metrics(np.array([[1, 0, 0]]), csr([[1]], n_items=2), k=2)
    assert table.loc[2, "precision"] == pytest.approx(1 / 2)


# ---- concentration ----------------------------------------------------------------------------


def test_gini_index_hand_computed_and_edge_cases():
    from recutils.metrics import gini_index, lorenz_curve

    # counts 0, 0, 0, 4: G = 2 * (4 * 4) / (4 * 4) - 5/4 = 0.75 (one item of four gets all)
    assert gini_index([4, 0, 0, 0]) == pytest.approx(0.75)
    assert gini_index([3, 3, 3]) == pytest.approx(0.0)
    # counts 1, 3: G = 2 * (1*1 + 2*3) / (2 * 4) - 3/2 = 14/8 - 12/8 = 0.25
    assert gini_index([3, 1]) == pytest.approx(0.25)
    population, volume = lorenz_curve([3, 1])
    np.testing.assert_allclose(population, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(volume, [0.0, 0.25, 1.0])
    # Gini = 1 - 2 * area under the step-free (trapezoid) Lorenz curve, up to the 1/n term
    counts = np.random.default_rng(0).integers(0, 50, size=200)
    population, volume = lorenz_curve(counts)
    area = np.sum((volume[1:] + volume[:-1]) / 2 * np.diff(population))
    assert gini_index(counts) == pytest.approx(1 - 2 * area, abs=1e-12)
    with pytest.raises(ValueError, match="sums to 0"):
        gini_index([0, 0])
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        gini_index([1, -2])
    with pytest.raises(ValueError, match="is empty"):
        lorenz_curve([])
