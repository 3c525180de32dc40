"""Off-policy estimators: a hand-computed log, unbiasedness on a synthetic bandit, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from recutils.off_policy import (
    ExtremeWeightsWarning,
    PolicyValue,
    doubly_robust,
    effective_sample_size,
    importance_weights,
    ips,
    snips,
)

# A log of 5 impressions, 3 actions. Per impression: the logged action, its reward, the logging
# policy's propensity mu, the target's probability pi of the same action, a reward model's
# prediction for the logged action and its expectation under the target.
ACTIONS = [0, 1, 2, 0, 1]
REWARDS = [1, 0, 1, 0, 1]
MU = [0.5, 0.25, 0.25, 0.5, 0.2]
PI = [1.0, 0.0, 0.5, 1.0, 0.2]
R_HAT = [0.6, 0.2, 0.4, 0.6, 0.3]
Q = [0.6, 0.5, 0.45, 0.6, 0.35]
LOG = {"logging_propensities": MU, "target_probabilities": PI}


@pytest.fixture(autouse=True)
def _quiet_small_logs():
    """A five-impression log always has extreme weights: the warning is tested on its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtremeWeightsWarning)
        yield


def test_weights_and_effective_sample_size_by_hand():
    weights = importance_weights(MU, PI)
    np.testing.assert_allclose(weights, [1 / 0.5, 0 / 0.25, 0.5 / 0.25, 1 / 0.5, 0.2 / 0.2])
    assert effective_sample_size(weights) == pytest.approx((2 + 0 + 2 + 2 + 1) ** 2 / 13)
    np.testing.assert_allclose(importance_weights(MU, PI, max_weight=1.5), [1.5, 0, 1.5, 1.5, 1])
    assert effective_sample_size([0.0, 0.0]) == 0.0


def test_ips_by_hand():
    value = ips(REWARDS, **LOG)
    assert value.estimate == pytest.approx((2 * 1 + 0 * 0 + 2 * 1 + 2 * 0 + 1 * 1) / 5)
    # terms w r = [2, 0, 2, 0, 1], mean 1, squared deviations sum to 4: sd^2 = 4 / 4
    assert value.standard_error == pytest.approx(math.sqrt(1 / 5))
    z = 1.959963984540054
    assert value.low == pytest.approx(1 - z * math.sqrt(1 / 5))
    assert value.high == pytest.approx(1 + z * math.sqrt(1 / 5))
    assert value.n == 5
    assert value.max_weight == 2.0
    assert value.mean_weight == pytest.approx(7 / 5)
    assert value.top_share == pytest.approx(2 / 7)  # the top 1% is one impression
    assert value.clipped == 0
    assert isinstance(value, PolicyValue)
    assert str(value).startswith("IPS 1 [")


def test_ips_clipped_and_grouped_by_hand():
    clipped = ips(REWARDS, **LOG, max_weight=1.5)
    assert clipped.estimate == pytest.approx((1.5 * 1 + 0 + 1.5 * 1 + 1.5 * 0 + 1 * 1) / 5)
    assert clipped.clipped == 3
    assert clipped.estimator == "IPS clipped at 1.5"
    # centred terms [1, -1, 1, -1, 0]; groups {0, 1, 2}, {3}, {4} sum to 1, -1, 0
    grouped = ips(REWARDS, **LOG, groups=[7, 7, 7, 8, 9])
    assert grouped.estimate == pytest.approx(1.0)
    assert grouped.standard_error == pytest.approx(math.sqrt(3 / 2 * (1 + 1 + 0)) / 5)


def test_snips_by_hand():
    value = snips(REWARDS, **LOG)
    assert value.estimate == pytest.approx((2 + 0 + 2 + 0 + 1) / (2 + 0 + 2 + 2 + 1))
    v = 5 / 7
    # delta method: terms w (r - V) / mean(w)
    terms = np.array([2 * (1 - v), 0, 2 * (1 - v), 2 * (0 - v), 1 * (1 - v)]) / (7 / 5)
    assert value.standard_error == pytest.approx(terms.std(ddof=1) / math.sqrt(5))


def test_doubly_robust_by_hand():
    value = doubly_robust(REWARDS, **LOG, predicted_rewards=R_HAT, expected_predicted_rewards=Q)
    terms = [
        0.6 + 2 * (1 - 0.6),
        0.5 + 0 * (0 - 0.2),
        0.45 + 2 * (1 - 0.4),
        0.6 + 2 * (0 - 0.6),
        0.35 + 1 * (1 - 0.3),
    ]
    assert value.estimate == pytest.approx(sum(terms) / 5)  # 4.0 / 5
    assert value.estimate == pytest.approx(0.8)
    assert value.standard_error == pytest.approx(np.std(terms, ddof=1) / math.sqrt(5))
    # a perfect-weights, zero model reduces DR to IPS
    zero = doubly_robust(
        REWARDS, **LOG, predicted_rewards=[0] * 5, expected_predicted_rewards=[0] * 5
    )
    assert zero.estimate == pytest.approx(ips(REWARDS, **LOG).estimate)


# --------------------------------------------------------------------------------------------
# A synthetic bandit with a known value
# --------------------------------------------------------------------------------------------

RATES = np.array([0.2, 0.5, 0.8])  # true purchase rate of each action
LOGGING = np.array([0.5, 0.3, 0.2])  # the logging policy, known propensities
TARGET = np.array([0.1, 0.1, 0.8])  # the policy to evaluate
TRUE_VALUE = float(TARGET @ RATES)  # 0.71


def _logs(n_logs: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    actions = rng.choice(3, size=(n_logs, n), p=LOGGING)
    rewards = (rng.random((n_logs, n)) < RATES[actions]).astype(float)
    return actions, rewards


def test_estimators_unbiased_on_a_synthetic_bandit():
    n_logs, n = 2000, 200
    actions, rewards = _logs(n_logs, n, seed=0)
    # a reward model that is wrong for every action (DR stays unbiased: propensities right)
    wrong_model = np.array([0.5, 0.1, 0.5])
    estimates = {"IPS": [], "SNIPS": [], "DR": []}
    covered = 0
    for a, r in zip(actions, rewards, strict=True):
        log = {"logging_propensities": LOGGING[a], "target_probabilities": TARGET[a]}
        value = ips(r, **log)
        estimates["IPS"].append(value.estimate)
        covered += value.low <= TRUE_VALUE <= value.high
        estimates["SNIPS"].append(snips(r, **log).estimate)
        estimates["DR"].append(
            doubly_robust(
                r,
                **log,
                predicted_rewards=wrong_model[a],
                expected_predicted_rewards=np.full(n, TARGET @ wrong_model),
            ).estimate
        )
    # Per impression, the IPS term w r has variance E[w^2 r] - V^2 = 2.58 - 0.50 = 2.08, so the
    # mean of 2000 x 200 terms has sd sqrt(2.08 / 400000) = 0.0023; 0.015 is 6.6 sd.
    assert abs(np.mean(estimates["IPS"]) - TRUE_VALUE) < 0.015
    assert abs(np.mean(estimates["DR"]) - TRUE_VALUE) < 0.015
    # SNIPS: bias O(1/n), and a smaller spread than IPS
    assert abs(np.mean(estimates["SNIPS"]) - TRUE_VALUE) < 0.015
    assert np.std(estimates["SNIPS"]) < np.std(estimates["IPS"])
    # the normal interval covers the truth about 95% of the time (binomial sd 0.005)
    assert 0.90 < covered / n_logs < 0.99


def test_missing_support_biases_ips_and_shows_in_mean_weight():
    # the logger never takes action 2, which the target takes 80% of the time
    logging = np.array([0.6, 0.4, 0.0])
    rng = np.random.default_rng(1)
    a = rng.choice(3, size=20_000, p=logging)
    r = (rng.random(a.size) < RATES[a]).astype(float)
    value = ips(r, logging_propensities=logging[a], target_probabilities=TARGET[a])
    # only actions 0 and 1 count: 0.1 * 0.2 + 0.1 * 0.5 = 0.07, far from 0.71
    assert value.estimate == pytest.approx(0.07, abs=0.01)
    # E[w] = pi(0) + pi(1) = 0.2 instead of 1
    assert value.mean_weight == pytest.approx(0.2, abs=0.01)


def test_extreme_weights_warn():
    r = np.zeros(1000)
    r[0] = 1
    mu = np.full(1000, 0.5)
    mu[0] = 0.001
    with pytest.warns(ExtremeWeightsWarning, match="effective sample size"):
        ips(r, logging_propensities=mu, target_probabilities=np.ones(1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtremeWeightsWarning)
        ips(r, logging_propensities=np.full(1000, 0.5), target_probabilities=np.ones(1000))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"logging_propensities": [0.5, 0.0, 0.25, 0.5, 0.2]}, "logging_propensities must be in"),
        ({"logging_propensities": [0.5, 1.5, 0.25, 0.5, 0.2]}, "logging_propensities must be in"),
        ({"logging_propensities": [0.5, -0.1, 0.25, 0.5, 0.2]}, "logging_propensities must be"),
        ({"target_probabilities": [1.0, 0.0, 1.2, 1.0, 0.2]}, "target_probabilities must be in"),
        ({"target_probabilities": [1.0, 0.0, -0.5, 1.0, 0.2]}, "target_probabilities must be"),
        ({"rewards": [1, 0, float("nan"), 0, 1]}, "rewards has 1 NaN"),
        ({"logging_propensities": [0.5, np.nan, 0.25, 0.5, 0.2]}, "NaN"),
        ({"rewards": [1, 0, 1]}, "same length"),
        ({"rewards": [], "logging_propensities": [], "target_probabilities": []}, "empty"),
        ({"rewards": [[1, 0]]}, "1-D"),
        ({"rewards": ["a", "b", "c", "d", "e"]}, "numbers"),
        ({"max_weight": 0}, "max_weight"),
        ({"confidence": 1.0}, "confidence"),
        ({"groups": [1, 2]}, "groups"),
    ],
)
def test_bad_input(changes, message):
    arguments = {"rewards": REWARDS, **LOG, **changes}
    for estimator in (ips, snips):
        with pytest.raises(ValueError, match=message):
            estimator(**arguments)
    with pytest.raises(ValueError, match=message):
        n = len(arguments["logging_propensities"])
        doubly_robust(**arguments, predicted_rewards=R_HAT[:n], expected_predicted_rewards=Q[:n])


def test_bad_model_input():
    with pytest.raises(ValueError, match="same length"):
        doubly_robust(REWARDS, **LOG, predicted_rewards=R_HAT[:3], expected_predicted_rewards=Q)
    with pytest.raises(ValueError, match="expected_predicted_rewards has 1 NaN"):
        doubly_robust(
            REWARDS, **LOG, predicted_rewards=R_HAT, expected_predicted_rewards=[0, 0, 0, np.nan, 0]
        )


def test_snips_without_any_weight_says_the_log_is_silent():
    with pytest.raises(ValueError, match="every importance weight is 0"):
        snips(REWARDS, logging_propensities=MU, target_probabilities=[0] * 5)
