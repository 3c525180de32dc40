"""Privacy, measured: what a recommender leaks, and differential privacy with its accountant.

Two questions the post raises as its "data privacy" challenge, each answered with a number:

* **What does a fitted model reveal about its training data?** A *membership-inference* attack
  (Shokri et al., 2017; the score-threshold form of Yeom et al., 2018): an attacker who can
  ask the model's score of a (user, item) pair guesses "this pair was in training" when the
  score is high. :func:`membership_auc` measures how well that works, as the area under the
  ROC curve of the scores of training pairs (members) against held-out pairs (non-members):
  0.5 is chance (the model reveals nothing), 1 is perfect recall of the training data.
* **How private is a model trained with noise?** The *Gaussian mechanism*: each contribution
  (a user's update) is clipped to L2 norm ``C`` and the sum is released with
  ``N(0, (sigma C)^2)`` noise added (:func:`clip_and_noise`); repeating it on a random sample
  of users at every step is DP-SGD / DP-FedAvg (Abadi et al., 2016; McMahan et al., 2018).
  Its privacy is tracked with Renyi differential privacy (Mironov, 2017): the *sampled
  Gaussian mechanism*'s RDP at integer orders (Mironov, Talwar and Zhang, 2019), summed over
  steps, then converted to an ``(epsilon, delta)`` guarantee (:func:`dp_epsilon`). The
  accountant reproduces the published numbers of TensorFlow Privacy's MNIST tutorial
  (``tests/test_privacy.py``).

Notation: ``q`` the probability that a contribution is sampled at a step, ``sigma`` the noise
multiplier (noise standard deviation / clipping norm), ``T`` the number of steps, ``alpha``
the Renyi order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import special, stats

from recutils import checks

#: Renyi orders tried by :func:`dp_epsilon`: the integers 2..63 (as TensorFlow Privacy's
#: tutorials used above 12; its fractional orders below 12 rarely change the result).
DEFAULT_ORDERS: tuple[int, ...] = tuple(range(2, 64))


# --------------------------------------------------------------------------------------------
# Membership inference
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipAttack:
    """How well a score-threshold attacker tells training pairs from held-out ones.

    Attributes:
        auc: P(score of a random member > score of a random non-member), ties counting 1/2.
        low, high: DeLong's interval of ``auc`` (a normal approximation with its exact
            variance estimate).
        advantage: the best threshold's true-positive rate minus false-positive rate
            (Yeom et al.'s membership advantage), in [0, 1].
        members, non_members: how many scores of each kind.
        confidence: the interval's nominal coverage.
    """

    auc: float
    low: float
    high: float
    advantage: float
    members: int
    non_members: int
    confidence: float = 0.95

    def __str__(self) -> str:
        return (
            f"AUC {self.auc:.3f} [{self.low:.3f}, {self.high:.3f}], advantage "
            f"{self.advantage:.3f} ({self.members} members, {self.non_members} non-members)"
        )


def _placements(members: np.ndarray, non_members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values: for each member the share of non-members below it, for each
    non-member the share of members above it (ties count 1/2), from mid-ranks."""
    m, n = members.size, non_members.size
    combined = stats.rankdata(np.r_[members, non_members])
    below = (combined[:m] - stats.rankdata(members)) / n
    above = 1.0 - (combined[m:] - stats.rankdata(non_members)) / m
    return below, above


def membership_auc(
    member_scores: Any, non_member_scores: Any, confidence: float = 0.95
) -> MembershipAttack:
    """The score-threshold membership-inference attack, measured.

    ``AUC = P(s_m > s_n) + P(s_m = s_n) / 2`` for a member score ``s_m`` and a non-member
    score ``s_n`` drawn at random (the Mann-Whitney ``U`` statistic over ``n_m * n_n``). Its
    interval is DeLong's (DeLong, DeLong and Clarke-Pearson, 1988): with ``V_i`` the share of
    non-members below member ``i`` and ``W_j`` the share of members above non-member ``j``,
    ``AUC = mean(V)``, ``Var(AUC) = var(V) / n_m + var(W) / n_n``, and the interval is
    ``AUC +- z * sqrt(Var)`` (clipped to [0, 1]): exact in its computation and fast, where a
    bootstrap of tens of thousands of scores takes seconds.

    Args:
        member_scores: the model's scores of pairs it was trained on, 1-D.
        non_member_scores: its scores of pairs from the same users and distribution that it
            was not trained on (e.g. a random share of pairs held out before fitting), 1-D.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        A :class:`MembershipAttack`.

    Example:
        >>> attack = membership_auc([0.9, 0.8, 0.7], [0.1, 0.75, 0.2])
        >>> round(attack.auc, 3), round(attack.advantage, 3)
        (0.889, 0.667)
    """
    members = checks.finite_vector(member_scores, "member_scores", "one score per pair")
    non_members = checks.finite_vector(non_member_scores, "non_member_scores", "one score per pair")
    confidence = checks.number(
        confidence,
        "confidence",
        "coverage of the interval",
        minimum=0,
        maximum=1,
        above_minimum=True,
        below_maximum=True,
    )
    below, above = _placements(members, non_members)
    auc = float(below.mean())
    variance = 0.0
    if members.size > 1:
        variance += below.var(ddof=1) / members.size
    if non_members.size > 1:
        variance += above.var(ddof=1) / non_members.size
    half_width = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(variance)
    labels = np.r_[np.ones(members.size), np.zeros(non_members.size)]
    scores = np.r_[members, non_members]
    order = np.argsort(-scores, kind="stable")
    true_positive = np.cumsum(labels[order]) / members.size
    false_positive = np.cumsum(1 - labels[order]) / non_members.size
    distinct = np.r_[scores[order][1:] != scores[order][:-1], True]  # a threshold per value
    advantage = float(max(0.0, (true_positive - false_positive)[distinct].max()))
    return MembershipAttack(
        auc=auc,
        low=float(max(0.0, auc - half_width)),
        high=float(min(1.0, auc + half_width)),
        advantage=advantage,
        members=members.size,
        non_members=non_members.size,
        confidence=confidence,
    )


def pair_scores(model: Any, pairs: Any, batch_users: int = 512) -> np.ndarray:
    """The model's score of every stored (user, item) pair of ``pairs``, in CSR order.

    Args:
        model: a fitted recommender (``recutils.models``: ``score(users)`` gives each user's
            score of every item).
        pairs: scipy.sparse (n_users, n_items); its stored entries are the pairs to score.
        batch_users: users scored at once (memory: ``batch_users * n_items`` floats).

    Returns:
        float64 array with one score per stored entry (``pairs.tocsr()`` order).
    """
    import scipy.sparse as sp

    if not sp.issparse(pairs):
        raise TypeError(f"pairs must be a scipy.sparse matrix, got {type(pairs).__name__}")
    matrix = sp.csr_matrix(pairs)
    matrix.sort_indices()
    batch_users = checks.positive_int(batch_users, "batch_users", "users scored at once")
    rows = np.flatnonzero(np.diff(matrix.indptr))
    out = np.empty(matrix.nnz, dtype=np.float64)
    for start in range(0, rows.size, batch_users):
        users = rows[start : start + batch_users]
        scores = np.asarray(model.score(users), dtype=np.float64)
        for position, user in enumerate(users):
            lo, hi = matrix.indptr[user], matrix.indptr[user + 1]
            out[lo:hi] = scores[position, matrix.indices[lo:hi]]
    return out


def membership_attack(
    model: Any,
    train: Any,
    held_out_fraction: float = 0.2,
    seed: int = 0,
    **side_data: Any,
) -> MembershipAttack:
    """Fit ``model`` on part of ``train`` and attack it with the rest.

    A random ``held_out_fraction`` of each user's pairs is held out
    (:func:`recutils.splitting.holdout_split`); the model is fitted on the others (the
    members). The attack compares the scores of the held-out pairs (non-members, the same
    users and distribution) with those of as many members drawn at random: a recommender that
    *generalises* scores unseen liked items high too, so only what it memorised beyond that
    separates the two (AUC above 0.5).

    Args:
        model: an unfitted recommender of ``recutils.models`` (it is fitted here).
        train: scipy.sparse (n_users, n_items) interactions.
        held_out_fraction: share of each user's pairs held out, in (0, 1).
        seed: seed of the hold-out and of the member sample.
        **side_data: passed to ``fit`` (e.g. ``item_vectors=``).

    Returns:
        :func:`membership_auc` of the members' against the non-members' scores.
    """
    from recutils.models.base import as_train_matrix
    from recutils.splitting import holdout_split

    matrix = as_train_matrix(train)
    fraction = checks.number(
        held_out_fraction,
        "held_out_fraction",
        "share of pairs held out",
        minimum=0,
        maximum=1,
        above_minimum=True,
        below_maximum=True,
    )
    kept, held = holdout_split(matrix, fraction, seed)
    if held.nnz == 0:
        raise ValueError("no pair was held out: users need at least 2 pairs each")
    model.fit(kept, **side_data)
    non_members = pair_scores(model, held)
    members = pair_scores(model, kept)
    rng = np.random.default_rng(seed)
    sample = rng.choice(members.size, size=min(members.size, non_members.size), replace=False)
    return membership_auc(members[sample], non_members)


# --------------------------------------------------------------------------------------------
# The Gaussian mechanism and its accountant
# --------------------------------------------------------------------------------------------


def clip_and_noise(
    contributions: Any, clip_norm: float, noise_multiplier: float, rng: np.random.Generator
) -> np.ndarray:
    """The Gaussian mechanism on a sum: ``sum_j clip(g_j) + N(0, (sigma C)^2 I)``.

    ``clip(g) = g * min(1, C / ||g||_2)``: each contribution's L2 norm is at most ``C``, so
    adding or removing one contribution moves the sum by at most ``C`` (its sensitivity), and
    noise of standard deviation ``sigma C`` per coordinate makes the release
    ``(alpha, alpha / (2 sigma^2))``-RDP (Mironov, 2017).

    Args:
        contributions: (n, ...) array, one contribution per row (flattened for its norm); or
            an (n, d) scipy sparse matrix, one contribution per row (e.g. users' 0/1 rows of
            products: the sum is computed without a dense copy, the same numbers to rounding).
        clip_norm: ``C`` > 0.
        noise_multiplier: ``sigma`` >= 0 (0: clipping only, no privacy).
        rng: the random generator of the noise (the same draws for both kinds of input).

    Returns:
        float64 array of one contribution's shape: the noisy sum.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> clip_and_noise(np.array([[3.0, 4.0], [0.3, 0.4]]), 1.0, 0.0, rng)
        array([0.9, 1.2])
    """
    sparse = sp.issparse(contributions)
    if sparse:  # summed without a dense copy
        array = sp.csr_matrix(contributions, dtype=np.float64)
    else:
        array = np.asarray(contributions, dtype=np.float64)
    if array.ndim < 2 or array.shape[0] == 0:
        raise ValueError(
            f"contributions must be (n, ...) with one contribution per row, got {array.shape}"
        )
    if not np.isfinite(array.data if sparse else array).all():
        raise ValueError("contributions must be finite")
    clip_norm = checks.positive_number(clip_norm, "clip_norm", "the L2 bound C")
    sigma = checks.non_negative_number(noise_multiplier, "noise_multiplier", "noise std / C")
    if sparse:
        flat = array
        norms = np.sqrt(np.asarray(flat.multiply(flat).sum(axis=1)).ravel())
    else:
        flat = array.reshape(array.shape[0], -1)
        norms = np.linalg.norm(flat, axis=1)
    factors = np.minimum(1.0, clip_norm / np.maximum(norms, np.finfo(float).tiny))
    if sparse:
        total = np.asarray((sp.diags(factors) @ flat).sum(axis=0)).ravel()
    else:
        total = (flat * factors[:, None]).sum(axis=0)
    if sigma > 0:
        total = total + rng.normal(0.0, sigma * clip_norm, size=total.shape)
    return total.reshape(array.shape[1:])


def _log_a(q: float, sigma: float, alpha: int) -> float:
    """``log A_alpha`` of the sampled Gaussian mechanism at an integer order (Mironov, Talwar
    and Zhang, 2019, section 3.3):
    ``A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))``."""
    if q == 1.0:
        return alpha * (alpha - 1) / (2 * sigma**2)
    k = np.arange(alpha + 1, dtype=np.float64)
    log_binomial = special.gammaln(alpha + 1) - special.gammaln(k + 1)
    log_binomial -= special.gammaln(alpha - k + 1)
    terms = log_binomial + (alpha - k) * np.log1p(-q) + k * np.log(q) + (k * k - k) / (2 * sigma**2)
    return float(special.logsumexp(terms))


def _orders(orders: Sequence[int]) -> list[int]:
    values = list(orders)
    if not values or not all(checks.is_integer(a) and a >= 2 for a in values):
        raise ValueError(f"orders must be integers >= 2, got {orders!r}")
    return [int(a) for a in values]


def sampled_gaussian_rdp(
    sampling_rate: float,
    noise_multiplier: float,
    steps: int,
    orders: Sequence[int] = DEFAULT_ORDERS,
) -> np.ndarray:
    """Renyi DP of ``steps`` compositions of the sampled Gaussian mechanism, per order.

    ``RDP(alpha) = T * log(A_alpha) / (alpha - 1)``, with ``A_alpha`` as in Mironov, Talwar and
    Zhang (2019) for integer orders; with ``q = 1`` (every contribution at every step) it is
    the plain Gaussian mechanism's ``T * alpha / (2 sigma^2)``. RDP adds up over steps, which
    is why it is the accountant of iterative training.

    Args:
        sampling_rate: ``q`` in (0, 1], each contribution's chance to be in a step (Poisson
            sampling: batch size / data size).
        noise_multiplier: ``sigma`` > 0.
        steps: ``T``, a positive integer.
        orders: integer orders ``alpha`` >= 2.

    Returns:
        float64 array, the RDP at each order.
    """
    q = checks.number(
        sampling_rate,
        "sampling_rate",
        "chance to be sampled",
        minimum=0,
        maximum=1,
        above_minimum=True,
    )
    sigma = checks.positive_number(noise_multiplier, "noise_multiplier", "noise std / C")
    steps = checks.positive_int(steps, "steps", "releases of the mechanism")
    values = [steps * _log_a(q, sigma, alpha) / (alpha - 1) for alpha in _orders(orders)]
    return np.asarray(values, dtype=np.float64)


def epsilon_from_rdp(
    rdp: Any, delta: float, orders: Sequence[int] = DEFAULT_ORDERS
) -> tuple[float, int]:
    """``(epsilon, best order)`` of an ``(epsilon, delta)`` guarantee from RDP values.

    ``epsilon = min over alpha of RDP(alpha) + log(1 / delta) / (alpha - 1)`` (Mironov, 2017,
    Proposition 3): the classic conversion, the one TensorFlow Privacy's tutorials report.
    Later conversions (Balle et al., 2020) give a slightly smaller epsilon.
    """
    values = np.asarray(rdp, dtype=np.float64)
    alphas = np.asarray(_orders(orders), dtype=np.float64)
    if values.shape != alphas.shape:
        raise ValueError(f"rdp has {values.shape} values for {alphas.size} orders")
    delta = checks.number(
        delta,
        "delta",
        "the failure probability",
        minimum=0,
        maximum=1,
        above_minimum=True,
        below_maximum=True,
    )
    epsilons = values + np.log(1.0 / delta) / (alphas - 1.0)
    best = int(np.argmin(epsilons))
    return float(epsilons[best]), int(alphas[best])


def dp_epsilon(
    sampling_rate: float,
    noise_multiplier: float,
    steps: int,
    delta: float,
    orders: Sequence[int] = DEFAULT_ORDERS,
) -> float:
    """The epsilon of ``steps`` sampled Gaussian releases at failure probability ``delta``.

    :func:`sampled_gaussian_rdp` then :func:`epsilon_from_rdp`. Smaller is more private: a
    model is ``(epsilon, delta)``-DP if adding or removing one contribution (one user's data,
    for user-level DP) changes the probability of any outcome by a factor of at most
    ``exp(epsilon)``, except with probability ``delta``.

    Example (TensorFlow Privacy's MNIST tutorial: 60,000 examples, batches of 256, noise
    1.12, 60 epochs, delta 1e-5; published epsilon 2.92):

        >>> round(dp_epsilon(256 / 60_000, 1.12, 60 * (60_000 // 256), 1e-5), 2)
        2.92
    """
    rdp = sampled_gaussian_rdp(sampling_rate, noise_multiplier, steps, orders)
    return epsilon_from_rdp(rdp, delta, orders)[0]
