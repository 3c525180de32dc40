"""Tests of recutils.uncertainty: known answers, brute-force enumeration, coverage, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from recutils.metrics import ranking_metrics, ranking_metrics_per_user
from recutils.uncertainty import (
    Interval,
    PairedTest,
    bootstrap_interval,
    interval_table,
    paired_test,
)

# --------------------------------------------------------------------------------------------
# bootstrap_interval
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", [0.1, 0.0, -3.25, 1e-12])
def test_constant_values_give_exactly_the_constant(constant: float) -> None:
    for n in (1, 2, 7, 500):
        interval = bootstrap_interval(np.full(n, constant))
        assert (interval.estimate, interval.low, interval.high) == (constant, constant, constant)
        assert interval.n == n


def test_interval_of_many_normal_values_is_close_to_the_normal_interval() -> None:
    # For a mean over n = 2000 users the bootstrap distribution is nearly normal, so the 95%
    # interval is about mean +- 1.96 * sd / sqrt(n).
    values = np.random.default_rng(7).normal(loc=0.3, scale=1.0, size=2000)
    interval = bootstrap_interval(values, confidence=0.95)
    half_width = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert interval.estimate == pytest.approx(values.mean(), abs=1e-15)
    assert (interval.high - interval.low) / 2 == pytest.approx(half_width, rel=0.10)
    assert (interval.high + interval.low) / 2 == pytest.approx(values.mean(), abs=0.1 * half_width)
    # A 68.3% interval is about +- 1 sd / sqrt(n): the confidence level is used.
    narrow = bootstrap_interval(values, confidence=0.683)
    assert (narrow.high - narrow.low) / 2 == pytest.approx(half_width / 1.96, rel=0.10)


def test_95_percent_intervals_cover_the_true_mean_about_95_percent_of_the_time() -> None:
    # 200 samples of 100 users from an exponential distribution (skewed, like most per-user
    # metrics) with true mean 1. The percentile interval should cover 1 in about 94-95% of
    # them; with 200 samples the observed share has a standard error of about 1.6%.
    rng = np.random.default_rng(2024)
    covered = 0
    for trial in range(200):
        values = rng.exponential(scale=1.0, size=100)
        interval = bootstrap_interval(values, n_resamples=400, seed=trial)
        covered += interval.low <= 1.0 <= interval.high
    assert 0.88 <= covered / 200 <= 0.99


def test_bootstrap_accepts_lists_and_series_and_is_deterministic() -> None:
    values = np.random.default_rng(0).random(50)
    from_array = bootstrap_interval(values, seed=3)
    assert bootstrap_interval(list(values), seed=3) == from_array
    assert bootstrap_interval(pd.Series(values, index=np.arange(50) * 7), seed=3) == from_array
    assert bootstrap_interval(values, seed=4) != from_array
    assert from_array.low < values.mean() < from_array.high
    assert from_array.confidence == 0.95 and from_array.n == 50


def test_interval_str() -> None:
    assert str(Interval(0.07741, 0.07122, 0.08389, 0.95, 1000)) == "0.0774 [0.0712, 0.0839]"
    with pytest.raises(AttributeError):
        Interval(0.0, 0.0, 0.0, 0.95, 1).low = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "values is empty"),
        ([0.1, np.nan, 0.3], r"1 NaN or infinite value\(s\) \(e.g. nan at position 1\)"),
        ([0.1, np.inf], "NaN or infinite"),
        (np.zeros((3, 2)), r"must be 1-D \(one metric value per user.*\), got shape \(3, 2\)"),
        (pd.DataFrame({"ndcg@10": [0.1, 0.2]}), r"got a DataFrame.*per_user\['ndcg@10'\]"),
        (["a", "b"], "must hold numbers"),
    ],
)
def test_bootstrap_rejects_bad_values(values: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_interval(values)


def test_bootstrap_rejects_bad_settings() -> None:
    values = [0.1, 0.2, 0.3]
    for confidence in (0, 1, 1.5, -0.1, True, "0.95"):
        with pytest.raises(ValueError, match="confidence must be a number strictly between 0"):
            bootstrap_interval(values, confidence=confidence)  # type: ignore[arg-type]
    for n_resamples in (99, 0, 1000.0, True):
        with pytest.raises(ValueError, match="n_resamples must be an integer >= 100"):
            bootstrap_interval(values, n_resamples=n_resamples)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        bootstrap_interval(values, seed=-1)


# --------------------------------------------------------------------------------------------
# paired_test
# --------------------------------------------------------------------------------------------


def brute_force_sign_flip_p_value(differences: np.ndarray) -> float:
    """P(|mean(s * d)| >= |mean(d)|) over all 2**n sign patterns s, counted one by one."""
    observed = abs(differences.mean())
    patterns = list(itertools.product([-1.0, 1.0], repeat=differences.size))
    as_extreme = sum(
        abs(np.mean(np.array(signs) * differences)) >= observed * (1 - 1e-12) for signs in patterns
    )
    return as_extreme / len(patterns)


def test_identical_models_give_p_one_and_zero_difference() -> None:
    for values in (np.random.default_rng(1).random(40), np.random.default_rng(1).random(5)):
        result = paired_test(values, values.copy())
        assert result.p_value == 1.0
        assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)
        assert result.mean_a == result.mean_b == pytest.approx(values.mean())


def test_five_users_all_better_give_the_exact_p_of_2_in_32() -> None:
    # d = (1, 1, 1, 1, 1): of the 2**5 = 32 sign patterns only all-plus (mean 1) and
    # all-minus (mean -1) are as extreme as the observed mean 1 -> p = 2/32.
    result = paired_test(np.ones(5), np.zeros(5))
    assert result.p_value == 2 / 32 == 0.0625
    assert result.exact
    assert (result.difference, result.low, result.high) == (1.0, 1.0, 1.0)
    assert (result.mean_a, result.mean_b, result.n) == (1.0, 0.0, 5)


def test_exact_p_value_equals_brute_force_enumeration() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        a, b = rng.random(8), rng.random(8)
        result = paired_test(a, b)  # 2**8 = 256 <= 10000 patterns: exact
        assert result.exact
        assert result.p_value == pytest.approx(brute_force_sign_flip_p_value(a - b), abs=1e-12)
        assert result.difference == pytest.approx((a - b).mean())


def test_p_value_of_many_users_is_close_to_the_paired_t_test() -> None:
    # 500 users, per-user differences with mean 0.02 and sd 0.2: t is about 2.2, p about 0.03.
    rng = np.random.default_rng(5)
    b = rng.random(500)
    a = b + 0.02 + rng.normal(0.0, 0.2, size=500)
    result = paired_test(a, b)
    t_test = stats.ttest_rel(a, b)
    assert not result.exact
    assert 0.001 < t_test.pvalue < 0.2  # the case is neither trivial nor hopeless
    assert abs(result.p_value - t_test.pvalue) < 0.02
    assert result.low <= 0.02 <= result.high  # the interval contains the true shift
    assert result.low < result.difference < result.high


def test_random_sign_flips_agree_with_scipy_permutation_test() -> None:
    # For many users paired_test draws random sign patterns with scipy.stats.monte_carlo_test;
    # scipy.stats.permutation_test(permutation_type="samples") draws them differently but
    # tests the same hypothesis, so the two p-values differ only by Monte Carlo error.
    rng = np.random.default_rng(8)
    b = rng.random(200)
    a = b + 0.03 + rng.normal(0.0, 0.3, size=200)
    reference = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=10000,
        rng=np.random.default_rng(0),
    )
    assert 0.01 < reference.pvalue < 0.5
    assert abs(paired_test(a, b).p_value - reference.pvalue) < 0.02


def test_p_value_is_never_below_two_over_resamples_plus_one() -> None:
    # Every user is better in a: no random pattern (other than all-plus, probability 2**-100)
    # reaches the observed mean, so p = 2 * (0 + 1) / (n_resamples + 1).
    b = np.random.default_rng(3).random(100)
    result = paired_test(b + 0.5, b, n_resamples=1000)
    assert result.p_value == pytest.approx(2 / 1001, abs=1e-15)


def test_paired_test_matches_series_by_user_and_is_deterministic() -> None:
    rng = np.random.default_rng(9)
    users = pd.Index(rng.permutation(1000)[:60], name="user")
    a = pd.Series(rng.random(60), index=users)
    b = pd.Series(rng.random(60), index=users)
    result = paired_test(a, b, seed=1)
    assert isinstance(result, PairedTest)
    assert paired_test(a, b, seed=1) == result
    assert paired_test(a.to_numpy(), b.to_numpy(), seed=1) == result
    assert paired_test(a, b.iloc[::-1], seed=1) == result  # same users, another order
    assert paired_test(a, b, seed=2) != result
    assert result.mean_a - result.mean_b == pytest.approx(result.difference)
    text = str(result)
    assert "\n" not in text and "p = " in text and "n = 60 users" in text and "95% CI" in text


def test_paired_test_rejects_different_users() -> None:
    a = pd.Series([0.1, 0.2, 0.3, 0.4], index=[0, 1, 2, 3])
    b = pd.Series([0.1, 0.2, 0.3], index=[0, 1, 5])
    with pytest.raises(ValueError, match=r"2 user\(s\) only in a, 1 only in b .*same test users"):
        paired_test(a, b)
    with pytest.raises(ValueError, match="a has 4 values but b has 3"):
        paired_test(a.to_numpy(), b.to_numpy())
    with pytest.raises(ValueError, match=r"both be pandas Series .* or both be"):
        paired_test(a, b.to_numpy())
    with pytest.raises(ValueError, match=r"b has 1 user\(s\) more than once"):
        paired_test(a, pd.Series([0.1, 0.2, 0.3, 0.4], index=[0, 1, 1, 3]))
    with pytest.raises(ValueError, match="b has 1 NaN or infinite"):
        paired_test([0.1, 0.2], [0.1, np.nan])
    with pytest.raises(ValueError, match="a is empty"):
        paired_test([], [])
    with pytest.raises(ValueError, match="n_resamples must be an integer >= 100"):
        paired_test([0.1, 0.2], [0.2, 0.1], n_resamples=10)


# --------------------------------------------------------------------------------------------
# interval_table
# --------------------------------------------------------------------------------------------


def test_interval_table_has_one_row_per_model_in_order() -> None:
    rng = np.random.default_rng(4)
    per_user = {
        "popular": pd.DataFrame({"ndcg@10": rng.random(30), "recall@10": rng.random(30)}),
        "EASE": pd.DataFrame({"ndcg@10": rng.random(30) + 1, "recall@10": rng.random(30)}),
    }
    table = interval_table(per_user, "ndcg@10", n_resamples=500, seed=2)
    assert list(table.index) == ["popular", "EASE"] and table.index.name == "model"
    assert list(table.columns) == ["ndcg@10", "low", "high"]
    for model, frame in per_user.items():
        interval = bootstrap_interval(frame["ndcg@10"], n_resamples=500, seed=2)
        assert tuple(table.loc[model]) == (interval.estimate, interval.low, interval.high)


def test_interval_table_on_ranking_metrics_per_user_matches_the_mean() -> None:
    relevant = sparse.csr_array(np.eye(4))
    recommended = np.array([[0, 1], [2, 1], [3, 2], [0, 3]])
    per_user = ranking_metrics_per_user(recommended, relevant, k=2)
    table = interval_table({"m": per_user}, "recall@2")
    mean = ranking_metrics(recommended, relevant, k=2).loc[2, "recall"]
    assert table.loc["m", "recall@2"] == pytest.approx(mean)  # (1 + 0 + 0 + 1) / 4
    assert table.loc["m", "low"] <= mean <= table.loc["m", "high"]


def test_interval_table_errors_name_the_column_and_the_alternatives() -> None:
    frame = pd.DataFrame({"ndcg@10": [0.1, 0.2], "recall@10": [0.3, 0.4]})
    with pytest.raises(
        ValueError, match=r"per_user\['m'\] has no column 'ndcg@20'; available: ndcg@10, recall@10"
    ):
        interval_table({"m": frame}, "ndcg@20")
    with pytest.raises(ValueError, match="non-empty mapping"):
        interval_table({}, "ndcg@10")
    with pytest.raises(ValueError, match=r"per_user\['m'\] must be a DataFrame"):
        interval_table({"m": frame["ndcg@10"]}, "ndcg@10")  # type: ignore[dict-item]
