"""Federated matrix factorisation (``recutils.models.federated``): the aggregated gradient is the
gradient of the ALS loss, full participation converges to what centralised ALS reaches,
clipping bounds each user, the accountant is the privacy module's, the bytes add up, and bad
settings are refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.models.factorization import als_objective
from recutils.models.federated import (
    BYTES_PER_NUMBER,
    FederatedMF,
    federated_gradient,
    solve_user_vectors,
)
from recutils.privacy import dp_epsilon

REGULARIZATION, ALPHA = 0.5, 2.0


def toy_train(seed: int = 0, users: int = 12, items: int = 8) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 4, size=(users, items)) * (rng.random((users, items)) < 0.4)
    weights[:, 0] += weights.sum(axis=1) == 0  # every user has an interaction
    return sp.csr_matrix(weights.astype(np.float32))


def reduced_loss(train: sp.csr_matrix, item_factors: np.ndarray) -> float:
    """F(Y) = min over X of L(X, Y): every user's vector solved exactly."""
    users = np.arange(train.shape[0])
    vectors = solve_user_vectors(train, item_factors, users, REGULARIZATION, ALPHA)
    return als_objective(train, vectors, item_factors, REGULARIZATION, ALPHA)


def test_user_vectors_minimise_the_loss():
    train = toy_train()
    items = np.random.default_rng(1).normal(size=(8, 3))
    vectors = solve_user_vectors(train, items, np.arange(12), REGULARIZATION, ALPHA)
    best = als_objective(train, vectors, items, REGULARIZATION, ALPHA)
    rng = np.random.default_rng(2)
    for _ in range(20):
        moved = vectors + 1e-3 * rng.normal(size=vectors.shape)
        assert als_objective(train, moved, items, REGULARIZATION, ALPHA) > best


def test_aggregated_gradient_is_the_gradient_of_the_reduced_loss():
    # A known answer: with every user, no clipping, the sum of the devices' uploads plus the
    # penalty's 2 lambda Y is dF/dY, F(Y) = min_X L(X, Y) (central finite differences).
    train = toy_train()
    items = np.random.default_rng(3).normal(size=(8, 3))
    total, clipped = federated_gradient(train, items, np.arange(12), REGULARIZATION, ALPHA)
    analytic = total + 2 * REGULARIZATION * items
    numeric = np.zeros_like(items)
    step = 1e-6
    for index in np.ndindex(items.shape):
        up, down = items.copy(), items.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (reduced_loss(train, up) - reduced_loss(train, down)) / (2 * step)
    assert clipped == 0
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-5)


def test_full_participation_reaches_the_loss_of_centralised_als():
    # A known answer on a toy: with every device in every round, FedAvg is full-batch gradient
    # descent on F, so it must end where exact alternating least squares ends (same loss).
    train = toy_train(users=20, items=10)
    users, factors = np.arange(20), 3
    items = np.random.default_rng(4).normal(0, 0.1, (10, factors))
    for _ in range(500):  # exact ALS, alternating to convergence
        vectors = solve_user_vectors(train, items, users, REGULARIZATION, ALPHA)
        items = solve_user_vectors(
            sp.csr_matrix(train.T), vectors, np.arange(10), REGULARIZATION, ALPHA
        )
    centralised = reduced_loss(train, items)
    model = FederatedMF(
        factors=factors,
        regularization=REGULARIZATION,
        alpha=ALPHA,
        rounds=3000,
        users_per_round=20,
        learning_rate=0.01,
        seed=0,
    ).fit(train)
    federated = reduced_loss(train, model.item_factors_.astype(np.float64))
    assert model.sampling_probability_ == 1.0
    assert federated == pytest.approx(centralised, rel=1e-3)


def test_clipping_bounds_each_user():
    train = toy_train()
    items = np.random.default_rng(5).normal(size=(8, 3))
    for user in range(12):
        alone, _ = federated_gradient(
            train, items, np.array([user]), REGULARIZATION, ALPHA, clip_norm=0.1
        )
        assert np.linalg.norm(alone) <= 0.1 + 1e-12
    _, clipped = federated_gradient(train, items, np.arange(12), REGULARIZATION, ALPHA, 0.1)
    assert clipped == 12
    _, clipped = federated_gradient(train, items, np.arange(12), REGULARIZATION, ALPHA, 1e9)
    assert clipped == 0


def test_epsilon_bytes_and_history():
    train = toy_train(users=40)
    model = FederatedMF(
        factors=4,
        rounds=6,
        users_per_round=10,
        clip_norm=1.0,
        noise_multiplier=1.5,
        eval_every=2,
        seed=1,
    ).fit(train, valid=toy_train(seed=9, users=40))
    assert model.sampling_probability_ == pytest.approx(10 / 40)
    assert model.epsilon(1e-5) == pytest.approx(dp_epsilon(0.25, 1.5, 6, 1e-5))
    devices = sum(record["users"] for record in model.history_)
    expected = devices * 2 * 8 * 4 * BYTES_PER_NUMBER / 1e6
    assert model.history_[-1]["megabytes"] == pytest.approx(expected)
    evaluated = [record["round"] for record in model.history_ if not math.isnan(record["ndcg"])]
    assert evaluated == [2.0, 4.0, 6.0]
    assert FederatedMF(factors=4, rounds=2).fit(train).epsilon(1e-5) == math.inf


def test_same_seed_same_model_and_noise_changes_it():
    train = toy_train(users=40)
    settings = dict(factors=4, rounds=5, users_per_round=10, clip_norm=1.0, seed=3)
    first = FederatedMF(noise_multiplier=1.0, **settings).fit(train)
    again = FederatedMF(noise_multiplier=1.0, **settings).fit(train)
    quiet = FederatedMF(**settings).fit(train)
    np.testing.assert_array_equal(first.item_factors_, again.item_factors_)
    assert not np.allclose(first.item_factors_, quiet.item_factors_)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"noise_multiplier": 1.0}, "needs a clip_norm"),
        ({"clip_norm": 0.0}, "clip_norm"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"users_per_round": 0}, "users_per_round"),
        ({"noise_multiplier": -1.0, "clip_norm": 1.0}, "noise_multiplier"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        FederatedMF(**settings)


def test_epsilon_needs_a_fitted_model():
    with pytest.raises(RuntimeError, match="not fitted"):
        FederatedMF().epsilon(1e-5)
