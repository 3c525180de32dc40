"""The shared model interface, MostPopular, and the evaluation helpers."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.evaluation import compare, evaluate, grid_search
from recutils.models import ItemKNN, MostPopular, Recommendations, Recommender, fit_model
from recutils.ranking import top_k_items

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


class Rotated(Recommender):
    """A toy model with a setting: item ``offset`` first, then ``offset + 1``, ... (wrapping
    around), for every user, new users included."""

    name = "rotated"
    new_users = "own"

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset

    def _fit(self, train):
        pass

    def _score(self, users):
        order = -((np.arange(self.n_items_) - self.offset) % self.n_items_)
        return np.tile(order.astype(np.float32), (users.size, 1))


class Favourite(Recommender):
    """A toy model with side data: ``favourite`` (an item number) scores 1, the rest 0; it
    records what ``fit`` received."""

    name = "favourite"
    side_data = {"favourite": "the item everybody gets first"}  # noqa: RUF012
    new_users = "own"

    def _fit(self, train, *, favourite=None):
        self.received_ = favourite

    def _score(self, users):
        scores = np.zeros((users.size, self.n_items_), dtype=np.float32)
        scores[:, self.received_] = 1.0
        return scores


class Validated(LastItemFirst):
    """LastItemFirst that uses ``valid`` (like a model with early stopping) and records it."""

    uses_valid = True

    def _fit(self, train, *, valid=None):
        self.received_ = valid


def test_most_popular_counts_training_users_and_excludes_seen_items():
    model = MostPopular().fit(TRAIN)
    np.testing.assert_array_equal(model.popularity_, [3, 1, 1, 1, 0])
    # user 0 has items 0 and 1; the rest by popularity, ties by lower item number: 2, 3, 4
    result = model.recommend([0], k=3)
    assert isinstance(result, Recommendations)
    np.testing.assert_array_equal(result.items, [[2, 3, 4]])
    np.testing.assert_array_equal(result.scores, [[1, 1, 0]])
    assert result.items.dtype == np.int64 and result.scores.dtype == np.float32
    # k larger than the candidates: -1 padding, NaN scores there
    items, scores = model.recommend([0], k=5)
    np.testing.assert_array_equal(items, [[2, 3, 4, -1, -1]])
    np.testing.assert_array_equal(scores, [[1, 1, 0, np.nan, np.nan]])
    np.testing.assert_array_equal(model.recommend([0], k=2, exclude_seen=False).items, [[0, 1]])
    # MostPopular declares its own scores for new users: the same popularity list
    assert model.new_users == "own"
    np.testing.assert_array_equal(model.score([3])[0], [3, 1, 1, 1, 0])


def test_cold_users_get_popularity_and_batches_give_the_same_lists():
    model = LastItemFirst().fit(TRAIN)
    assert model.new_users == "popularity"  # the base class's default
    np.testing.assert_array_equal(model.score([3])[0], [3, 1, 1, 1, 0])  # cold: popularity
    np.testing.assert_array_equal(model.score([0])[0], [0, 1, 2, 3, 4])
    all_at_once = model.recommend(np.arange(4), k=3)
    one_by_one = model.recommend(np.arange(4), k=3, batch_size=1)
    np.testing.assert_array_equal(all_at_once.items, one_by_one.items)
    np.testing.assert_array_equal(all_at_once.scores, one_by_one.scores)


def test_recommend_returns_the_scores_of_score():
    model = LastItemFirst().fit(TRAIN)
    items, scores = model.recommend([0, 3], k=3)
    # user 0 (has 0, 1): items 4, 3, 2 scored 4, 3, 2; user 3 is cold: popularity
    # [3, 1, 1, 1, 0] -> items 0, 1, 2 (ties by lower item number) scored 3, 1, 1
    np.testing.assert_array_equal(items, [[4, 3, 2], [0, 1, 2]])
    np.testing.assert_array_equal(scores, [[4, 3, 2], [3, 1, 1]])
    full = model.score([0, 3])
    np.testing.assert_array_equal(scores, np.take_along_axis(full, items, axis=1))
    # score(users, items=...) is the same columns, from item numbers or a mask
    np.testing.assert_array_equal(model.score([0, 3], items=[4, 0]), full[:, [4, 0]])
    mask = np.array([True, False, False, True, False])
    np.testing.assert_array_equal(model.score([0, 3], items=mask), full[:, [0, 3]])


def test_recommend_within_a_subset_ranks_the_subset_s_scores():
    model = LastItemFirst().fit(TRAIN)
    # user 0 has items 0 and 1: of the subset {1, 3} only item 3 is left
    items, scores = model.recommend([0], k=2, items=[1, 3])
    np.testing.assert_array_equal(items, [[3, -1]])
    np.testing.assert_array_equal(scores, [[3, np.nan]])
    mask = np.array([False, True, False, True, False])
    np.testing.assert_array_equal(model.recommend([0], k=2, items=mask).items, items)
    # on distinct random scores: the same lists as ranking the subset's columns of score()
    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((30, 20)) < 0.2).astype(np.float32))
    als_like = MostPopular().fit(train)  # any model; popularity has ties, so use ItemKNN too
    subset = np.flatnonzero(rng.random(20) < 0.5)
    users = np.arange(30)
    for fitted in (als_like, ItemKNN(neighbors=5).fit(train)):
        got_items, got_scores = fitted.recommend(users, k=6, items=subset)
        ranked = top_k_items(fitted.score(users, items=subset), 6, exclude=train[users][:, subset])
        expected = np.where(ranked >= 0, subset[np.maximum(ranked, 0)], -1)
        np.testing.assert_array_equal(got_items, expected)
        assert np.isin(got_items[got_items >= 0], subset).all()
        filled = got_items >= 0
        np.testing.assert_array_equal(
            got_scores[filled],
            np.take_along_axis(fitted.score(users), np.maximum(got_items, 0), axis=1)[filled],
        )
    with pytest.raises(ValueError, match="items as a mask must have one entry per item"):
        model.recommend([0], items=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match=r"unknown item\(s\) \[5\]"):
        model.recommend([0], items=[1, 5])


def test_recommend_leaves_out_the_pairs_of_exclude():
    model = MostPopular().fit(TRAIN)
    # user 0 must not get item 2, user 3 not item 0; the row of user 1 is not asked for
    exclude = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 3, 1], [2, 0, 3])), shape=TRAIN.shape)
    users = np.array([3, 0])  # rows of exclude are user numbers, not positions in users
    items, scores = model.recommend(users, k=3, exclude=exclude)
    # user 3 (popularity 3, 1, 1, 1, 0 without item 0): 1, 2, 3; user 0 (has 0, 1): 3, 4
    np.testing.assert_array_equal(items, [[1, 2, 3], [3, 4, -1]])
    np.testing.assert_array_equal(scores, [[1, 1, 1], [1, 0, np.nan]])
    one_by_one = model.recommend(users, k=3, exclude=exclude, batch_size=1)
    np.testing.assert_array_equal(one_by_one.items, items)
    # exclude_seen=False: only the pairs of exclude are left out (user 0's items 0, 1 return)
    np.testing.assert_array_equal(
        model.recommend([0], k=5, exclude_seen=False, exclude=exclude).items, [[0, 1, 3, 4, -1]]
    )
    # a sparse array works like a sparse matrix
    np.testing.assert_array_equal(
        model.recommend(users, k=3, exclude=sp.csr_array(exclude)).items, items
    )
    with pytest.raises(ValueError, match=r"exclude has shape \(4, 4\)"):
        model.recommend([0], exclude=exclude[:, :4])
    with pytest.raises(TypeError, match=r"exclude must be a scipy\.sparse matrix"):
        model.recommend([0], exclude=exclude.toarray())


def test_a_negative_exclude_entry_does_not_bring_back_a_seen_item():
    model = MostPopular().fit(TRAIN)
    exclude = sp.csr_matrix(([-1.0], ([0], [0])), shape=TRAIN.shape)  # nonzero: leave out
    items = model.recommend([0], k=3, exclude=exclude).items
    np.testing.assert_array_equal(items, [[2, 3, 4]])  # item 0 is both seen and excluded


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


def test_fit_refuses_side_data_and_valid_the_model_does_not_use():
    with pytest.raises(TypeError, match=r"side data it does not use: \['item_vectors'\]"):
        MostPopular().fit(TRAIN, item_vectors=np.ones((5, 2)))
    with pytest.raises(TypeError, match=r"accepts: favourite"):
        Favourite().fit(TRAIN, favourite=2, truth=None)
    with pytest.raises(TypeError, match="MostPopular does not use valid"):
        MostPopular().fit(TRAIN, valid=TEST)
    with pytest.raises(TypeError, match="Favourite does not use valid"):
        Favourite().fit(TRAIN, valid=TEST, favourite=2)
    # a model that uses valid gets the held-out pairs: valid without the training pairs
    model = Validated().fit(TRAIN, valid=TEST)
    assert model.received_.nnz == TEST.nnz - 1  # user 0's item 0 is in train
    assert model.received_.multiply(TRAIN).nnz == 0
    assert Validated().fit(TRAIN).received_ is None
    with pytest.raises(ValueError, match=r"valid has shape \(4, 4\)"):
        Validated().fit(TRAIN, valid=TEST[:, :4])
    with pytest.raises(ValueError, match="no \\(user, item\\) pair that is not already in train"):
        Validated().fit(TRAIN, valid=TRAIN)


def test_fit_model_passes_each_model_only_what_it_declares():
    pool = {"favourite": 3, "item_vectors": np.ones((5, 2))}
    popular = fit_model(MostPopular(), TRAIN, valid=TEST, side_data=pool)  # neither: no error
    np.testing.assert_array_equal(popular.popularity_, [3, 1, 1, 1, 0])
    favourite = fit_model(Favourite(), TRAIN, valid=TEST, side_data=pool)
    assert favourite.received_ == 3
    validated = fit_model(Validated(), TRAIN, valid=TEST, side_data=pool)
    assert validated.received_.nnz == TEST.nnz - 1
    with pytest.raises(TypeError, match="model must be a recutils Recommender"):
        fit_model(MostPopular, TRAIN)


def test_params_come_from_the_constructor_and_with_params_makes_a_fresh_copy():
    assert Rotated(offset=2).get_params() == {"offset": 2}
    assert repr(Rotated(offset=2)) == "Rotated(offset=2)"
    assert LastItemFirst().get_params() == {} and repr(LastItemFirst()) == "LastItemFirst()"
    model = ItemKNN(neighbors=3, shrink=0.0).fit(TRAIN)
    assert model.get_params() == {"neighbors": 3, "shrink": 0.0, "binary": True}
    copy = model.with_params(neighbors=1)
    assert type(copy) is ItemKNN and copy is not model
    assert copy.get_params() == {"neighbors": 1, "shrink": 0.0, "binary": True}
    assert repr(copy) == "ItemKNN(neighbors=1, shrink=0.0, binary=True)"
    assert not hasattr(copy, "train_") and not hasattr(copy, "similarity_")  # unfitted
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.score([0])
    # the original keeps its settings and its fit; the copy fits like a new model
    assert model.neighbors == 3 and hasattr(model, "similarity_")
    fresh = ItemKNN(neighbors=1, shrink=0.0).fit(TRAIN)
    np.testing.assert_array_equal(copy.fit(TRAIN).score(np.arange(4)), fresh.score(np.arange(4)))
    assert (model.similarity_.getnnz(axis=1) <= 3).all() and model.neighbors == 3
    with pytest.raises(TypeError, match=r"ItemKNN has no setting\(s\) \['k'\]"):
        model.with_params(k=1)
    with pytest.raises(ValueError, match="neighbors must be a positive integer"):
        model.with_params(neighbors=0)  # values are checked like the constructor's


def test_evaluate_drops_training_items_from_the_relevant_set():
    result = evaluate(MostPopular(), TRAIN, TEST, k=[1, 2])
    # evaluated users: 0 (relevant {2}), 1 ({3}), 3 ({2, 4}); user 2 has no test items
    assert result.loc[1, "users"] == 3
    # popularity [3, 1, 1, 1, 0], ties by lower item number, training items left out:
    # user 0 -> [2, 3]; user 1 (has 0, 2) -> [1, 3]; user 3 (cold, nothing excluded) -> [0, 1]
    # hits@1: user 0 yes (2), user 1 no, user 3 no -> precision@1 = 1/3
    assert result.loc[1, "precision"] == pytest.approx(1 / 3)
    assert result.loc[2, "recall"] == pytest.approx((1 + 1 + 0) / 3)


def test_evaluate_passes_side_data_and_valid_only_to_models_that_use_them():
    # relevant: user 0 {2}, user 1 {3} (has 0, 2), user 3 {2, 4}. Favourite 2 at k=1: user 0
    # gets 2 (hit), user 1 has 2, so item 1 (miss), user 3 gets 2 (1 of 2) -> recall 0.5
    model = Favourite()
    result = evaluate(model, TRAIN, TEST, k=1, favourite=2, valid=TEST)
    assert model.received_ == 2
    assert result.loc[1, "recall"] == pytest.approx((1 + 0 + 0.5) / 3)
    # MostPopular uses neither: the same numbers as without them
    pd.testing.assert_frame_equal(
        evaluate(MostPopular(), TRAIN, TEST, k=1, favourite=2, valid=TEST),
        evaluate(MostPopular(), TRAIN, TEST, k=1),
    )
    validated = Validated()
    evaluate(validated, TRAIN, TEST, k=1, favourite=2, valid=TEST)
    assert validated.received_.nnz == TEST.nnz - 1
    # fit=False: the fitted model is used as it is, side data or not
    evaluate(model, TRAIN, TEST, k=1, fit=False, favourite=4)
    assert model.received_ == 2


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


def test_compare_gives_each_model_the_side_data_and_valid_it_uses():
    models = {
        "popular": MostPopular(),
        "favourite 2": Favourite(),
        "favourite 3": Favourite(),
        "validated": Validated(),
    }
    quality, _ = compare(
        models,
        TRAIN,
        TEST,
        k=1,
        metrics=("recall",),
        valid=TEST,
        model_side_data={"favourite 3": {"favourite": 3}},  # wins over the pool
        favourite=2,
    )
    assert models["favourite 2"].received_ == 2 and models["favourite 3"].received_ == 3
    assert models["validated"].received_.nnz == TEST.nnz - 1
    # favourite 3 at k=1: user 0 miss, user 1 hit, user 3 miss -> recall 1/3
    assert quality.loc["favourite 2", "recall@1"] == pytest.approx(0.5)
    assert quality.loc["favourite 3", "recall@1"] == pytest.approx(1 / 3)
    assert quality.loc["popular", "recall@1"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"model_side_data names \['nobody'\]"):
        compare(models, TRAIN, TEST, model_side_data={"nobody": {}})


def test_grid_search_clones_a_model_instance_with_each_setting():
    # relevant: user 0 {2} (has 0, 1), user 1 {3} (has 0, 2), user 3 {2, 4} (cold). recall@1:
    # offset 2: 2, 3, 2 -> (1 + 1 + 1/2) / 3; offset 3: 3, 3, 3 -> 1/3;
    # offset 0: 2, 1, 0 -> 1/3 (ties with 3: the grid's order); offset 4: 4, 4, 4 -> 1/6
    start = Rotated(offset=1)
    grid = grid_search(start, {"offset": [3, 4, 0, 2]}, TRAIN, TEST, metric="recall@1")
    assert list(grid["offset"]) == [2, 3, 0, 4]
    np.testing.assert_allclose(grid["recall@1"], [2.5 / 3, 1 / 3, 1 / 3, 1 / 6])
    assert start.offset == 1 and not hasattr(start, "train_")  # the instance is left alone
    # a class works as the factory too; side data reaches every candidate's fit
    by_class = grid_search(Rotated, {"offset": [2]}, TRAIN, TEST, metric="recall@1")
    assert by_class.loc[0, "recall@1"] == pytest.approx(2.5 / 3)
    made = []
    with_side_data = grid_search(
        lambda trial: made.append(Favourite()) or made[-1],
        {"trial": [1, 2]},
        TRAIN,
        TEST,
        metric="recall@1",
        favourite=2,
    )
    assert [model.received_ for model in made] == [2, 2]
    np.testing.assert_allclose(with_side_data["recall@1"], [0.5, 0.5])
    with pytest.raises(ValueError, match="grid must name at least one parameter"):
        grid_search(Rotated(), {}, TRAIN, TEST)
    with pytest.raises(TypeError, match=r"Rotated has no setting\(s\) \['shift'\]"):
        grid_search(Rotated(), {"shift": [1]}, TRAIN, TEST)
    with pytest.raises(TypeError, match="model must be a Recommender or a function"):
        grid_search("ALS", {"factors": [8]}, TRAIN, TEST)


def test_temporal_protocol_periods_and_matrices():
    from recutils.datasets import from_frames
    from recutils.splitting import temporal_protocol

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
    with pytest.raises(ValueError, match="test_days must be a positive integer"):
        temporal_protocol(dataset, test_days=0)


def test_mean_percentile_rank_counts_ties_half():
    from recutils.evaluation import mean_percentile_rank

    # LastItemFirst scores item i with i. User 0 has items 0, 1 in train: candidates 2, 3, 4.
    test = sp.csr_matrix(
        np.array(
            [[0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=np.float32
        )
    )
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
    for model in [
        MostPopular(),
        UserKNN(),
        ItemKNN(),
        EASE(),
        ALS(iterations=2),
        BPR(iterations=2),
        LightGCN(epochs=1),
    ]:
        model.fit(train)
        assert (train != before).nnz == 0, type(model).__name__
        np.testing.assert_array_equal(train.data, before.data)
