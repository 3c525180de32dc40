"""Bandits on a tiny synthetic problem (Bernoulli rewards drawn here, not by the shop)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.bandits import EpsilonGreedy, LinUCB, ThompsonSampling, top_k_random_ties
from recutils.simulator import Feedback, ObservedShop, Slate, Visit

N_ITEMS = 12
N_USERS = 5
BEST = 7
#: true purchase rates: one item clearly best, the others low and distinct
RATES = np.linspace(0.02, 0.2, N_ITEMS)
RATES[BEST] = 0.6
START = np.datetime64("2024-01-01T00:00")


def observed(item_vectors=None, train=None) -> ObservedShop:
    if train is None:
        train = sp.csr_matrix((N_USERS, N_ITEMS), dtype=np.float32)
    vectors = np.eye(N_ITEMS, dtype=np.float32) if item_vectors is None else item_vectors
    return ObservedShop(train, pd.DataFrame({"title": [f"item {i}" for i in range(N_ITEMS)]}),
                        vectors, START)  # fmt: skip


def visit(number: int, user: int = 0) -> Visit:
    return Visit(number, user, START + np.timedelta64(number, "m"))


def run(policy, n_visits: int, k: int = 2, seed: int = 0):
    """Shown slates (n_visits, k) and the expected regret of each visit against the oracle."""
    policy.start(observed())
    rng = np.random.default_rng(seed)
    world = np.random.default_rng(seed + 1000)
    best_total = np.sort(RATES)[-k:].sum()
    slates, regret = [], []
    for number in range(n_visits):
        here = visit(number, user=number % N_USERS)
        slate = policy.choose(here, k, rng)
        bought = world.random(k) < RATES[slate.items]
        policy.learn(here, slate, Feedback(clicked=bought, purchased=bought))
        slates.append(slate.items)
        regret.append(best_total - RATES[slate.items].sum())
    return np.array(slates), np.array(regret)


POLICIES = {
    "epsilon-greedy": lambda: EpsilonGreedy(0.1),
    "LinUCB": lambda: LinUCB(alpha=0.5, dims=None),
    "LinUCB items+user": lambda: LinUCB(alpha=0.5, dims=None, features="items+user"),
    "Thompson": lambda: ThompsonSampling(posterior_scale=0.5, dims=None),
}


@pytest.mark.parametrize("name", POLICIES)
def test_learns_the_best_item_and_regret_slows(name):
    slates, regret = run(POLICIES[name](), n_visits=1200)
    shown_best = (slates == BEST).any(axis=1)
    quarter = len(shown_best) // 4
    assert shown_best[-quarter:].mean() > shown_best[:quarter].mean()
    assert shown_best[-quarter:].mean() > 0.8
    half = len(regret) // 2
    # a fixed epsilon keeps paying for exploration (linear regret, at a lower rate); the others
    # explore less and less
    factor = 1.0 if name == "epsilon-greedy" else 0.5
    assert regret[half:].sum() < factor * regret[:half].sum()


@pytest.mark.parametrize("name", POLICIES)
def test_deterministic_for_a_seed(name):
    first, _ = run(POLICIES[name](), n_visits=150, seed=3)
    again, _ = run(POLICIES[name](), n_visits=150, seed=3)
    other, _ = run(POLICIES[name](), n_visits=150, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_top_k_random_ties():
    rng = np.random.default_rng(0)
    scores = np.array([0.1, 0.9, 0.5, 0.9, -np.inf, 0.3])
    firsts = set()
    for _ in range(50):
        top = top_k_random_ties(scores, 3, rng)
        assert set(top[:2]) == {1, 3} and top[2] == 2
        firsts.add(int(top[0]))
    assert firsts == {1, 3}  # both orders of the tie occur


def test_epsilon_zero_is_greedy():
    policy = EpsilonGreedy(0.0)
    policy.start(observed())
    policy.successes_[:] = np.arange(N_ITEMS) + 1.0  # distinct estimates: no ties
    slate = policy.choose(visit(0), 4, np.random.default_rng(0))
    np.testing.assert_array_equal(slate.items, np.argsort(-policy.estimates_)[:4])
    np.testing.assert_array_equal(slate.propensities, np.ones(4))


@pytest.mark.parametrize("with_ties", [False, True])
def test_epsilon_greedy_propensities_match_frequencies(with_ties):
    epsilon, k, draws = 0.3, 3, 20_000
    policy = EpsilonGreedy(epsilon)
    policy.start(observed())
    if with_ties:  # items 0-4 tie for the top, 3 of them fit: the greedy list itself is random
        policy.successes_[:5] = 10.0
    else:
        policy.successes_[:] = np.arange(N_ITEMS) + 1.0
    rng = np.random.default_rng(0)
    counts = np.zeros((k, N_ITEMS))
    reported = np.full((k, N_ITEMS), np.nan)
    for _ in range(draws):
        slate = policy.choose(visit(0), k, rng)
        counts[np.arange(k), slate.items] += 1
        seen = reported[np.arange(k), slate.items]
        # the same (position, item) always gets the same propensity in the same state
        assert np.all(np.isnan(seen) | np.isclose(seen, slate.propensities, rtol=1e-12))
        reported[np.arange(k), slate.items] = slate.propensities
    # every item that can appear did; at each position the propensities sum to 1
    np.testing.assert_allclose(np.nansum(reported, axis=1), 1.0, rtol=1e-12)
    p = np.nan_to_num(reported)
    # binomial: |frequency - p| < 6 sd (+1e-9 for p = 0), cannot fail by chance (~2e-9 a cell)
    bound = 6 * np.sqrt(p * (1 - p) / draws) + 1e-9
    assert np.all(np.abs(counts / draws - p) < bound)
    # exploration probabilities by hand: epsilon / (N - k) for an item never in the greedy list
    if not with_ties:
        assert reported[0, 0] == pytest.approx(epsilon / (N_ITEMS - k))
        assert reported[0, N_ITEMS - 1] == pytest.approx(1 - epsilon)


def test_warm_start_follows_training_popularity():
    train = sp.csr_matrix(np.array([[1, 1, 0] + [0] * 9, [1, 0, 0] + [0] * 9] + [[0] * 12] * 3),
                          dtype=np.float32)  # fmt: skip
    policy = EpsilonGreedy(0.0, warm_start=True)
    policy.start(observed(train=train))
    estimates = policy.estimates_
    assert estimates[0] > estimates[1] > estimates[2] == estimates[3]
    assert estimates.mean() == pytest.approx(1 / 21)
    assert policy.choose(visit(0), 2, np.random.default_rng(0)).items.tolist() == [0, 1]


@pytest.mark.parametrize(
    "policy", [EpsilonGreedy(0.5, exclude_seen=True), LinUCB(exclude_seen=True)]
)
def test_exclude_seen(policy):
    train = sp.csr_matrix(([1.0, 1.0, 1.0], ([1, 1, 1], [0, 3, BEST])), shape=(N_USERS, N_ITEMS))
    policy.start(observed(train=train))
    rng = np.random.default_rng(0)
    for number in range(200):
        items = policy.choose(visit(number, user=1), 4, rng).items
        assert not {0, 3, BEST} & set(items.tolist())
    # other users may be shown those items
    shown = {int(i) for n in range(100) for i in policy.choose(visit(n, 0), 4, rng).items}
    assert {0, 3, BEST} & shown


def test_examination_counts_a_low_position_as_part_of_a_show():
    policy = EpsilonGreedy(0.0, examination=[1.0, 0.25])
    policy.start(observed())
    here = visit(0)
    none = np.zeros(2, dtype=bool)
    policy.learn(here, Slate(np.array([4, 5])), Feedback(none, none))
    assert policy.trials_[4] == 21 + 1.0 and policy.trials_[5] == 21 + 0.25


def test_linear_update_matches_the_exact_ridge_regression():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N_ITEMS, 6)).astype(np.float32)
    train = sp.csr_matrix(rng.random((N_USERS, N_ITEMS)) < 0.3, dtype=np.float32)
    policy = LinUCB(alpha=0.3, features="items+user", dims=None, ridge=2.0, refresh=10**6,
                    examination=[1.0, 0.7, 0.4])  # fmt: skip
    policy.start(observed(item_vectors=vectors, train=train))
    rows, rewards = [], []
    for number in range(60):
        here = visit(number, user=number % N_USERS)
        slate = policy.choose(here, 3, rng)
        bought = rng.random(3) < 0.3
        policy.learn(here, slate, Feedback(bought, bought))
        weights = [1.0, 0.7, 0.4]
        rows.append(
            [
                weights[j] * policy.pair_features(here.user, [i])[0]
                for j, i in enumerate(slate.items)
            ]
        )
        rewards.extend(bought)
    x = np.array([row for block in rows for row in block])
    a = 2.0 * np.eye(x.shape[1]) + x.T @ x
    np.testing.assert_allclose(policy.A_, a, rtol=1e-10)
    np.testing.assert_allclose(policy.A_inverse_, np.linalg.inv(a), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(policy.theta_, np.linalg.solve(a, x.T @ np.array(rewards, float)))
    # the user-specific scores: x_ui . theta + alpha sqrt(x A^-1 x) for every item
    user = 2
    pair = policy.pair_features(user, np.arange(N_ITEMS))
    expected = pair @ policy.theta_ + 0.3 * np.sqrt(
        np.einsum("ij,jk,ik->i", pair, np.linalg.inv(a), pair)
    )
    chosen = policy.choose(visit(99, user), 3, rng).items
    np.testing.assert_array_equal(chosen, np.argsort(-expected)[:3])


def test_pca_reduces_encoder_vectors():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N_ITEMS, 384)).astype(np.float32)
    policy = ThompsonSampling(dims=4)
    policy.start(observed(item_vectors=vectors))
    assert policy.item_features_.shape == (N_ITEMS, 5)
    assert policy.choose(visit(0), 3, rng).items.shape == (3,)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EpsilonGreedy(-0.1), "epsilon must be"),
        (lambda: EpsilonGreedy(1.5), "epsilon must be"),
        (lambda: EpsilonGreedy(0.1, reward="view"), "reward must be one of"),
        (lambda: EpsilonGreedy(0.1, prior=(0, 1)), "prior"),
        (lambda: EpsilonGreedy(0.1, examination=[1.0, 0.0]), "examination"),
        (lambda: LinUCB(alpha=-1), "alpha must be"),
        (lambda: LinUCB(features="users"), "features must be one of"),
        (lambda: LinUCB(dims=0), "dims must be"),
        (lambda: LinUCB(ridge=0), "ridge must be"),
        (lambda: ThompsonSampling(posterior_scale=-0.1), "posterior_scale must be"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "policy", [EpsilonGreedy(0.1), LinUCB(dims=None), ThompsonSampling(dims=None)]
)
def test_bad_use(policy):
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="start"):
        policy.choose(visit(0), 2, rng)
    policy.start(observed())
    with pytest.raises(ValueError, match="larger than the catalog"):
        policy.choose(visit(0), N_ITEMS + 1, rng)
    with pytest.raises(ValueError, match="k must be"):
        policy.choose(visit(0), 0, rng)
    with pytest.raises(ValueError, match=r"visit\.user"):
        policy.choose(visit(0, user=N_USERS), 2, rng)
    with pytest.raises(ValueError, match="feedback has shape"):
        flags = np.zeros(3, dtype=bool)
        policy.learn(visit(0), Slate(np.array([0, 1])), Feedback(flags, flags))


@pytest.mark.parametrize("cls", [LinUCB, ThompsonSampling])
def test_linear_bandits_need_item_vectors(cls):
    shop = observed()
    without = ObservedShop(shop.train, shop.items, None, shop.start)
    with pytest.raises(ValueError, match="needs item vectors"):
        cls().start(without)
    with pytest.raises(ValueError, match="one vector per item"):
        cls(dims=None).start(observed(item_vectors=np.eye(N_ITEMS - 1, dtype=np.float32)))
    with pytest.raises(ValueError, match="reduce them yourself"):
        cls(dims=4).start(observed(item_vectors=np.ones((N_ITEMS, 10), dtype=np.float32)))


def test_epsilon_greedy_needs_room_to_explore():
    policy = EpsilonGreedy(0.1)
    policy.start(observed())
    with pytest.raises(ValueError, match="at least 2k"):
        policy.choose(visit(0), 7, np.random.default_rng(0))
    greedy = EpsilonGreedy(0.0)
    greedy.start(observed())
    assert greedy.choose(visit(0), N_ITEMS, np.random.default_rng(0)).items.size == N_ITEMS


@pytest.mark.parametrize("make", [lambda: EpsilonGreedy(0.5), lambda: LinUCB(dims=None),
                                  lambda: ThompsonSampling(dims=None)])  # fmt: skip
def test_products_are_shown_only_once_on_sale(make):
    policy = make()
    shop = observed()
    launch = np.full(N_ITEMS, START - np.timedelta64(1, "D"))
    launch[[2, BEST]] = START + np.timedelta64(100, "m")  # launch at the 100th visit
    items = shop.items.assign(launch_time=launch)
    policy.start(ObservedShop(shop.train, items, shop.item_vectors, START))
    rng = np.random.default_rng(0)
    shown = [policy.choose(visit(n), 4, rng).items for n in range(200)]
    before, after = np.concatenate(shown[:100]), np.concatenate(shown[100:])
    assert not {2, BEST} & set(before.tolist())
    assert {2, BEST} & set(after.tolist())
    with pytest.raises(ValueError, match="only 10 of 12 items may be shown"):
        policy.choose(visit(0), 11, rng)


def test_popularity_feature_and_repr():
    train = sp.csr_matrix(([1.0] * 4, ([0, 1, 2, 0], [3, 3, 3, 5])), shape=(N_USERS, N_ITEMS))
    policy = LinUCB(0.2, dims=None, popularity=True, features="items+user", examination=[1, 1])
    policy.start(observed(train=train))
    np.testing.assert_allclose(policy.item_features_[[3, 5, 0], 1], [1, np.log(2) / np.log(4), 0])
    assert policy.pair_features(0, [3]).shape == (1, 2 + 2 * N_ITEMS)
    assert repr(policy) == (
        "LinUCB(alpha=0.2, features='items+user', dims=None, popularity=True, "
        "reward='purchase', examination=[...])"
    )
    assert repr(EpsilonGreedy(0.1, warm_start=True)) == (
        "EpsilonGreedy(epsilon=0.1, reward='purchase', warm_start=True)"
    )
