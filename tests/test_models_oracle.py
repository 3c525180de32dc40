"""The shop oracle plugs into the model interface and beats everything trained on the log."""

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.datasets.shop import generate_shop
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex
from recutils.models import MostPopular, Oracle
from recutils.splitting import pair_split, temporal_split


def test_oracle_scores_are_the_truth_for_every_user_and_beat_popularity():
    shop = generate_shop(n_users=300, n_items=400, seed=2)
    index = IdIndex.from_dataset(shop)
    split = pair_split(temporal_split(shop.interactions, test_start="2024-11-01"))
    train, test = index.matrix(split.train), index.matrix(split.test)
    oracle = Oracle(at="2024-11-01").fit(train, truth=shop.truth)
    new_users = np.flatnonzero(np.diff(train.indptr) == 0)
    assert len(new_users) > 0  # the shop has users who arrive in the test month
    users = np.concatenate([[0, 5], new_users[:3]])
    # the truth for everybody, new users included (no popularity fallback behind the model)
    np.testing.assert_allclose(
        oracle.score(users), shop.truth.view_probability("2024-11-01", users=users), rtol=1e-6
    )
    ndcg = {
        name: evaluate(model, train, test, k=10, truth=shop.truth).loc[10, "ndcg"]
        for name, model in {"oracle": oracle, "popular": MostPopular()}.items()
    }
    assert ndcg["oracle"] > 1.5 * ndcg["popular"]


def test_oracle_refuses_what_is_not_the_shop():
    ones = sp.csr_matrix(np.ones((3, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="needs truth=, the shop's ground truth"):
        Oracle(at="2024-11-01").fit(ones)
    with pytest.raises(TypeError, match="needs truth=, the shop's ground truth"):
        Oracle(at="2024-11-01").fit(ones, truth=None)
    shop = generate_shop(n_users=40, n_items=120, seed=1)
    with pytest.raises(ValueError, match="truth has"):
        Oracle(at="2024-06-01").fit(ones, truth=shop.truth)


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def test_oracle_without_the_users_parts_is_the_average_user_by_the_formula():
    shop = generate_shop(n_users=60, n_items=150, seed=3)
    truth, at = shop.truth, "2024-10-01"
    train = sp.csr_matrix(([1.0], ([0], [0])), shape=(len(truth.user_ids), len(truth.item_ids)))
    users = np.array([0, 7, 31])
    scores = Oracle(at, taste=False, departments=False).fit(train, truth=truth).score(users)
    # by hand: the average user's preference (pref is linear in the taste) and interest
    preference = truth.preference(at).mean(axis=0, keepdims=True)
    logits = truth.view_logits(preference, at)
    interest = truth.user_leaf_interest.mean(axis=0) * truth.leaf_weights(at)
    interest /= interest.sum()
    launched = truth.item_launch <= np.datetime64(at)
    by_hand = np.zeros(len(truth.item_ids))
    for leaf in np.unique(truth.item_leaf):
        columns = np.flatnonzero((truth.item_leaf == leaf) & launched)
        if columns.size:
            by_hand[columns] = _softmax(logits[:, columns])[0] * interest[leaf]
    np.testing.assert_allclose(scores, np.repeat(by_hand[None, :], 3, axis=0), rtol=1e-5)
    assert scores.dtype == np.float32 and np.allclose(scores.sum(axis=1), 1, atol=1e-5)


def test_oracle_parts_keep_the_other_parts_personal():
    shop = generate_shop(n_users=60, n_items=150, seed=3)
    truth, at = shop.truth, "2024-10-01"
    train = sp.csr_matrix(([1.0], ([0], [0])), shape=(len(truth.user_ids), len(truth.item_ids)))
    users = np.arange(10)
    full = Oracle(at).fit(train, truth=truth).score(users)
    no_taste = Oracle(at, taste=False).fit(train, truth=truth).score(users)
    no_departments = Oracle(at, departments=False).fit(train, truth=truth).score(users)

    def leaf_totals(scores):
        return np.stack([scores[:, truth.item_leaf == leaf].sum(axis=1) for leaf in range(20)], 1)

    # without taste: each user's own leaf shares, the same order inside every leaf for all
    np.testing.assert_allclose(leaf_totals(no_taste), leaf_totals(full), atol=1e-5)

    def within_leaf(scores):  # each leaf's scores over their total (NaN where the total is 0)
        totals = leaf_totals(scores)[:, truth.item_leaf]
        return np.where(totals > 1e-12, scores / np.maximum(totals, 1e-30), np.nan)

    within = within_leaf(no_taste)
    shared = np.nanmax(within, axis=0)  # the one order inside each leaf
    np.testing.assert_allclose(
        np.where(np.isnan(within), shared, within),
        np.repeat(shared[None, :], 10, axis=0),
        atol=1e-5,
    )
    # without departments: the same leaf shares for all, each user's own order inside a leaf
    totals = leaf_totals(no_departments)
    np.testing.assert_allclose(totals, np.repeat(totals[:1], 10, axis=0), atol=1e-5)
    own, average = within_leaf(full), within_leaf(no_departments)
    np.testing.assert_allclose(average[~np.isnan(own)], own[~np.isnan(own)], atol=1e-4)
    assert not np.allclose(full, no_taste) and not np.allclose(full, no_departments)
    assert shop.truth is truth and truth.user_use.std(axis=0).max() > 0  # the truth is untouched


def test_oracle_refuses_bad_parts_and_times():
    with pytest.raises(ValueError, match="taste must be True or False"):
        Oracle("2024-11-01", taste=1)
    with pytest.raises(ValueError, match="departments must be True or False"):
        Oracle("2024-11-01", departments="no")
    with pytest.raises(ValueError, match="at must be a time"):
        Oracle("not a date")
    with pytest.raises(TypeError):
        Oracle("2024-11-01", False)  # the parts are keyword-only: Oracle(at, taste=False)
