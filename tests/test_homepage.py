"""Candidate generation, merging and business rules of the home page, on hand-checked cases."""

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.homepage import (
    DROP_REASONS,
    apply_business_rules,
    candidates,
    merge_candidates,
)
from recutils.models import Recommender

# 3 users x 5 items; every user has one training item, so no user is cold
TRAIN = sp.csr_matrix(
    np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]], dtype=np.float32)
)
SCORES = np.array(
    [
        [5.0, 4.0, 3.0, 2.0, 1.0],  # user 0: lower items first
        [1.0, 2.0, 3.0, 4.0, 5.0],  # user 1: higher items first
        [2.0, 2.0, 1.0, 1.0, 0.0],  # user 2: ties
    ],
    dtype=np.float32,
)


class KnownScores(Recommender):
    """A toy model whose score(u, i) is SCORES[u, i]."""

    name = "known scores"

    def _fit(self, train):
        pass

    def _score(self, users):
        return SCORES[users]


def frame(rows, columns=("user", "item", "score", "rank")):
    return pd.DataFrame(rows, columns=list(columns))


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------


def test_candidates_leave_out_seen_items_and_rank_by_score():
    model = KnownScores().fit(TRAIN)
    result = candidates(model, np.array([0, 1, 2]), n=2, exclude=TRAIN)
    expected = pd.DataFrame(
        {
            "user": np.array([0, 0, 1, 1, 2, 2], dtype=np.int64),
            # user 0 had item 0, user 1 item 4, user 2 item 1; user 2's tie 2 = 3 -> item 2
            "item": np.array([1, 2, 3, 2, 0, 2], dtype=np.int64),
            "score": np.array([4, 3, 4, 3, 2, 1], dtype=np.float32),
            "rank": np.array([1, 2, 1, 2, 1, 2], dtype=np.int64),
        }
    )
    pd.testing.assert_frame_equal(result, expected)
    # without exclude the seen items are candidates too
    unfiltered = candidates(model, np.array([0]), n=2)
    assert unfiltered["item"].tolist() == [0, 1]


def test_candidates_keep_the_order_of_users_drop_empty_slots_and_batch_alike():
    model = KnownScores().fit(TRAIN)
    result = candidates(model, np.array([2, 0]), n=10, exclude=TRAIN)
    # 4 allowed items per user, not 10 rows with -1 slots
    assert result["user"].tolist() == [2] * 4 + [0] * 4
    assert result["item"].tolist() == [0, 2, 3, 4, 1, 2, 3, 4]
    assert result["rank"].tolist() == [1, 2, 3, 4] * 2
    one_by_one = candidates(model, np.array([2, 0]), n=10, exclude=TRAIN, batch_size=1)
    pd.testing.assert_frame_equal(result, one_by_one)


def test_candidates_reject_bad_inputs():
    with pytest.raises(RuntimeError, match="not fitted"):
        candidates(KnownScores(), np.array([0]), n=2)
    model = KnownScores().fit(TRAIN)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        candidates(model, np.array([0]), n=0)
    with pytest.raises(ValueError, match=re.escape("exclude has shape (3, 4)")):
        candidates(model, np.array([0]), n=2, exclude=TRAIN[:, :4])
    with pytest.raises(ValueError, match=re.escape("unknown user(s) [7]")):
        candidates(model, np.array([7]), n=2)


# --------------------------------------------------------------------------------------------
# merge_candidates
# --------------------------------------------------------------------------------------------


def test_merge_outer_joins_and_counts_sources():
    als = frame([(0, 2, 0.9, 1), (0, 1, 0.5, 2)])
    popular = frame([(1, 0, 30.0, 1), (0, 2, 20.0, 1), (0, 3, 10.0, 2)])
    merged = merge_candidates({"als": als, "popular": popular})
    expected = pd.DataFrame(
        {
            "user": np.array([0, 0, 0, 1], dtype=np.int64),
            "item": np.array([1, 2, 3, 0], dtype=np.int64),
            "als score": [0.5, 0.9, np.nan, np.nan],
            "als rank": [2.0, 1.0, np.nan, np.nan],
            "popular score": [np.nan, 20.0, 10.0, 30.0],
            "popular rank": [np.nan, 1.0, 2.0, 1.0],
            "sources": np.array([1, 2, 1, 1], dtype=np.int64),
        }
    )
    pd.testing.assert_frame_equal(merged, expected)


def test_merge_keeps_float32_scores_of_candidates_and_accepts_one_source():
    model = KnownScores().fit(TRAIN)
    found = candidates(model, np.array([0, 1]), n=2, exclude=TRAIN)
    merged = merge_candidates({"known": found})
    assert merged["known score"].dtype == np.float32
    assert merged["known rank"].dtype == np.float64
    assert (merged["sources"] == 1).all()
    assert merged[["user", "item"]].values.tolist() == [[0, 1], [0, 2], [1, 2], [1, 3]]


def test_merge_rejects_bad_sources_with_helpful_messages():
    good = frame([(0, 1, 0.5, 1)])
    with pytest.raises(ValueError, match="non-empty mapping"):
        merge_candidates({})
    no_rank = good.drop(columns=["rank"])
    with pytest.raises(ValueError, match=re.escape("source 'b' lacks column(s) ['rank']")):
        merge_candidates({"a": good, "b": no_rank})
    with pytest.raises(ValueError, match=re.escape("source 'b' lacks column(s) ['user', 'item']")):
        merge_candidates({"a": good, "b": good.drop(columns=["user", "item"])})
    twice = frame([(0, 1, 0.5, 1), (0, 1, 0.4, 2)])
    with pytest.raises(ValueError, match=re.escape("pair (0, 1) more than once")):
        merge_candidates({"a": twice})
    float_users = good.astype({"user": float})
    with pytest.raises(ValueError, match="column 'user' must hold integer user numbers"):
        merge_candidates({"a": float_users})
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        merge_candidates({"a": good.to_numpy()})


# --------------------------------------------------------------------------------------------
# apply_business_rules
# --------------------------------------------------------------------------------------------

#            item:  0    1    2    3    4    5    6    7
CATEGORY = np.array(["a", "a", "a", "b", "b", "c", "c", "a"])
AVAILABLE = np.array([1, 1, 1, 1, 1, 0, 1, 1], dtype=bool)  # item 5 is out of stock
BLOCKED = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 8))  # user 0 just bought item 1
# user 0 scores items 0..7 from 0.9 down to 0.2; listed shuffled, the walk sorts them
RANKED = pd.DataFrame(
    {
        "user": [0] * 8,
        "item": [3, 0, 7, 5, 1, 6, 2, 4],
        "score": [0.6, 0.9, 0.2, 0.4, 0.8, 0.3, 0.7, 0.5],
    }
)


def rules(ranked=RANKED, **kwargs):
    settings = {
        "item_category": CATEGORY,
        "blocked": BLOCKED,
        "available": AVAILABLE,
        "explain": True,
    }
    return apply_business_rules(ranked, **{**settings, **kwargs})


def test_rules_remove_blocked_and_unavailable_items_and_cap_categories():
    # walk: 0 a kept | 1 blocked | 2 a capped | 3 b kept | 4 b capped | 5 unavailable |
    #       6 c kept | 7 a capped -> only 3 items pass, fewer than k = 4
    page, dropped = rules(k=4, max_per_category=1)
    expected = pd.DataFrame(
        {
            "user": np.array([0, 0, 0], dtype=np.int64),
            "item": np.array([0, 3, 6], dtype=np.int64),
            "score": [0.9, 0.6, 0.3],
            "position": np.array([1, 2, 3], dtype=np.int64),
        }
    )
    pd.testing.assert_frame_equal(page, expected)
    assert dropped["item"].tolist() == [1, 2, 4, 5, 7]
    assert dropped["reason"].tolist() == [
        "blocked",
        "category cap",
        "category cap",
        "unavailable",
        "category cap",
    ]
    counts = dropped["reason"].value_counts(sort=False)
    assert list(counts.index) == list(DROP_REASONS)
    assert counts.tolist() == [1, 1, 3, 0]


def test_rules_move_the_next_best_item_up_and_stop_at_k():
    # cap 2: 0 a, (1 blocked), 2 a, 3 b, 4 b fill the page; 5, 6, 7 are never reached
    page, dropped = rules(k=4, max_per_category=2)
    assert page["item"].tolist() == [0, 2, 3, 4]
    assert page["position"].tolist() == [1, 2, 3, 4]
    # item 5 is out of stock, but the walk stopped before it: it counts as "beyond k"
    assert dict(zip(dropped["item"], dropped["reason"], strict=True)) == {
        1: "blocked",
        5: "beyond k",
        6: "beyond k",
        7: "beyond k",
    }
    assert len(page) + len(dropped) == len(RANKED)


def test_rules_without_any_rule_are_the_top_k_and_without_explain_return_one_frame():
    page = apply_business_rules(RANKED, k=3)
    assert isinstance(page, pd.DataFrame)
    assert page["item"].tolist() == [0, 1, 2]
    # item_category alone (no cap) changes nothing
    assert apply_business_rules(RANKED, k=3, item_category=CATEGORY).equals(page)


def test_rules_give_exactly_k_per_user_when_enough_pass_and_break_ties_by_lower_item():
    ranked = pd.DataFrame(
        {
            "user": [1, 1, 1, 0, 0, 0, 0],
            "item": [3, 1, 2, 7, 6, 0, 4],
            "ranker score": [0.5, 0.5, 0.5, 0.1, 0.2, 0.3, 0.4],
        }
    )
    page, dropped = apply_business_rules(ranked, k=2, score="ranker score", explain=True)
    assert page.columns.tolist() == ["user", "item", "score", "position"]
    assert page["user"].tolist() == [0, 0, 1, 1]
    assert page["item"].tolist() == [4, 0, 1, 2]  # user 1: equal scores, lower item first
    assert page.groupby("user").size().tolist() == [2, 2]
    assert dropped["item"].tolist() == [6, 7, 3]
    assert (dropped["reason"] == "beyond k").all()


def test_rules_agree_with_a_loop_over_users_and_items():
    """The vectorised rules against the from-scratch walk, on random data with many ties."""
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 40
    category = rng.choice(["shoes", "bags", "hats", None], size=n_items)
    available = rng.random(n_items) > 0.2
    blocked = sp.random(n_users, n_items, density=0.1, format="csr", random_state=1)
    pairs = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 15, replace=False)]
    ranked = pd.DataFrame(pairs, columns=["user", "item"])
    ranked["score"] = rng.integers(0, 5, len(ranked)) / 4  # few distinct values: ties
    dense_blocked = blocked.toarray()

    for k, cap in [(5, 2), (3, None), (10, 1), (20, 4)]:
        expected_page, expected_dropped = [], []
        for user, group in ranked.groupby("user"):
            walk = group.sort_values(["score", "item"], ascending=[False, True])
            shown: list[int] = []
            for item, score in zip(walk["item"], walk["score"], strict=True):
                same_category = sum(category[j] == category[item] for j in shown)
                if len(shown) == k:
                    reason = "beyond k"
                elif dense_blocked[user, item] != 0:
                    reason = "blocked"
                elif not available[item]:
                    reason = "unavailable"
                elif cap is not None and same_category >= cap:
                    reason = "category cap"
                else:
                    shown.append(item)
                    expected_page.append((user, item, score, len(shown)))
                    continue
                expected_dropped.append((user, item, reason))
        page, dropped = apply_business_rules(
            ranked,
            k=k,
            item_category=category,
            max_per_category=cap,
            blocked=blocked,
            available=available,
            explain=True,
        )
        assert list(page.itertuples(index=False, name=None)) == expected_page
        assert list(dropped.astype({"reason": str}).itertuples(index=False, name=None)) == (
            expected_dropped
        )


def test_rules_on_an_empty_frame_return_empty_frames():
    empty = pd.DataFrame({"user": [], "item": [], "score": []})
    page, dropped = rules(empty, k=3, max_per_category=1)
    assert page.empty and page.columns.tolist() == ["user", "item", "score", "position"]
    assert dropped.empty and dropped.columns.tolist() == ["user", "item", "reason"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive integer (items per page), got 0"),
        ({"k": 2.5}, "k must be a positive integer"),
        ({"k": True}, "k must be a positive integer"),
        ({"k": 3, "max_per_category": 0}, "max_per_category must be a positive integer"),
        (
            {"k": 3, "max_per_category": 2, "item_category": None},
            "max_per_category needs item_category",
        ),
        (
            {"k": 3, "available": AVAILABLE[:5], "item_category": None, "blocked": None},
            "ranked has item number 7, but available cover(s) only items 0..4",
        ),
        (
            {"k": 3, "available": AVAILABLE[:5]},
            "the per-item inputs disagree on the catalog size "
            "(item_category 8, available 5, blocked columns 8)",
        ),
        (
            {"k": 3, "available": AVAILABLE.astype(float)},
            "available must be a 1-D boolean array",
        ),
        (
            {"k": 3, "item_category": CATEGORY.reshape(2, 4)},
            "item_category must be 1-D",
        ),
        (
            {"k": 3, "blocked": BLOCKED[:, :6], "item_category": None, "available": None},
            "ranked has item number 7, but blocked columns cover(s) only items 0..5",
        ),
        ({"k": 3, "score": "ranker score"}, "ranked lacks column(s) ['ranker score']"),
    ],
)
def test_rules_reject_bad_arguments_with_helpful_messages(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        rules(**kwargs)


def test_rules_reject_bad_frames_and_matrices():
    late_user = RANKED.assign(user=5)
    with pytest.raises(
        ValueError, match=re.escape("blocked has 2 rows but ranked has user number 5")
    ):
        rules(late_user, k=3)
    with pytest.raises(TypeError, match=re.escape("blocked must be a scipy.sparse")):
        rules(k=3, blocked=BLOCKED.toarray())
    with pytest.raises(ValueError, match="1 NaN value"):
        rules(RANKED.assign(score=[np.nan, *RANKED["score"][1:]]), k=3)
    with pytest.raises(ValueError, match=re.escape("pair (0, 3) more than once")):
        rules(pd.concat([RANKED, RANKED.head(1)]), k=3)
    with pytest.raises(ValueError, match="negative item numbers"):
        rules(RANKED.assign(item=-1), k=3)
