"""Events -> pairs -> matrices: weights, first/last times, a shared numbering."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.interactions import IdIndex, user_item_pairs
from recutils.schema import Dataset


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2"],
            "item_id": ["a", "a", "b", "a", "c"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-02",
                    "2024-01-01",
                    "2024-01-03",
                    "2024-01-05",
                    "2024-01-04",
                ]
            ),
            "event": ["purchase", "view", "view", "cart", "view"],
            "weight": [3.0, 1.0, 1.0, 1.0, 1.0],
            "price": [10.0, 10.0, 5.0, 10.0, 2.0],
        }
    )


def test_pairs_sum_event_weights_and_keep_first_and_last_time():
    pairs = user_item_pairs(events()).set_index(["user_id", "item_id"])
    # u1-a: a view (1) then a purchase (5): weight 6, first seen on the 1st, last on the 2nd
    assert pairs.loc[("u1", "a"), "weight"] == 6.0
    assert pairs.loc[("u1", "a"), "timestamp"] == pd.Timestamp("2024-01-01")
    assert pairs.loc[("u1", "a"), "last_timestamp"] == pd.Timestamp("2024-01-02")
    assert pairs.loc[("u1", "a"), "event"] == "purchase"
    assert pairs.loc[("u1", "a"), "events"] == 2
    assert pairs.loc[("u2", "a"), "weight"] == 3.0  # a cart
    assert len(pairs) == 4


def test_pairs_with_custom_weights_drop_zero_weight_pairs():
    only_purchases = user_item_pairs(events(), event_weights={"purchase": 1.0})
    assert list(zip(only_purchases["user_id"], only_purchases["item_id"], strict=True)) == [
        ("u1", "a")
    ]
    with pytest.raises(ValueError, match="event_weights must be finite and >= 0"):
        user_item_pairs(events(), event_weights={"view": -1.0})


def test_id_index_numbers_the_whole_catalog_and_builds_aligned_matrices():
    items = pd.DataFrame(
        {
            "item_id": ["c", "b", "a", "z"],
            "title": list("cbaz"),
            "description": np.nan,
            "category": np.nan,
            "brand": np.nan,
            "price": np.nan,
        }
    )
    dataset = Dataset("toy", events(), items)
    index = IdIndex.from_dataset(dataset)
    assert list(index.users) == ["u1", "u2"]
    assert list(index.items) == ["c", "b", "a", "z"]  # catalog order, unseen "z" included
    matrix = index.matrix(user_item_pairs(events()))
    assert matrix.shape == (2, 4) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix.toarray(), [[0, 1, 6, 0], [1, 0, 3, 0]])
    counts = index.matrix(events(), value=None)
    assert counts[0, 2] == 2  # two events of u1 on "a"
    with pytest.raises(KeyError, match=r"1 item id\(s\) are not in the index \(e\.g\. \['q'\]\)"):
        index.item_positions(["a", "q"])


def test_equal_weights_use_funnel_order_and_typos_are_reported():
    pairs = user_item_pairs(events(), event_weights={"cart": 1.0, "purchase": 1.0})
    labels = dict(
        zip(zip(pairs["user_id"], pairs["item_id"], strict=True), pairs["event"], strict=True)
    )
    assert labels == {("u1", "a"): "purchase", ("u2", "a"): "cart"}
    with pytest.raises(
        ValueError, match=r"no event has a positive weight.*\['cart', 'purchase', 'view'\]"
    ):
        user_item_pairs(events(), event_weights={"purchases": 1.0})
    with pytest.raises(TypeError, match="not a string"):
        user_item_pairs(events(), events="view")


def test_recency_weighting_halves_per_half_life():
    from recutils.interactions import recency_weighted

    pairs = user_item_pairs(events())
    weighted = recency_weighted(pairs, half_life_days=2.0, now="2024-01-06")
    by_pair = weighted.set_index(["user_id", "item_id"])["weight"]
    # u1-a: weight 6, last touched on the 2nd, 4 days = 2 half-lives before the 6th -> 6/4
    assert by_pair[("u1", "a")] == pytest.approx(1.5)
    # u2-a: weight 3, last on the 5th, 1 day = half a half-life -> 3 * 2**-0.5
    assert by_pair[("u2", "a")] == pytest.approx(3 * 2**-0.5)
    with pytest.raises(ValueError, match="later than now"):
        recency_weighted(pairs, 2.0, now="2024-01-03")
    with pytest.raises(ValueError, match="half_life_days must be a positive number"):
        recency_weighted(pairs, 0)


def test_pair_split_pairs_each_part_separately():
    from recutils.splitting import pair_split, temporal_split

    # u1 viewed "a" on the 1st and bought it on the 2nd; cut on the 2nd: the purchase is test
    split = pair_split(temporal_split(events(), test_start="2024-01-02"))
    train = split.train.set_index(["user_id", "item_id"])["weight"]
    test = split.test.set_index(["user_id", "item_id"])["weight"]
    assert train[("u1", "a")] == 1.0  # the view only: no weight from the future
    assert test[("u1", "a")] == 5.0
    assert split.valid.empty and list(split.valid.columns) == list(split.train.columns)


def test_default_weights_count_other_event_types_once():
    ratings = events().assign(event="rating")
    pairs = user_item_pairs(ratings)
    assert pairs.set_index(["user_id", "item_id"]).loc[("u1", "a"), "weight"] == 2.0  # two events
    with pytest.raises(ValueError, match="no event has a positive weight"):
        user_item_pairs(ratings, event_weights={"purchase": 1.0})


def test_only_items_keeps_the_chosen_columns():
    from recutils.interactions import only_items

    matrix = sp.csr_matrix(np.array([[1, 2, 0], [0, 3, 4]], dtype=np.float32))
    by_mask = only_items(matrix, np.array([False, True, True]))
    assert by_mask.toarray().tolist() == [[0, 2, 0], [0, 3, 4]]
    assert by_mask.nnz == 3 and by_mask.shape == matrix.shape
    assert only_items(matrix, [0]).toarray().tolist() == [[1, 0, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="one entry per column"):
        only_items(matrix, np.array([True, False]))
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        only_items(matrix.toarray(), [0])
