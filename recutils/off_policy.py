"""Off-policy evaluation: the value of a new policy estimated from another policy's log.

A shop logs what its current policy showed and what happened. Before putting a new policy
online, it would like to know how the new policy *would have done* on the same visits. The log
cannot say directly (the new policy would have shown other items), but if the old policy was
random in a known way, reweighting its impressions answers the question without bias.

Notation, one logged **impression** ``i = 1..n`` (a context ``x_i``, e.g. a visit and a
position; the action ``a_i`` the logging policy took, e.g. the item shown; the reward ``r_i``,
e.g. 1 if it was bought):

* ``mu_i = mu(a_i | x_i)``: the logging policy's probability of the logged action (its
  *propensity*, recorded when the action was drawn: :attr:`recutils.simulator.Slate.
  propensities`);
* ``pi_i = pi(a_i | x_i)``: the target policy's probability of the *same* action (1 or 0 for
  a deterministic policy: does it show this item here?);
* ``w_i = pi_i / mu_i``: the importance weight.

The estimators of the target's value ``V(pi) = E_x E_{a ~ pi(.|x)} [r]``:

* :func:`ips` (inverse propensity scoring, Horvitz & Thompson 1952):
  ``V_IPS = (1/n) sum_i w_i r_i``.
* :func:`snips` (self-normalised IPS, Swaminathan & Joachims 2015):
  ``V_SNIPS = sum_i w_i r_i / sum_i w_i``.
* :func:`doubly_robust` (Dudik, Langford & Li 2011):
  ``V_DR = (1/n) sum_i [ q_i + w_i (r_i - r_hat_i) ]``, with a reward model's prediction
  ``r_hat_i = r_hat(x_i, a_i)`` for the logged action and its expectation under the target,
  ``q_i = sum_a pi(a | x_i) r_hat(x_i, a)``.

Each returns a :class:`PolicyValue`: the estimate, a normal confidence interval, the effective
sample size and the weight diagnostics that say when not to trust it.

**Slates.** When a policy shows ``k`` items per visit, one shortcut treats each (visit,
position) as one impression. Then ``mu_i`` and ``pi_i`` must be the **marginal** probabilities
of that item at that position, as :class:`recutils.bandits.EpsilonGreedy` reports them, and the
estimate assumes a position's reward depends only on the item there (not on its neighbours).
Propensities drawn position by position *given the items above*
(:class:`recutils.simulator.LoggingPolicy`) are marginal only for the top position, so use
that position alone (or ``k = 1``); their product over the slate is the probability of the
whole ordered slate, the ``mu`` of slate-level IPS (one impression per visit, reward the
slate's total), whose weights are hopeless for a deterministic target over thousands of
items. The impressions of one visit are not independent (the same user): pass ``groups`` (the
visit numbers) to get a standard error that allows for this.

Example::

    value = ips(rewards, logging_propensities=mu, target_probabilities=pi)
    print(value)  # IPS 0.0123 [0.0101, 0.0145] (95% CI), n = 20,000, effective n = 812, ...
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from recutils import checks

#: Below this effective sample size an estimate comes with a :class:`ExtremeWeightsWarning`.
SMALL_EFFECTIVE_SAMPLE = 30

#: Share of the total weight held by the top 1% of impressions above which the estimate comes
#: with an :class:`ExtremeWeightsWarning` (with equal weights the share is 1%).
HEAVY_TOP_SHARE = 0.5


class ExtremeWeightsWarning(UserWarning):
    """A few impressions carry most of the importance weight: the estimate rests on them."""


@dataclass(frozen=True)
class PolicyValue:
    """An off-policy estimate of a policy's value per impression, with its diagnostics.

    Attributes:
        estimator: "IPS", "SNIPS" or "DR" (with " clipped at M" when weights were clipped).
        estimate: the estimated value (mean reward per impression under the target policy).
        low, high: the normal confidence interval ``estimate +- z * standard_error``.
        standard_error: the estimate's standard error (see each estimator for its formula).
        confidence: the nominal coverage of ``[low, high]``, e.g. 0.95.
        n: the number of logged impressions.
        effective_sample_size: ``(sum w)^2 / sum w^2``: as many equally weighted impressions
            as the weighted log is worth (``n`` when all weights are equal; close to 1 when
            one weight dominates). 0 when every weight is 0.
        max_weight: the largest importance weight (after clipping).
        top_share: share of the total weight held by the top 1% of impressions (at least
            one impression); 0.01 when all weights are equal.
        mean_weight: ``(1/n) sum w``. Its expectation is 1 when the logging policy covers
            every action the target takes (see :func:`ips`); far from 1 (given its noise)
            means missing support, wrong propensities or clipping.
        clipped: how many weights were clipped at ``max_weight`` (0 without clipping).
    """

    estimator: str
    estimate: float
    low: float
    high: float
    standard_error: float
    confidence: float
    n: int
    effective_sample_size: float
    max_weight: float
    top_share: float
    mean_weight: float
    clipped: int = 0

    def __str__(self) -> str:
        percent = f"{100 * self.confidence:g}%"
        return (
            f"{self.estimator} {self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] "
            f"({percent} CI), n = {self.n:,}, effective n = {self.effective_sample_size:,.0f}, "
            f"max weight {self.max_weight:.3g}, top 1% hold {100 * self.top_share:.0f}% of "
            f"the weight, mean weight {self.mean_weight:.3f}"
            + (f", {self.clipped:,} clipped" if self.clipped else "")
        )


# --------------------------------------------------------------------------------------------
# Checks and weights
# --------------------------------------------------------------------------------------------


def _array(values: Any, name: str, meaning: str) -> np.ndarray:
    """``values`` as a 1-D finite float64 array (one number per logged impression)."""
    return checks.finite_vector(values, name, f"one {meaning} per logged impression")


def _same_length(arrays: dict[str, np.ndarray]) -> int:
    lengths = {name: array.size for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} {size}" for name, size in lengths.items())
        raise ValueError(
            f"the logged arrays must have one entry per impression, with the same length; "
            f"got {described}"
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("the log is empty: an estimate needs at least one logged impression")
    return n


def _check_probabilities(
    logging_propensities: np.ndarray, target_probabilities: np.ndarray
) -> None:
    bad = np.flatnonzero((logging_propensities <= 0) | (logging_propensities > 1))
    if bad.size:
        raise ValueError(
            f"logging_propensities must be in (0, 1] (the logging policy's probability of the "
            f"logged action, which it did take), got {bad.size} value(s) outside, e.g. "
            f"{[float(logging_propensities[i]) for i in bad[:3]]} at positions "
            f"{[int(i) for i in bad[:3]]}; a deterministic logging policy (propensity 1 for "
            "its action, 0 for the others) cannot be evaluated off-policy"
        )
    bad = np.flatnonzero((target_probabilities < 0) | (target_probabilities > 1))
    if bad.size:
        raise ValueError(
            f"target_probabilities must be in [0, 1] (the target policy's probability of the "
            f"logged action), got {bad.size} value(s) outside, e.g. "
            f"{[float(target_probabilities[i]) for i in bad[:3]]} at positions "
            f"{[int(i) for i in bad[:3]]}"
        )


def _check_groups(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    array = np.asarray(groups)
    if array.ndim != 1 or array.size != n:
        raise ValueError(
            f"groups must be 1-D with one label per logged impression ({n}), e.g. the visit "
            f"number of each impression; got shape {array.shape}"
        )
    return np.unique(array, return_inverse=True)[1]


def importance_weights(
    logging_propensities: Any, target_probabilities: Any, max_weight: float | None = None
) -> np.ndarray:
    """``w_i = pi_i / mu_i``, optionally clipped: ``min(w_i, max_weight)``; float64 (n,).

    Args:
        logging_propensities: ``mu_i`` in (0, 1], one per impression.
        target_probabilities: ``pi_i`` in [0, 1], one per impression.
        max_weight: ``None`` (no clipping) or a number > 0.

    Example:
        >>> importance_weights([0.5, 0.25, 0.1], [1.0, 0.0, 1.0], max_weight=5)
        array([2., 0., 5.])
    """
    mu = _array(logging_propensities, "logging_propensities", "propensity")
    pi = _array(target_probabilities, "target_probabilities", "target probability")
    _same_length({"logging_propensities": mu, "target_probabilities": pi})
    _check_probabilities(mu, pi)
    weights = pi / mu
    if max_weight is not None:
        limit = checks.positive_number(max_weight, "max_weight", "the largest weight kept")
        weights = np.minimum(weights, limit)
    return weights


def effective_sample_size(weights: Any) -> float:
    """``(sum w)^2 / sum w^2`` (Kish): the number of equally weighted impressions worth as much.

    Equal weights give ``n``; one nonzero weight gives 1; all zero weights give 0.

    Example:
        >>> effective_sample_size([1.0, 1.0, 1.0, 1.0])
        4.0
        >>> effective_sample_size([4.0, 0.0, 0.0, 0.0])
        1.0
    """
    array = _array(weights, "weights", "importance weight")
    squares = float((array**2).sum())
    return float(array.sum() ** 2 / squares) if squares > 0 else 0.0


def _top_share(weights: np.ndarray) -> float:
    total = weights.sum()
    if total <= 0:
        return 0.0
    top = max(1, int(np.ceil(0.01 * weights.size)))
    return float(np.partition(weights, weights.size - top)[weights.size - top :].sum() / total)


def _standard_error(terms: np.ndarray, groups: np.ndarray | None) -> float:
    """Standard error of ``mean(terms)``: ``sd / sqrt(n)``, or clustered by ``groups``.

    With groups ``g`` (e.g. the visits), the impressions of one group may be correlated; the
    clustered (sandwich) standard error is ``sqrt(G / (G - 1) * sum_g s_g^2) / n`` with
    ``s_g = sum_{i in g} (t_i - mean t)``.
    """
    n = terms.size
    if n < 2:
        return float("nan")
    centred = terms - terms.mean()
    if groups is None:
        return float(np.sqrt((centred**2).sum() / (n - 1) / n))
    sums = np.bincount(groups, weights=centred)
    g = sums.size
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * (sums**2).sum()) / n)


def _result(
    name: str,
    estimate: float,
    standard_error: float,
    weights: np.ndarray,
    confidence: float,
    max_weight: float | None,
    clipped: int,
) -> PolicyValue:
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    ess = effective_sample_size(weights)
    top_share = _top_share(weights)
    if ess < SMALL_EFFECTIVE_SAMPLE or top_share > HEAVY_TOP_SHARE:
        warnings.warn(
            f"{name}: the importance weights are extreme (effective sample size {ess:.1f} of "
            f"{weights.size} impressions; the top 1% hold {100 * top_share:.0f}% of the "
            f"weight; max weight {weights.max():.3g}); the estimate rests on few impressions "
            "and its interval is unreliable. Log more, use a more random logging policy, "
            "clip the weights (max_weight) or use snips/doubly_robust",
            ExtremeWeightsWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    label = name if max_weight is None else f"{name} clipped at {max_weight:g}"
    return PolicyValue(
        estimator=label,
        estimate=float(estimate),
        low=float(estimate - z * standard_error),
        high=float(estimate + z * standard_error),
        standard_error=float(standard_error),
        confidence=confidence,
        n=int(weights.size),
        effective_sample_size=ess,
        max_weight=float(weights.max()),
        top_share=top_share,
        mean_weight=float(weights.mean()),
        clipped=clipped,
    )


def _prepare(
    rewards: Any,
    logging_propensities: Any,
    target_probabilities: Any,
    max_weight: float | None,
    confidence: float,
    extra: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, float, dict[str, np.ndarray]]:
    r = _array(rewards, "rewards", "reward")
    mu = _array(logging_propensities, "logging_propensities", "propensity")
    pi = _array(target_probabilities, "target_probabilities", "target probability")
    others = {
        name: _array(values, name, "reward prediction") for name, values in (extra or {}).items()
    }
    _same_length({"rewards": r, "logging_propensities": mu, "target_probabilities": pi, **others})
    _check_probabilities(mu, pi)
    confidence = checks.number(
        confidence,
        "confidence",
        "the interval's nominal coverage",
        minimum=0,
        maximum=1,
        above_minimum=True,
        below_maximum=True,
    )
    weights = pi / mu
    clipped = 0
    if max_weight is not None:
        limit = checks.positive_number(max_weight, "max_weight", "the largest weight kept")
        clipped = int((weights > limit).sum())
        weights = np.minimum(weights, limit)
    return r, weights, clipped, confidence, others


# --------------------------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------------------------


def ips(
    rewards: Any,
    *,
    logging_propensities: Any,
    target_probabilities: Any,
    max_weight: float | None = None,
    confidence: float = 0.95,
    groups: Any = None,
) -> PolicyValue:
    """Inverse propensity scoring: ``V_IPS = (1/n) sum_i w_i r_i``, ``w_i = pi_i / mu_i``.

    **Why it is unbiased.** For one context ``x``, the logged action is drawn from ``mu``, so
    ``E_{a ~ mu}[pi(a|x)/mu(a|x) r(x, a)] = sum_{a: mu(a|x) > 0} pi(a|x) r(x, a)``, which is
    the target's expected reward ``sum_a pi(a|x) r(x, a)`` **provided ``mu(a|x) > 0`` wherever
    ``pi(a|x) > 0``** (the logging policy sometimes does whatever the target would do). Where
    it does not, the actions the target takes but the logger never does are missing from the
    sum: their reward is silently counted as 0 and nothing in the log shows it, except that
    ``mean_weight`` falls below 1 on average (``E[w] = sum_{a: mu > 0} pi(a|x)``). A logging
    policy that shows each item with a known probability, however small, avoids this.

    **Its variance** grows with the weights: an action the logger takes rarely (``mu = 0.001``)
    and the target always has weight 1,000, and the estimate moves by ``1000 r / n`` with that
    one impression. ``effective_sample_size`` says how many impressions the log is worth.

    **Clipping** (``max_weight = M``): ``w_i -> min(w_i, M)`` bounds the variance (each term is
    at most ``M max r``) at the price of a downward bias for non-negative rewards: the
    impressions with ``w > M`` count less than their share, so the clipped estimate is on
    average ``E[(w - M)^+ r]`` too low. It is the classic bias-variance trade: pick ``M`` so
    that few weights are clipped (see ``clipped``).

    **Interval.** The terms ``t_i = w_i r_i`` are i.i.d. when the impressions are, so the
    standard error is ``sd(t) / sqrt(n)`` (or clustered by ``groups``, see below) and the
    interval ``V +- z sd / sqrt(n)``. With heavy weights this normal interval is too narrow;
    heed the :class:`ExtremeWeightsWarning`.

    Args:
        rewards: (n,) observed rewards ``r_i`` (e.g. 1 = bought, 0 = not).
        logging_propensities: (n,) ``mu_i`` in (0, 1].
        target_probabilities: (n,) ``pi_i`` in [0, 1].
        max_weight: clip the weights at this value (``None``: no clipping).
        confidence: nominal coverage of the interval, in (0, 1).
        groups: optional (n,) labels (e.g. visit numbers) of impressions that may be
            correlated (the ``k`` positions of one slate); the standard error is then the
            clustered one, ``sqrt(G/(G-1) sum_g (sum_{i in g} (t_i - V))^2) / n``.

    Returns:
        A :class:`PolicyValue` (warns with :class:`ExtremeWeightsWarning` when the effective
        sample size is below 30 or the top 1% of impressions hold over half of the weight).

    Raises:
        ValueError: empty log, arrays of different lengths, NaN or infinite values,
            propensities outside (0, 1], target probabilities outside [0, 1], bad
            ``max_weight``, ``confidence`` or ``groups``.

    Example:
        >>> ips([1, 0, 1, 0], logging_propensities=[0.5, 0.5, 0.25, 0.25],
        ...     target_probabilities=[1, 0, 0.5, 1]).estimate  # (2*1 + 0 + 2*1 + 0) / 4
        1.0
    """
    r, weights, clipped, confidence, _ = _prepare(
        rewards, logging_propensities, target_probabilities, max_weight, confidence
    )
    terms = weights * r
    return _result(
        "IPS",
        terms.mean(),
        _standard_error(terms, _check_groups(groups, r.size)),
        weights,
        confidence,
        max_weight,
        clipped,
    )


def snips(
    rewards: Any,
    *,
    logging_propensities: Any,
    target_probabilities: Any,
    max_weight: float | None = None,
    confidence: float = 0.95,
    groups: Any = None,
) -> PolicyValue:
    """Self-normalised IPS (Swaminathan & Joachims 2015): ``V = sum_i w_i r_i / sum_i w_i``.

    IPS divides by ``n``; SNIPS divides by the sum of the weights, whose expectation is ``n``
    (under full support, see :func:`ips`). The ratio is **biased** (a ratio of two unbiased
    sums is not unbiased; the bias shrinks like ``1/n``) but has **lower variance**: when an
    impression with a huge weight happens to be in the log, it inflates numerator and
    denominator together, so the estimate stays a weighted average of observed rewards (within
    ``[min r, max r]``), where IPS can jump far outside. It is also invariant to adding a
    constant to every reward, which IPS is not. When the propensities are only known up to a
    common factor SNIPS is still right. Bias for variance: usually a good trade.

    **Interval** by the delta method: with ``W = (1/n) sum w``, ``V`` is a smooth function of
    two means and ``V - V_true ~ (1/n) sum_i w_i (r_i - V) / W``, so the standard error is
    ``sd(w (r - V)) / (W sqrt(n))`` (clustered by ``groups`` if given).

    Args, returns, raises: as :func:`ips`; additionally raises ``ValueError`` when every
    weight is 0 (the target never takes a logged action: the log says nothing about it).

    Example:
        >>> snips([1, 0, 1, 0], logging_propensities=[0.5, 0.5, 0.25, 0.25],
        ...       target_probabilities=[1, 0, 0.5, 1]).estimate  # (2 + 2) / (2 + 0 + 2 + 4)
        0.5
    """
    r, weights, clipped, confidence, _ = _prepare(
        rewards, logging_propensities, target_probabilities, max_weight, confidence
    )
    total = weights.sum()
    if total <= 0:
        raise ValueError(
            "every importance weight is 0: the target policy never takes any logged action "
            "(target_probabilities are all 0), so the log says nothing about its value"
        )
    estimate = float((weights * r).sum() / total)
    terms = weights * (r - estimate) / weights.mean()  # the delta method's linearisation
    return _result(
        "SNIPS",
        estimate,
        _standard_error(terms, _check_groups(groups, r.size)),
        weights,
        confidence,
        max_weight,
        clipped,
    )


def doubly_robust(
    rewards: Any,
    *,
    logging_propensities: Any,
    target_probabilities: Any,
    predicted_rewards: Any,
    expected_predicted_rewards: Any,
    max_weight: float | None = None,
    confidence: float = 0.95,
    groups: Any = None,
) -> PolicyValue:
    """Doubly robust (Dudik, Langford & Li 2011): the model's guess, corrected by IPS.

    ``V_DR = (1/n) sum_i [ q_i + w_i (r_i - r_hat_i) ]`` with a reward model ``r_hat(x, a)``:
    ``r_hat_i = r_hat(x_i, a_i)`` its prediction for the logged action and
    ``q_i = sum_a pi(a | x_i) r_hat(x_i, a)`` its expected prediction under the target (the
    "direct method" estimate of the impression's value).

    **When it is unbiased**: if the propensities are right (and cover the target's actions, as
    for :func:`ips`), the correction term has expectation ``E_pi[r] - E_pi[r_hat]``, so the
    sum is unbiased whatever the model (even a bad one). If instead the reward model is right
    (``r_hat = E[r | x, a]``), the correction has expectation 0 whatever the weights, and
    ``q_i`` alone is unbiased. Either one right suffices: "doubly robust". When both are wrong,
    the bias is the product of their errors.

    **Variance**: the weights multiply only the residuals ``r - r_hat``; a good model makes
    them small, so DR has lower variance than IPS while keeping IPS's unbiasedness. A model
    worse than predicting 0 can make it higher.

    **Interval**: the terms ``t_i = q_i + w_i (r_i - r_hat_i)`` are i.i.d., so
    ``V +- z sd(t) / sqrt(n)`` (clustered by ``groups`` if given). The model must not be fitted
    on the same log it is evaluated on (else the residuals are too small and the interval too
    narrow): fit it on earlier data or use cross-fitting.

    Args:
        rewards, logging_propensities, target_probabilities, max_weight, confidence, groups:
            as :func:`ips` (clipping here clips only the correction's weights).
        predicted_rewards: (n,) ``r_hat(x_i, a_i)``, the model's prediction for the logged
            action.
        expected_predicted_rewards: (n,) ``sum_a pi(a | x_i) r_hat(x_i, a)``; for a
            deterministic target showing ``a*``: ``r_hat(x_i, a*)``.

    Returns, raises: as :func:`ips` (also for NaN or length mismatches in the predictions).

    Example:
        >>> doubly_robust([1, 0], logging_propensities=[0.5, 0.5], target_probabilities=[1, 0],
        ...               predicted_rewards=[0.5, 0.5],
        ...               expected_predicted_rewards=[0.5, 0.5]).estimate  # (1.5 + 0.5) / 2
        1.0
    """
    r, weights, clipped, confidence, model = _prepare(
        rewards,
        logging_propensities,
        target_probabilities,
        max_weight,
        confidence,
        {
            "predicted_rewards": predicted_rewards,
            "expected_predicted_rewards": expected_predicted_rewards,
        },
    )
    terms = model["expected_predicted_rewards"] + weights * (r - model["predicted_rewards"])
    return _result(
        "DR",
        terms.mean(),
        _standard_error(terms, _check_groups(groups, r.size)),
        weights,
        confidence,
        max_weight,
        clipped,
    )
