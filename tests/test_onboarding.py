"""recutils.models.onboarding: Onboarding against its formula by hand, its errors, the contract.

The hand-made shop has five items in two categories and four users (rows of ``TRAIN``):

    item:        0      1      2      3      4
    category:    shoes  shoes  bags   bags   hats
    popularity:  2      1      2      0      0      (training users per item)

    user 0: items 0, 2        user 1: item 0, 1       user 2: item 2
    user 3: nothing (new)

so ``pop_i / (max pop + 1)`` is ``(2, 1, 2, 0, 0) / 3``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models.onboarding import Onboarding
from tests import test_contract as contract

CATEGORY = np.array(["shoes", "shoes", "bags", "bags", "hats"])
TRAIN = sp.csr_matrix(
    np.array([[1, 0, 1, 0, 0], [3, 1, 0, 0, 0], [0, 0, 5, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32)
)
POPULARITY_TERM = np.array([2, 1, 2, 0, 0], dtype=np.float32) / 3


def test_picks_come_first_then_popularity() -> None:
    model = Onboarding(CATEGORY, picks={3: {"bags"}, 0: ["hats", "bags"]}).fit(TRAIN)
    expected = np.tile(POPULARITY_TERM, (4, 1))
    expected[3, [2, 3]] += 1  # user 3 ticked bags
    expected[0, [2, 3, 4]] += 1  # user 0 ticked hats and bags
    np.testing.assert_allclose(model.score(np.arange(4)), expected, rtol=1e-6)
    # a new user (no training row) gets the form's scores, not plain popularity
    assert model.new_users == "own"
    items, _ = model.recommend([3], k=5)
    assert items.tolist() == [[2, 3, 0, 1, 4]]  # bags by popularity, then the rest


@pytest.mark.parametrize(
    ("history", "added"),
    [
        ("none", np.zeros((4, 5))),
        # categories touched: user 0 shoes + bags, user 1 shoes, user 2 bags
        ("categories", np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0] * 5])),
        # items per category: user 1 has two shoes
        ("counts", np.array([[1, 1, 1, 1, 0], [2, 2, 0, 0, 0], [0, 0, 1, 1, 0], [0] * 5])),
    ],
)
def test_history_adds_the_categories_of_the_users_items(history: str, added: Any) -> None:
    model = Onboarding(CATEGORY, history=history).fit(TRAIN)
    np.testing.assert_allclose(
        model.score(np.arange(4)), POPULARITY_TERM[None, :] + added, rtol=1e-6
    )
    # weights per category, columns in sorted label order (bags, hats, shoes)
    assert model.categories_.tolist() == ["bags", "hats", "shoes"]
    weights = model.category_weights([1])
    assert weights.shape == (1, 3) and weights.dtype == np.float32


def test_without_picks_or_history_it_is_popularity() -> None:
    model = Onboarding(CATEGORY).fit(TRAIN)
    np.testing.assert_allclose(model.score([0, 3]), np.tile(POPULARITY_TERM, (2, 1)), rtol=1e-6)


def test_integer_labels_and_a_refit_forget_the_old_shape() -> None:
    model = Onboarding([7, 7, 8, 8, 9], picks={1: [9]}).fit(TRAIN)
    assert model.recommend([1], k=1, exclude_seen=False).items.tolist() == [[4]]
    with pytest.raises(ValueError, match="item_category has 5 rows but the training matrix"):
        model.fit(sp.csr_matrix(np.ones((2, 3), dtype=np.float32)))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"item_category": []}, ValueError, "one category label per item"),
        ({"item_category": np.zeros((5, 2))}, ValueError, "1-D sequence"),
        ({"item_category": CATEGORY, "picks": [{"bags"}]}, TypeError, "picks must be a mapping"),
        ({"item_category": CATEGORY, "history": "all"}, ValueError, "history must be one of"),
    ],
)
def test_bad_settings_are_refused(arguments: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Onboarding(**arguments)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"item_category": CATEGORY[:4]}, ValueError, "item_category has 4 rows"),
        ({"item_category": [None, "a", "a", "b", "b"]}, ValueError, "1 missing label"),
        ({"picks": {0: {"boots"}}}, ValueError, "names the category 'boots', which no item has"),
        ({"picks": {9: {"bags"}}}, ValueError, r"key 9, which is not a user number .*0\.\.3"),
        ({"picks": {"U1": {"bags"}}}, ValueError, "key 'U1'"),
        ({"picks": {0: "bags"}}, TypeError, r"picks\[0\] must be a collection"),
    ],
)
def test_bad_picks_and_labels_are_refused_in_fit(
    arguments: dict, error: type, message: str
) -> None:
    model = Onboarding(**{"item_category": CATEGORY, **arguments})
    with pytest.raises(error, match=message):
        model.fit(TRAIN)
    with pytest.raises(RuntimeError, match="not fitted"):  # a failed fit leaves nothing behind
        model.score([0])


# -- the model contract (tests/test_contract.py), run on Onboarding ---------------------------

world = contract.world  # the contract's fixture: a small shop, two temporal splits

CONTRACT_CHECKS = contract.CONTRACT_CHECKS


@pytest.mark.parametrize("history", ["none", "categories", "counts"])
@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda check: check.__name__[5:])
def test_onboarding_keeps_the_model_contract(
    check: Any, history: str, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    categories = world.first.dataset.items["category"].to_numpy()
    new = np.flatnonzero(np.diff(world.first.train.indptr) == 0)
    picks = {0: set(categories[:2]), int(new[0]): {categories[5]}}
    name = f"Onboarding (history={history})"
    monkeypatch.setitem(
        contract.MODELS, name, lambda: Onboarding(categories, picks, history=history)
    )
    check(name, world)
    contract.test_settings_can_be_copied_into_a_fresh_model(name)
