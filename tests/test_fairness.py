"""Tests of recutils.fairness (exposure, calibration, Steck's re-ranking) and IPSBPR."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recutils.fairness import (
    DEFAULT_SMOOTHING,
    calibrated_rerank,
    category_distributions,
    group_exposure,
    item_exposure,
    miscalibration,
    position_weights,
)
from recutils.models.debiasing import IPSBPR
from recutils.models.graph import LightGCN

W2 = 1 / math.log2(3)  # the attention of rank 2; rank 1 gets 1, rank 3 gets 1/2

# -- exposure --------------------------------------------------------------------------------


def test_position_weights_are_dcg_discounts() -> None:
    np.testing.assert_allclose(position_weights(4), [1.0, W2, 0.5, 1 / math.log2(5)])
    assert position_weights(1).dtype == np.float64
    with pytest.raises(ValueError, match="k must be a positive integer"):
        position_weights(0)


def test_item_exposure_by_hand_ignores_empty_slots() -> None:
    lists = [[0, 1, 2], [2, -1, 0]]
    exposure = item_exposure(lists, 4)
    np.testing.assert_allclose(exposure, [1.0 + 0.5, W2, 0.5 + 1.0, 0.0])
    assert exposure.dtype == np.float64
    # the total is the attention of the filled slots: ranks 1, 2, 3 and ranks 1, 3
    assert exposure.sum() == pytest.approx(1 + W2 + 0.5 + 1 + 0.5)
    # an empty slot in the middle keeps the ranks of the slots after it
    np.testing.assert_allclose(item_exposure([[-1, -1, 3]], 4), [0, 0, 0, 0.5])
    np.testing.assert_array_equal(item_exposure(np.full((2, 3), -1), 4), np.zeros(4))
    np.testing.assert_allclose(item_exposure([[0, 1], [1, -1]], 3), [1.0, 1.0 + W2, 0.0])


@pytest.mark.parametrize(
    ("recommended", "message"),
    [
        ([[0.0, 1.0]], r"recommended must hold integer item indices, got dtype float64"),
        ([0, 1], r"recommended must be a 2-D array \(users x ranks\), got shape \(2,\)"),
        ([[0, 3]], r"recommended has 1 item indices >= n_items=3 \(e.g. 3 in row 0, column 1\)"),
        ([[-2, 0]], r"recommended has 1 entries below -1 \(e.g. -2"),
    ],
)
def test_item_exposure_bad_lists(recommended: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        item_exposure(recommended, 3)


def test_item_exposure_bad_catalog_size() -> None:
    with pytest.raises(ValueError, match="n_items must be a positive integer"):
        item_exposure([[0]], 0)


# Items 0, 1 of brand a, 2 of b, 3 of c, 4 of d; user 0 sees [0, 2], user 1 sees [1, 0].
GROUPS = ["a", "a", "b", "c", "d"]
LISTS = [[0, 2], [1, 0]]
# test pairs: user 0 turned to items 2 and 3, user 1 to items 0 and 3 (nobody to item 4)
RELEVANT = sp.csr_matrix(([1.0, 1.0, 1.0, 1.0], ([0, 0, 1, 1], [2, 3, 0, 3])), shape=(2, 5))


def test_group_exposure_shares_by_hand() -> None:
    table = group_exposure(LISTS, GROUPS, RELEVANT)
    total = 1 + W2 + 1 + W2
    exposure = {"a": (1 + 1 + W2) / total, "b": W2 / total, "c": 0.0, "d": 0.0}
    relevance = {"a": 0.25, "b": 0.25, "c": 0.5, "d": 0.0}
    assert table.index.name == "group"
    assert list(table.columns) == [
        "items",
        "exposure share",
        "relevance share",
        "exposure / relevance",
    ]
    assert list(table.index[:2]) == ["a", "b"]  # sorted by exposure share
    assert set(table.index[2:]) == {"c", "d"}
    assert table["items"].to_dict() == {"a": 2, "b": 1, "c": 1, "d": 1}
    for group in "abcd":
        row = table.loc[group]
        assert row["exposure share"] == pytest.approx(exposure[group])
        assert row["relevance share"] == pytest.approx(relevance[group])
    assert table["exposure share"].sum() == pytest.approx(1.0)
    assert table["relevance share"].sum() == pytest.approx(1.0)
    ratio = table["exposure / relevance"]
    assert ratio["a"] == pytest.approx(exposure["a"] / 0.25)  # shown more than wanted
    assert ratio["c"] == 0.0  # wanted, never shown
    assert np.isnan(ratio["d"])  # never wanted: no ratio


def test_group_exposure_counts_pairs_not_weights_and_runs_without_relevance() -> None:
    weighted = RELEVANT.copy()
    weighted.data = np.array([5.0, 1.0, 2.0, 1.0])
    pd.testing.assert_frame_equal(
        group_exposure(LISTS, GROUPS, weighted), group_exposure(LISTS, GROUPS, RELEVANT)
    )
    plain = group_exposure(LISTS, GROUPS)
    assert list(plain.columns) == ["items", "exposure share"]
    np.testing.assert_allclose(
        plain["exposure share"].to_numpy(),
        group_exposure(LISTS, GROUPS, RELEVANT)["exposure share"].to_numpy(),
    )
    # the docstring's example
    assert group_exposure([[0, 1]], ["a", "b"])["exposure share"].round(3).tolist() == [
        0.613,
        0.387,
    ]


def test_group_exposure_bad_input() -> None:
    with pytest.raises(ValueError, match="item_groups has 1 missing labels"):
        group_exposure(LISTS, ["a", "a", None, "c", "d"])
    with pytest.raises(ValueError, match=r"recommended has 1 item indices >= n_items=4"):
        group_exposure([[0, 4]], ["a", "a", "b", "c"])  # one label short
    with pytest.raises(ValueError, match="recommended lists are empty"):
        group_exposure([[-1, -1]], GROUPS)
    with pytest.raises(ValueError, match="relevant has 4 item columns but item_groups 5"):
        group_exposure(LISTS, GROUPS, RELEVANT[:, :4])
    with pytest.raises(ValueError, match="relevant has no pairs"):
        group_exposure(LISTS, GROUPS, sp.csr_matrix((2, 5)))
    with pytest.raises(TypeError, match=r"relevant must be a scipy\.sparse matrix"):
        group_exposure(LISTS, GROUPS, RELEVANT.toarray())


# -- calibration -----------------------------------------------------------------------------


def test_category_distributions_by_hand() -> None:
    # items 0 and 2 in x, 1 in y, 3 in z; user 2 has no interactions
    train = sp.csr_matrix(([2.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 3])), shape=(3, 4))
    distributions, categories = category_distributions(train, ["x", "y", "x", "z"])
    assert categories.tolist() == ["x", "y", "z"]
    expected = [[2 / 3, 1 / 3, 0], [0, 0, 1], [2 / 4, 1 / 4, 1 / 4]]  # last: the catalog's
    np.testing.assert_allclose(distributions, expected)
    assert distributions.dtype == np.float64
    np.testing.assert_allclose(distributions.sum(axis=1), 1.0)


def test_category_distributions_with_integer_labels() -> None:
    # integer category ids stay integers and sort as numbers, so the documented
    # np.searchsorted(categories, item_categories) finds their columns
    labels = np.array([10, 2, 2, 0, 10])
    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 1], [0, 0, 1, 1, 0]], dtype=np.float32))
    distributions, categories = category_distributions(train, labels)
    assert categories.tolist() == [0, 2, 10]
    np.testing.assert_array_equal(np.searchsorted(categories, labels), [2, 1, 1, 0, 2])
    np.testing.assert_allclose(distributions, [[0, 1 / 3, 2 / 3], [0.5, 0.5, 0]])


def test_category_distributions_bad_input() -> None:
    train = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match=r"item_categories must give one group per item \(3\)"):
        category_distributions(train, ["x", "y"])
    with pytest.raises(ValueError, match="item_categories has 1 missing labels"):
        category_distributions(train, ["x", np.nan, "y"])
    with pytest.raises(ValueError, match="train has no interactions"):
        category_distributions(sp.csr_matrix((2, 3)), ["x", "y", "x"])
    with pytest.raises(TypeError, match=r"train must be a scipy\.sparse matrix"):
        category_distributions(np.eye(3), ["x", "y", "z"])


def kl_by_hand(p: list[float], counts: list[float], alpha: float = DEFAULT_SMOOTHING) -> float:
    q = np.asarray(counts, dtype=float) / sum(counts)
    smoothed = (1 - alpha) * q + alpha * np.asarray(p)
    return sum(pg * math.log(pg / sg) for pg, sg in zip(p, smoothed, strict=True) if pg > 0)


def test_miscalibration_by_hand() -> None:
    codes = np.array([0, 0, 1, 2])  # item -> category column
    target = [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]]
    lists = [[0, 2], [0, 1], [2, -1], [3, 0]]
    values = miscalibration(lists, codes, target)
    assert values.shape == (4,) and values.dtype == np.float64
    # a list with exactly the target's shares: q = p, so q~ = p and KL = 0 up to rounding
    assert values[0] == pytest.approx(0.0, abs=1e-12)
    assert values[1] == pytest.approx(kl_by_hand([0.5, 0.5, 0], [2, 0, 0]))
    assert values[1] == pytest.approx(0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(0.5 / 0.005))
    # a category with p = 0 adds nothing; one the user wants but the list lacks: ln(1 / alpha)
    assert values[2] == pytest.approx(math.log(1 / DEFAULT_SMOOTHING))
    assert values[3] == pytest.approx(kl_by_hand([0.25, 0.25, 0.5], [1, 0, 1]))
    assert (values >= 0).all()
    # smoothing 1 makes q~ = p: no divergence at all; more smoothing, less divergence
    np.testing.assert_allclose(miscalibration(lists, codes, target, smoothing=1.0), 0, atol=1e-15)
    assert (miscalibration(lists, codes, target, smoothing=0.1)[1:] < values[1:]).all()


def test_miscalibration_ignores_empty_slots() -> None:
    codes = np.array([0, 1, 1])
    target = [[0.3, 0.7]] * 3
    values = miscalibration([[0, 1, -1], [0, -1, 1], [-1, 0, 1]], codes, target)
    np.testing.assert_allclose(values, values[0])
    assert values[0] == pytest.approx(kl_by_hand([0.3, 0.7], [1, 1]))
    # an empty list counts as q = p
    assert miscalibration([[-1, -1]], codes, [[0.3, 0.7]])[0] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": [0.5, 0.5]}, r"target must be \(n_users, n_categories\).*got shape \(2,\)"),
        ({"target": [[0.5, 0.5]] * 3}, r"= \(2, \.\.\.\) distributions, got shape \(3, 2\)"),
        ({"target": [[0.5, 0.6]] * 2}, "target's rows must be distributions"),
        ({"target": [[1.5, -0.5]] * 2}, "target's rows must be distributions"),
        ({"target": [[np.nan, 1.0]] * 2}, "target's rows must be distributions"),
        ({"item_categories": np.array([0.0, 1.0, 1.0])}, "item_categories must be a 1-D integer"),
        ({"item_categories": np.array([0, 1, 2])}, r"item_categories must lie in 0\.\.1"),
        ({"recommended": [[0.0, 1.0]] * 2}, "recommended must hold integer item indices"),
        ({"recommended": [[0, 3]] * 2}, r"recommended has 2 item indices >= n_items=3"),
        ({"smoothing": 0.0}, r"smoothing must be a finite number > 0 and <= 1"),
        ({"smoothing": 1.5}, r"smoothing must be a finite number > 0 and <= 1"),
    ],
)
def test_miscalibration_bad_input(kwargs: dict, message: str) -> None:
    arguments = {
        "recommended": [[0, 1], [1, 2]],
        "item_categories": np.array([0, 1, 1]),
        "target": [[0.5, 0.5], [0.2, 0.8]],
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        miscalibration(**arguments)


# -- calibrated re-ranking -------------------------------------------------------------------


def test_calibrated_rerank_docstring_example() -> None:
    lists = calibrated_rerank(
        [[0, 1, 2]], [[3.0, 2.9, 1.0]], np.array([0, 0, 1]), [[0.5, 0.5]], k=2, weight=0.5
    )
    assert lists.tolist() == [[0, 2]] and lists.dtype == np.int64


def test_weight_zero_keeps_the_models_order() -> None:
    rng = np.random.default_rng(0)
    candidates = np.array([rng.permutation(12)[:8] for _ in range(5)])
    scores = np.sort(rng.random((5, 8)), axis=1)[:, ::-1]  # best first, as recommend gives
    codes = rng.integers(0, 3, size=12)
    target = rng.dirichlet(np.ones(3), size=5)
    lists = calibrated_rerank(candidates, scores, codes, target, k=5, weight=0.0)
    np.testing.assert_array_equal(lists, candidates[:, :5])
    # candidates out of order: weight 0 orders them by score; equal scores keep their order
    shuffled = rng.permutation(8)
    lists = calibrated_rerank(candidates[:, shuffled], scores[:, shuffled], codes, target, 5, 0.0)
    np.testing.assert_array_equal(lists, candidates[:, :5])
    tied = calibrated_rerank(candidates, np.ones((5, 8)), codes, target, k=5, weight=0.0)
    np.testing.assert_array_equal(tied, candidates[:, :5])


def test_weight_one_reaches_the_best_calibration_on_a_toy() -> None:
    # six candidates: four of category 0, one each of 1 and 2; the scores favour category 0
    codes = np.array([0, 0, 0, 0, 1, 2])
    candidates = np.array([[0, 1, 2, 3, 4, 5]] * 3)
    scores = np.array([[6.0, 5, 4, 3, 2, 1]] * 3)
    target = np.array([[0.5, 0.25, 0.25], [0.75, 0.25, 0.0], [0.2, 0.5, 0.3]])
    k = 4
    lists = calibrated_rerank(candidates, scores, codes, target, k=k, weight=1.0)
    found = miscalibration(lists, codes, target)
    for user in range(3):
        best = min(
            miscalibration(np.array([subset]), codes, target[user : user + 1])[0]
            for subset in itertools.combinations(candidates[user], k)
        )
        assert found[user] == pytest.approx(best, abs=1e-12)
    # the first two users get exactly their shares: two (three) of category 0, then the others
    assert sorted(codes[lists[0]].tolist()) == [0, 0, 1, 2]
    assert sorted(codes[lists[1]].tolist()) == [0, 0, 0, 1]
    assert found[0] == pytest.approx(0.0, abs=1e-12)
    # and calibration costs accuracy: the plain top 4 is all category 0
    plain = calibrated_rerank(candidates, scores, codes, target, k=k, weight=0.0)
    assert (miscalibration(plain, codes, target) > found).all()


@pytest.mark.parametrize("weight", [0.2, 0.5, 0.9, 1.0])
def test_every_step_is_the_greedy_argmax_of_the_stated_objective(weight: float) -> None:
    """Each position holds the candidate maximising
    (1 - weight) * (sum of the list's scores) - weight * miscalibration(list), recomputed."""
    rng = np.random.default_rng(int(weight * 10))
    n_users, n_candidates, n_items, n_categories, k = 6, 7, 15, 3, 5
    candidates = np.array([rng.permutation(n_items)[:n_candidates] for _ in range(n_users)])
    candidates[0, [1, 4]] = -1  # empty slots are never chosen
    scores = rng.normal(size=(n_users, n_candidates))
    scores[0, [1, 4]] = np.nan  # as recommend() gives for empty slots
    codes = rng.integers(0, n_categories, size=n_items)
    target = rng.dirichlet(np.ones(n_categories), size=n_users)
    lists = calibrated_rerank(candidates, scores, codes, target, k=k, weight=weight)
    for user in range(n_users):
        chosen: list[int] = []
        for position in range(k):
            item = lists[user, position]
            assert item >= 0 and item in candidates[user] and item not in chosen
            objectives = {}
            for slot, candidate in enumerate(candidates[user]):
                if candidate < 0 or candidate in chosen:
                    continue
                trial = np.full((1, k), -1)
                trial[0, : position + 1] = [*chosen, candidate]
                score_sum = sum(scores[user, list(candidates[user]).index(c)] for c in chosen)
                calibration = miscalibration(trial, codes, target[user : user + 1])[0]
                objectives[candidate] = (1 - weight) * (
                    score_sum + scores[user, slot]
                ) - weight * calibration
            assert objectives[item] >= max(objectives.values()) - 1e-12
            chosen.append(int(item))


def test_empty_candidate_slots_are_never_chosen() -> None:
    codes = np.array([0, 1, 0, 1])
    candidates = np.array([[0, -1, 1, -1], [-1, -1, -1, -1], [3, 2, -1, 1]])
    scores = np.array([[1.0, np.nan, 0.5, np.nan], [np.nan] * 4, [3.0, 2.0, np.nan, 1.0]])
    target = [[0.5, 0.5]] * 3
    for weight in (0.0, 0.5, 1.0):
        lists = calibrated_rerank(candidates, scores, codes, target, k=4, weight=weight)
        assert sorted(lists[0, :2].tolist()) == [0, 1]
        assert lists[0, 2:].tolist() == [-1, -1]  # fewer candidates than k: -1 at the end
        assert lists[1].tolist() == [-1, -1, -1, -1]
        assert sorted(lists[2, :3].tolist()) == [1, 2, 3] and lists[2, 3] == -1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidate_scores": [[1.0, 0.5]]}, r"candidate_scores has shape \(1, 2\) but candidates"),
        ({"candidates": [[0.0, 1.0, 2.0]]}, "candidates must hold integer item indices"),
        ({"candidates": [[0, 1, 5]]}, r"candidates has 1 item indices >= n_items=4"),
        ({"k": 4}, "k=4 is more than the 3 candidates per user"),
        ({"k": 0}, "k must be a positive integer"),
        ({"weight": 1.5}, r"weight must be a finite number >= 0 and <= 1"),
        ({"weight": -0.1}, r"weight must be a finite number >= 0 and <= 1"),
        ({"weight": np.nan}, r"weight must be a finite number"),
        ({"smoothing": 0}, r"smoothing must be a finite number > 0"),
        ({"target": [[0.5, 0.6]]}, "target's rows must be distributions"),
        ({"target": [[0.5, 0.5]] * 2}, r"target must be \(n_users, n_categories\) = \(1, \.\.\.\)"),
        ({"target": [0.5, 0.5]}, r"target must be \(n_users, n_categories\).*shape \(2,\)"),
        ({"item_categories": ["x", "y", "y", "x"]}, "item_categories must be a 1-D integer array"),
        ({"item_categories": np.array([0, 1, 2, 0])}, r"item_categories must lie in 0\.\.1"),
        ({"candidate_scores": [[3.0, np.nan, 1.0]]}, "candidate_scores must be finite"),
        ({"candidate_scores": [[3.0, -np.inf, 1.0]]}, "candidate_scores must be finite"),
        ({"candidates": [[0, 1, 0]]}, "candidates repeat an item"),
    ],
)
def test_calibrated_rerank_bad_input(kwargs: dict, message: str) -> None:
    arguments = {
        "candidates": [[0, 1, 2]],
        "candidate_scores": [[3.0, 2.0, 1.0]],
        "item_categories": np.array([0, 1, 1, 0]),
        "target": [[0.5, 0.5]],
        "k": 2,
        "weight": 0.5,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        calibrated_rerank(**arguments)


# -- IPSBPR ----------------------------------------------------------------------------------

# Item 0 has 6 users, item 1 has 3, item 2 has 2, item 3 has 1, item 4 none.
POPULARITY_TOY = sp.csr_matrix(
    (
        np.ones(12, np.float32),
        ([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3]),
    ),
    shape=(6, 5),
)


@pytest.mark.parametrize(
    ("power", "max_weight", "raw"),
    [
        (1.0, 4.0, [1.0, 2.0, 3.0, 4.0]),  # 6 / n_i, item 3's 6 clipped to 4
        (0.5, 100.0, [1.0, math.sqrt(2), math.sqrt(3), math.sqrt(6)]),
        (2.0, 1.0, [1.0, 1.0, 1.0, 1.0]),  # max_weight 1: plain BPR
        (0.0, 100.0, [1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_ipsbpr_item_weights_by_hand(power: float, max_weight: float, raw: list) -> None:
    model = IPSBPR(power=power, max_weight=max_weight, factors=4, epochs=1, batch_size=4)
    model.fit(POPULARITY_TOY)
    users_per_item = np.array([6, 3, 2, 1])
    mean_over_pairs = (np.array(raw) * users_per_item).sum() / users_per_item.sum()
    weights = model.item_weights_
    assert weights.dtype == np.float32 and weights.shape == (5,)
    np.testing.assert_allclose(weights[:4], np.array(raw) / mean_over_pairs, rtol=1e-6)
    pair_items = POPULARITY_TOY.tocoo().col
    assert weights[pair_items].astype(np.float64).mean() == pytest.approx(1.0, abs=1e-6)


def test_ipsbpr_batches_carry_each_pairs_weight() -> None:
    model = IPSBPR(power=1.0, max_weight=4.0, factors=4, epochs=1, batch_size=5, seed=3)
    model.fit(POPULARITY_TOY)
    batches = list(model._epoch_batches(np.random.default_rng(0)))
    assert [len(batch[0]) for batch in batches] == [5, 5, 2]
    for users, positives, _, weights in batches:
        assert weights.dtype == torch.float32
        np.testing.assert_array_equal(
            weights.numpy(), model.item_weights_[positives.numpy() - model.n_users_]
        )
        assert (POPULARITY_TOY.toarray()[users.numpy(), positives.numpy() - 6] == 1).all()
    # the loss's ranking part is the weighted mean of the pairs' BPR losses
    users, positives, negatives, weights = batches[0]
    _, ranking, size = model._loss(model.module_, batches[0])
    item_vectors = torch.from_numpy(model.item_vectors_)
    u = torch.from_numpy(model.user_vectors_)[users]
    i, j = item_vectors[positives - 6], item_vectors[negatives - 6]
    by_hand = (weights * -torch.nn.functional.logsigmoid((u * (i - j)).sum(dim=1))).mean()
    assert size == 5 and ranking == pytest.approx(by_hand.item(), rel=1e-5)
    # LightGCN's batches carry None: equal weights
    plain = LightGCN(factors=4, layers=0, epochs=1, batch_size=5).fit(POPULARITY_TOY)
    assert all(batch[3] is None for batch in plain._epoch_batches(np.random.default_rng(0)))


def two_halves(seed: int = 0) -> sp.csr_matrix:
    """30 users, 20 items: user u likes 6 items of half u % 2, item popularity skewed."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, 11)
    rows, cols = [], []
    for user in range(30):
        half = user % 2
        liked = rng.choice(10, size=6, replace=False, p=popularity / popularity.sum())
        rows += [user] * 6
        cols += list(half * 10 + liked)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(30, 20))


SETTINGS = {"factors": 8, "epochs": 5, "batch_size": 32, "seed": 4}


def test_ipsbpr_power_zero_is_lightgcn_without_layers() -> None:
    train = two_halves()
    plain = LightGCN(layers=0, **SETTINGS).fit(train)
    equal = IPSBPR(power=0.0, **SETTINGS).fit(train)
    np.testing.assert_array_equal(equal.item_weights_, np.ones(20, np.float32))
    # weights of exactly 1: (1 * losses).mean() is losses.mean(), bit for bit
    np.testing.assert_array_equal(equal.item_vectors_, plain.item_vectors_)
    np.testing.assert_array_equal(equal.user_vectors_, plain.user_vectors_)
    assert [h["loss"] for h in equal.history_] == [h["loss"] for h in plain.history_]
    weighted = IPSBPR(power=1.0, **SETTINGS).fit(train)
    assert not np.allclose(weighted.item_vectors_, plain.item_vectors_)
    assert equal.layers == 0 and equal.name == "IPS-BPR"


def test_ipsbpr_refit_is_reproducible() -> None:
    train = two_halves(1)
    model = IPSBPR(power=0.7, max_weight=5.0, **SETTINGS).fit(train)
    first = model.item_vectors_.copy()
    again = model.with_params().fit(train)
    np.testing.assert_array_equal(again.item_vectors_, first)
    np.testing.assert_array_equal(model.fit(train).item_vectors_, first)  # the same object
    np.testing.assert_array_equal(again.item_weights_, model.item_weights_)
    assert model.get_params()["power"] == 0.7 and model.get_params()["max_weight"] == 5.0
    assert "layers" not in model.get_params()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"power": -0.5}, r"power must be a finite number >= 0 \(.*\), got -0\.5"),
        ({"power": np.inf}, "power must be a finite number >= 0"),
        ({"max_weight": 0.5}, r"max_weight must be a finite number >= 1 \(.*\), got 0\.5"),
        ({"max_weight": "10"}, "max_weight must be a finite number >= 1"),
        ({"factors": 0}, "factors must be a positive integer"),
    ],
)
def test_ipsbpr_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IPSBPR(**kwargs)
