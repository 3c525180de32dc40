"""recutils.privacy: the accountant against published values and the plain Gaussian mechanism,
the Gaussian mechanism's clipping, and the membership attack on cases of known leakage."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate, stats

from recutils import privacy

MNIST_Q = 256 / 60_000
MNIST_STEPS_PER_EPOCH = 60_000 // 256


def test_the_module_examples_run():
    assert doctest.testmod(privacy).failed == 0


@pytest.mark.parametrize(
    ("noise", "epochs", "published"),
    [(1.12, 60, 2.92), (1.12, 1, 1.00), (1.12, 2, 1.04), (1.2, 10, 1.20)],
)
def test_the_accountant_reproduces_tensorflow_privacys_mnist_tutorial(noise, epochs, published):
    """TensorFlow Privacy, tutorials/README.md: MNIST, batches of 256 of 60,000, delta 1e-5;
    the epsilon after 1, 2 and 60 epochs at noise 1.12, and after 10 epochs at noise 1.2."""
    steps = epochs * MNIST_STEPS_PER_EPOCH
    assert round(privacy.dp_epsilon(MNIST_Q, noise, steps, 1e-5), 2) == published


def test_without_sampling_the_rdp_is_the_gaussian_mechanisms():
    """q = 1: RDP(alpha) = T alpha / (2 sigma^2) (Mironov 2017), at every order."""
    rdp = privacy.sampled_gaussian_rdp(1.0, 2.0, 5, orders=[2, 3, 10])
    assert np.allclose(rdp, 5 * np.array([2, 3, 10]) / (2 * 4.0))
    # the sum over k of the binomial formula agrees with the closed form as q -> 1
    near = privacy.sampled_gaussian_rdp(1 - 1e-12, 2.0, 5, orders=[2, 3, 10])
    assert np.allclose(near, rdp, rtol=1e-6)


@pytest.mark.parametrize(("q", "sigma", "alpha"), [(0.01, 1.0, 2), (0.1, 2.0, 5), (0.3, 1.5, 8)])
def test_the_integer_order_formula_equals_the_renyi_divergence_by_quadrature(q, sigma, alpha):
    """log A_alpha / (alpha - 1) is the Renyi divergence D_alpha(mu1 || mu0) between the
    mixture mu1 = (1 - q) N(0, s^2) + q N(1, s^2) and mu0 = N(0, s^2), computed here by
    numerical integration of its definition."""

    def integrand(z):
        mu0 = stats.norm.pdf(z, 0, sigma)
        mu1 = (1 - q) * mu0 + q * stats.norm.pdf(z, 1, sigma)
        return mu0 * (mu1 / mu0) ** alpha

    value, _ = integrate.quad(integrand, -30 * sigma, 30 * sigma, limit=400)
    expected = np.log(value) / (alpha - 1)
    rdp = privacy.sampled_gaussian_rdp(q, sigma, 1, orders=[alpha])[0]
    assert rdp == pytest.approx(expected, rel=1e-6)


def test_epsilon_falls_with_more_noise_and_grows_with_more_steps():
    base = privacy.dp_epsilon(0.01, 1.0, 100, 1e-5)
    assert (
        privacy.dp_epsilon(0.01, 2.0, 100, 1e-5) < base < privacy.dp_epsilon(0.01, 1.0, 1000, 1e-5)
    )
    epsilon, order = privacy.epsilon_from_rdp(privacy.sampled_gaussian_rdp(0.01, 1.0, 100), 1e-5)
    assert epsilon == pytest.approx(base) and order in privacy.DEFAULT_ORDERS


def test_accountant_inputs_are_checked():
    with pytest.raises(ValueError, match="sampling_rate"):
        privacy.dp_epsilon(0.0, 1.0, 10, 1e-5)
    with pytest.raises(ValueError, match="noise_multiplier"):
        privacy.dp_epsilon(0.1, 0.0, 10, 1e-5)
    with pytest.raises(ValueError, match="steps"):
        privacy.dp_epsilon(0.1, 1.0, 0, 1e-5)
    with pytest.raises(ValueError, match="delta"):
        privacy.dp_epsilon(0.1, 1.0, 10, 1.0)
    with pytest.raises(ValueError, match="orders"):
        privacy.sampled_gaussian_rdp(0.1, 1.0, 10, orders=[1.5])
    with pytest.raises(ValueError, match="values for"):
        privacy.epsilon_from_rdp([1.0, 2.0], 1e-5, orders=[2])


def test_clipping_bounds_each_contribution_and_the_noise_has_the_stated_scale():
    contributions = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    clipped = privacy.clip_and_noise(contributions, 1.0, 0.0, np.random.default_rng(0))
    assert np.allclose(clipped, [0.6 + 0.3, 0.8 + 0.4])  # (3, 4) shrunk to norm 1
    rng = np.random.default_rng(1)
    draws = np.stack([privacy.clip_and_noise(contributions, 2.0, 1.5, rng) for _ in range(4000)])
    noise = draws - np.array([1.2 + 0.3, 1.6 + 0.4])
    assert noise.std(axis=0) == pytest.approx([3.0, 3.0], rel=0.05)  # sigma * C
    with pytest.raises(ValueError, match="one contribution per row"):
        privacy.clip_and_noise(np.array([1.0, 2.0]), 1.0, 1.0, rng)
    with pytest.raises(ValueError, match="clip_norm"):
        privacy.clip_and_noise(contributions, 0.0, 1.0, rng)


def test_a_sparse_matrix_of_contributions_gives_the_dense_sum_and_the_same_noise():
    rng = np.random.default_rng(3)
    rows = (rng.random((40, 25)) < 0.2).astype(np.float64)  # users' 0/1 rows of products
    rows[5] = 0.0  # a user with nothing: norm 0, contributes 0
    rows[7, :] = 3.0  # a heavy contribution, clipped
    for sigma in (0.0, 2.0):
        dense = privacy.clip_and_noise(rows, 1.5, sigma, np.random.default_rng(9))
        sparse = privacy.clip_and_noise(sp.csr_matrix(rows), 1.5, sigma, np.random.default_rng(9))
        assert sparse.shape == (25,)
        assert np.allclose(sparse, dense, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="one contribution per row"):
        privacy.clip_and_noise(sp.csr_matrix((0, 3)), 1.0, 1.0, rng)
    with pytest.raises(ValueError, match="finite"):
        privacy.clip_and_noise(sp.csr_matrix(np.array([[np.nan, 1.0]])), 1.0, 1.0, rng)
    with pytest.raises(ValueError, match="clip_norm"):
        privacy.clip_and_noise(sp.csr_matrix(rows), -1.0, 1.0, rng)


def test_a_model_that_memorises_is_caught_and_one_that_ignores_its_data_is_not():
    rng = np.random.default_rng(0)
    # memorising: every training pair scores higher than every held-out pair
    leaky = privacy.membership_auc(rng.uniform(0.6, 1.0, 300), rng.uniform(0.0, 0.4, 300))
    assert leaky.auc == 1.0 and leaky.advantage == 1.0 and leaky.low > 0.99
    # a model whose scores do not depend on membership: chance, inside the interval
    blind = privacy.membership_auc(rng.normal(size=2000), rng.normal(size=2000))
    assert blind.low < 0.5 < blind.high and blind.advantage < 0.1
    # a known partial leak: members shifted by d standard deviations -> AUC = Phi(d / sqrt 2)
    shifted = privacy.membership_auc(rng.normal(0.5, 1, 4000), rng.normal(0, 1, 4000))
    expected = stats.norm.cdf(0.5 / np.sqrt(2))
    assert shifted.low < expected < shifted.high
    assert "AUC" in str(shifted)


def test_ties_count_half_and_bad_scores_are_named():
    attack = privacy.membership_auc([1.0, 1.0], [1.0, 1.0])
    assert attack.auc == 0.5 and attack.advantage == 0.0
    with pytest.raises(ValueError, match="member_scores"):
        privacy.membership_auc([], [1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        privacy.membership_auc([1.0], [np.nan])
    with pytest.raises(ValueError, match="confidence"):
        privacy.membership_auc([1.0], [0.0], confidence=1.0)


def test_delongs_interval_agrees_with_a_bootstrap():
    rng = np.random.default_rng(3)
    members, non_members = rng.normal(0.3, 1, 500), rng.normal(0, 1, 700)
    attack = privacy.membership_auc(members, non_members)
    assert attack.auc == pytest.approx(
        stats.mannwhitneyu(members, non_members).statistic / (500 * 700)
    )

    def auc(a, b, axis=-1):
        return stats.mannwhitneyu(a, b, axis=axis).statistic / (a.shape[axis] * b.shape[axis])

    reference = stats.bootstrap(
        (members, non_members),
        auc,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert attack.low == pytest.approx(reference.low, abs=0.01)
    assert attack.high == pytest.approx(reference.high, abs=0.01)


class Memoriser:
    """A 'model' that scores exactly its training matrix: it has memorised every pair."""

    def fit(self, train):
        self.train_ = train.tocsr()
        return self

    def score(self, users):
        return self.train_[users].toarray()


class Blind:
    """A 'model' whose scores ignore its data (the same random table whatever it trains on)."""

    def fit(self, train):
        self.table_ = np.random.default_rng(5).random(train.shape)
        return self

    def score(self, users):
        return self.table_[users]


def test_the_attack_on_a_model_catches_memorising_and_not_blindness():
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    train = sp.csr_matrix((rng.random((60, 80)) < 0.2).astype(np.float32))
    assert privacy.membership_attack(Memoriser(), train).auc == 1.0
    blind = privacy.membership_attack(Blind(), train)
    assert blind.low < 0.5 < blind.high
    scores = privacy.pair_scores(Memoriser().fit(train), train)
    assert scores.shape == (train.nnz,) and (scores == 1).all()
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        privacy.pair_scores(Memoriser().fit(train), train.toarray())
    with pytest.raises(ValueError, match="held_out_fraction"):
        privacy.membership_attack(Memoriser(), train, held_out_fraction=1.0)
