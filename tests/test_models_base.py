"""The shared model interface, MostPopular, and the evaluation helpers."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.evaluation import compare, evaluate, grid_search
from recutils.models import MostPopular, Recommender

# 4 users x 5 items; user 3 has no training interaction (a cold user)
TRAIN = sp.csr_matrix(
    np.array(
        [[1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 0, 0, 0, 0]],
        dtype=np.float32,
    )
)
TEST = sp.csr_matrix(
    np.array(
        [
            [1, 0, 1, 0, 0],  # item 0 was in train: not relevant any more
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0],  # no test items: not evaluated
            [0, 0, 1, 0, 1],
        ],
        dtype=np.float32,
    )
)


class LastItemFirst(Recommender):
    """A toy model: score(u, i) = i (higher item numbers first), for testing the base class."""

    name = "last item first"

    def _fit(self, train):
        pass

    def _score(self, users):
        return np.tile(np.arange(self.n_items_, dtype=np.float32), (users.size, 1))


def test_most_popular_counts_training_users_and_excludes_seen_items():
    model = MostPopular().fit(TRAIN)
    np.testing.assert_array_equal(model.popularity_, [3, 1, 1, 1, 0])
    # user 0 has items 0 and 1; the rest by popularity, ties by lower item number: 2, 3, 4
    np.testing.assert_array_equal(model.recommend([0], k=3), [[2, 3, 4]])
    # k larger than the candidates: -1 padding
    np.testing.assert_array_equal(model.recommend([0], k=5), [[2, 3, 4, -1, -1]])
    np.testing.assert_array_equal(model.recommend([0], k=2, exclude_seen=False), [[0, 1]])


def test_cold_users_get_popularity_and_batches_give_the_same_lists():
    model = LastItemFirst().fit(TRAIN)
    np.testing.assert_array_equal(model.score([3])[0], [3, 1, 1, 1, 0])  # cold: popularity
    np.testing.assert_array_equal(model.score([0])[0], [0, 1, 2, 3, 4])
    all_at_once = model.recommend(np.arange(4), k=3)
    one_by_one = model.recommend(np.arange(4), k=3, batch_size=1)
    np.testing.assert_array_equal(all_at_once, one_by_one)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no interactions"):
        MostPopular().fit(sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        MostPopular().fit(np.ones((2, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        MostPopular().fit(sp.csr_matrix(np.array([[1.0, -1.0]])))
    with pytest.raises(RuntimeError, match="not fitted"):
        MostPopular().recommend([0])
    model = MostPopular().fit(TRAIN)
    with pytest.raises(ValueError, match=r"unknown user\(s\) \[7\]"):
        model.recommend([0, 7])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend([0], k=0)
    with pytest.raises(ValueError, match="integer user numbers"):
        model.recommend(["U0001"])
    with pytest.raises(NotImplementedError, match="no item-item similarity"):
        model.similar_items([0])


def test_evaluate_drops_training_items_from_the_relevant_set():
    result = evaluate(MostPopular(), TRAIN, TEST, k=[1, 2])
    # evaluated users: 0 (relevant {2}), 1 ({3}), 3 ({2, 4}); user 2 has no test items
    assert result.loc[1, "users"] == 3
    # popularity [3, 1, 1, 1, 0], ties by lower item number, training items left out:
    # user 0 -> [2, 3]; user 1 (has 0, 2) -> [1, 3]; user 3 (cold, nothing excluded) -> [0, 1]
    # hits@1: user 0 yes (2), user 1 no, user 3 no -> precision@1 = 1/3
    assert result.loc[1, "precision"] == pytest.approx(1 / 3)
    assert result.loc[2, "recall"] == pytest.approx((1 + 1 + 0) / 3)


def test_compare_and_grid_search():
    quality, cost = compare(
        {"popular": MostPopular(), "toy": LastItemFirst()},
        TRAIN,
        TEST,
        k=2,
        metrics=("recall", "ndcg"),
    )
    assert list(quality.columns) == ["recall@2", "ndcg@2"] and list(cost.columns) == [
        "fit s",
        "recommend s",
    ]
    assert quality.loc["popular", "recall@2"] > quality.loc["toy", "recall@2"]
    # equal scores keep the grid's order; the better setting comes first
    grid = grid_search(
        lambda shift: MostPopular() if shift == 0 else LastItemFirst(),
        {"shift": [1, 0, 2]},
        TRAIN,
        TEST,
        metric="recall@2",
    )
    assert list(grid["shift"]) == [0, 1, 2]
    assert isinstance(grid, pd.DataFrame) and "seconds" in grid.columns
    with pytest.raises(ValueError, match="metric must look like"):
        grid_search(lambda: MostPopular(), {"x": [1]}, TRAIN, TEST, metric="ndcg10")


def test_temporal_protocol_periods_and_matrices():
    from recutils.datasets import from_frames
    from recutils.evaluation import temporal_protocol

    days = pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-05", "2024-02-20", "2024-03-05"])
    interactions = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "a"],
            "item_id": ["x", "y", "x", "z", "z"],
            "timestamp": days,
        }
    )
    dataset = from_frames(interactions)
    protocol = temporal_protocol(dataset, test_days=10, valid_days=30)
    assert str(protocol.test_start.date()) == "2024-02-25"  # last day 5 March, 10 days
    assert str(protocol.valid_start.date()) == "2024-01-26"
    index = protocol.index
    a, b = index.user_positions(["a", "b"])
    x, y, z = index.item_positions(["x", "y", "z"])
    assert protocol.train.nnz == 2 and protocol.train[a, x] > 0 and protocol.train[a, y] > 0
    assert protocol.valid.nnz == 2 and protocol.valid[b, x] > 0 and protocol.valid[b, z] > 0
    assert protocol.train_and_valid.nnz == 4
    assert protocol.test.nnz == 1 and protocol.test[a, z] > 0
    sizes = protocol.sizes()
    assert sizes["test from"] == "2024-02-25" and sizes["train pairs"] == 2
    with pytest.raises(ValueError, match="nothing is left for training"):
        temporal_protocol(dataset, test_days=30, valid_days=60)
    with pytest.raises(ValueError, match="test_days must be a positive whole number"):
        temporal_protocol(dataset, test_days=0)


def test_mean_percentile_rank_counts_ties_half():
    from recutils.evaluation import mean_percentile_rank

    # LastItemFirst scores item i with i. User 0 has items 0, 1 in train: candidates 2, 3, 4.
    test = sp.csr_matrix(np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0],
                                   [0, 0, 1, 0, 0]], dtype=np.float32))
    model = LastItemFirst().fit(TRAIN)
    # user 0: item 4 is above both other candidates -> 1.0; user 3 (cold: popularity scores
    # 3, 1, 1, 1, 0) candidates all 5 items, item 2 ties with items 1 and 3, above item 4:
    # (1 + 2 / 2) / 4 = 0.5
    assert mean_percentile_rank(model, test, TRAIN) == pytest.approx((1.0 + 0.5) / 2)
    empty = sp.csr_matrix(TRAIN.shape, dtype=np.float32)
    assert np.isnan(mean_percentile_rank(model, empty, TRAIN))
    constant = MostPopular().fit(sp.csr_matrix(np.ones((4, 5), dtype=np.float32)))
    assert mean_percentile_rank(constant, test, sp.csr_matrix((4, 5), dtype=np.float32)) == 0.5


def test_no_model_changes_the_caller_s_training_matrix():
    # LightGCN once set the caller's weights to 1 in place, so a model fitted after it on
    # the same matrix silently learned from other data.
    from recutils.models import ALS, BPR, EASE, ItemKNN, LightGCN, UserKNN

    rng = np.random.default_rng(0)
    weights = (rng.random((40, 30)) < 0.2) * rng.integers(1, 6, (40, 30))
    train = sp.csr_matrix(weights, dtype=np.float32)
    before = train.copy()
    for model in [MostPopular(), UserKNN(), ItemKNN(), EASE(), ALS(iterations=2), BPR(iterations=2),
                  LightGCN(epochs=1)]:
        model.fit(train)
        assert (train != before).nnz == 0, type(model).__name__
        np.testing.assert_array_equal(train.data, before.data)
