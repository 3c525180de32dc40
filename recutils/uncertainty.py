"""How sure are we? Confidence intervals and paired tests for metrics averaged over users.

A metric such as nDCG@10 is a mean over the test users. Another sample of users would give
another mean, so a table of two models that differ in the third decimal may show noise, not
a better model. This module turns per-user values (a column of
:func:`recutils.metrics.ranking_metrics_per_user`, indexed by user position) into

* :func:`bootstrap_interval` -- a percentile bootstrap interval of one model's mean;
* :func:`paired_test` -- the mean per-user difference of two models, its bootstrap interval
  and a sign-flip permutation test: is the difference larger than chance?
* :func:`interval_table` -- one interval per model, as a DataFrame.

Typical use::

    a = ranking_metrics_per_user(top_k_items(scores_a, 10, exclude=train), test, k=10)
    b = ranking_metrics_per_user(top_k_items(scores_b, 10, exclude=train), test, k=10)
    print(bootstrap_interval(a["ndcg@10"]))         # 0.0774 [0.0712, 0.0839]
    print(paired_test(a["ndcg@10"], b["ndcg@10"]))  # difference, its interval, p-value
    interval_table({"A": a, "B": b}, "ndcg@10")     # one row per model

What the intervals do and do not cover: they describe the uncertainty that comes from the
finite sample of *test users* (users are resampled; the models are fixed). They say nothing
about how much a model changes when it is retrained with another seed or split. Compare two
models **paired**, on the same users: the per-user difference cancels the users' own
difficulty, so :func:`paired_test` detects differences that two overlapping
:func:`bootstrap_interval` results would hide.

The resampling is done by :func:`scipy.stats.bootstrap` and
:func:`scipy.stats.permutation_test`; every result is a deterministic function of the data
and ``seed``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from recutils import checks

#: Numbers held in memory per batch of resamples (about 32 MB of float64).
_CELLS_PER_BATCH = 2**22


@dataclass(frozen=True)
class Interval:
    """A mean over users with its bootstrap confidence interval.

    Attributes:
        estimate: the mean of the values (the point estimate).
        low, high: the interval's bounds, in the units of the values.
        confidence: the nominal coverage, e.g. 0.95.
        n: the number of values (users) the mean is taken over.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n: int

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"


@dataclass(frozen=True)
class PairedTest:
    """Two models compared on the same users (see :func:`paired_test`).

    Attributes:
        mean_a, mean_b: the mean of each model's values.
        difference: mean over users of ``a_u - b_u`` (= ``mean_a - mean_b``); > 0 means a is
            better on a metric where higher is better.
        low, high: paired bootstrap interval of ``difference``.
        p_value: two-sided p-value of the sign-flip permutation test, in (0, 1].
        n: the number of users (pairs).
        confidence: the nominal coverage of ``[low, high]``, e.g. 0.95.
        exact: True when the p-value comes from all ``2**n`` sign patterns, False when from
            random ones.
    """

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    p_value: float
    n: int
    confidence: float = 0.95
    exact: bool = False

    def __str__(self) -> str:
        kind = "exact" if self.exact else "permutation"
        return (
            f"a - b = {self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}] "
            f"({_percent(self.confidence)} CI), p = {self.p_value:.4g} ({kind}), "
            f"n = {self.n} users (a {self.mean_a:.4f}, b {self.mean_b:.4f})"
        )


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _percent(confidence: float) -> str:
    return f"{100 * confidence:g}%"


def _check_values(values: Any, name: str = "values") -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers, at least one."""
    if isinstance(values, pd.DataFrame):
        raise ValueError(
            f"{name} must be 1-D (one value per user), got a DataFrame with columns "
            f"{list(values.columns)[:5]}; pick one column, e.g. per_user['ndcg@10']"
        )
    return checks.finite_vector(
        values,
        name,
        "one metric value per user, e.g. per_user['ndcg@10']",
        fix="Drop those users from both models, or fill them with the metric's value for an "
        "empty list (0)",
    )


def _check_confidence(confidence: Any) -> float:
    if (
        isinstance(confidence, (bool, np.bool_))
        or not isinstance(confidence, (int, float, np.integer, np.floating))
        or not 0.0 < float(confidence) < 1.0
    ):
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1, got {confidence!r}; "
            "e.g. 0.95 for a 95% interval"
        )
    return float(confidence)


def _check_n_resamples(n_resamples: Any) -> int:
    is_int = isinstance(n_resamples, (int, np.integer)) and not isinstance(
        n_resamples, (bool, np.bool_)
    )
    if not is_int or n_resamples < 100:
        raise ValueError(
            f"n_resamples must be an integer >= 100, got {n_resamples!r}; "
            "2,000 is enough for a 95% interval, 10,000 for a p-value near 0.01"
        )
    return int(n_resamples)


def _rng(seed: Any) -> np.random.Generator:
    is_int = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    if seed is not None and (not is_int or seed < 0):
        raise ValueError(
            f"seed must be a non-negative integer (or None for fresh randomness), got {seed!r}"
        )
    return np.random.default_rng(seed)


def _rng_argument(function: Any, rng: np.random.Generator) -> dict[str, Any]:
    """``{"rng": rng}`` for scipy >= 1.15, ``{"random_state": rng}`` for older versions."""
    if "rng" in inspect.signature(function).parameters:
        return {"rng": rng}
    return {"random_state": rng}  # pragma: no cover - scipy < 1.15


def _batch(n: int) -> int:
    """Resamples per vectorised call, so that one call holds about _CELLS_PER_BATCH numbers."""
    return max(1, _CELLS_PER_BATCH // max(n, 1))


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(values, axis=axis)


def _percentile_bootstrap(
    values: np.ndarray, confidence: float, n_resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Bounds of the percentile bootstrap interval of the mean of non-constant ``values``."""
    result = stats.bootstrap(
        (values,),
        _mean,
        n_resamples=n_resamples,
        batch=_batch(values.size),
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        **_rng_argument(stats.bootstrap, rng),
    )
    low, high = result.confidence_interval
    return float(low), float(high)


# --------------------------------------------------------------------------------------------
# One model: a bootstrap interval of the mean
# --------------------------------------------------------------------------------------------


def bootstrap_interval(
    values: Any,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> Interval:
    """Percentile bootstrap confidence interval of the mean of per-user metric values.

    With values ``x_1, ..., x_n`` (one per user) and ``alpha = 1 - confidence``:

    * estimate ``theta = (1/n) * sum_u x_u``;
    * for ``b = 1..B`` (``B = n_resamples``) draw ``n`` users uniformly *with replacement*,
      ``u_1, ..., u_n``, and compute ``theta*_b = (1/n) * sum_j x_{u_j}``;
    * the interval is ``[q(alpha/2), q(1 - alpha/2)]``, the empirical quantiles of
      ``theta*_1, ..., theta*_B`` (linear interpolation).

    This is ``scipy.stats.bootstrap(..., method="percentile")``, which draws the resamples in
    vectorised batches (here about 4M numbers per batch, so memory stays bounded for many
    users). For a mean over hundreds of users the interval is close to the normal one,
    ``theta +- 1.96 * sd / sqrt(n)`` at 95%; with a few dozen users, or a metric that is
    almost always 0, it is somewhat too narrow (its coverage falls below the nominal level).
    It measures the uncertainty from the sample of test users only, not from retraining.

    Args:
        values: one finite number per user, 1-D: an array, list or pandas Series, e.g. the
            ``ndcg@10`` column of :func:`recutils.metrics.ranking_metrics_per_user`.
        confidence: the nominal coverage, strictly between 0 and 1 (0.95 = 95%).
        n_resamples: bootstrap resamples ``B``, an integer >= 100. The bounds' own Monte
            Carlo error shrinks like ``1/sqrt(B)``.
        seed: seed of the resampling; the same seed and values give the same interval.
            ``None`` draws fresh randomness.

    Returns:
        An :class:`Interval`; ``str()`` of it reads ``0.0774 [0.0712, 0.0839]``. When all
        values are equal to ``c`` (including ``n = 1``) every resample has mean ``c`` and the
        interval is exactly ``[c, c]``.

    Raises:
        ValueError: for empty, non-numeric, 2-D or non-finite ``values``, ``confidence``
            outside (0, 1), ``n_resamples`` not an integer >= 100, or a bad ``seed``.
    """
    array = _check_values(values)
    confidence = _check_confidence(confidence)
    n_resamples = _check_n_resamples(n_resamples)
    rng = _rng(seed)
    if np.all(array == array[0]):  # degenerate: scipy would return (c, c) up to rounding
        constant = float(array[0])
        return Interval(constant, constant, constant, confidence, int(array.size))
    low, high = _percentile_bootstrap(array, confidence, n_resamples, rng)
    return Interval(float(array.mean()), low, high, confidence, int(array.size))


# --------------------------------------------------------------------------------------------
# Two models on the same users: paired interval and sign-flip permutation test
# --------------------------------------------------------------------------------------------


def _paired_arrays(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as float arrays whose position u is the same user in both."""
    a_is_series, b_is_series = isinstance(a, pd.Series), isinstance(b, pd.Series)
    if a_is_series != b_is_series:
        raise ValueError(
            "a and b must both be pandas Series (matched by their index of users) or both be "
            f"1-D arrays (matched by position), got {type(a).__name__} and {type(b).__name__}"
        )
    if a_is_series:
        for name, series in (("a", a), ("b", b)):
            if series.index.has_duplicates:
                repeated = series.index[series.index.duplicated()].unique()
                raise ValueError(
                    f"{name} has {repeated.size} user(s) more than once in its index "
                    f"(e.g. {repeated[0]!r}); pass one value per user"
                )
        if not a.index.equals(b.index):
            only_a = a.index.difference(b.index)
            only_b = b.index.difference(a.index)
            if only_a.size or only_b.size:
                examples = [*only_a[:2].tolist(), *only_b[:2].tolist()]
                raise ValueError(
                    f"a and b are not on the same users: {only_a.size} user(s) only in a, "
                    f"{only_b.size} only in b (e.g. {examples}); both models must be "
                    "evaluated on the same test users (the same test matrix)"
                )
            b = b.reindex(a.index)  # same users in another order: match them up
    values_a, values_b = _check_values(a, "a"), _check_values(b, "b")
    if values_a.size != values_b.size:
        raise ValueError(
            f"a has {values_a.size} values but b has {values_b.size}; a paired comparison "
            "needs one value per user from each model, for the same users in the same order"
        )
    return values_a, values_b


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def _is_exact(n: int, n_resamples: int) -> bool:
    """Whether all 2**n sign patterns fit in n_resamples (the test is then exact)."""
    return n < 64 and 2**n <= n_resamples


def _sign_flip_p_value(
    a: np.ndarray, b: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> float:
    """Two-sided p-value of the sign-flip test of mean(a - b); see :func:`paired_test`."""
    n = a.size
    if _is_exact(n, n_resamples):  # few users: every sign pattern, an exact p-value
        result = stats.permutation_test(
            (a, b),
            _mean_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=n_resamples,
            alternative="two-sided",
        )
        return float(result.pvalue)

    differences = a - b

    def flipped_differences(size: tuple[int, int]) -> np.ndarray:
        """``s_u * d_u`` with random signs ``s_u``: one sample of users under H0 per row."""
        signs = rng.integers(0, 2, size=size, dtype=np.int8) * np.int8(2) - np.int8(1)
        return signs * differences

    result = stats.monte_carlo_test(
        differences,
        flipped_differences,
        _mean,
        vectorized=True,
        n_resamples=n_resamples,
        batch=_batch(n),
        alternative="two-sided",
    )
    return float(result.pvalue)


def paired_test(
    a: Any,
    b: Any,
    n_resamples: int = 10000,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> PairedTest:
    """Is model a better than model b on the same users, beyond chance?

    With per-user values ``a_u`` and ``b_u`` for the same ``n`` users, let
    ``d_u = a_u - b_u`` and ``D = (1/n) * sum_u d_u`` (= mean a - mean b).

    * Interval: the percentile bootstrap interval of ``D`` (as in :func:`bootstrap_interval`,
      applied to the differences ``d_u``). Resampling *users* keeps each user's two values
      together, which is what makes the comparison paired.
    * p-value: the sign-flip permutation test of ``H0``: a and b are exchangeable for every
      user, so ``d_u`` was as likely to be ``-d_u``. Under ``H0`` the statistic is
      ``D(s) = (1/n) * sum_u s_u * d_u`` for sign patterns ``s`` in ``{-1, +1}^n``, and the
      two-sided p-value is ``p = 2 * min(P(D(s) >= D), P(D(s) <= D))`` clipped to 1; the
      null distribution is symmetric, so this is ``P(|D(s)| >= |D|)`` when ``D != 0``.
      Ties with ``D`` are detected with a relative tolerance of ``100 * eps``.

      - When ``2**n <= n_resamples`` (at most 13 users for 10,000) all ``2**n`` patterns are
        enumerated and ``p`` is exact: ``scipy.stats.permutation_test((a, b), mean(x - y),
        permutation_type="samples")``, which swaps ``a_u`` and ``b_u`` within each user, i.e.
        flips the sign of ``d_u``.
      - Otherwise ``n_resamples`` random patterns (each ``s_u`` = +-1 with probability 1/2)
        are drawn and ``p = 2 * min(count_greater + 1, count_less + 1) / (n_resamples + 1)``,
        clipped to 1, never 0 and at least ``2 / (n_resamples + 1)``. This is
        ``scipy.stats.monte_carlo_test`` with the sign-flipped differences as the null
        distribution: the same test and p-value formula as ``permutation_test``'s random
        mode, but vectorised over users (``permutation_test`` loops over the users in
        Python for every batch of patterns, far slower for tens of thousands of users;
        timings in ``bench/results/tuning.md``).

    With hundreds of users the p-value is close to that of a paired t-test
    (``scipy.stats.ttest_rel``), but it does not assume normal differences, which matters
    for metrics that are 0 for most users. A small p-value says the difference is unlikely
    to be noise from the choice of test users; it does not say the difference is large --
    read ``[low, high]`` for that.

    Args:
        a, b: the two models' values, one finite number per user. Either two pandas Series
            with the same users in their index (e.g. ``per_user_a["ndcg@10"]``; a different
            order is matched up) or two 1-D arrays of the same length, position u = same user.
        n_resamples: bootstrap resamples for the interval and (at most) sign patterns for the
            test, an integer >= 100.
        seed: seed of both resamplings; the same seed and inputs give the same result.
            ``None`` draws fresh randomness.
        confidence: nominal coverage of the interval, strictly between 0 and 1.

    Returns:
        A :class:`PairedTest` whose ``str()`` is one line. When every ``d_u`` is 0 the result
        is ``difference = 0``, interval ``[0, 0]`` and ``p_value = 1.0``.

    Raises:
        ValueError: if the Series hold different users (naming how many are only in one of
            them), the arrays differ in length, or for the bad inputs listed in
            :func:`bootstrap_interval`.
    """
    values_a, values_b = _paired_arrays(a, b)
    confidence = _check_confidence(confidence)
    n_resamples = _check_n_resamples(n_resamples)
    rng = _rng(seed)
    n = int(values_a.size)
    mean_a, mean_b = float(values_a.mean()), float(values_b.mean())
    differences = values_a - values_b
    exact = _is_exact(n, n_resamples)
    if not differences.any():  # a and b agree on every user: no evidence either way
        return PairedTest(mean_a, mean_b, 0.0, 0.0, 0.0, 1.0, n, confidence, exact)

    if np.all(differences == differences[0]):
        low = high = float(differences[0])
    else:
        low, high = _percentile_bootstrap(differences, confidence, n_resamples, rng)
    p_value = _sign_flip_p_value(values_a, values_b, n_resamples, rng)
    return PairedTest(
        mean_a=mean_a,
        mean_b=mean_b,
        difference=float(differences.mean()),
        low=low,
        high=high,
        p_value=p_value,
        n=n,
        confidence=confidence,
        exact=exact,
    )


# --------------------------------------------------------------------------------------------
# Several models: one interval each
# --------------------------------------------------------------------------------------------


def interval_table(
    per_user: Mapping[str, pd.DataFrame],
    metric: str,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """The mean of ``metric`` per model with its bootstrap interval, one row per model.

    Each row is :func:`bootstrap_interval` of the column ``per_user[model][metric]``, with the
    same ``seed`` for every model. The intervals are for reading one model at a time; to
    compare two models use :func:`paired_test`, which is much more sensitive on the same users.

    Args:
        per_user: model name -> per-user metric table, e.g. the output of
            :func:`recutils.metrics.ranking_metrics_per_user`. Rows keep the mapping's order.
        metric: the column to summarise, e.g. ``"ndcg@10"``.
        confidence, n_resamples, seed: as in :func:`bootstrap_interval`.

    Returns:
        DataFrame indexed by model name (index name ``model``) with the columns ``metric``
        (the mean), ``"low"`` and ``"high"``.

    Raises:
        ValueError: if ``per_user`` is empty, a value is not a DataFrame, or a table has no
            column ``metric`` (naming the columns it has).
    """
    if not isinstance(per_user, Mapping) or len(per_user) == 0:
        raise ValueError(
            "per_user must be a non-empty mapping of model name -> per-user DataFrame "
            "(e.g. {'EASE': per_user_ease, 'popularity': per_user_pop}), got "
            + ("an empty mapping" if isinstance(per_user, Mapping) else type(per_user).__name__)
        )
    rows = {}
    for model, table in per_user.items():
        if not isinstance(table, pd.DataFrame):
            raise ValueError(
                f"per_user[{model!r}] must be a DataFrame of per-user metrics "
                f"(ranking_metrics_per_user), got {type(table).__name__}"
            )
        if metric not in table.columns:
            raise ValueError(
                f"per_user[{model!r}] has no column {metric!r}; available: "
                f"{', '.join(map(str, table.columns))}"
            )
        interval = bootstrap_interval(
            table[metric], confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        rows[model] = {metric: interval.estimate, "low": interval.low, "high": interval.high}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[metric, "low", "high"])
    frame.index.name = "model"
    return frame


__all__ = ["Interval", "PairedTest", "bootstrap_interval", "interval_table", "paired_test"]
