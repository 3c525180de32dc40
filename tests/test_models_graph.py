"""Tests of recutils.models.graph: the normalised adjacency, formula 3.3, LightGCN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recutils.evaluation import evaluate
from recutils.models import MostPopular, Recommendations
from recutils.models.graph import (
    LightGCN,
    bipartite_adjacency,
    gcn_layer,
    propagate,
    to_torch_sparse,
)
from recutils.models.sampling import sample_negatives

# Toy graph: user 0 has items 0 and 1, user 1 has items 1 and 2.
# Nodes: u0=0, u1=1, i0=2, i1=3, i2=4; degrees 2, 2, 1, 2, 1.
TOY = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))


def test_adjacency_of_toy_graph_by_hand() -> None:
    a = bipartite_adjacency(TOY, normalize=False).toarray()
    expected = np.zeros((5, 5))
    for u, i in [(0, 0), (0, 1), (1, 1), (1, 2)]:
        expected[u, 2 + i] = expected[2 + i, u] = 1
    np.testing.assert_array_equal(a, expected)
    a_hat = bipartite_adjacency(TOY).toarray()
    s = 1 / math.sqrt(2)  # 1 / (sqrt(2) sqrt(1)): a user of degree 2 and an item of degree 1
    h = 0.5  # 1 / (sqrt(2) sqrt(2))
    expected_hat = np.array(
        [
            [0, 0, s, h, 0],
            [0, 0, 0, h, s],
            [s, 0, 0, 0, 0],
            [h, h, 0, 0, 0],
            [0, s, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(a_hat, expected_hat, atol=1e-7)
    assert (a_hat == a_hat.T).all()


def test_weights_ignored_and_isolated_nodes_have_zero_rows() -> None:
    weighted = sp.csr_matrix(np.array([[5, 0, 0], [0, 0, 0]], dtype=np.float32))
    a_hat = bipartite_adjacency(weighted).toarray()
    assert a_hat[0, 2] == pytest.approx(1.0)  # degrees 1 and 1
    assert not a_hat[1].any() and not a_hat[3].any() and not a_hat[4].any()


def test_gcn_layer_matches_formula_by_hand() -> None:
    adjacency = to_torch_sparse(bipartite_adjacency(TOY))
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    weight = torch.tensor([[1.0, 2.0], [0.0, -1.0]])  # W: (d_out=2, d_in=2)
    out = gcn_layer(adjacency, h, weight, activation=None)
    wh = h @ weight.T
    # node u0 (0): W h_0 + 1/sqrt(2) W h_i0 + 1/2 W h_i1
    u0 = wh[0] + wh[2] / math.sqrt(2) + wh[3] / 2
    # node i1 (3): W h_3 + 1/2 W h_u0 + 1/2 W h_u1
    i1 = wh[3] + wh[0] / 2 + wh[1] / 2
    torch.testing.assert_close(out[0], u0)
    torch.testing.assert_close(out[3], i1)
    relu = gcn_layer(adjacency, h, weight)
    torch.testing.assert_close(relu, torch.relu(out))


def test_gcn_layer_matches_torch_geometric() -> None:
    from torch_geometric.nn import GCNConv

    rng = np.random.default_rng(0)
    train = sp.random(30, 40, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    a_hat = bipartite_adjacency(train)
    coo = a_hat.tocoo()
    edge_index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    torch.manual_seed(0)
    conv = GCNConv(8, 4, add_self_loops=False, bias=False)
    h = torch.randn(70, 8)
    ours = gcn_layer(to_torch_sparse(a_hat), h, conv.lin.weight, activation=None)
    theirs = conv(h, edge_index) + conv.lin(h)  # A_hat H W^T + H W^T
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_gcn_layer_rejects_bad_shapes() -> None:
    adjacency = to_torch_sparse(bipartite_adjacency(TOY))
    with pytest.raises(ValueError, match="weight"):
        gcn_layer(adjacency, torch.ones(5, 2), torch.ones(3, 4))
    with pytest.raises(ValueError, match="adjacency must be"):
        gcn_layer(adjacency, torch.ones(4, 2), torch.ones(3, 2))


def test_symmetric_propagation_has_the_right_gradient() -> None:
    rng = np.random.default_rng(1)
    train = sp.random(20, 15, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    a_hat = bipartite_adjacency(train)
    dense = torch.from_numpy(a_hat.toarray())
    x1 = torch.randn(35, 4, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    weights = torch.randn(35, 4)
    (propagate(to_torch_sparse(a_hat), x1) * weights).sum().backward()
    (dense @ x2 * weights).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_sample_negatives_never_returns_a_training_item() -> None:
    rng = np.random.default_rng(0)
    train = sp.random(50, 12, density=0.6, random_state=rng, format="csr", dtype=np.float32)
    train.sort_indices()
    users = np.repeat(np.arange(50), 40)
    users = users[np.diff(train.indptr)[users] < 12]
    negatives = sample_negatives(train, users, np.random.default_rng(3))
    assert negatives.dtype == np.int64 and negatives.shape == users.shape
    assert (np.asarray(train[users, negatives]).ravel() == 0).all()
    again = sample_negatives(train, users, np.random.default_rng(3))
    np.testing.assert_array_equal(negatives, again)
    full = sp.csr_matrix(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"users \[0\] interacted with every one of the 3"):
        sample_negatives(full, np.array([0]), np.random.default_rng(0))


def test_sample_negatives_with_unsorted_indices_and_int32_users() -> None:
    # one user with items 4, 1, 0 stored out of order
    unsorted = sp.csr_matrix(
        (np.ones(3, np.float32), np.array([4, 1, 0]), np.array([0, 3])), shape=(1, 6)
    )
    assert not unsorted.has_sorted_indices
    items = sample_negatives(unsorted, np.zeros(2000, np.int64), np.random.default_rng(0))
    assert set(items.tolist()) == {2, 3, 5}
    # user * n_items would overflow int32 here
    big = sp.csr_matrix(
        (np.ones(1, np.float32), (np.array([69_999]), np.array([49_999]))), shape=(70_000, 50_000)
    )
    users = np.full(5000, 69_999, dtype=np.int32)
    items = sample_negatives(big, users, np.random.default_rng(0))
    assert (items != 49_999).all()
    with pytest.raises(ValueError, match=r"rows 0\.\.69999"):
        sample_negatives(big, np.array([70_000]), np.random.default_rng(0))


def two_groups(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """40 users in two groups; group g likes items of half g. Train and held-out parts."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(40):
        half = user % 2
        liked = rng.choice(np.arange(half * 15, half * 15 + 15), size=8, replace=False)
        rows += [user] * 8
        cols += list(liked)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(40, 30))
    coo = matrix.tocoo()
    held = rng.random(coo.nnz) < 0.25
    train = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=(40, 30))
    test = sp.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), shape=(40, 30))
    return train, test


def test_lightgcn_learns_groups_and_is_reproducible() -> None:
    train, test = two_groups()
    model = LightGCN(factors=8, layers=2, epochs=30, batch_size=64, seed=1)
    quality = evaluate(model, train, test, k=5)
    baseline = evaluate(MostPopular(), train, test, k=5)
    assert quality.loc[5, "ndcg"] > baseline.loc[5, "ndcg"] + 0.2
    # The top items of a user come from the user's own half.
    top = model.recommend(np.arange(40), k=5)
    assert isinstance(top, Recommendations)
    assert top.items.shape == (40, 5) and top.items.dtype == np.int64
    assert top.scores.shape == (40, 5) and top.scores.dtype == np.float32
    assert ((top.items // 15) == (np.arange(40) % 2)[:, None]).mean() > 0.9
    np.testing.assert_array_equal(
        top.scores, np.take_along_axis(model.score(np.arange(40)), top.items, axis=1)
    )
    again = model.with_params().fit(train)  # a fresh copy, same settings and seed
    np.testing.assert_array_equal(model.item_vectors_, again.item_vectors_)
    np.testing.assert_array_equal(model.score(np.arange(40)), again.score(np.arange(40)))
    assert len(model.history_) == 30 and model.best_epoch_ == 30
    assert [h["epoch"] for h in model.history_] == list(range(1, 31))
    assert all(set(h) == {"epoch", "loss", "seconds"} for h in model.history_)
    assert all(np.isfinite(h["loss"]) and h["seconds"] > 0 for h in model.history_)
    assert isinstance(model.fit_seconds_, float) and model.fit_seconds_ > 0


def test_symmetric_and_pyg_propagation_agree() -> None:
    train, _ = two_groups()
    fast = LightGCN(factors=8, layers=3, epochs=3, batch_size=64, seed=2).fit(train)
    pyg = LightGCN(factors=8, layers=3, epochs=3, batch_size=64, seed=2, propagation="pyg")
    pyg.fit(train)
    np.testing.assert_allclose(fast.item_vectors_, pyg.item_vectors_, atol=1e-5)
    edges = LightGCN(
        factors=8, layers=3, epochs=3, batch_size=64, seed=2, propagation="pyg-edge-index"
    ).fit(train)
    np.testing.assert_allclose(fast.item_vectors_, edges.item_vectors_, atol=1e-5)
    # and torch_geometric's own get_embedding gives the same final vectors
    with torch.no_grad():
        final = fast.module_.get_embedding(fast.adjacency_).numpy()
    np.testing.assert_allclose(final[40:], fast.item_vectors_, atol=1e-5)


def test_lightgcn_early_stopping_keeps_the_best_epoch() -> None:
    train, test = two_groups()
    model = LightGCN(factors=8, layers=1, epochs=40, batch_size=64, eval_every=1, patience=2)
    model.fit(train, valid=test)
    measured = [h for h in model.history_ if "valid_ndcg" in h]
    assert len(measured) == len(model.history_)
    best = max(measured, key=lambda h: h["valid_ndcg"])
    assert model.best_epoch_ == best["epoch"]
    assert evaluate(model, train, test, k=20, fit=False).loc[20, "ndcg"] == pytest.approx(
        best["valid_ndcg"], abs=1e-6
    )
    # it stopped early, and the vectors kept are those after the best epoch: the same as a fit
    # of best_epoch_ epochs without validation (the validation draws no random numbers)
    assert model.best_epoch_ < model.history_[-1]["epoch"] < 40
    shorter = model.with_params(epochs=model.best_epoch_).fit(train)
    np.testing.assert_array_equal(shorter.score(np.arange(40)), model.score(np.arange(40)))


def test_lightgcn_text_vectors_give_cold_items_a_vector() -> None:
    train, _ = two_groups()
    # item 29 is never seen in train; its text vector equals item 28's (same half)
    train = train.tolil()
    train[:, 29] = 0
    train = sp.csr_matrix(train)
    train.eliminate_zeros()
    texts = np.zeros((30, 4), np.float32)
    texts[:15, 0] = 1.0
    texts[15:, 1] = 1.0
    for mode in ("add", "init"):
        model = LightGCN(factors=8, layers=1, epochs=20, batch_size=64, text_mode=mode)
        model.fit(train, item_vectors=texts)
        assert np.abs(model.item_vectors_[29]).sum() > 0
        np.testing.assert_array_equal(model.item_text_vectors_, texts)
    plain = LightGCN(factors=8, layers=1, epochs=2, batch_size=64).fit(train)
    assert plain.item_text_vectors_ is None
    assert repr(plain).startswith("LightGCN(factors=8")
    # side data is not a setting: the repr stays short and shows no array
    assert "text_mode='init'" in repr(model) and "array" not in repr(model)
    assert "item_vectors" not in model.get_params()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factors": 0}, "factors must be a positive integer"),
        ({"layers": -1}, "layers must be a non-negative integer"),
        ({"epochs": 0}, r"epochs must be a positive integer \(.*\), got 0"),
        ({"learning_rate": 0}, r"learning_rate must be a finite number > 0 \(.*\), got 0"),
        ({"l2": -1.0}, "l2 must be a finite number >= 0"),
        (
            {"text_mode": "concat"},
            r"text_mode must be one of \[None, 'add', 'init'\].*got 'concat'",
        ),
        ({"propagation": "edge_index"}, "propagation must be one of"),
        ({"eval_every": 0}, "eval_every must be a positive integer"),
        ({"patience": 0}, "patience must be a positive integer"),
        ({"valid_k": 0}, "valid_k must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"progress": 1}, "progress must be True or False"),
    ],
)
def test_lightgcn_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LightGCN(**kwargs)


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.full((30, 2), np.nan), "NaN"),
        (np.ones(30), r"\(n_items, d\)"),
    ],
)
def test_lightgcn_bad_item_vectors(vectors: np.ndarray, message: str) -> None:
    train, _ = two_groups()
    with pytest.raises(ValueError, match=message):
        LightGCN(epochs=1, text_mode="add").fit(train, item_vectors=vectors)


def test_lightgcn_bad_input() -> None:
    train, test = two_groups()
    with pytest.raises(ValueError, match="item_vectors has 29 rows but the training matrix has 30"):
        LightGCN(epochs=1, text_mode="add").fit(train, item_vectors=np.ones((29, 3)))
    with pytest.raises(TypeError, match=r"text_mode='init'\)\.fit needs item_vectors="):
        LightGCN(epochs=1, text_mode="init").fit(train)
    # without text_mode the model uses IDs only and refuses text vectors rather than ignore them
    with pytest.raises(TypeError, match=r"side data it does not use: \['item_vectors'\]"):
        LightGCN(epochs=1).fit(train, item_vectors=np.ones((30, 3)))
    with pytest.raises(TypeError, match=r"side data it does not use: \['sequences'\]"):
        LightGCN(epochs=1).fit(train, sequences=[])
    with pytest.raises(TypeError, match="side data it does not use"):
        LightGCN(epochs=1).fit(train, item_text_vectors=np.ones((30, 3)))  # the old name
    with pytest.raises(ValueError, match="no interactions"):
        LightGCN(epochs=1).fit(sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="valid has shape"):
        LightGCN(epochs=1).fit(train, valid=test[:, :10])
    with pytest.raises(ValueError, match="not already in train"):
        LightGCN(epochs=1).fit(train, valid=train)
    model = LightGCN(epochs=1, batch_size=64).fit(train)
    with pytest.raises(ValueError, match="unknown user"):
        model.recommend([40], k=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend([0], k=0)
    with pytest.raises(TypeError, match="item_text_vectors"):
        LightGCN(item_text_vectors=np.ones((30, 3)))  # type: ignore[call-arg]


def test_lightgcn_new_users_get_popularity() -> None:
    train, _ = two_groups()
    train = train.tolil()
    train[39, :] = 0  # user 39 has no training interaction
    train = sp.csr_matrix(train)
    train.eliminate_zeros()
    model = LightGCN(factors=8, layers=1, epochs=2, batch_size=64, seed=3).fit(train)
    assert LightGCN.new_users == "popularity"
    np.testing.assert_array_equal(model.score([39])[0], model.popularity_)
    top = model.recommend([39], k=3)
    np.testing.assert_array_equal(top.scores[0], np.sort(model.popularity_)[::-1][:3])
    assert not np.allclose(model.score([0])[0], model.popularity_)  # others are personal
