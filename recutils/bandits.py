"""Bandits: policies that learn online which products to show, by trying them.

A static model is fitted on yesterday's log and shows what it learned. A **bandit** learns
from its own impressions: every visit it shows ``k`` items, sees which were clicked or bought
(:class:`recutils.simulator.Feedback`) and updates its estimates. Showing only the items it
believes best (*exploitation*) never tests the others; showing others (*exploration*) costs
purchases now to know more later. Three classic ways to trade the two, each a
:class:`recutils.simulator.Policy`:

* :class:`EpsilonGreedy`: a purchase-rate estimate per item; the top ``k`` by estimate, each
  slot replaced by a random item with probability ``epsilon``. Known propensities, so its log
  can evaluate other policies (:mod:`recutils.off_policy`).
* :class:`LinUCB` (Li, Chu, Langford & Schapire 2010): one ridge regression of the reward on
  item (and user) features; the top ``k`` by predicted reward plus an uncertainty bonus,
  ``x . theta + alpha sqrt(x A^-1 x)`` ("optimism in the face of uncertainty").
* :class:`ThompsonSampling` (Agrawal & Goyal 2013): the same regression with a Gaussian
  posterior; each visit draws one ``theta`` from it and shows the top ``k`` under that draw
  (an item is shown as often as it is plausibly the best).

**Features.** The linear bandits describe item ``i`` by its MiniLM text vector
(:attr:`recutils.simulator.ObservedShop.item_vectors`), reduced by a PCA to ``dims`` numbers
(:class:`recutils.encoder_compression.PcaProjection`) so that the ``D x D`` matrices stay cheap,
with a constant 1 in front: ``z_i = [1, P v_i]``. With ``features="items+user"`` the user ``u``
is described by ``m_u``, the normalised weighted mean of the reduced vectors of the items in
their training history (``ObservedShop.train``; zeros for a user without history), and the
features of the pair are ``x_ui = [z_i, (P v_i) * m_u]`` (elementwise product): the model can
learn "items like the user's history sell" direction by direction. ``popularity=True`` adds
``log(1 + training users of i) / log(1 + max)`` after the 1: text says what an item is, not how
much it appeals, and the log's popularity is the cheapest proxy a shop has for that.

**Why one shared model, not one per item** (Li et al.'s "disjoint" LinUCB): the shop has
thousands of items and a simulated week shows most of them only a handful of times; a model
per item would learn almost nothing about each, while one ``theta`` over shared features
learns from every impression and generalises to items never shown (new products included).

**Position bias.** A shown item at position 10 is examined less often than one at position 1,
so its "no purchase" says less. By default every shown item counts as one full observation
(which underestimates items shown low). ``examination`` (the probability that each position is
looked at, e.g. from a click model, or :func:`recutils.simulator.position_bias`) turns on
the position-based model: the reward at position ``j`` is modelled as ``e_j x . theta``
(linear bandits) and counts as ``e_j`` of a show (:class:`EpsilonGreedy`).

**Products not on sale yet** (``launch_time`` after the visit, when the catalog table has that
column: :meth:`recutils.simulator.ObservedShop.launched`) are never shown; new products
become candidates the moment they launch (the linear bandits score them from their text at
once; :class:`EpsilonGreedy` starts them at its prior).

**Items the user already bought** may be shown again by default (as a simulated shop allows;
a real shop would usually hide durable goods it knows were bought and keep consumables);
``exclude_seen=True`` never shows the items of the user's training row.

All randomness comes from the ``rng`` passed to ``choose``: the same seed gives the same
slates. Example::

    policy = LinUCB(alpha=0.1, features="items+user")
    policy.start(observed)                  # an ObservedShop
    slate = policy.choose(visit, k=10, rng=np.random.default_rng(0))
    policy.learn(visit, slate, feedback)    # the shop's answer
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recutils import checks, text
from recutils.encoder_compression import PcaProjection
from recutils.environment import DEFAULT_SEED
from recutils.simulator import Feedback, ObservedShop, Policy, Slate, Visit

#: The rewards a bandit can learn from: a purchase or a click of a shown item.
REWARDS = ("purchase", "click")

#: The feature sets of the linear bandits (see the module docstring).
FEATURES = ("items", "items+user")


def top_k_random_ties(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``k`` largest ``scores``, best first; equal scores in random order.

    Random rather than lowest-index tie-breaking: at the start every item of a bandit has the
    same estimate, and the lowest index would always show the same first items.

    Args:
        scores: (n,) float, no NaN, ``-inf`` for items never to show; ``k <= n``.
        k: how many items.
        rng: the source of the tie-breaking.

    Returns:
        int64 (k,).
    """
    n = scores.size
    kth = np.partition(scores, n - k)[n - k]  # the k-th largest score
    candidates = np.flatnonzero(scores >= kth)  # the top k plus anything tied with the k-th
    order = np.lexsort((rng.random(candidates.size), -scores[candidates]))
    return candidates[order[:k]].astype(np.int64)


def _examination(values: Any) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(
            "examination must be None or a 1-D sequence of finite numbers, one per position "
            f"(the probability that the position is looked at), got {values!r}"
        )
    if ((array <= 0) | (array > 1)).any():
        raise ValueError(
            f"examination must be probabilities in (0, 1], one per position, got {values!r}"
        )
    return array


class _SlateBandit(Policy):
    """What every bandit here shares: the reward, the exclusions, the checks, the learning."""

    def __init__(
        self, *, reward: str = "purchase", exclude_seen: bool = False, examination: Any = None
    ) -> None:
        self.reward = checks.one_of(reward, "reward", REWARDS, "what counts as a success")
        self.exclude_seen = checks.boolean(
            exclude_seen, "exclude_seen", "never show the items of the user's training row"
        )
        self.examination = _examination(examination)

    def start(self, observed: ObservedShop) -> None:
        super().start(observed)
        self.seen_ = checks.sparse_matrix(observed.train, "observed.train")
        self.n_users_, self.n_items_ = self.seen_.shape
        # a catalog with launch times: only the products on sale at a visit may be shown
        self.launches_ = "launch_time" in observed.items.columns
        self._start(observed)

    def _start(self, observed: ObservedShop) -> None:
        """Subclasses set up their estimates here."""

    def _flags(self) -> str:
        """The non-default shared options, for ``repr``."""
        flags = ", exclude_seen=True" if self.exclude_seen else ""
        return flags + (", examination=[...]" if self.examination is not None else "")

    def _check_visit(self, visit: Visit, k: Any) -> tuple[int, np.ndarray]:
        """``k`` as an int and the items that may not be shown at ``visit`` (int64, maybe
        empty): those not on sale yet and, with ``exclude_seen``, the user's training items."""
        if not hasattr(self, "seen_"):
            raise RuntimeError(
                f"{type(self).__name__} has not started: call start(observed_shop) first"
            )
        k = checks.positive_int(k, "k", "items per slate")
        if k > self.n_items_:
            raise ValueError(f"k ({k}) is larger than the catalog ({self.n_items_} items)")
        if self.examination is not None and k > self.examination.size:
            raise ValueError(
                f"examination gives {self.examination.size} positions but k is {k}; give one "
                "examination probability per position"
            )
        user = checks.integer(visit.user, "visit.user", minimum=0, maximum=self.n_users_ - 1)
        if not self.launches_ and not self.exclude_seen:
            return k, np.empty(0, dtype=np.int64)
        blocked = np.zeros(self.n_items_, dtype=bool)
        if self.launches_:
            blocked |= ~self.observed_.launched(visit.time)
        if self.exclude_seen:
            blocked[self.seen_.indices[self.seen_.indptr[user] : self.seen_.indptr[user + 1]]] = (
                True
            )
        allowed = self.n_items_ - int(blocked.sum())
        if allowed < k:
            raise ValueError(
                f"only {allowed} of {self.n_items_} items may be shown to user {user} at "
                f"{visit.time} (on sale{', not in their training row' * self.exclude_seen}), "
                f"fewer than k={k}; use a smaller k"
                + (" or exclude_seen=False" if self.exclude_seen else "")
            )
        return k, np.flatnonzero(blocked)

    def learn(self, visit: Visit, slate: Slate, feedback: Feedback) -> None:
        """Update the estimates with the ``k`` shown items and their rewards."""
        items = np.asarray(slate.items, dtype=np.int64)
        outcome = feedback.purchased if self.reward == "purchase" else feedback.clicked
        outcome = np.asarray(outcome)
        if outcome.shape != items.shape or items.ndim != 1:
            raise ValueError(
                f"feedback has shape {outcome.shape} but the slate shows {items.shape} items; "
                "give one click and one purchase flag per shown item"
            )
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise ValueError(f"slate.items must be item columns 0..{self.n_items_ - 1}")
        if self.examination is None:
            weights = np.ones(items.size)
        elif items.size > self.examination.size:
            raise ValueError(f"examination has fewer positions than the slate ({items.size})")
        else:
            weights = self.examination[: items.size]
        self._update(visit, items, outcome.astype(np.float64), weights)

    @abstractmethod
    def _update(
        self, visit: Visit, items: np.ndarray, rewards: np.ndarray, weights: np.ndarray
    ) -> None:
        """Learn from ``rewards`` (k,) of ``items`` (k,) shown at positions with examination
        ``weights`` (k,)."""


# --------------------------------------------------------------------------------------------
# Epsilon-greedy
# --------------------------------------------------------------------------------------------


class EpsilonGreedy(_SlateBandit):
    """Per-item reward rates; the top ``k``, each slot replaced at random with prob. ``epsilon``.

    **Estimate** of item ``i``'s rate (the posterior mean under a Beta(a_i, b_i) prior):
    ``p_i = (a_i + s_i) / (a_i + b_i + n_i)``, with ``s_i`` rewards in ``n_i`` shows (with
    ``examination``, a show at position ``j`` counts ``e_j``). The default prior Beta(1, 20)
    (mean 1/21, worth 21 shows) is *optimistic* for a shop where a few percent of shows sell:
    an unshown item looks better than one shown 50 times without a sale, so even
    ``epsilon=0`` works its way through the catalog once. ``warm_start=True`` sets each
    item's prior mean proportional to ``1 + its number of training users`` (scaled so the
    average prior mean stays ``a / (a + b)``, capped at 0.99), with the same strength ``a + b``:
    the log's popularity as a starting guess.

    **The slate**: the greedy list ``g_1..g_k`` (top ``k`` estimates, ties in random order);
    then each position independently, with probability ``epsilon``, is given instead an item
    drawn uniformly from the allowed items outside the greedy list (distinct, without
    replacement). ``epsilon=0`` is the pure greedy policy.

    **Propensities** (:attr:`Slate.propensities`, exact): item ``x`` appears at position ``j``
    with probability ``(1 - epsilon) [score_x = score(g_j)] / T_x + epsilon (1 - m_x / T_x) /
    (N - k)``, where ``T_x`` is the number of allowed items with ``x``'s estimate (1 without
    ties), ``m_x`` how many of them the greedy list holds, and ``N`` the number of allowed items.

    Args:
        epsilon: the exploration probability per slot, in [0, 1].
        reward: "purchase" or "click": what counts as a success.
        prior: (a, b) > 0 of the Beta prior of every item's rate.
        warm_start: prior means from the training log's popularity (see above).
        exclude_seen: never show the items in the user's training row.
        examination: optional (>= k,) probabilities that each position is examined, e.g.
            ``recutils.simulator.position_bias(k)``.

    Example::

        policy = EpsilonGreedy(epsilon=0.1)
        policy.start(observed)
        slate = policy.choose(visit, k=10, rng=rng)  # slate.propensities: (10,)
    """

    name: ClassVar[str] = "epsilon-greedy"

    def __init__(
        self,
        epsilon: float = 0.1,
        *,
        reward: str = "purchase",
        prior: tuple[float, float] = (1.0, 20.0),
        warm_start: bool = False,
        exclude_seen: bool = False,
        examination: Any = None,
    ) -> None:
        super().__init__(reward=reward, exclude_seen=exclude_seen, examination=examination)
        self.epsilon = checks.fraction(
            epsilon, "epsilon", "the probability of a random item in each slot", one=True
        )
        if not isinstance(prior, (tuple, list)) or len(prior) != 2:
            raise ValueError(f"prior must be a pair (a, b) of the Beta prior, got {prior!r}")
        self.prior = (
            checks.positive_number(prior[0], "prior[0]", "the prior's successes a"),
            checks.positive_number(prior[1], "prior[1]", "the prior's failures b"),
        )
        self.warm_start = checks.boolean(warm_start, "warm_start", "prior from popularity")

    def __repr__(self) -> str:
        warm = ", warm_start=True" if self.warm_start else ""
        return (
            f"EpsilonGreedy(epsilon={self.epsilon:g}, reward={self.reward!r}{warm}{self._flags()})"
        )

    def _start(self, observed: ObservedShop) -> None:
        a, b = self.prior
        strength = a + b
        if self.warm_start:
            users = np.bincount(self.seen_.indices, minlength=self.n_items_).astype(np.float64)
            mean = np.minimum(a / strength * (users + 1) / (users + 1).mean(), 0.99)
        else:
            mean = np.full(self.n_items_, a / strength)
        self.successes_ = strength * mean  # a_i + s_i
        self.trials_ = np.full(self.n_items_, strength)  # a_i + b_i + n_i

    @property
    def estimates_(self) -> np.ndarray:
        """(n_items,) float64: each item's current rate estimate."""
        return self.successes_ / self.trials_

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        k, excluded = self._check_visit(visit, k)
        scores = self.estimates_
        scores[excluded] = -np.inf
        allowed = self.n_items_ - excluded.size
        if self.epsilon > 0 and allowed - k < k:
            raise ValueError(
                f"EpsilonGreedy needs at least 2k = {2 * k} items to show (k greedy ones and up "
                f"to k others to explore), the user has {allowed}; use a smaller k"
            )
        greedy = top_k_random_ties(scores, k, rng)
        items = greedy.copy()
        explore = np.flatnonzero(rng.random(k) < self.epsilon)
        if explore.size:
            outside = np.isfinite(scores)
            outside[greedy] = False
            items[explore] = rng.choice(np.flatnonzero(outside), explore.size, replace=False)
        shown = scores[items]
        ties = (scores[None, :] == shown[:, None]).sum(axis=1)  # T_x
        in_greedy = (scores[greedy][None, :] == shown[:, None]).sum(axis=1)  # m_x
        at_position = shown == scores[greedy]  # x's tie group covers position j
        propensities = (1 - self.epsilon) * at_position / ties
        if self.epsilon > 0:
            propensities += self.epsilon * (1 - in_greedy / ties) / (allowed - k)
        return Slate(items, propensities)

    def _update(
        self, visit: Visit, items: np.ndarray, rewards: np.ndarray, weights: np.ndarray
    ) -> None:
        self.successes_[items] += rewards
        self.trials_[items] += weights


# --------------------------------------------------------------------------------------------
# The linear bandits
# --------------------------------------------------------------------------------------------


class _LinearBandit(_SlateBandit):
    """A ridge regression of the reward on pair features, updated after every visit.

    ``A = ridge I + sum x x^T`` (D x D), ``b = sum x r`` (D,), ``theta = A^-1 b``. ``A^-1`` is
    kept up to date by the Woodbury identity, one rank-k update per visit,
    ``A^-1 <- A^-1 - A^-1 X^T (I_k + X A^-1 X^T)^-1 X A^-1`` (X: the k shown items' features),
    and recomputed from ``A`` every ``refresh`` visits against rounding drift.

    The pair features are a linear map of the item features, ``x_ui = P_u z_i`` (``P_u = I``
    for "items"; ``[I; 0 | diag(m_u)]`` for "items+user"), so a visit scores all items with
    ``z_i . (P_u^T theta)`` and ``z_i^T (P_u^T A^-1 P_u) z_i``: ``n_items x (dims+1)^2`` work
    whatever the feature set.
    """

    def __init__(
        self,
        *,
        features: str = "items",
        dims: int | None = 16,
        popularity: bool = False,
        ridge: float = 1.0,
        reward: str = "purchase",
        exclude_seen: bool = False,
        examination: Any = None,
        refresh: int = 1000,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(reward=reward, exclude_seen=exclude_seen, examination=examination)
        self.features = checks.one_of(features, "features", FEATURES, "what describes a pair")
        self.dims = checks.optional_positive_int(dims, "dims", "numbers per item vector")
        self.popularity = checks.boolean(popularity, "popularity", "a popularity feature")
        self.ridge = checks.positive_number(ridge, "ridge", "the prior precision of theta")
        self.refresh = checks.positive_int(refresh, "refresh", "visits between exact inverses")
        self.seed = checks.seed(seed)

    def _start(self, observed: ObservedShop) -> None:
        if observed.item_vectors is None:
            raise ValueError(
                f"{type(self).__name__} needs item vectors: observed.item_vectors is None; "
                "build the ObservedShop with the catalog's text vectors "
                "(recutils.text.encode_texts(item_texts(items)))"
            )
        vectors = checks.dense_vectors(observed.item_vectors, "observed.item_vectors")
        if vectors.shape[0] != self.n_items_:
            raise ValueError(
                f"observed.item_vectors has {vectors.shape[0]} rows but the catalog has "
                f"{self.n_items_} items (columns of observed.train); give one vector per item"
            )
        if self.dims is None or self.dims >= vectors.shape[1]:
            reduced = vectors
        elif vectors.shape[1] == text.EMBEDDING_DIM:
            self.projection_ = PcaProjection(self.dims, seed=self.seed).fit(vectors)
            reduced = self.projection_.transform(vectors)
        else:
            raise ValueError(
                f"observed.item_vectors have {vectors.shape[1]} columns; the PCA here reduces "
                f"the encoder's {text.EMBEDDING_DIM}; reduce them yourself or pass dims=None"
            )
        reduced = reduced.astype(np.float64)
        d = reduced.shape[1]
        lead = [np.ones(self.n_items_)]
        if self.popularity:
            users = np.bincount(self.seen_.indices, minlength=self.n_items_)
            lead.append(np.log1p(users) / max(np.log1p(users.max()), 1.0))
        self.leading_ = len(lead)
        #: (n_items, leading + d): 1, [popularity,] and the reduced text vector of every item.
        self.item_features_ = np.hstack([np.column_stack(lead), reduced])
        if self.features == "items+user":
            history = sp.csr_array(self.seen_, dtype=np.float64) @ reduced
            norms = np.linalg.norm(history, axis=1, keepdims=True)
            #: (n_users, leading + d): zeros then the user's normalised mean history vector.
            self.user_features_ = np.hstack(
                [np.zeros((self.n_users_, self.leading_)), history / np.maximum(norms, 1e-12)]
            )
            size = self.leading_ + 2 * d
        else:
            size = self.leading_ + d
        self.A_ = self.ridge * np.eye(size)
        self.A_inverse_ = np.eye(size) / self.ridge
        self.b_ = np.zeros(size)
        self.theta_ = np.zeros(size)
        self.updates_ = 0

    def _options(self) -> str:
        popularity = ", popularity=True" if self.popularity else ""
        return (
            f"features={self.features!r}, dims={self.dims}{popularity}, "
            f"reward={self.reward!r}{self._flags()}"
        )

    def _map(self, user: int) -> np.ndarray:
        """``P_u`` (D, d + 1): pair features ``x_ui = P_u z_i``."""
        z = self.item_features_.shape[1]
        if self.features == "items":
            return np.eye(z)
        return np.vstack([np.eye(z), np.diag(self.user_features_[user])[self.leading_ :]])

    def pair_features(self, user: int, items: Any) -> np.ndarray:
        """(len(items), D) features ``x_ui`` of ``user`` with each of ``items``."""
        z = self.item_features_[np.asarray(items, dtype=np.int64)]
        return z @ self._map(user).T

    def _update(
        self, visit: Visit, items: np.ndarray, rewards: np.ndarray, weights: np.ndarray
    ) -> None:
        x = weights[:, None] * self.pair_features(visit.user, items)  # (k, D)
        self.A_ += x.T @ x
        self.b_ += x.T @ rewards
        self.updates_ += 1
        if self.updates_ % self.refresh == 0:
            self.A_inverse_ = scipy.linalg.cho_solve(
                scipy.linalg.cho_factor(self.A_), np.eye(self.A_.shape[0])
            )
        else:
            ax = self.A_inverse_ @ x.T  # (D, k)
            inner = np.eye(x.shape[0]) + x @ ax  # (k, k)
            self.A_inverse_ -= ax @ np.linalg.solve(inner, ax.T)
        self.theta_ = self.A_inverse_ @ self.b_

    def _slate(self, scores: np.ndarray, excluded: np.ndarray, k: int, rng: Any) -> Slate:
        scores[excluded] = -np.inf
        return Slate(top_k_random_ties(scores, k, rng))


class LinUCB(_LinearBandit):
    """Linear upper confidence bound (Li, Chu, Langford & Schapire 2010), one shared model.

    Each visit of user ``u`` shows the ``k`` items with the largest
    ``score_i = x_ui . theta + alpha sqrt(x_ui^T A^-1 x_ui)``: the ridge regression's predicted
    reward plus ``alpha`` times its standard deviation (in units of the reward noise). Items
    whose features have been seen little get a large bonus and are tried; the bonus shrinks
    like ``1 / sqrt(impressions along x)``. ``alpha = 0`` is the greedy regression.

    The scale of ``alpha``: the bound is in units of the noise of one reward, which for a
    purchase with rate ``p`` is ``sqrt(p (1 - p))``: about 0.1 at ``p = 1%``. Li et al.'s
    theoretical ``alpha = 1 + sqrt(ln(2/delta) / 2)`` assumes unit noise and explores far too
    much at shop rates; 0.1 is a sensible start.

    Deterministic given its history (ties aside), so ``Slate.propensities`` is ``None``.

    Args:
        alpha: the width of the bonus, >= 0.
        features: "items" (``x = z_i``) or "items+user" (``x = [z_i, P v_i * m_u]``), see the
            module docstring.
        dims: the PCA's numbers per item vector (``None``: the vectors as given).
        popularity: add the item's log training popularity as a feature (module docstring).
        ridge: ``lambda`` in ``A = lambda I + sum x x^T``, > 0.
        reward, exclude_seen, examination: as :class:`EpsilonGreedy`.
        refresh: visits between exact recomputations of ``A^-1``.
        seed: the PCA's seed.

    Attributes (after ``start``): ``item_features_`` (n_items, dims + 1), ``user_features_``
    (n_users, dims + 1, "items+user" only), ``A_``, ``A_inverse_`` (D, D), ``b_``, ``theta_``
    (D,), with ``D = dims + 1`` ("items") or ``2 dims + 1`` ("items+user").

    Example::

        policy = LinUCB(alpha=0.1, features="items+user", dims=16)
        policy.start(observed)
        slate = policy.choose(visit, k=10, rng=rng)
    """

    name: ClassVar[str] = "LinUCB"

    def __init__(self, alpha: float = 0.1, **options: Any) -> None:
        super().__init__(**options)
        self.alpha = checks.non_negative_number(alpha, "alpha", "the width of the bonus")

    def __repr__(self) -> str:
        return f"LinUCB(alpha={self.alpha:g}, {self._options()})"

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        k, excluded = self._check_visit(visit, k)
        mapping = self._map(visit.user)
        z = self.item_features_
        scores = z @ (mapping.T @ self.theta_)
        if self.alpha > 0:
            covariance = mapping.T @ self.A_inverse_ @ mapping  # (d + 1, d + 1)
            variance = np.einsum("ij,ij->i", z @ covariance, z)
            scores += self.alpha * np.sqrt(np.maximum(variance, 0))
        return self._slate(scores, excluded, k, rng)


class ThompsonSampling(_LinearBandit):
    """Linear Thompson sampling (Agrawal & Goyal 2013), the same shared model as LinUCB.

    Each visit draws ``theta~ ~ N(theta, v^2 A^-1)`` (the ridge regression's Gaussian
    posterior, noise scale ``v``) and shows the top ``k`` items by ``x_ui . theta~``. An item
    is shown about as often as it is plausibly among the best: exploration that fades by
    itself as the posterior narrows.

    Why the linear Gaussian model rather than a Beta-Bernoulli per item: the same reasons as
    one shared LinUCB model (thousands of items, a few impressions each; new items inherit what
    their text says), and it makes the comparison with :class:`LinUCB` a comparison of the
    exploration rule only. ``v`` is on the scale of the reward's noise, about 0.1 for
    purchases at 1% (Agrawal & Goyal's theoretical ``v`` is far larger and explores
    too much in practice).

    The propensity of a slate under Thompson sampling has no closed form, so
    ``Slate.propensities`` is ``None``.

    Args:
        posterior_scale: ``v`` >= 0 (0: the greedy regression).
        features, dims, ridge, reward, exclude_seen, examination, refresh, seed: as
            :class:`LinUCB`.

    Example::

        policy = ThompsonSampling(posterior_scale=0.1, features="items")
        policy.start(observed)
        slate = policy.choose(visit, k=10, rng=rng)
    """

    name: ClassVar[str] = "Thompson sampling"

    def __init__(self, posterior_scale: float = 0.1, **options: Any) -> None:
        super().__init__(**options)
        self.posterior_scale = checks.non_negative_number(
            posterior_scale, "posterior_scale", "v, the posterior's noise scale"
        )

    def __repr__(self) -> str:
        return f"ThompsonSampling(posterior_scale={self.posterior_scale:g}, {self._options()})"

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        k, excluded = self._check_visit(visit, k)
        covariance = (self.A_inverse_ + self.A_inverse_.T) / 2
        noise = np.linalg.cholesky(covariance) @ rng.standard_normal(covariance.shape[0])
        theta = self.theta_ + self.posterior_scale * noise
        scores = self.item_features_ @ (self._map(visit.user).T @ theta)
        return self._slate(scores, excluded, k, rng)
