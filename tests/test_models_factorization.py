"""ALS and BPR (implicit) behind the Recommender interface: contract, reproducibility, behaviour."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models import ALS, BPR, MostPopular, Recommender
from recutils.models.factorization import ALS as ALSFromModule

# Small settings so that every fit takes milliseconds.
FAST = {
    "ALS": lambda **kw: ALS(**{"factors": 4, "regularization": 1.0, "iterations": 10, **kw}),
    "BPR": lambda **kw: BPR(
        **{"factors": 4, "learning_rate": 0.05, "iterations": 50, "regularization": 0.01, **kw}
    ),
}
MODELS = list(FAST)


@pytest.fixture
def tiny() -> sp.csr_matrix:
    """5 users x 6 items; user 4 has 5 of the 6 items, item 5 is bought by nobody but user 3."""
    dense = np.array(
        [
            [1, 1, 0, 0, 0, 0],
            [0, 3, 1, 0, 0, 0],
            [1, 0, 0, 5, 0, 0],
            [0, 0, 1, 1, 0, 2],
            [1, 1, 1, 1, 1, 0],
        ],
        dtype=np.float32,
    )
    return sp.csr_matrix(dense)


def blocks(held_out_per_user: int = 2, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """20 users x 20 items: users 0-9 have items 0-9, users 10-19 items 10-19, minus a few
    random held-out in-block items per user (returned as the second matrix)."""
    rng = np.random.default_rng(seed)
    train = np.zeros((20, 20), dtype=np.float32)
    held = np.zeros_like(train)
    for user in range(20):
        block = np.arange(10) + (0 if user < 10 else 10)
        hidden = rng.choice(block, size=held_out_per_user, replace=False)
        train[user, block] = rng.integers(1, 4, size=10)  # weights 1-3
        train[user, hidden] = 0
        held[user, hidden] = 1
    return sp.csr_matrix(train), sp.csr_matrix(held)


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------


def test_registered_in_models_package() -> None:
    assert ALS is ALSFromModule


@pytest.mark.parametrize("name", MODELS)
def test_recommend_excludes_training_items_and_pads(name: str, tiny: sp.csr_matrix) -> None:
    model = FAST[name]().fit(tiny)
    recommended = model.recommend(np.arange(5), k=6).items
    assert recommended.shape == (5, 6) and recommended.dtype == np.int64
    for user in range(5):
        seen = set(tiny[user].indices)
        row = recommended[user]
        filled = row[row >= 0]
        assert not seen & set(filled)
        assert len(filled) == 6 - len(seen)  # every unseen item, then -1 padding
        assert (row[len(filled) :] == -1).all()


@pytest.mark.parametrize("name", MODELS)
def test_scores_shape_dtype_and_factor_attributes(name: str, tiny: sp.csr_matrix) -> None:
    model = FAST[name]().fit(tiny)
    scores = model.score([0, 4])
    assert scores.shape == (2, 6) and scores.dtype == np.float32
    assert model.user_factors_.shape == (5, 4) and model.user_factors_.dtype == np.float32
    assert model.item_factors_.shape == (6, 4) and model.item_factors_.dtype == np.float32
    expected = model.user_factors_[[0, 4]] @ model.item_factors_.T
    if name == "BPR":
        expected = expected + model.item_bias_ + model.log_popularity_
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_similar_items_never_the_item_itself(name: str, tiny: sp.csr_matrix) -> None:
    model = FAST[name]().fit(tiny)
    neighbours, similarity = model.similar_items(np.arange(6), k=10)
    assert neighbours.shape == (6, 10) and similarity.shape == (6, 10)
    for item in range(6):
        assert item not in neighbours[item]
        assert (neighbours[item, :5] >= 0).all() and (neighbours[item, 5:] == -1).all()
    finite = similarity[:, :5]
    assert np.isfinite(finite).all() and (np.abs(finite) <= 1 + 1e-5).all()
    assert np.isnan(similarity[:, 5:]).all()
    assert (np.diff(finite, axis=1) <= 1e-6).all()  # most similar first


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_scores_other_seed_differs(name: str) -> None:
    train, _ = blocks()
    first = FAST[name](seed=3).fit(train).score(np.arange(20))
    second = FAST[name](seed=3).fit(train).score(np.arange(20))
    other = FAST[name](seed=4).fit(train).score(np.arange(20))
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_als_threads_do_not_change_the_result() -> None:
    train, _ = blocks()
    one = FAST["ALS"](threads=1).fit(train)
    two = FAST["ALS"](threads=2).fit(train)
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)


@pytest.mark.parametrize("name", MODELS)
def test_clear_errors(name: str, tiny: sp.csr_matrix) -> None:
    model = FAST[name]()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])
    with pytest.raises(ValueError, match="no interactions"):
        model.fit(sp.csr_matrix((5, 6), dtype=np.float32))
    model.fit(tiny)
    with pytest.raises(ValueError, match="unknown user"):
        model.recommend([5], k=2)
    with pytest.raises(ValueError, match="unknown item"):
        model.similar_items([-1], k=2)
    for k in (0, -3):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.recommend([0], k=k)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ALS(factors=0), "factors must be a positive integer"),
        (lambda: ALS(regularization=0), "regularization must be a finite number > 0"),
        (lambda: ALS(alpha=-1), "alpha must be a finite number >= 0"),
        (lambda: ALS(weighting="idf"), r"weighting must be one of \[None, 'bm25', 'tfidf'\]"),
        (lambda: ALS(threads=0), "threads must be a positive integer"),
        (lambda: ALS(seed=-1), "seed must be a non-negative integer"),
        (lambda: BPR(learning_rate=0), "learning_rate must be a finite number > 0"),
        (lambda: BPR(iterations=2.5), "iterations must be a positive integer"),
        (lambda: BPR(popularity_correction=float("nan")), "popularity_correction must be"),
    ],
)
def test_bad_parameters_are_named(make: Callable[[], Recommender], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_get_params_round_trip() -> None:
    model = ALS(factors=8, weighting="bm25", seed=1)
    assert ALS(**model.get_params()).get_params() == model.get_params()
    assert "weighting='bm25'" in repr(model)
    bpr = BPR(factors=8, seed=1)
    assert BPR(**bpr.get_params()).get_params() == bpr.get_params()


# --------------------------------------------------------------------------------------------
# What the models compute
# --------------------------------------------------------------------------------------------


def test_als_confidence_is_one_plus_alpha_r(tiny: sp.csr_matrix) -> None:
    model = ALS(factors=2, alpha=3.0, iterations=1).fit(tiny)
    np.testing.assert_allclose(model.confidence_.toarray()[tiny.toarray() > 0], 1 + 3 * tiny.data)
    assert model.confidence_.nnz == tiny.nnz


def test_als_weightings_keep_the_pattern_and_reweight(tiny: sp.csr_matrix) -> None:
    for weighting in ("bm25", "tfidf"):
        weighted = ALS(weighting=weighting).weighted_matrix(tiny)
        assert weighted.dtype == np.float32
        np.testing.assert_array_equal(weighted.indptr, tiny.indptr)
        np.testing.assert_array_equal(weighted.indices, tiny.indices)
        assert (weighted.data > 0).all()
        assert not np.allclose(weighted.data, tiny.data)
    # tf-idf by hand: sqrt(r) * (log(n_users) - log(1 + users of the item))
    idf = np.log(5) - np.log1p(np.bincount(tiny.indices, minlength=6))
    expected = np.sqrt(tiny.toarray()) * idf
    got = ALS(weighting="tfidf").weighted_matrix(tiny).toarray()
    np.testing.assert_allclose(got[tiny.toarray() > 0], expected[tiny.toarray() > 0], rtol=1e-6)


def test_bpr_ignores_the_values_and_splits_off_the_bias() -> None:
    train, _ = blocks()
    binary = train.copy()
    binary.data[:] = 1.0
    weighted = FAST["BPR"](seed=5).fit(train)
    plain = FAST["BPR"](seed=5).fit(binary)
    np.testing.assert_array_equal(weighted.item_factors_, plain.item_factors_)
    np.testing.assert_array_equal(weighted.item_bias_, plain.item_bias_)
    assert weighted.item_bias_.shape == (20,) and np.abs(weighted.item_bias_).max() > 0
    # popularity_correction=0 is plain BPR: scores = x_u . y_i + b_i
    pure = FAST["BPR"](seed=5, popularity_correction=0.0).fit(train)
    np.testing.assert_allclose(
        pure.score([0]), pure.user_factors_[[0]] @ pure.item_factors_.T + pure.item_bias_, 1e-5
    )


def _held_out_above_out_of_block(
    model: Recommender, train: sp.csr_matrix, held: sp.csr_matrix
) -> float:
    """Share of users whose every held-out item outscores every out-of-block item."""
    scores = model.fit(train).score(np.arange(20))
    good = 0
    for user in range(20):
        other_block = np.arange(10) + (10 if user < 10 else 0)
        good += scores[user, held[user].indices].min() > scores[user, other_block].max()
    return good / 20


@pytest.mark.parametrize(
    "make",
    [
        lambda: ALS(factors=4, regularization=1.0, iterations=10),
        lambda: ALS(factors=4, regularization=1.0, iterations=10, weighting="bm25"),
        lambda: ALS(factors=4, regularization=1.0, iterations=10, weighting="tfidf"),
        lambda: BPR(factors=4, learning_rate=0.05, iterations=100),
        lambda: BPR(factors=4, learning_rate=0.05, iterations=100, popularity_correction=0.0),
    ],
    ids=["als", "als-bm25", "als-tfidf", "bpr", "bpr-plain"],
)
def test_held_out_in_block_items_rank_above_the_other_block(
    make: Callable[[], Recommender],
) -> None:
    train, held = blocks()
    assert _held_out_above_out_of_block(make(), train, held) == 1.0


def test_the_block_check_can_fail() -> None:
    """A model that does not personalise (most popular) fails the check, and so does ALS fitted
    on data whose users were swapped between the blocks."""
    train, held = blocks()
    assert _held_out_above_out_of_block(MostPopular(), train, held) == 0.0
    swapped = sp.csr_matrix(np.vstack([train.toarray()[10:], train.toarray()[:10]]))
    assert _held_out_above_out_of_block(FAST["ALS"](), swapped, held) == 0.0


def test_bm25_changes_the_result_and_keeps_the_interface() -> None:
    train, _ = blocks()
    plain = FAST["ALS"]().fit(train)
    bm25 = FAST["ALS"](weighting="bm25").fit(train)
    assert not np.allclose(plain.score(np.arange(20)), bm25.score(np.arange(20)))
    recommended = bm25.recommend(np.arange(20), k=20).items
    for user in range(20):
        row = recommended[user]
        assert not set(train[user].indices) & set(row[row >= 0])
        assert (row >= 0).sum() == 20 - train[user].nnz
