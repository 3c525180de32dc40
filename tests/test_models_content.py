"""recutils.models.content: ContentBased against hand computations, and tfidf_item_vectors.

The hand-made catalog has five items with 2-D vectors (unit vectors in brackets):

    item 0: (1, 0)  [1, 0]        item 3: (0, 0)  [0, 0]   (no content)
    item 1: (3, 4)  [0.6, 0.8]    item 4: (4, 3)  [0.8, 0.6]
    item 2: (0, 2)  [0, 1]

so the cosine similarities are, by hand:

    cos(0, 1) = 0.6    cos(0, 2) = 0      cos(0, 4) = 0.8
    cos(1, 2) = 0.8    cos(1, 4) = 24/25 = 0.96
    cos(2, 4) = 0.6    cos(i, 3) = 0 for every i (a zero vector is similar to nothing)
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models import ContentBased, tfidf_item_vectors
from recutils.models.content import unit_rows

VECTORS = np.array([[1, 0], [3, 4], [0, 2], [0, 0], [4, 3]], dtype=np.float32)
COSINE = np.array(
    [
        [1.0, 0.6, 0.0, 0.0, 0.8],
        [0.6, 1.0, 0.8, 0.0, 0.96],
        [0.0, 0.8, 1.0, 0.0, 0.6],
        [0.0, 0.0, 0.0, 0.0, 0.0],  # the zero vector: 0, not NaN (also with itself)
        [0.8, 0.96, 0.6, 0.0, 1.0],
    ]
)


def train_matrix() -> sp.csr_matrix:
    """4 users x 5 items.

    user 0: item 0 (weight 3), item 2 (weight 1)  -> leans to item 0
    user 1: item 0 (weight 1), item 2 (weight 3)  -> leans to item 2
    user 2: item 3 only (a zero vector: no profile)
    user 3: nothing (cold)
    """
    rows, cols, weights = [0, 0, 1, 1, 2], [0, 2, 0, 2, 3], [3.0, 1.0, 1.0, 3.0, 1.0]
    return sp.csr_matrix((weights, (rows, cols)), shape=(4, 5), dtype=np.float32)


@pytest.fixture(params=["dense", "sparse"])
def vectors(request: pytest.FixtureRequest) -> np.ndarray | sp.csr_matrix:
    return VECTORS if request.param == "dense" else sp.csr_matrix(VECTORS)


def test_unit_rows_keeps_zero_rows_zero() -> None:
    dense = unit_rows(VECTORS)
    np.testing.assert_allclose(dense[1], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(dense[3], [0.0, 0.0])
    sparse = unit_rows(sp.csr_matrix(VECTORS))
    assert sp.issparse(sparse)
    np.testing.assert_allclose(sparse.toarray(), dense, rtol=1e-6)


def test_similarity_is_the_cosine_of_formula_3_1(vectors) -> None:
    model = ContentBased(center=False).fit(train_matrix(), item_vectors=vectors)
    similarity = model._similar_items(np.arange(5))
    assert not np.isnan(similarity).any()
    np.testing.assert_allclose(similarity, COSINE, atol=1e-6)


def test_similar_items_leaves_out_the_item_and_finds_the_hand_computed_neighbour(vectors) -> None:
    model = ContentBased(center=False).fit(train_matrix(), item_vectors=vectors)
    neighbours, similarities = model.similar_items([0, 1, 2], k=2)
    # item 0: 4 (0.8), then 1 (0.6); item 1: 4 (0.96), then 2 (0.8); item 2: 1 (0.8), then 4 (0.6)
    np.testing.assert_array_equal(neighbours, [[4, 1], [4, 2], [1, 4]])
    np.testing.assert_allclose(similarities, [[0.8, 0.6], [0.96, 0.8], [0.8, 0.6]], atol=1e-6)
    # the zero vector: every similarity is 0 (ties by item number), never NaN, never itself
    neighbours, similarities = model.similar_items(3, k=4)
    np.testing.assert_array_equal(neighbours, [[0, 1, 2, 4]])
    np.testing.assert_array_equal(similarities, np.zeros((1, 4)))


def test_profile_is_the_weighted_mean_of_unit_vectors(vectors) -> None:
    model = ContentBased(center=False).fit(train_matrix(), item_vectors=vectors)
    # user 0: p = (3 [1, 0] + 1 [0, 1]) / 4 = (0.75, 0.25); user 1: (0.25, 0.75)
    profiles = model._profiles(np.array([0, 1]))
    profiles = profiles.toarray() if sp.issparse(profiles) else profiles
    np.testing.assert_allclose(profiles, [[0.75, 0.25], [0.25, 0.75]], atol=1e-6)
    # score = cos(p, v_i); |p| = sqrt(0.625) = 0.790569
    # user 0: item 1: (0.75*0.6 + 0.25*0.8) / 0.790569 = 0.822192
    #         item 4: (0.75*0.8 + 0.25*0.6) / 0.790569 = 0.948683, item 3 (zero vector): 0
    scores = model.score([0, 1])
    np.testing.assert_allclose(scores[0, [1, 3, 4]], [0.822192, 0.0, 0.948683], atol=1e-5)
    # user 1 is the mirror image: item 1 scores 0.948683, item 4 0.822192
    np.testing.assert_allclose(scores[1, [1, 3, 4]], [0.948683, 0.0, 0.822192], atol=1e-5)


def test_weights_decide_the_ranking(vectors) -> None:
    model = ContentBased(center=False).fit(train_matrix(), item_vectors=vectors)
    # same items, opposite weights: user 0 leans to item 0, so (4, 3) wins; user 1 to item 2,
    # so (3, 4) wins; the zero-vector item 3 comes last
    np.testing.assert_array_equal(model.recommend([0, 1], k=3).items, [[4, 1, 3], [1, 4, 3]])


def test_dense_and_sparse_vectors_give_the_same_scores() -> None:
    for aggregate in ("profile", "max"):
        dense = ContentBased(aggregate=aggregate, center=False).fit(
            train_matrix(), item_vectors=VECTORS
        )
        sparse = ContentBased(aggregate=aggregate, center=False).fit(
            train_matrix(), item_vectors=sp.csr_matrix(VECTORS)
        )
        np.testing.assert_allclose(dense.score(np.arange(4)), sparse.score(np.arange(4)), atol=1e-6)
    np.testing.assert_allclose(dense.similar_items([0, 4])[1], sparse.similar_items([0, 4])[1])


def test_scale_of_the_vectors_does_not_matter() -> None:
    scaled = VECTORS * np.array([[2.0], [0.1], [7.0], [1.0], [3.0]], dtype=np.float32)
    a = ContentBased(center=False).fit(train_matrix(), item_vectors=VECTORS).score(np.arange(4))
    b = ContentBased(center=False).fit(train_matrix(), item_vectors=scaled).score(np.arange(4))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_max_aggregate_takes_the_best_similarity(vectors) -> None:
    model = ContentBased(aggregate="max", center=False).fit(train_matrix(), item_vectors=vectors)
    # user 0 has items 0 and 2: item 1: max(0.6, 0.8) = 0.8; item 4: max(0.8, 0.6) = 0.8;
    # item 3: max(0, 0) = 0; item 0 itself: 1
    np.testing.assert_allclose(model.score(0)[0], [1.0, 0.8, 1.0, 0.0, 0.8], atol=1e-6)


def test_users_without_a_profile_get_popularity(vectors) -> None:
    for aggregate in ("profile", "max"):
        model = ContentBased(aggregate=aggregate, center=False).fit(
            train_matrix(), item_vectors=vectors
        )
        # popularity: items 0 and 2 have 2 users, item 3 one, items 1 and 4 none
        for user in (2, 3):  # only a zero-vector item / no item at all
            np.testing.assert_array_equal(model.score(user)[0], [2, 0, 2, 1, 0])
        assert not np.isnan(model.score(np.arange(4))).any()
        # user 2 has item 3: it is left out, the rest by popularity, ties by item number
        np.testing.assert_array_equal(model.recommend(2, k=4).items, [[0, 2, 1, 4]])


def test_recommend_excludes_training_items(vectors) -> None:
    model = ContentBased(center=False).fit(train_matrix(), item_vectors=vectors)
    recommended = model.recommend(np.arange(4), k=5).items
    train = train_matrix()
    for user in range(4):
        seen = set(train[user].indices)
        kept = [item for item in recommended[user] if item >= 0]
        assert not seen & set(kept)
        assert len(kept) == 5 - len(seen)


def test_mismatched_item_count_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"item_vectors has 4 rows .* 5 item columns"):
        ContentBased(center=False).fit(train_matrix(), item_vectors=VECTORS[:4])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones(5), "2-D"),
        (np.zeros((0, 2)), "2-D"),
        (np.array([[1.0, np.nan]] * 5), "NaN"),
        (sp.csr_matrix(np.array([[1.0, np.inf]] * 5)), "NaN"),
        ("not vectors", "numeric"),
    ],
)
def test_bad_item_vectors_are_rejected(bad, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        ContentBased().fit(sp.csr_matrix(np.eye(5, dtype=np.float32)), item_vectors=bad)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(
        ValueError, match=r"aggregate must be one of \['profile', 'max'\], got 'mean'"
    ):
        ContentBased(aggregate="mean")
    model = ContentBased()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.recommend(0)
    with pytest.raises(ValueError, match="no interactions"):
        model.fit(sp.csr_matrix((4, 5), dtype=np.float32), item_vectors=VECTORS)
    with pytest.raises(TypeError, match="needs item_vectors="):
        model.fit(train_matrix())
    model.fit(train_matrix(), item_vectors=VECTORS)
    with pytest.raises(ValueError, match="unknown user"):
        model.recommend([7])
    with pytest.raises(ValueError, match="unknown item"):
        model.similar_items([5])
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.recommend(0, k=k)
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.similar_items(0, k=k)


def test_repr_shows_the_settings() -> None:
    assert repr(ContentBased()) == (
        "ContentBased(aggregate='profile', center=True, popularity_weight=0.0)"
    )


def test_tfidf_item_vectors_shape_and_unit_rows() -> None:
    texts = ["Faux leather jacket", "Leather jacket", "Linen shirt", "", "LINEN Shirt, café"]
    vectors = tfidf_item_vectors(texts)
    assert sp.isspmatrix_csr(vectors) and vectors.dtype == np.float32
    assert vectors.shape[0] == len(texts)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1, 1, 1, 0, 1], atol=1e-6)  # the empty text: a zero row
    similarity = (vectors @ vectors.T).toarray()
    # lowercase: "LINEN Shirt" shares "linen", "shirt" and "linen shirt" with "Linen shirt"
    assert similarity[2, 4] > 0.5
    # the bigram "faux leather" makes the two jackets differ, but "leather jacket" is shared
    assert 0 < similarity[0, 1] < 1
    model = ContentBased(center=False).fit(
        sp.csr_matrix(np.eye(5, dtype=np.float32)), item_vectors=vectors
    )
    assert model.similar_items(0, k=1)[0][0, 0] == 1


def test_tfidf_item_vectors_options_and_errors() -> None:
    unigrams = tfidf_item_vectors(["red shirt", "blue shirt"], ngram_range=(1, 1))
    assert unigrams.shape == (2, 3)  # blue, red, shirt
    with pytest.raises(ValueError, match=r"1 entry that are not strings .*None"):
        tfidf_item_vectors(["red shirt", None])
    with pytest.raises(ValueError, match="missing"):
        tfidf_item_vectors(np.array(["red shirt", np.nan], dtype=object))
    with pytest.raises(TypeError, match="single str"):
        tfidf_item_vectors("red shirt")
    with pytest.raises(ValueError, match="texts is empty"):
        tfidf_item_vectors([])
    with pytest.raises(ValueError, match="no usable term"):
        tfidf_item_vectors(["", " "])


def test_pretrained_embeddings_find_synonyms_tfidf_cannot() -> None:
    from recutils.text import encode_texts

    texts = ["Leather sofa", "Comfy couch", "Running shoes", "Trainers for jogging"]
    train = sp.csr_matrix(np.eye(4, dtype=np.float32))
    minilm = ContentBased(center=False).fit(
        train, item_vectors=encode_texts(texts)
    )  # one real (cached) encoder call
    # MiniLM: sofa ~ couch (cosine ~0.68), running shoes ~ trainers for jogging (~0.63)
    np.testing.assert_array_equal(minilm.similar_items([0, 2], k=1)[0], [[1], [3]])
    # TF-IDF: no shared token, so similarity exactly 0
    tfidf = ContentBased(center=False).fit(train, item_vectors=tfidf_item_vectors(texts))
    np.testing.assert_array_equal(tfidf.similar_items([0, 2], k=3)[1], np.zeros((2, 3)))


def test_max_ignores_items_without_content() -> None:
    # items: 0 = (1, 0), 1 = (-1, 0), 2 = (0, 0); the user has items 1 and 2. Item 2 says
    # nothing, so score(0) = cos(v_1, v_0) = -1, not max(-1, 0) = 0
    vectors = np.array([[1, 0], [-1, 0], [0, 0]], dtype=np.float32)
    train = sp.csr_matrix(np.array([[0, 1, 1]], dtype=np.float32))
    for kind in (vectors, sp.csr_matrix(vectors)):
        model = ContentBased(aggregate="max", center=False).fit(train, item_vectors=kind)
        np.testing.assert_allclose(model.score(0)[0, 0], -1.0)
        profile = ContentBased(center=False).fit(
            train, item_vectors=kind
        )  # p = ([-1, 0] + [0, 0]) / 2: cos(p, v_0) = -1
        np.testing.assert_allclose(profile.score(0)[0, 0], -1.0)


def test_max_without_the_stored_similarity_matrix_gives_the_same_scores(monkeypatch) -> None:
    from recutils.models import content

    stored = ContentBased(aggregate="max", center=False).fit(train_matrix(), item_vectors=VECTORS)
    expected = stored.score(np.arange(4))
    assert stored.item_similarity_ is not None
    monkeypatch.setattr(content, "_MAX_STORED_SIMILARITIES", 0)
    monkeypatch.setattr(content, "_BLOCK_NUMBERS", 5)  # one similarity row per block
    for vectors in (VECTORS, sp.csr_matrix(VECTORS)):
        model = ContentBased(aggregate="max", center=False).fit(
            train_matrix(), item_vectors=vectors
        )
        np.testing.assert_allclose(model.score(np.arange(4)), expected, atol=1e-6)
        assert model.item_similarity_ is None


def test_centering_removes_the_common_direction():
    # Two items share a big common component [10, 10] plus +-[1, 0]: their raw cosine is close
    # to 1, after subtracting the mean vector they point in opposite directions (cosine -1).
    vectors = np.array([[11.0, 10.0], [9.0, 10.0]], dtype=np.float32)
    train = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    _, raw = ContentBased(center=False).fit(train, item_vectors=vectors).similar_items([0], k=1)
    _, centred = ContentBased().fit(train, item_vectors=vectors).similar_items([0], k=1)
    assert raw[0, 0] > 0.99 and centred[0, 0] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="center must be True or False"):
        ContentBased(center="yes")


def test_popularity_weight_adds_log_popularity() -> None:
    train = train_matrix()
    plain = ContentBased(center=False).fit(train, item_vectors=VECTORS)
    weighted = ContentBased(center=False, popularity_weight=0.5).fit(train, item_vectors=VECTORS)
    users = np.arange(train.shape[0])
    expected = plain.score(users) + 0.5 * np.log1p(plain.popularity_)
    with_profile = [0, 1]  # user 2's only item has no content, user 3 has no item
    scores = weighted.score(users)
    np.testing.assert_allclose(scores[with_profile], expected[with_profile], rtol=1e-6)
    # without a profile the ranking is by popularity alone
    np.testing.assert_array_equal(
        np.argsort(-weighted.score([2])[0], kind="stable"),
        np.argsort(-plain.popularity_, kind="stable"),
    )
    with pytest.raises(ValueError, match="popularity_weight must be a finite number >= 0"):
        ContentBased(popularity_weight=-1.0)


def test_centred_unit_rows_matches_content_based():
    from recutils.models import centred_unit_rows

    vectors = np.random.default_rng(0).normal(1.0, 1.0, size=(6, 4)).astype(np.float32)
    unit, centre = centred_unit_rows(vectors)
    assert np.allclose(centre, vectors.mean(axis=0))
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    train = sp.csr_matrix(np.eye(3, 6, dtype=np.float32))
    model = ContentBased().fit(train, item_vectors=vectors)
    assert np.allclose(model.item_unit_, unit)
