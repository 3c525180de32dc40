"""recutils.models.sequence_rules: the simple rules over histories, against hand-computed toys,
and through the same checks as tests/test_contract.py (so exporting them breaks nothing)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import tests.test_contract as contract
from recutils.datasets import load
from recutils.models import MostPopular, fit_model, sequence_rules, user_sequences
from recutils.models.sequence_rules import (
    LastCategoryPopular,
    LastItemTransitions,
    RecentlyViewed,
    SequenceRule,
)
from recutils.splitting import temporal_protocol

# 3 users, 5 items; training users per item: pop = [2, 1, 3, 0, 1], P = 3, tie-break pop / 4
TRAIN = sp.csr_matrix(
    np.array(
        [
            [1, 1, 1, 0, 0],
            [1, 0, 1, 0, 1],
            [0, 0, 1, 0, 0],
        ],
        dtype=np.float32,
    )
)
TIE = np.array([2, 1, 3, 0, 1], dtype=np.float32) / 4
CATEGORIES = ["shoes", "shoes", "bags", "shoes", "bags"]
SEQUENCES = [np.array([2, 0, 1, 0]), np.array([4, 2, 0]), np.array([], dtype=np.int64)]


def test_last_category_best_sellers_by_hand() -> None:
    rule = LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES, item_categories=CATEGORIES)
    scores = rule.score([0, 1, 2])
    # user 0 ends on item 0 (shoes: items 0, 1, 3), user 1 too; user 2 has no history
    shoes = np.array([1, 1, 0, 1, 0], dtype=np.float32)
    np.testing.assert_allclose(scores, [shoes + TIE, shoes + TIE, TIE], rtol=1e-6)
    # the best-seller among the shoes first, then the other shoes, then the rest by popularity
    items, _ = rule.recommend([0, 2], k=5, exclude_seen=False)
    assert items.tolist() == [[0, 1, 3, 2, 4], [2, 0, 1, 4, 3]]
    # training items excluded: user 0 keeps the unseen shoes (3) before the unseen bag (4)
    assert rule.recommend([0], k=2).items.tolist() == [[3, 4]]
    # a category that is a number works the same
    codes = LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES, item_categories=[7, 7, 2, 7, 2])
    np.testing.assert_array_equal(codes.score([0, 1, 2]), scores)
    assert list(rule.categories_[rule.category_codes_]) == CATEGORIES


def test_recently_viewed_by_hand() -> None:
    rule = RecentlyViewed().fit(TRAIN, sequences=SEQUENCES)
    # user 0: 2, 0, 1, 0 -> last occurrences at positions 1..4: item 0 at 4, 1 at 3, 2 at 1
    expected = TIE + np.array([4, 3, 1, 0, 0], dtype=np.float32)
    np.testing.assert_allclose(rule.score([0])[0], expected, rtol=1e-6)
    assert rule.recommend([0], k=4, exclude_seen=False).items.tolist() == [[0, 1, 2, 4]]
    # a window of 2 reads "1, 0" only: item 2 falls back to popularity
    short = RecentlyViewed(max_length=2).fit(TRAIN, sequences=SEQUENCES)
    np.testing.assert_allclose(short.score([0])[0], TIE + np.array([2, 1, 0, 0, 0]), rtol=1e-6)
    # an empty history ranks by popularity alone
    np.testing.assert_allclose(rule.score([2])[0], TIE, rtol=1e-6)


def test_recently_viewed_becomes_most_popular_when_training_items_are_excluded() -> None:
    """The history is made of training items: excluding them leaves the popularity order."""
    shop = load("shop", n_users=80, n_items=100, seed=3)
    protocol = temporal_protocol(shop, test_days=30, valid_days=30)
    sequences = user_sequences(shop.interactions, protocol.index, before=protocol.valid_start)
    users = np.flatnonzero(np.diff(protocol.train.indptr) > 0)
    rule = RecentlyViewed().fit(protocol.train, sequences=sequences)
    popular = MostPopular().fit(protocol.train)
    np.testing.assert_array_equal(
        rule.recommend(users, k=10).items, popular.recommend(users, k=10).items
    )


def test_last_item_transitions_by_hand() -> None:
    rule = LastItemTransitions().fit(TRAIN, sequences=SEQUENCES)
    # next-item pairs: 2->0, 0->1, 1->0 (user 0); 4->2, 2->0 (user 1)
    counts = np.zeros((5, 5), dtype=np.float32)
    for j, i in [(2, 0), (0, 1), (1, 0), (4, 2), (2, 0)]:
        counts[j, i] += 1
    np.testing.assert_array_equal(rule.transitions_.toarray(), counts)
    # both users end on item 0, followed once by item 1
    np.testing.assert_allclose(rule.score([0, 1]), counts[[0, 0]] + TIE, rtol=1e-6)
    np.testing.assert_allclose(
        rule.score_sequences([[0, 4], [2], []]), [counts[4] + TIE, counts[2] + TIE, TIE], rtol=1e-6
    )
    neighbours, _ = rule.similar_items([2], k=2)
    assert neighbours.tolist() == [[0, 1]]  # 0 followed 2 twice; then 1 and 4 tie: lower first


def test_last_item_transitions_window_and_symmetry() -> None:
    wide = LastItemTransitions(window=2).fit(TRAIN, sequences=SEQUENCES)
    # add the pairs two steps apart: 2->1, 0->0 (dropped: same item); 4->0
    counts = np.zeros((5, 5), dtype=np.float32)
    for j, i in [(2, 0), (0, 1), (1, 0), (4, 2), (2, 0), (2, 1), (4, 0)]:
        counts[j, i] += 1
    np.testing.assert_array_equal(wide.transitions_.toarray(), counts)
    both = LastItemTransitions(window=2, symmetric=True).fit(TRAIN, sequences=SEQUENCES)
    np.testing.assert_array_equal(both.transitions_.toarray(), counts + counts.T)


def test_score_sequences_agrees_with_score_on_the_stored_histories() -> None:
    for rule in (
        LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES, item_categories=CATEGORIES),
        RecentlyViewed().fit(TRAIN, sequences=SEQUENCES),
        LastItemTransitions().fit(TRAIN, sequences=SEQUENCES),
    ):
        scores = rule.score_sequences(SEQUENCES)
        assert scores.dtype == np.float32 and scores.shape == (3, 5)
        np.testing.assert_array_equal(scores, rule.score([0, 1, 2]))


def test_bad_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="needs sequences="):
        RecentlyViewed().fit(TRAIN)
    with pytest.raises(TypeError, match="needs item_categories="):
        LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES)
    with pytest.raises(ValueError, match="item_categories has 3 rows but the training matrix"):
        LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES, item_categories=["a", "b", "c"])
    with pytest.raises(ValueError, match="1 missing labels"):
        LastCategoryPopular().fit(
            TRAIN, sequences=SEQUENCES, item_categories=["a", None, "b", "b", "a"]
        )
    with pytest.raises(TypeError, match="single string"):
        LastCategoryPopular().fit(TRAIN, sequences=SEQUENCES, item_categories="shoes")
    with pytest.raises(ValueError, match="sequences has 2 histories but train has 3 users"):
        RecentlyViewed().fit(TRAIN, sequences=SEQUENCES[:2])
    with pytest.raises(ValueError, match=r"sequences\[0\] holds item numbers \[9\]"):
        LastItemTransitions().fit(TRAIN, sequences=[[0, 9], [], []])
    with pytest.raises(ValueError, match="window must be a positive integer"):
        LastItemTransitions(window=0)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        RecentlyViewed(max_length=0)
    rule = RecentlyViewed().fit(TRAIN, sequences=SEQUENCES)
    with pytest.raises(TypeError, match="pass \\[history\\]"):
        rule.score_sequences(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"histories\[1\] holds items \[5\] outside the catalog"):
        rule.score_sequences([[0], [5]])
    with pytest.raises(ValueError, match="integer item numbers"):
        rule.score_sequences([[0.5]])
    with pytest.raises(RuntimeError, match="not fitted"):
        RecentlyViewed().score_sequences([[0]])


def test_the_base_rule_is_abstract() -> None:
    # so that the contract test, which runs every concrete exported Recommender, skips it
    with pytest.raises(TypeError, match="abstract"):
        SequenceRule()  # type: ignore[abstract]


# -- the contract of tests/test_contract.py, with item categories in the side data -----------

RULES = {
    "LastCategoryPopular": LastCategoryPopular,
    "RecentlyViewed": RecentlyViewed,
    "LastItemTransitions": lambda: LastItemTransitions(window=2),
}


@pytest.fixture(scope="module")
def world() -> contract.World:
    shop = load("shop", n_users=120, n_items=150, seed=5)
    first = temporal_protocol(shop, test_days=30, valid_days=30)
    second = temporal_protocol(shop, test_days=60, valid_days=30)
    categories = shop.items.set_index("item_id")["category"]

    def side(protocol: object) -> dict[str, object]:
        return {
            "sequences": user_sequences(
                shop.interactions, protocol.index, before=protocol.valid_start
            ),
            "item_categories": categories.loc[protocol.index.items].to_numpy(),
            "item_vectors": np.zeros((first.train.shape[1], 4), dtype=np.float32),  # unused
        }

    return contract.World(first, second, side(first), side(second))


CONTRACT_CHECKS = contract.CONTRACT_CHECKS


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda check: check.__name__[5:])
def test_the_rules_keep_the_contract(
    name: str, check: object, world: contract.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(contract.MODELS, name, RULES[name])
    monkeypatch.setattr(contract, "NEEDS_SIDE_DATA", {*contract.NEEDS_SIDE_DATA, name})
    check(name, world)  # type: ignore[operator]
    contract.test_settings_can_be_copied_into_a_fresh_model(name)


def test_fit_model_passes_each_rule_only_what_it_declares(world: contract.World) -> None:
    for factory in RULES.values():
        model = fit_model(factory(), world.first.train, side_data=world.side_first)
        assert model.sequences_[0].dtype == np.int64


def test_the_docstring_examples_run() -> None:
    assert doctest.testmod(sequence_rules).failed == 0
