"""Tests of recutils.models.neighbors: hand-computed UserKNN / ItemKNN scores and the interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models import ItemKNN, UserKNN
from recutils.models.neighbors import cosine_similarity_rows, top_k_similarity_matrix

# The 4 users x 5 items binary matrix of the hand computations below.
#            item 0  1  2  3  4
R = np.array(
    [
        [1, 1, 0, 0, 0],  # user 0
        [1, 1, 1, 0, 0],  # user 1
        [0, 1, 0, 1, 1],  # user 2
        [0, 0, 1, 0, 1],  # user 3
    ],
    dtype=np.float32,
)
A = 1 / math.sqrt(6)  # 0.4082
B = 2 / math.sqrt(6)  # 0.8165


def train() -> sp.csr_matrix:
    return sp.csr_matrix(R)


# --------------------------------------------------------------------------------------------
# UserKNN by hand
# --------------------------------------------------------------------------------------------
# User norms: |u0| = sqrt2, |u1| = sqrt3, |u2| = sqrt3, |u3| = sqrt2. Dot products and cosines:
#   (0,1): 2 / (sqrt2 sqrt3) = 2/sqrt6 = 0.8165     (0,2): 1/sqrt6 = 0.4082    (0,3): 0
#   (1,2): 1 / 3             = 0.3333               (1,3): 1/sqrt6 = 0.4082
#   (2,3): 1/sqrt6           = 0.4082
# neighbors=1 (ties go to the lower user number):
#   u0 -> u1 (0.8165): 0.8165 * r_1 = [.8165, .8165, .8165, 0, 0]
#   u1 -> u0 (0.8165): 0.8165 * r_0 = [.8165, .8165, 0, 0, 0]
#   u2 -> u0 (0.4082, tie with u3): 0.4082 * r_0 = [.4082, .4082, 0, 0, 0]
#   u3 -> u1 (0.4082, tie with u2): 0.4082 * r_1 = [.4082, .4082, .4082, 0, 0]
USER_KNN_1 = np.array(
    [
        [B, B, B, 0, 0],
        [B, B, 0, 0, 0],
        [A, A, 0, 0, 0],
        [A, A, A, 0, 0],
    ]
)
# neighbors=2:
#   u0 -> u1 (.8165), u2 (.4082): .8165 [1,1,1,0,0] + .4082 [0,1,0,1,1]
#                                 = [.8165, 1.2247, .8165, .4082, .4082]
#   u1 -> u0 (.8165), u3 (.4082): .8165 [1,1,0,0,0] + .4082 [0,0,1,0,1]
#   u2 -> u0 (.4082), u3 (.4082): .4082 ([1,1,0,0,0] + [0,0,1,0,1])
#   u3 -> u1 (.4082), u2 (.4082): .4082 ([1,1,1,0,0] + [0,1,0,1,1])
USER_KNN_2 = np.array(
    [
        [B, B + A, B, A, A],
        [B, B, A, 0, A],
        [A, A, A, 0, A],
        [A, 2 * A, A, A, A],
    ]
)


@pytest.mark.parametrize(("neighbors", "expected"), [(1, USER_KNN_1), (2, USER_KNN_2)])
def test_user_knn_matches_hand_computation(neighbors: int, expected: np.ndarray) -> None:
    model = UserKNN(neighbors=neighbors).fit(train())
    np.testing.assert_allclose(model.score(np.arange(4)), expected, atol=1e-6)
    assert (model.similarity_.getnnz(axis=1) == neighbors).all()
    assert model.similarity_.diagonal().sum() == 0  # a user is never its own neighbour


def test_user_knn_recommend_excludes_training_items_and_pads() -> None:
    model = UserKNN(neighbors=2).fit(train())
    # u0 has items 0 and 1; candidates 2 (.8165), 3 (.4082), 4 (.4082, tie -> lower first).
    np.testing.assert_array_equal(model.recommend([0], k=5).items, [[2, 3, 4, -1, -1]])


def test_user_knn_shrink() -> None:
    # sim(u0, u1) = 2 / (sqrt2 sqrt3 + shrink); with neighbors=1 u0's scores are sim * r_1.
    model = UserKNN(neighbors=1, shrink=1.0).fit(train())
    sim = 2 / (math.sqrt(6) + 1)
    np.testing.assert_allclose(model.score([0]), [[sim, sim, sim, 0, 0]], atol=1e-6)


# --------------------------------------------------------------------------------------------
# ItemKNN by hand (same matrix, columns compared)
# --------------------------------------------------------------------------------------------
# Item users: i0 {u0,u1}, i1 {u0,u1,u2}, i2 {u1,u3}, i3 {u2}, i4 {u2,u3}; norms sqrt2, sqrt3,
# sqrt2, 1, sqrt2. Cosines (the others are 0):
#   (0,1) = 2/sqrt6 = .8165   (0,2) = 1/2 = .5       (1,2) = 1/sqrt6 = .4082
#   (1,3) = 1/sqrt3 = .5774   (1,4) = 1/sqrt6 = .4082 (2,4) = 1/2 = .5   (3,4) = 1/sqrt2 = .7071
C = 1 / math.sqrt(3)  # .5774
D = 1 / math.sqrt(2)  # .7071
# neighbors=1, row j = the best neighbour of item j:
#   i0 -> i1 (.8165), i1 -> i0 (.8165), i2 -> i0 (.5, tie with i4), i3 -> i4 (.7071),
#   i4 -> i3 (.7071). score(u, i) = sum over the user's items j of S_1[j, i]:
#   u0 {0,1}:   i1 gets .8165 (from i0), i0 gets .8165 (from i1)
#   u1 {0,1,2}: i0 gets .8165 + .5, i1 gets .8165
#   u2 {1,3,4}: i0 .8165 (from i1), i4 .7071 (from i3), i3 .7071 (from i4)
#   u3 {2,4}:   i0 .5 (from i2), i3 .7071 (from i4)
ITEM_KNN_1 = np.array(
    [
        [B, B, 0, 0, 0],
        [B + 0.5, B, 0, 0, 0],
        [B, 0, 0, D, D],
        [0.5, 0, 0, D, 0],
    ]
)
# neighbors=2: i0 -> i1 .8165, i2 .5;  i1 -> i0 .8165, i3 .5774;  i2 -> i0 .5, i4 .5;
#              i3 -> i4 .7071, i1 .5774;  i4 -> i3 .7071, i2 .5 (beats i1's .4082)
#   u0 {0,1}:   rows 0 + 1 = [.8165, .8165, .5, .5774, 0]
#   u1 {0,1,2}: rows 0 + 1 + 2 = [.8165 + .5, .8165, .5, .5774, .5]
#   u2 {1,3,4}: rows 1 + 3 + 4 = [.8165, .5774, .5, .5774 + .7071, .7071]
#   u3 {2,4}:   rows 2 + 4 = [.5, 0, .5, .7071, .5]
ITEM_KNN_2 = np.array(
    [
        [B, B, 0.5, C, 0],
        [B + 0.5, B, 0.5, C, 0.5],
        [B, C, 0.5, C + D, D],
        [0.5, 0, 0.5, D, 0.5],
    ]
)


@pytest.mark.parametrize(("neighbors", "expected"), [(1, ITEM_KNN_1), (2, ITEM_KNN_2)])
def test_item_knn_matches_hand_computation(neighbors: int, expected: np.ndarray) -> None:
    model = ItemKNN(neighbors=neighbors, shrink=0.0).fit(train())
    np.testing.assert_allclose(model.score(np.arange(4)), expected, atol=1e-6)


def test_item_knn_similar_items_extend_the_stored_neighbours() -> None:
    model = ItemKNN(neighbors=2, shrink=0.0).fit(train())
    # i4: i3 .7071, i2 .5 (the stored two), then i1 .4082; i0 shares no user with i4.
    # i0: i1 .8165, i2 .5, then nothing (i3 and i4 share no user with i0).
    neighbours, similarities = model.similar_items([4, 0], k=4)
    np.testing.assert_array_equal(neighbours, [[3, 2, 1, -1], [1, 2, -1, -1]])
    np.testing.assert_allclose(similarities[0, :3], [D, 0.5, A], atol=1e-6)
    np.testing.assert_allclose(similarities[1, :2], [B, 0.5], atol=1e-6)
    assert np.isnan(similarities[0, 3]) and np.isnan(similarities[1, 2:]).all()
    # the first `neighbors` are the stored neighbour list
    for item in range(5):
        stored = model.similarity_[item]
        first, values = model.similar_items([item], k=2)
        np.testing.assert_array_equal(np.sort(first[0][first[0] >= 0]), stored.indices)
        np.testing.assert_allclose(np.sort(values[0][first[0] >= 0]), np.sort(stored.data))


def test_binary_ignores_weights_and_weights_change_scores() -> None:
    weighted = train().multiply(np.arange(1, 6, dtype=np.float32)).tocsr()  # item i weighs i+1
    for cls in (UserKNN, ItemKNN):
        binary = cls(neighbors=2).fit(weighted).score(np.arange(4))
        np.testing.assert_allclose(binary, cls(neighbors=2).fit(train()).score(np.arange(4)))
        assert not np.allclose(cls(neighbors=2, binary=False).fit(weighted).score([0]), binary[0])


# --------------------------------------------------------------------------------------------
# The batched neighbour matrix agrees with a dense brute force
# --------------------------------------------------------------------------------------------


def test_top_k_similarity_matrix_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = sp.random(60, 40, density=0.15, random_state=rng, format="csr", dtype=np.float32)
    dense = vectors.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    cosine = dense @ dense.T / (np.outer(norms, norms) + 2.0)
    np.testing.assert_allclose(
        cosine_similarity_rows(vectors, np.arange(60), shrink=2.0), cosine, atol=1e-6
    )
    np.fill_diagonal(cosine, -np.inf)
    matrix = top_k_similarity_matrix(vectors, neighbors=4, shrink=2.0, batch_size=7).toarray()
    for row in range(60):
        best = np.argsort(-cosine[row], kind="stable")[:4]
        best = best[cosine[row, best] > 0]
        expected = np.zeros(60)
        expected[best] = cosine[row, best]
        np.testing.assert_allclose(matrix[row], expected, atol=1e-6)


# --------------------------------------------------------------------------------------------
# The interface shared by every model
# --------------------------------------------------------------------------------------------


def random_train(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    matrix = sp.random(50, 30, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    matrix.data[:] = rng.integers(1, 4, size=matrix.nnz)
    return matrix


MODELS = [UserKNN, ItemKNN]


@pytest.mark.parametrize("cls", MODELS)
def test_recommend_excludes_training_items(cls: type) -> None:
    matrix = random_train()
    recommended = cls(neighbors=5).fit(matrix).recommend(np.arange(50), k=10).items
    for user in range(50):
        seen = set(matrix[user].indices)
        assert not seen & set(recommended[user][recommended[user] >= 0])


@pytest.mark.parametrize("cls", MODELS)
def test_pads_with_minus_one_when_k_exceeds_candidates(cls: type) -> None:
    matrix = random_train()
    recommended = cls().fit(matrix).recommend([0], k=40).items
    n_candidates = 30 - matrix[0].nnz
    assert (recommended[0, :n_candidates] >= 0).all()
    assert (recommended[0, n_candidates:] == -1).all()


def test_similar_items_never_returns_the_item_itself() -> None:
    model = ItemKNN(neighbors=50).fit(random_train())
    neighbours, _ = model.similar_items(np.arange(30), k=29)
    assert not (neighbours == np.arange(30)[:, None]).any()


def test_user_knn_has_no_item_similarities() -> None:
    with pytest.raises(NotImplementedError, match="no item-item similarity"):
        UserKNN().fit(random_train()).similar_items([0])


@pytest.mark.parametrize("cls", MODELS)
def test_reproducible(cls: type) -> None:
    first = cls(neighbors=3).fit(random_train()).recommend(np.arange(50), k=10).items
    second = cls(neighbors=3).fit(random_train()).recommend(np.arange(50), k=10).items
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("cls", MODELS)
def test_invalid_input(cls: type) -> None:
    model = cls()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])
    with pytest.raises(ValueError, match="no interactions"):
        model.fit(sp.csr_matrix((5, 4), dtype=np.float32))
    model.fit(random_train())
    with pytest.raises(ValueError, match="unknown user"):
        model.recommend([50])
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            model.recommend([0], k=k)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"neighbors": 0}, "neighbors must be a positive integer"),
        ({"neighbors": 2.5}, "neighbors must be a positive integer"),
        ({"shrink": -1.0}, "shrink must be a finite number >= 0"),
        ({"binary": "yes"}, "binary must be True or False"),
    ],
)
def test_invalid_parameters(params: dict, message: str) -> None:
    for cls in MODELS:
        with pytest.raises(ValueError, match=message):
            cls(**params)
