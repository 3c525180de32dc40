"""Ranked lists, segments, the sampled-metrics pitfall, leaderboards and the Switching model."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.evaluation import evaluate, ranked_lists, sampled_metrics
from recutils.models import MostPopular, Recommender, Switching
from recutils.reporting import leaderboard_name, markdown_table, write_leaderboard
from tests.test_models_base import TEST, TRAIN  # 4 users x 5 items; user 3 is cold


class ItemNumber(Recommender):
    """score(u, i) = i: higher item numbers first."""

    def _fit(self, train):
        pass

    def _score(self, users):
        return np.tile(np.arange(self.n_items_, dtype=np.float32), (users.size, 1))


class Constant(Recommender):
    def _fit(self, train):
        pass

    def _score(self, users):
        return np.zeros((users.size, self.n_items_), dtype=np.float32)


def test_ranked_lists_match_evaluate_and_align_users():
    lists = ranked_lists(ItemNumber(), TRAIN, TEST, k=3)
    np.testing.assert_array_equal(lists.users, [0, 1, 3])  # user 2 has no test item
    # user 0: item 0 was in train so only item 2 is relevant; candidates 4, 3, 2
    np.testing.assert_array_equal(lists.items[0], [4, 3, 2])
    assert lists.relevant[0].indices.tolist() == [2]
    expected = evaluate(ItemNumber(), TRAIN, TEST, [1, 3])
    pd.testing.assert_frame_equal(lists.metrics([1, 3]), expected)
    per_user = lists.per_user(3)
    assert per_user.index.tolist() == [0, 1, 3] and per_user.index.name == "user"
    # user 3 is cold: popularity 3, 1, 1, 1, 0 -> items 0, 1, 2; item 2 of {2, 4} is a hit
    assert per_user["recall@3"].tolist() == [1.0, 1.0, 0.5]
    assert per_user["recall@3"].mean() == pytest.approx(lists.metrics(3).loc[3, "recall"])


def test_restricted_lists_judge_a_segment_only():
    lists = ranked_lists(ItemNumber(), TRAIN, TEST, k=3)
    tail = np.array([False, False, False, True, True])
    on_tail = lists.restricted(items=tail)
    np.testing.assert_array_equal(on_tail.users, [1, 3])  # user 0's only relevant item is 2
    np.testing.assert_array_equal(on_tail.items, lists.items[[1, 2]])  # lists unchanged
    users = np.array([False, True, True, True])
    np.testing.assert_array_equal(lists.restricted(users=users).users, [1, 3])
    with pytest.raises(ValueError, match=r"boolean mask of shape \(5,\)"):
        lists.restricted(items=np.array([1, 0, 1]))


def test_sampled_metrics_by_hand():
    # 1 user, 4 items; train item 0, test item 2. Candidates for negatives: items 1 and 3.
    train = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0]], dtype=np.float32))
    model = ItemNumber().fit(train)
    result = sampled_metrics(model, train, test, n_negatives=2, k=1)
    # scores = item numbers: item 3 beats item 2, item 1 does not -> rank 1 (0-based)
    assert result["hit_rate@1"] == 0.0 and result["users"] == 1
    result = sampled_metrics(model, train, test, n_negatives=2, k=2)
    assert result["ndcg@2"] == pytest.approx(1 / np.log2(3))
    # a constant model ties with every negative: rank 2 / 2 = 1, half-way
    result = sampled_metrics(Constant().fit(train), train, test, n_negatives=2, k=2)
    assert result["hit_rate@2"] == 1.0 and result["ndcg@2"] == pytest.approx(1 / np.log2(3))
    with pytest.raises(ValueError, match="only 2 items to sample negatives"):
        sampled_metrics(model, train, test, n_negatives=3)
    with pytest.raises(ValueError, match="n_negatives must be a positive integer"):
        sampled_metrics(model, train, test, n_negatives=0)


def test_sampled_metrics_are_reproducible_and_flatter_than_full_ranking():
    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((50, 300)) < 0.05).astype(np.float32))
    test = sp.csr_matrix((rng.random((50, 300)) < 0.02).astype(np.float32))
    model = MostPopular().fit(train)
    first = sampled_metrics(model, train, test, seed=3)
    pd.testing.assert_series_equal(first, sampled_metrics(model, train, test, seed=3))
    # a test item is in the top 10 of 101 items far more often than in the top 10 of 300
    full = evaluate(model, train, test, k=10, fit=False)
    assert first["hit_rate@10"] > 1.5 * full.loc[10, "recall"]


def test_switching_routes_users_by_history_size():
    model = Switching(cold=MostPopular(), warm=ItemNumber(), min_interactions=2).fit(TRAIN)
    scores = model.score([0, 3])
    np.testing.assert_array_equal(scores[0], np.arange(5))  # 2 items: warm model
    np.testing.assert_array_equal(scores[1], [3, 1, 1, 1, 0])  # cold user: popularity
    one_item = sp.csr_matrix(np.array([[0, 0, 0, 0, 1], [1, 1, 0, 0, 0]], dtype=np.float32))
    scores = Switching(MostPopular(), ItemNumber(), min_interactions=2).fit(one_item).score([0])
    np.testing.assert_array_equal(scores[0], [1, 1, 0, 0, 1])  # 1 item < 2: the cold model
    with pytest.raises(ValueError, match="min_interactions must be a positive integer"):
        Switching(MostPopular(), ItemNumber(), min_interactions=0)
    with pytest.raises(TypeError, match="cold must be a recutils model"):
        Switching("popular", ItemNumber())


def test_markdown_table_and_leaderboard_files(tmp_path):
    table = pd.DataFrame(
        {"ndcg@10": [0.0774, float("nan")], "users": [1234, 5], "note": ["a|b", "c"]},
        index=["ALS", "most popular"],
    )
    text = markdown_table(table, digits=2, index_label="model")
    assert text.splitlines() == [
        "| model | ndcg@10 | users | note |",
        "| --- | ---: | ---: | --- |",
        "| ALS | 0.08 | 1,234 | a\\|b |",
        "| most popular | - | 5 | c |",
    ]
    markdown, csv = write_leaderboard(table, tmp_path / "results", "online retail", ["made by X"])
    assert markdown.name == "leaderboard-online-retail.md" and csv.suffix == ".csv"
    assert markdown.read_text().endswith("\n\nmade by X\n")
    assert pd.read_csv(csv, index_col="model").loc["ALS", "users"] == 1234
    assert not [p for p in (tmp_path / "results").iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="dataset must be a non-empty name"):
        leaderboard_name(" ")


def test_ranked_lists_within_candidates():
    home = np.array([False, False, True, True, True])
    lists = ranked_lists(ItemNumber(), TRAIN, TEST, k=2, candidates=home)
    # user 0's relevant items: 2 (0 was in train); user 3's: 2 and 4; user 1's: 3
    np.testing.assert_array_equal(lists.users, [0, 1, 3])
    # never items 0 or 1; user 3 is cold: popularity 1, 1, 0 for items 2, 3, 4
    np.testing.assert_array_equal(lists.items, [[4, 3], [4, 3], [2, 3]])
    only_item_4 = np.array([False, False, False, False, True])
    narrow = ranked_lists(ItemNumber(), TRAIN, TEST, k=3, candidates=only_item_4)
    np.testing.assert_array_equal(narrow.users, [3])
    np.testing.assert_array_equal(narrow.items, [[4, -1, -1]])  # fewer candidates than k
    assert narrow.metrics(1).loc[1, "recall"] == 1.0
    with pytest.raises(ValueError, match="candidates must be a boolean mask"):
        ranked_lists(ItemNumber(), TRAIN, TEST, candidates=[1, 0])
