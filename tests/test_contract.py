"""The model contract (recutils.models.base), checked against every model of the package.

One small synthetic shop, two temporal splits of it; every model is fitted with the side data
it declares and must keep the same promises: fit returns the model and can be repeated on
another split, scores have the documented shape and type, recommend returns item numbers and
their scores (seen items left out, a subset respected), new users get what the model declares,
and bad input is refused with a clear error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recutils import models
from recutils.datasets import load
from recutils.llm import tiny_language_model
from recutils.models import (
    ALS,
    BPR,
    EASE,
    IPSBPR,
    TIGER,
    BertHybrid,
    ContentBased,
    FederatedMF,
    ItemKNN,
    LightGCN,
    LLMReranker,
    MostPopular,
    Onboarding,
    Oracle,
    Recommender,
    SASRec,
    Switching,
    UserKNN,
    fit_model,
    user_sequences,
)
from recutils.splitting import temporal_protocol

# the small shop every model is checked on (its catalog has a few more items than n_items)
CONTRACT_SHOP = load("shop", n_users=120, n_items=150, seed=5)
CATEGORIES = CONTRACT_SHOP.items["category"].to_numpy()


@dataclass(frozen=True)
class World:
    """Two splits of one small shop, and every side data a model may ask for."""

    first: Any  # Protocol
    second: Any  # Protocol
    side_first: dict[str, Any]
    side_second: dict[str, Any]


@pytest.fixture(scope="module")
def world() -> World:
    shop = CONTRACT_SHOP
    first = temporal_protocol(shop, test_days=30, valid_days=30)
    second = temporal_protocol(shop, test_days=60, valid_days=30)
    vectors = np.random.default_rng(0).normal(size=(first.train.shape[1], 16)).astype(np.float32)
    texts = [f"product {i}" for i in range(first.train.shape[1])]

    def side(protocol: Any) -> dict[str, Any]:
        return {
            "item_vectors": vectors,
            "item_texts": texts,
            "sequences": user_sequences(
                shop.interactions, protocol.index, before=protocol.valid_start
            ),
            "truth": shop.truth,
            "item_categories": CONTRACT_SHOP.items.set_index("item_id")["category"]
            .loc[protocol.index.items]
            .to_numpy(),
        }

    return World(first, second, side(first), side(second))


# name -> a factory of an unfitted model (small settings: the contract, not the quality)
SMALL_SETTINGS: dict[str, Callable[[], Recommender]] = {
    "MostPopular": MostPopular,
    "UserKNN": lambda: UserKNN(neighbors=10),
    "ItemKNN": lambda: ItemKNN(neighbors=10),
    "EASE": lambda: EASE(l2=50.0),
    "ALS": lambda: ALS(factors=8, iterations=3),
    "BPR": lambda: BPR(factors=8, iterations=5),
    "IPSBPR": lambda: IPSBPR(factors=8, epochs=2, batch_size=256),
    "FederatedMF": lambda: FederatedMF(factors=8, rounds=5, users_per_round=50),
    "ContentBased": lambda: ContentBased(popularity_weight=0.3),
    "LightGCN": lambda: LightGCN(factors=8, epochs=2, batch_size=256),
    "BertHybrid": lambda: BertHybrid(factors=8, hidden=16, epochs=1, batch_size=256),
    "SASRec": lambda: SASRec(max_length=10, factors=8, layers=1, heads=1, epochs=1),
    "TIGER": lambda: TIGER(
        levels=2, codebook_size=4, max_history=5, d_model=8, d_ff=16, heads=2, epochs=1
    ),
    "Oracle": lambda: Oracle(at="2024-12-01"),
    "Onboarding": lambda: Onboarding(CATEGORIES, picks={0: {CATEGORIES[0]}}, history="categories"),
    "Switching": lambda: Switching(ContentBased(), ALS(factors=8, iterations=3), 3),
    "LLMReranker": lambda: LLMReranker(MostPopular(), tiny_language_model(), n_candidates=3),
}


def exported_models() -> dict[str, type[Recommender]]:
    """Every concrete model recutils.models exports: a new model is checked as soon as it is
    exported (with its default settings, unless SMALL_SETTINGS says otherwise)."""
    found = {}
    for name in models.__all__:
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, Recommender):
            if not inspect.isabstract(value):
                found[name] = value
    return found


def readme_model() -> type[Recommender]:
    """The example model of recutils/README.md ("Adding a model"), run as written."""
    readme = (Path(models.__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "recutils/README.md", "exec"), namespace)
    return namespace["CoOccurrence"]


MODELS: dict[str, Callable[[], Recommender]] = {
    **exported_models(),
    **SMALL_SETTINGS,
    "CoOccurrence (recutils/README.md)": readme_model(),
    "LightGCN with text": lambda: LightGCN(factors=8, epochs=2, batch_size=256, text_mode="add"),
}


# models whose fit refuses to run without their side data
NEEDS_SIDE_DATA = {
    "ContentBased",
    "BertHybrid",
    "SASRec",
    "TIGER",
    "Oracle",
    "LightGCN with text",
    "LastCategoryPopular",
    "LastItemTransitions",
    "RecentlyViewed",
}


def fitted(name: str, world: World, second: bool = False) -> Recommender:
    protocol = world.second if second else world.first
    side = world.side_second if second else world.side_first
    return fit_model(MODELS[name](), protocol.train, side_data=side)


@pytest.fixture(scope="module", params=sorted(MODELS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_small_settings_name_exported_models() -> None:
    # a model renamed or no longer exported must not silently drop out of the contract test
    assert set(SMALL_SETTINGS) <= set(exported_models())


def test_fit_returns_the_model_and_declares_its_contract(name: str, world: World) -> None:
    model = MODELS[name]()
    assert isinstance(model, Recommender)
    assert model.new_users in ("popularity", "own")
    assert isinstance(model.name, str) and model.name
    protocol = world.first
    result = fit_model(model, protocol.train, side_data=world.side_first)
    assert result is model
    assert (model.n_users_, model.n_items_) == protocol.train.shape
    assert model.train_.shape == protocol.train.shape


def test_refitting_on_another_split_is_the_same_as_a_fresh_fit(name: str, world: World) -> None:
    users = np.arange(world.first.train.shape[0])
    fresh_second = fitted(name, world, second=True).score(users)
    model = fitted(name, world)  # first split ...
    refit = fit_model(model, world.second.train, side_data=world.side_second)  # ... then second
    np.testing.assert_allclose(refit.score(users), fresh_second, rtol=1e-5, atol=1e-6)


def test_two_fits_with_the_same_settings_give_the_same_scores(name: str, world: World) -> None:
    users = np.arange(40)
    np.testing.assert_array_equal(
        fitted(name, world).score(users), fitted(name, world).score(users)
    )


def test_scores_have_the_documented_shape_and_type(name: str, world: World) -> None:
    model = fitted(name, world)
    users = np.array([0, 3, 7, 3])
    scores = model.score(users)
    assert scores.shape == (4, model.n_items_) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(scores[1], scores[3])  # the same user, the same scores
    subset = np.array([5, 1, 9])
    np.testing.assert_array_equal(model.score(users, items=subset), scores[:, subset])
    mask = np.zeros(model.n_items_, dtype=bool)
    mask[[1, 5, 9]] = True
    np.testing.assert_array_equal(model.score(users, items=mask), scores[:, [1, 5, 9]])


def test_recommend_returns_items_and_their_scores_best_first(name: str, world: World) -> None:
    model = fitted(name, world)
    users = np.arange(model.n_users_)
    items, scores = model.recommend(users, k=7)
    assert items.shape == scores.shape == (users.size, 7)
    assert items.dtype == np.int64 and scores.dtype == np.float32
    full = model.score(users)
    filled = items >= 0
    np.testing.assert_array_equal(
        scores[filled], np.take_along_axis(full, np.maximum(items, 0), axis=1)[filled]
    )
    assert np.isnan(scores[~filled]).all()
    ordered = np.where(filled, scores, -np.inf)
    assert (np.diff(ordered, axis=1) <= 0).all()  # best first
    seen = model.train_.toarray() > 0
    assert not seen[np.repeat(users, 7)[filled.ravel()], items[filled]].any()  # seen left out


def test_recommend_within_a_subset_and_with_exclusions(name: str, world: World) -> None:
    model = fitted(name, world)
    users = np.arange(20)
    subset = np.zeros(model.n_items_, dtype=bool)
    subset[::3] = True
    items, _ = model.recommend(users, k=5, items=subset)
    assert subset[items[items >= 0]].all()
    everything, _ = model.recommend(users, k=5, exclude_seen=False)
    blocked = sp.csr_matrix(
        (np.ones(users.size), (users, np.maximum(everything[:, 0], 0))),
        shape=(model.n_users_, model.n_items_),
    )
    without, _ = model.recommend(users, k=5, exclude_seen=False, exclude=blocked)
    assert not (without == everything[:, :1]).any()  # the blocked first choice is gone


def test_new_users_get_what_the_model_declares(name: str, world: World) -> None:
    model = fitted(name, world)
    new = np.flatnonzero(np.diff(model.train_.indptr) == 0)
    assert new.size, "the fixture must have users without training interactions"
    scores = model.score(new)
    assert np.isfinite(scores).all()
    if model.new_users == "popularity":
        np.testing.assert_array_equal(scores, np.broadcast_to(model.popularity_, scores.shape))


def test_bad_input_is_refused_with_a_clear_error(name: str, world: World) -> None:
    model = fitted(name, world)
    with pytest.raises(ValueError, match=r"unknown user"):
        model.score([model.n_users_])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend([0], k=0)
    with pytest.raises(ValueError, match="items as a mask"):
        model.recommend([0], k=3, items=np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="side data it does not use"):
        MODELS[name]().fit(world.first.train, nonsense=1)
    if not model.uses_valid:
        with pytest.raises(TypeError, match="does not use valid"):
            MODELS[name]().fit(world.first.train, valid=world.first.valid)
    with pytest.raises(ValueError, match="no interactions"):
        MODELS[name]().fit(sp.csr_matrix(world.first.train.shape, dtype=np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        MODELS[name]().score([0])


def test_a_failed_fit_never_leaves_a_half_fitted_model(name: str, world: World) -> None:
    model = fitted(name, world)
    users = np.arange(10)
    before = model.score(users)
    # refused before anything changes: the model keeps its last fit
    with pytest.raises(ValueError, match="no interactions"):
        model.fit(sp.csr_matrix(world.first.train.shape, dtype=np.float32))
    np.testing.assert_array_equal(model.score(users), before)
    if name in NEEDS_SIDE_DATA:
        # refused inside the model's own fit (no side data): the model is unfitted, not stale
        with pytest.raises(TypeError, match=r"needs \w+="):
            model.fit(world.second.train)
        with pytest.raises(RuntimeError, match="not fitted"):
            model.score(users)


def test_settings_can_be_copied_into_a_fresh_model(name: str) -> None:
    model = MODELS[name]()
    copy = model.with_params()
    assert type(copy) is type(model) and copy is not model
    assert repr(copy) == repr(model)
    assert not hasattr(copy, "train_")
    with pytest.raises(TypeError, match="has no setting"):
        model.with_params(no_such_setting=1)


def test_oracle_knows_new_users_too(world: World) -> None:
    """The base class used to give new users popularity behind the oracle's back."""
    model = fitted("Oracle", world)
    new = np.flatnonzero(np.diff(model.train_.indptr) == 0)
    truth = world.side_first["truth"].view_probability(model.at, users=new)
    np.testing.assert_allclose(model.score(new), truth, rtol=1e-6)
    assert not np.allclose(model.score(new), model.popularity_)


# The per-model checks above, for test files that run them on settings of their own (e.g. every
# history option of Onboarding, tests/test_onboarding.py).
CONTRACT_CHECKS = [
    test_fit_returns_the_model_and_declares_its_contract,
    test_refitting_on_another_split_is_the_same_as_a_fresh_fit,
    test_two_fits_with_the_same_settings_give_the_same_scores,
    test_scores_have_the_documented_shape_and_type,
    test_recommend_returns_items_and_their_scores_best_first,
    test_recommend_within_a_subset_and_with_exclusions,
    test_new_users_get_what_the_model_declares,
    test_bad_input_is_refused_with_a_clear_error,
    test_a_failed_fit_never_leaves_a_half_fitted_model,
]
