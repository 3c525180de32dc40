"""The shop as a simulator: users arrive, a policy shows products, the shop's truth answers.

A **policy** is whatever decides what a visitor sees. It learns only from what a real shop
would have: the log before the simulation starts (:class:`ObservedShop`: the interaction
matrix, the public catalog table, the item text vectors) and, during the simulation, the
visits it served and the feedback they got (:class:`Visit`, :class:`Feedback`). It never sees
the shop's truth (:class:`recutils.datasets.shop.ShopTruth`): the simulator keeps it and gives
policies none of its objects.

The loop, for each visit: ``slate = policy.choose(visit, k, rng)``; the simulator draws the
visitor's clicks and purchases on the slate from the truth; ``policy.learn(visit, slate,
feedback)``. :func:`simulate` runs it and returns a :class:`SimulationLog`; :func:`ab_test`
runs several policies on the same visitors and the same random numbers.

**Who arrives.** :class:`ShopSimulator` replays the arrivals of the shop's own log in the
simulation period: every session that starts in ``[start, start + days)`` is one
:class:`Visit`, with the session's user and start time (its first event), in time order. What
the visitor does with the slate is drawn from the truth, not from the log.

**The response model** (a position-based click model on top of the shop's story). Visit ``n``
of user ``u`` at time ``t`` is shown items ``i_0, ..., i_{k-1}`` (position 0 = top):

1. the visit has an **intent leaf** ``L``, drawn with ``P(L = l) = w_ul(t) / sum_m w_um(t)``,
   ``w = ShopTruth.leaf_interest_at(t, u)`` (the leaf the shop's own sessions are drawn from);
2. position ``r`` is **examined** with probability ``e_r`` (default ``1 / log2(r + 2)``:
   1, 0.63, 0.5, 0.43, ...), independently of the other positions and of the item;
3. an examined item ``i`` is **clicked** with probability
   ``sigmoid(a + b * v_i + c * [leaf_i == L])``, ``v_i = pref(u, i, t) + appeal_i + 0.8
   is_new(i, t)`` the shop's view logit (:meth:`ShopTruth.view_logits`), ``a`` =
   ``click_intercept``, ``b`` = ``click_slope``, ``c`` = ``intent_bonus``;
4. a clicked item is **purchased** with the shop's own funnel probability
   ``sigmoid(-4.2 + 0.9 pref) * sigmoid(-0.6 + 0.5 pref)`` (view -> cart -> checkout,
   :class:`ShopConfig`), times the leaf's ``repeat_purchase`` probability if the user bought
   the item in the log before ``start`` (the shop keeps few repeat purchases). Purchases made
   during the simulation do not change later visits' probabilities (so every expected value
   is a function of the visit and the items alone).

Hence, exactly (used by :meth:`ShopSimulator.expected_purchases` and the oracle)::

    P(click at r)    = e_r [(1 - p_i) sigmoid(a + b v_i) + p_i sigmoid(a + b v_i + c)]
    P(purchase at r) = P(click at r) sigmoid(-4.2 + 0.9 pref) sigmoid(-0.6 + 0.5 pref) repeat_i

with ``p_i = P(L = leaf_i)``.

Calibration. ``b = 1`` keeps the shop's own scale: while a click is unlikely,
``sigmoid(a + v_i + c) ~ exp(a + c) exp(v_i)``, so within the intent leaf items are clicked in
proportion to the weights the shop's sessions view them with; ``c = 4`` makes an item of the
intent leaf about 55 times as likely to be clicked as the same item outside it (the shop's
sessions view only their leaf); ``a = -8`` sets the level. They were chosen on the shop's
last 30 days (k = 10, exact expected rates on 1,500 visits) for plausible rates of a
recommendation widget: click-through rates of a few percent, conversion per impression well
under 1%. Per impression, measured on all 5,183 visits (``bench/results/simulator_bench.md``):
a random slate is clicked 0.35% of the time and bought 0.018%; the most-popular list 4.5% and
0.25%; ALS 4.4% and 0.19%; the oracle 10.7% and 1.65%. A clicked popular product is bought
5.5% of the time, close to the 4.8% of views bought in the shop's log.

**Common random numbers.** Every visit draws its random numbers from its own generator,
seeded from ``(seed, visit number)`` (:class:`numpy.random.SeedSequence` spawn keys), in a
fixed order that does not depend on the slate: one uniform for the intent leaf, then for each
position ``r`` three uniforms (examined, clicked, purchased), compared with the probabilities
above. Two policies run with the same seed therefore meet the same visitors with the same
"coin flips": a visit's outcome differs only where the slates differ, which makes paired
comparisons (A/B tests) far less noisy. The policy's own randomness (``rng`` of
:meth:`Policy.choose`) comes from a second generator per visit, seeded from ``(seed, visit
number, 1)``.

Example::

    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    simulator = ShopSimulator(shop, index, days=30, k=10, seed=0)   # the shop's last 30 days
    log = simulate(simulator, ModelPolicy(ALS(seed=0)), visits=2000)
    log.summary()      # click and purchase rates per impression, expected purchases
    test = ab_test(simulator, [RandomPolicy(), ModelPolicy(MostPopular()),
                               OraclePolicy(simulator)], visits=2000)
    test.summary()     # conversion per impression with intervals, one row per policy
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks, uncertainty
from recutils.interactions import user_item_pairs
from recutils.models.base import Recommender, fit_model
from recutils.ranking import excluded_columns, top_k_items
from recutils.schema import EVENT, SESSION, TIMESTAMP, USER, Dataset
from recutils.settings import EVENT_WEIGHTS


@dataclass(frozen=True)
class Visit:
    """One arrival of a user, as the shop sees it.

    Attributes:
        number: 0, 1, 2, ... in the order of the simulation.
        user: the user's row in the simulation's ``IdIndex`` (as in every course matrix).
        time: when the visit starts (``numpy.datetime64``).
    """

    number: int
    user: int
    time: np.datetime64


@dataclass(frozen=True)
class Slate:
    """What a policy shows: ``items`` (k,) int64 item columns, best position first, distinct;
    ``propensities`` (k,) float64 or ``None``: for a stochastic policy, the probability with
    which it would have chosen each shown item in its position (needed by off-policy
    estimates, :mod:`recutils.off_policy`); ``None`` for a deterministic policy."""

    items: np.ndarray
    propensities: np.ndarray | None = None


@dataclass(frozen=True)
class Feedback:
    """What the shop observes after showing a slate: ``clicked`` and ``purchased``, (k,) bool,
    one entry per position of the slate (a purchase implies a click)."""

    clicked: np.ndarray
    purchased: np.ndarray


@dataclass(frozen=True)
class ObservedShop:
    """Everything a policy may learn from before the simulation: no truth.

    Attributes:
        train: (n_users, n_items) float32 CSR, the weighted user-item matrix of the log before
            the simulation starts (``IdIndex`` numbering).
        items: the public catalog table (title, description, category, brand, price, launch
            time), one row per item column.
        item_vectors: (n_items, d) float32 unit text vectors (MiniLM), or ``None``.
        start: when the simulation starts (``numpy.datetime64``).
    """

    train: sp.csr_matrix
    items: pd.DataFrame
    item_vectors: np.ndarray | None
    start: np.datetime64

    def launched(self, at: Any) -> np.ndarray:
        """(n_items,) bool: the products on sale at ``at`` (``launch_time <= at``, from the
        public catalog table). Only these may be shown at a visit at ``at``."""
        launch = self.__dict__.get("_launch")
        if launch is None:  # read once (a frozen dataclass: cached beside its fields)
            launch = self.items["launch_time"].to_numpy(dtype="datetime64[ns]")
            object.__setattr__(self, "_launch", launch)
        return launch <= np.datetime64(at, "ns")


class Policy(ABC):
    """What decides the slate of each visit.

    Subclasses set ``name`` and implement :meth:`choose`; those that learn online also
    :meth:`learn`; :meth:`start` receives the observed shop (override to fit on it, calling
    ``super().start(observed)`` first).
    """

    #: Short name used in result tables.
    name: ClassVar[str] = "policy"

    def start(self, observed: ObservedShop) -> None:
        """Called once before the first visit with what the shop knows."""
        self.observed_ = observed

    @abstractmethod
    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        """The ``k`` distinct items to show at ``visit`` (draw any randomness from ``rng``)."""

    def learn(self, visit: Visit, slate: Slate, feedback: Feedback) -> None:  # noqa: B027
        """What the visit taught: the slate shown and the feedback it got (default: nothing)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ---------------------------------------------------------------------------------------------
# The environment

#: Defaults of the click model (module docstring, "Calibration").
CLICK_INTERCEPT: float = -8.0
CLICK_SLOPE: float = 1.0
INTENT_BONUS: float = 4.0

# Spawn keys of a visit's two generators: the visitor's coin flips and the policy's own draws.
_VISITOR_STREAM, _POLICY_STREAM = 0, 1
_NO_TRUTH = (
    "the simulator needs the shop's ground truth (dataset.truth, a ShopTruth); real data "
    "(Online Retail, MovieLens, your own) has none: load it with recutils.datasets.load('shop') "
    "or generate_shop(...)"
)


def position_bias(k: int) -> np.ndarray:
    """(k,) float64 probability that position ``r`` (0 = top) is examined: ``1 / log2(r + 2)``
    (1, 0.631, 0.5, 0.431, 0.387, ...: the discount of DCG).

    Example:
        >>> position_bias(3).round(3).tolist()
        [1.0, 0.631, 0.5]
    """
    k = checks.positive_int(k, "k", "slate length")
    return 1.0 / np.log2(np.arange(k) + 2.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class ItemProbabilities(tuple):
    """Per-item probabilities of one visit, conditional on the item being examined:
    ``click`` and ``purchase`` (= click x purchase given click), each (n,) float64."""

    __slots__ = ()

    def __new__(cls, click: np.ndarray, purchase: np.ndarray) -> ItemProbabilities:
        return tuple.__new__(cls, (click, purchase))

    @property
    def click(self) -> np.ndarray:
        return self[0]

    @property
    def purchase(self) -> np.ndarray:
        return self[1]


class ShopSimulator:
    """The synthetic shop as an environment: its own visitors, responses drawn from its truth.

    Built from the shop dataset (with ``.truth``) and its ``IdIndex``; the period is
    ``[start, start + days)``. Each session of the log that starts in the period is one visit
    (user and time as logged, time order); the response model, its calibration and the common
    random numbers are in the module docstring.

    Args:
        dataset: the shop, ``recutils.datasets.load("shop")`` or ``generate_shop(...)``.
        index: ``IdIndex.from_dataset(dataset)``: user rows and item columns of every matrix,
            visit and slate.
        start: first moment of the simulation (anything ``pd.Timestamp`` reads). Default: the
            first of the log's last ``days`` calendar days (as ``temporal_protocol(dataset,
            test_days=days)`` cuts its test period), so ``observed.train`` is
            ``protocol.train_and_valid``.
        days: length of the period in days; it must lie within the shop's period.
        k: slate length (positions shown per visit).
        seed: seed of every visit's random numbers.
        item_vectors: (n_items, d) item text vectors handed to policies (``ObservedShop``).
        examination: (>= k,) probability that each position is examined, non-increasing is not
            required; default :func:`position_bias`.
        click_intercept, click_slope, intent_bonus: ``a``, ``b``, ``c`` of the click model.
        event_weights: weights of the log's events in ``observed.train`` (default
            ``recutils.settings.EVENT_WEIGHTS``: view 1, cart 3, purchase 5).

    Attributes:
        observed: what policies get (:meth:`observe` returns a fresh copy for each run).
        start, end: the period (``datetime64[ns]``); ``n_visits``; ``k``; ``seed``.

    Example::

        simulator = ShopSimulator(shop, IdIndex.from_dataset(shop), days=30, seed=0)
        visit = simulator.visit(0)
        simulator.respond(visit, Slate(np.arange(10)))          # Feedback(clicked, purchased)
        simulator.expected_purchases(visit, np.arange(10))      # exact, from the truth
    """

    def __init__(
        self,
        dataset: Dataset,
        index: Any,
        start: Any = None,
        days: int = 30,
        *,
        k: int = 10,
        seed: int = 0,
        item_vectors: np.ndarray | None = None,
        examination: Sequence[float] | np.ndarray | None = None,
        click_intercept: float = CLICK_INTERCEPT,
        click_slope: float = CLICK_SLOPE,
        intent_bonus: float = INTENT_BONUS,
        event_weights: Mapping[str, float] | None = None,
    ) -> None:
        truth = getattr(dataset, "truth", None)
        if truth is None or not hasattr(truth, "view_logits"):
            raise ValueError(_NO_TRUTH)
        self.k = checks.positive_int(k, "k", "how many products a slate shows")
        self.seed = checks.seed(seed)
        days = checks.positive_int(days, "days", "length of the simulation period in days")
        self.click_intercept = checks.number(click_intercept, "click_intercept")
        self.click_slope = checks.number(click_slope, "click_slope")
        self.intent_bonus = checks.number(intent_bonus, "intent_bonus")
        self._examination = self._check_examination(examination)
        self._truth = truth
        self._config = truth.config
        events = dataset.interactions
        self.start, self.end = self._period(events, truth, start, days)
        try:
            self._truth_user = truth.user_index(index.users)
            self._truth_item = truth.item_index(index.items)
        except (KeyError, AttributeError) as error:
            raise ValueError(
                "index must number the shop's users and items: "
                "IdIndex.from_dataset(dataset) of the same shop"
            ) from error
        self.n_users, self.n_items = len(index.users), len(index.items)
        self._item_leaf = truth.item_leaf[self._truth_item]
        self._item_launch = truth.item_launch[self._truth_item].astype("datetime64[ns]")
        keep_repeat = np.array([leaf.repeat_purchase for leaf in truth.leaves])
        self._item_repeat = keep_repeat[self._item_leaf]
        before = events[events[TIMESTAMP] < self.start]
        weights = dict(EVENT_WEIGHTS if event_weights is None else event_weights)
        train = index.matrix(user_item_pairs(before, event_weights=weights))
        self._bought_before = (index.matrix(before[before[EVENT] == "purchase"], None) > 0).tocsr()
        items = dataset.items.copy()
        items.attrs = {}
        vectors = None if item_vectors is None else checks.dense_vectors(item_vectors)
        if vectors is not None and vectors.shape[0] != self.n_items:
            raise ValueError(
                f"item_vectors has {vectors.shape[0]} rows but the index has {self.n_items} "
                "items; give one vector per item column, in the IdIndex order"
            )
        self.observed = ObservedShop(
            train=train, items=items, item_vectors=vectors, start=self.start
        )
        self._set_visits(events, index)
        self._memo: dict[Any, Any] = {}  # see _visit_memo

    # -- construction ------------------------------------------------------------------------

    def _check_examination(self, examination: Any) -> np.ndarray | None:
        if examination is None:
            return None
        values = np.asarray(examination, dtype=np.float64)
        if values.ndim != 1 or values.size < self.k or not np.all((values >= 0) & (values <= 1)):
            raise ValueError(
                f"examination must be one probability in [0, 1] per position, at least k = "
                f"{self.k} of them (e.g. position_bias(k)), got {examination!r}"
            )
        return values

    @staticmethod
    def _period(
        events: pd.DataFrame, truth: Any, start: Any, days: int
    ) -> tuple[np.datetime64, np.datetime64]:
        """The simulation period ``[start, start + days)``, checked against the shop's."""
        if start is None:
            last_day = events[TIMESTAMP].max().normalize()
            begin = last_day - pd.Timedelta(days=days - 1)
        else:
            try:
                begin = pd.Timestamp(start)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"start must be a time like '2024-12-02', got {start!r}"
                ) from error
        begin64 = np.datetime64(begin.to_datetime64(), "ns")
        end64 = begin64 + np.timedelta64(days, "D")
        first, last = truth.period_start, truth.period_end
        if begin64 <= first or end64 > last:
            raise ValueError(
                f"the simulation period {begin.date()} + {days} days lies outside the shop's "
                f"period ({pd.Timestamp(first).date()} to {pd.Timestamp(last).date()}, "
                "exclusive); it must start after the first day (policies learn from the log "
                "before it) and end by the last: choose another start or fewer days"
            )
        return begin64, end64

    def _set_visits(self, events: pd.DataFrame, index: Any) -> None:
        """One visit per session starting in the period: user row and start time, in order."""
        if SESSION not in events.columns:
            raise ValueError("the shop's interactions have no session column to replay visits")
        firsts = events.drop_duplicates(SESSION)  # the log is in time order: the first event
        times = firsts[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
        inside = (times >= self.start) & (times < self.end)
        users = index.user_positions(firsts[USER].to_numpy()[inside])
        times = times[inside]
        order = np.lexsort((users, times))
        self._visit_user, self._visit_time = users[order], times[order]
        if self._visit_user.size == 0:
            raise ValueError(
                f"no session starts between {pd.Timestamp(self.start)} and "
                f"{pd.Timestamp(self.end)}: choose a period with visits"
            )
        truth_users = self._truth_user[self._visit_user]
        interest = self._truth.leaf_interest_at(self._visit_time, truth_users)
        self._intent = interest / interest.sum(axis=1, keepdims=True)  # (V, leaves)

    def observe(self) -> ObservedShop:
        """A fresh copy of :attr:`observed` (what a policy gets at the start of a run; a policy
        that changes its matrix in place cannot change the next run's)."""
        items = self.observed.items.copy()
        items.attrs = {}
        vectors = self.observed.item_vectors
        return ObservedShop(
            train=self.observed.train.copy(),
            items=items,
            item_vectors=None if vectors is None else vectors.copy(),
            start=self.start,
        )

    # -- visits ------------------------------------------------------------------------------

    @property
    def n_visits(self) -> int:
        """Number of visits in the period."""
        return int(self._visit_user.size)

    def visit(self, number: int) -> Visit:
        """Visit ``number`` (0 .. n_visits - 1) of the period."""
        number = checks.integer(
            number, "number", "a visit number", minimum=0, maximum=self.n_visits - 1
        )
        return Visit(
            number=number, user=int(self._visit_user[number]), time=self._visit_time[number]
        )

    def visits(self) -> pd.DataFrame:
        """Every visit of the period: ``visit``, ``user`` (row), ``time``, one row each."""
        return pd.DataFrame(
            {"visit": np.arange(self.n_visits), "user": self._visit_user, "time": self._visit_time}
        )

    def visit_numbers(self, visits: int | slice | None = None) -> np.ndarray:
        """The visit numbers a run covers: all (``None``), the first ``visits`` (an int) or a
        ``slice`` of them. A visit keeps its number (and its random numbers) in any subset."""
        every = np.arange(self.n_visits)
        if visits is None:
            return every
        if isinstance(visits, slice):
            chosen = every[visits]
            if chosen.size == 0:
                raise ValueError(f"visits={visits} selects none of the {self.n_visits} visits")
            return chosen
        if checks.is_integer(visits):
            count = checks.integer(
                visits, "visits", "how many visits to simulate", minimum=1, maximum=self.n_visits
            )
            return every[:count]
        raise TypeError(
            f"visits must be None (all {self.n_visits}), an int (the first n) or a slice, got "
            f"{type(visits).__name__}"
        )

    def examination(self, k: int | None = None) -> np.ndarray:
        """(k,) probability that each position is examined (default k: the simulator's)."""
        k = self.k if k is None else checks.positive_int(k, "k", "slate length")
        if self._examination is None:
            return position_bias(k)
        if self._examination.size < k:
            raise ValueError(
                f"k = {k} positions but examination gives {self._examination.size} probabilities"
            )
        return self._examination[:k]

    def with_seed(self, seed: int) -> ShopSimulator:
        """The same shop, period and visitors with other random numbers (a replication of an
        experiment: the visitors are the log's, their intents and "coin flips" new)."""
        other = copy.copy(self)
        other.seed = checks.seed(seed)
        other._memo = {}
        return other

    def _generator(self, number: int, stream: int) -> np.random.Generator:
        """Visit ``number``'s own generator (``stream`` 0: the visitor, 1: the policy)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(number, stream)))

    def _visit_memo(self, number: int) -> dict[Any, Any]:
        """What visit ``number`` computes the same for every slate (the visitor's draws, the
        whole catalog's probabilities), kept for the visit asked last: :func:`ab_test` runs
        every policy on a visit before the next, so each is computed once per visit, not once
        per policy. Values are the same bits as computed afresh (tests/test_simulator.py)."""
        # everything the kept values depend on besides the visit (a copy may share the dict)
        visit = (self.seed, number, self.click_intercept, self.click_slope)
        if self._memo.get("visit") != visit:
            self._memo = {"visit": visit}
        return self._memo

    def _visitor_draws(self, number: int, k: int) -> tuple[int, np.ndarray]:
        """Visit ``number``'s intent leaf and its (k, 3) coins (examined, clicked, purchased per
        position), from the visitor's own generator."""
        memo = self._visit_memo(number)
        draws = memo.get(("draws", k))
        if draws is None:
            coins = self._generator(number, _VISITOR_STREAM).random(1 + 3 * k)
            intent_cdf = np.cumsum(self._intent[number])
            intent_leaf = min(
                int(np.searchsorted(intent_cdf, coins[0] * intent_cdf[-1], side="right")),
                intent_cdf.size - 1,
            )
            draws = memo[("draws", k)] = (intent_leaf, coins[1:].reshape(k, 3))
        return draws

    def _check_visit(self, visit: Any) -> int:
        if not isinstance(visit, Visit):
            raise TypeError(
                f"visit must be a Visit (simulator.visit(n)), got {type(visit).__name__}"
            )
        number = visit.number
        if not (
            0 <= number < self.n_visits
            and visit.user == self._visit_user[number]
            and visit.time == self._visit_time[number]
        ):
            raise ValueError(f"{visit} is not visit {number} of this simulator")
        return number

    # -- slates ------------------------------------------------------------------------------

    def check_slate(
        self, visit: Visit, slate: Any, k: int | None = None, who: str = "the policy"
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``slate``'s items (int64, (k,)) and propensities ((k,) or None), checked: a
        :class:`Slate` of ``k`` distinct item numbers, each launched at the visit's time,
        propensities in (0, 1]; else ``TypeError``/``ValueError`` naming ``who``."""
        k = self.k if k is None else k
        if not isinstance(slate, Slate):
            raise TypeError(
                f"{who} must return a Slate(items=..., propensities=...) from choose(), got "
                f"{type(slate).__name__}"
            )
        items = np.asarray(slate.items)
        if items.ndim != 1 or items.size != k:
            raise ValueError(
                f"{who} showed {items.size if items.ndim == 1 else items.shape} items; a slate "
                f"has exactly k = {k} (1-D item numbers, best position first)"
            )
        if items.dtype == bool or not np.issubdtype(items.dtype, np.integer):
            raise ValueError(f"{who}'s slate items must be integer item numbers, got {items.dtype}")
        items = items.astype(np.int64)
        outside = items[(items < 0) | (items >= self.n_items)]
        if outside.size:
            raise ValueError(
                f"{who} showed item number(s) {outside[:3].tolist()}; items are 0 .. "
                f"{self.n_items - 1} (columns of the IdIndex)"
            )
        if np.unique(items).size != k:
            repeated = pd.Series(items)[pd.Series(items).duplicated()].unique()[:3].tolist()
            raise ValueError(f"{who} showed item(s) {repeated} twice; a slate's items are distinct")
        unlaunched = items[self._item_launch[items] > visit.time]
        if unlaunched.size:
            raise ValueError(
                f"{who} showed item(s) {unlaunched[:3].tolist()} at {pd.Timestamp(visit.time)}, "
                "before they launched; only products with launch_time <= the visit's time can "
                "be shown (ObservedShop.launched(visit.time))"
            )
        propensities = slate.propensities
        if propensities is not None:
            propensities = np.asarray(propensities, dtype=np.float64)
            if propensities.shape != (k,) or not np.all((propensities > 0) & (propensities <= 1)):
                raise ValueError(
                    f"{who}'s propensities must be None or k = {k} probabilities in (0, 1], "
                    f"got {slate.propensities!r}"
                )
        return items, propensities

    # -- the truth ---------------------------------------------------------------------------

    def item_probabilities(self, visit: Visit, items: Any = None) -> ItemProbabilities:
        """Exact probabilities of ``visit`` for ``items`` (default all), given examination:
        ``click = sum_l p_l sigmoid(a + b v_i + c [leaf_i = l])`` and ``purchase = click x
        cart x checkout (x repeat)`` (module docstring), each (len(items),) float64. Products
        not launched at the visit get 0. For evaluation and the oracle only."""
        number = self._check_visit(visit)
        if items is None:
            self._catalog_arrays(number)  # kept for the visit: its slate's outcome reads them
            return self._probabilities(number, np.arange(self.n_items))
        return self._probabilities(number, checks.positions(items, self.n_items, "item"))

    def _visit_arrays(
        self, number: int, columns: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For visit ``number`` and item ``columns``: the click logit without the intent bonus
        ``a + b v_i``, the item's leaf's intent probability ``p_L(leaf_i)``, the purchase
        probability given a click (funnel x repeat) and whether the item is launched."""
        truth, config, at = self._truth, self._config, self._visit_time[number]
        row = self._visit_user[number]
        truth_items = self._truth_item[columns]
        preference = truth.preference(at, self._truth_user[[row]], truth_items)
        logits = truth.view_logits(preference, at, truth_items)[0]
        preference = preference[0]
        base = self.click_intercept + self.click_slope * logits
        intent = self._intent[number, self._item_leaf[columns]]
        buy = _sigmoid(config.cart_intercept + config.cart_slope * preference) * _sigmoid(
            config.buy_intercept + config.buy_slope * preference
        )
        bought_before = self._bought_before
        bought = np.isin(
            columns,
            bought_before.indices[bought_before.indptr[row] : bought_before.indptr[row + 1]],
        )
        buy = buy * np.where(bought, self._item_repeat[columns], 1.0)
        return base, intent, buy, self._item_launch[columns] <= at

    def _catalog_arrays(self, number: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_visit_arrays` of the whole catalog, kept for the visit (:meth:`_visit_memo`)."""
        memo = self._visit_memo(number)
        if "catalog" not in memo:
            memo["catalog"] = self._visit_arrays(number, np.arange(self.n_items))
        return memo["catalog"]

    def _slate_arrays(
        self, number: int, columns: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_visit_arrays` of ``columns``: read from the catalog's if the visit has them."""
        catalog = self._visit_memo(number).get("catalog")
        if catalog is None:
            return self._visit_arrays(number, columns)
        base, intent, buy, launched = catalog
        return base[columns], intent[columns], buy[columns], launched[columns]

    def _probabilities(self, number: int, columns: np.ndarray) -> ItemProbabilities:
        base, intent, buy, launched = self._slate_arrays(number, columns)
        click = (1.0 - intent) * _sigmoid(base) + intent * _sigmoid(base + self.intent_bonus)
        click = np.where(launched, click, 0.0)
        return ItemProbabilities(click, click * buy)

    def expected_per_position(self, visit: Visit, items: Any) -> pd.DataFrame:
        """Exact expected clicks and purchases of each position of the slate ``items`` (k,):
        a frame with columns ``item``, ``examined``, ``clicks``, ``purchases``, one row per
        position (examination x :meth:`item_probabilities`)."""
        number = self._check_visit(visit)
        columns, _ = self.check_slate(visit, Slate(np.asarray(items)), len(np.atleast_1d(items)))
        probabilities = self._probabilities(number, columns)
        examined = self.examination(columns.size)
        return pd.DataFrame(
            {
                "item": columns,
                "examined": examined,
                "clicks": examined * probabilities.click,
                "purchases": examined * probabilities.purchase,
            }
        )

    def expected_purchases(self, visit: Visit, items: Any) -> float:
        """Exact expected number of purchases when ``visit`` is shown ``items`` (a slate, best
        position first): ``sum_r e_r P(purchase | examined)(i_r)``."""
        return float(self.expected_per_position(visit, items)["purchases"].sum())

    # -- responses ---------------------------------------------------------------------------

    def _outcome(
        self, number: int, columns: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Clicked, purchased (k,) bool drawn for visit ``number`` showing ``columns`` (checked
        slate), and each position's true click and purchase probability (the expectations,
        over the intent leaf as well)."""
        k = columns.size
        # position r: examined, clicked, purchased
        intent_leaf, per_position = self._visitor_draws(number, k)
        base, intent, buy, _ = self._slate_arrays(number, columns)
        examined = self.examination(k)
        in_intent = self._item_leaf[columns] == intent_leaf
        click_given_intent = _sigmoid(base + self.intent_bonus * in_intent)
        clicked = (per_position[:, 0] < examined) & (per_position[:, 1] < click_given_intent)
        purchased = clicked & (per_position[:, 2] < buy)
        click = (1.0 - intent) * _sigmoid(base) + intent * _sigmoid(base + self.intent_bonus)
        return clicked, purchased, examined * click, examined * click * buy

    def respond(self, visit: Visit, slate: Slate) -> Feedback:
        """The visitor's clicks and purchases on ``slate``, drawn with visit ``visit.number``'s
        own random numbers (the same for any slate: common random numbers)."""
        number = self._check_visit(visit)
        columns, _ = self.check_slate(visit, slate, np.asarray(slate.items).size)
        clicked, purchased, _, _ = self._outcome(number, columns)
        return Feedback(clicked=clicked, purchased=purchased)

    def __repr__(self) -> str:
        return (
            f"ShopSimulator({pd.Timestamp(self.start).date()} + "
            f"{(self.end - self.start) // np.timedelta64(1, 'D')} days, {self.n_visits} visits, "
            f"k={self.k}, seed={self.seed})"
        )


# ---------------------------------------------------------------------------------------------
# Policies


def _launched_columns(observed: ObservedShop, at: np.datetime64, k: int, who: str) -> np.ndarray:
    """The mask of products on sale at ``at``; ``ValueError`` if fewer than ``k``."""
    launched = observed.launched(at)
    if launched.sum() < k:
        raise ValueError(f"{who}: only {int(launched.sum())} products are on sale at {at}, k = {k}")
    return launched


def _fitted_model(model: Recommender, observed: ObservedShop, copy: bool) -> Recommender:
    """``model`` fitted on ``observed.train`` with the side data it declares (``item_vectors``,
    ``item_texts``). A model already fitted on exactly this matrix is used as it is, unless
    ``copy`` (a policy that retrains works on its own unfitted copy)."""
    if "truth" in model.side_data:
        raise TypeError(
            f"{type(model).__name__} learns from the shop's truth; a policy may not see it "
            "(use OraclePolicy(simulator) as the reference)"
        )
    train = observed.train
    fitted = getattr(model, "train_", None)
    if (
        not copy
        and fitted is not None
        and fitted.shape == train.shape
        and (fitted != train).nnz == 0
    ):
        return model
    pool: dict[str, Any] = {}
    if observed.item_vectors is not None:
        pool["item_vectors"] = observed.item_vectors
    if "item_texts" in model.side_data:
        from recutils.text import item_texts  # imports torch: only for models that need it

        pool["item_texts"] = item_texts(observed.items)
    target = model.with_params() if copy else model
    return fit_model(target, train, side_data=pool)


class RandomPolicy(Policy):
    """Shows ``k`` products drawn uniformly without replacement from those on sale.

    Propensities (:class:`Slate`): position ``r`` is drawn from the ``n - r`` products left,
    so it reports ``1 / (n - r)`` (``n`` on sale); for ``k = 1``, ``1 / n``.
    """

    name = "random"

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        candidates = np.flatnonzero(_launched_columns(self.observed_, visit.time, k, self.name))
        items = rng.choice(candidates, size=k, replace=False).astype(np.int64)
        return Slate(items, 1.0 / (candidates.size - np.arange(k)))


class ModelPolicy(Policy):
    """Shows a recutils model's top ``k`` among the products on sale (seen items excluded as
    ``Recommender.recommend`` does), optionally retrained as feedback arrives.

    ``start`` fits the model on ``observed.train`` with the side data it declares (its
    ``item_vectors``); a model already fitted on exactly that matrix (e.g. on
    ``protocol.train_and_valid`` when the simulation starts at ``protocol.test_start``) is
    used as it is. With ``retrain_every_days = d``, the policy keeps the feedback of its own
    slates, each clicked impression as a view (weight ``EVENT_WEIGHTS["view"]`` = 1) plus
    ``EVENT_WEIGHTS["purchase"]`` (= 5) if bought, and at the first visit on or after each
    ``d``-th midnight since the start refits a copy of the model on ``observed.train`` + that
    feedback (``fit_days_`` lists the days, counted from the start's day, it was fitted on).

    Args:
        model: any :class:`recutils.models.Recommender` (not the Oracle).
        retrain_every_days: ``None`` (never) or a positive number of days.
        exclude_seen: leave out the items the user has in the (current) training matrix.
        name: the policy's name in tables (default: the model's, with the retraining).
    """

    def __init__(
        self,
        model: Recommender,
        retrain_every_days: int | None = None,
        *,
        exclude_seen: bool = True,
        name: str | None = None,
    ) -> None:
        if not isinstance(model, Recommender):
            raise TypeError(f"model must be a recutils Recommender, got {type(model).__name__}")
        self.model = model
        self.retrain_every_days = checks.optional_positive_int(
            retrain_every_days, "retrain_every_days", "days between refits, or None"
        )
        self.exclude_seen = checks.boolean(exclude_seen, "exclude_seen")
        every = self.retrain_every_days
        suffix = "" if every is None else f", retrained every {every} day" + "s" * (every > 1)
        self.name = name or f"{model.name}{suffix}"

    def start(self, observed: ObservedShop) -> None:
        super().start(observed)
        self.model_ = _fitted_model(self.model, observed, copy=self.retrain_every_days is not None)
        self.fit_days_: list[int] = [0]
        self._feedback: list[tuple[int, int, float]] = []
        self._start_day = observed.start.astype("datetime64[D]")
        self._slates: dict[tuple[int, int, int], np.ndarray] = {}  # (user, on sale, k) -> top

    def _refit_if_due(self, at: np.datetime64) -> None:
        every = self.retrain_every_days
        if every is None:
            return
        day = int((at.astype("datetime64[D]") - self._start_day) // np.timedelta64(1, "D"))
        if day < self.fit_days_[-1] + every:
            return
        train = self.observed_.train
        if self._feedback:
            users, items, weights = (
                np.array(column) for column in zip(*self._feedback, strict=True)
            )
            learned = sp.csr_matrix((weights, (users, items)), shape=train.shape, dtype=np.float32)
            train = (train + learned).tocsr()
        self.model_ = _fitted_model(
            self.model,
            ObservedShop(
                train, self.observed_.items, self.observed_.item_vectors, self.observed_.start
            ),
            copy=True,
        )
        self.fit_days_.append(day)
        self._slates.clear()

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        self._refit_if_due(visit.time)
        launched = _launched_columns(self.observed_, visit.time, k, self.name)
        # the same model, user and products on sale give the same list: a returning visitor's
        # is looked up (products launch and stay, so their number names the set on sale)
        key = (visit.user, int(launched.sum()), k)
        top = self._slates.get(key)
        if top is None:
            top = self.model_.recommend(
                [visit.user], k, exclude_seen=self.exclude_seen, items=launched
            ).items[0]
            if (top < 0).any():
                raise ValueError(
                    f"{self.name} found only {int((top >= 0).sum())} products to show user "
                    f"{visit.user} (k = {k}); use a smaller k or exclude_seen=False"
                )
            self._slates[key] = top
        return Slate(top.copy())

    def learn(self, visit: Visit, slate: Slate, feedback: Feedback) -> None:
        if self.retrain_every_days is None:
            return
        weight = EVENT_WEIGHTS["view"] * feedback.clicked + EVENT_WEIGHTS["purchase"] * (
            feedback.purchased
        )
        for item, value in zip(np.asarray(slate.items), weight, strict=True):
            if value > 0:
                self._feedback.append((visit.user, int(item), float(value)))

    def __repr__(self) -> str:
        return f"ModelPolicy({self.model!r}, retrain_every_days={self.retrain_every_days})"


class LoggingPolicy(Policy):
    """A stochastic policy with exactly known propensities, for logging data that off-policy
    estimates (:mod:`recutils.off_policy`) can use.

    For visit ``(u, t)`` with model scores ``s_i`` over the candidates ``C`` (products on sale,
    minus the user's training items if ``exclude_seen``), position ``r`` is drawn from the
    candidates ``C_r`` not shown above it with probability

        pi_r(i) = (1 - epsilon) exp(s_i / T) / sum_{j in C_r} exp(s_j / T) + epsilon / |C_r|

    (``T`` = ``temperature``): a softmax, mixed with a uniform draw. The slate's
    ``propensities[r]`` is ``pi_r(i_r)``, the probability of that draw given the items above
    it; their product is the probability of the whole ordered slate, and for ``k = 1`` it is
    the probability of showing the item (:meth:`probabilities` gives the whole distribution).
    Small ``T`` approaches the model's top-k; large ``T`` or ``epsilon = 1``, uniform.

    Args:
        model: a recutils Recommender, fitted on ``observed.train`` in ``start`` (as
            :class:`ModelPolicy` does).
        temperature: ``T`` > 0, in units of the model's scores.
        epsilon: share of the uniform draw, in [0, 1].
        exclude_seen: leave the user's training items out of the candidates.
        name: the policy's name in tables.
    """

    def __init__(
        self,
        model: Recommender,
        temperature: float = 1.0,
        *,
        epsilon: float = 0.0,
        exclude_seen: bool = True,
        name: str | None = None,
    ) -> None:
        if not isinstance(model, Recommender):
            raise TypeError(f"model must be a recutils Recommender, got {type(model).__name__}")
        self.model = model
        self.temperature = checks.positive_number(temperature, "temperature", "softmax T")
        self.epsilon = checks.fraction(epsilon, "epsilon", "share of uniform draws", one=True)
        self.exclude_seen = checks.boolean(exclude_seen, "exclude_seen")
        self.name = name or f"{model.name} softmax (T={temperature:g}, epsilon={epsilon:g})"

    def start(self, observed: ObservedShop) -> None:
        super().start(observed)
        self.model_ = _fitted_model(self.model, observed, copy=False)

    def _candidates_and_weights(self, visit: Visit) -> tuple[np.ndarray, np.ndarray]:
        """Candidate item numbers and their softmax weights ``exp((s - max s) / T)``."""
        mask = self.observed_.launched(visit.time)
        if self.exclude_seen:
            mask[excluded_columns(self.observed_.train, np.array([visit.user]))[1]] = False
        candidates = np.flatnonzero(mask)
        scores = self.model_.score([visit.user], candidates)[0].astype(np.float64)
        scaled = scores / self.temperature
        return candidates, np.exp(scaled - scaled.max())

    def probabilities(self, visit: Visit) -> np.ndarray:
        """(n_items,) probability of each item at the top position (``pi_0``): the policy's
        whole distribution when ``k = 1``; 0 for items that cannot be shown."""
        candidates, weights = self._candidates_and_weights(visit)
        result = np.zeros(self.observed_.train.shape[1])
        result[candidates] = (1 - self.epsilon) * weights / weights.sum() + (
            self.epsilon / candidates.size
        )
        return result

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        candidates, weights = self._candidates_and_weights(visit)
        if candidates.size < k:
            raise ValueError(f"{self.name}: only {candidates.size} candidates for k = {k}")
        left = np.ones(candidates.size, dtype=bool)
        chosen = np.empty(k, dtype=np.int64)
        propensities = np.empty(k)
        for r in range(k):
            mixed = np.where(
                left,
                (1 - self.epsilon) * weights / weights[left].sum() + self.epsilon / left.sum(),
                0.0,
            )
            cumulative = np.cumsum(mixed)
            pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
            pick = min(pick, candidates.size - 1)
            while not left[pick]:  # only on a rounding edge: step back to a candidate left
                pick -= 1
            chosen[r], propensities[r] = candidates[pick], mixed[pick]
            left[pick] = False
        return Slate(chosen, propensities)

    def __repr__(self) -> str:
        return (
            f"LoggingPolicy({self.model!r}, temperature={self.temperature}, epsilon={self.epsilon})"
        )


class OraclePolicy(Policy):
    """The best slate under the simulator's own response model: a reference, not a policy a
    shop could run (it reads the truth: each visitor's tastes and intent probabilities).

    At each visit it shows the ``k`` launched products with the highest probability of being
    bought if examined (:meth:`ShopSimulator.item_probabilities`), the best at the most
    examined position; with examination independent of the items, that maximises the expected
    purchases of the slate (rearrangement inequality), so no policy has a higher expected value
    on the same visits. It is the one object allowed to hold the simulator.
    """

    name = "oracle"

    def __init__(self, simulator: ShopSimulator) -> None:
        if not isinstance(simulator, ShopSimulator):
            raise TypeError(
                "OraclePolicy needs the ShopSimulator it will run in, got "
                f"{type(simulator).__name__}"
            )
        self._simulator = simulator

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        values = self._simulator.item_probabilities(visit).purchase
        values = np.where(self.observed_.launched(visit.time), values, -np.inf)
        best = top_k_items(values[None, :], k)[0]
        positions = np.argsort(-self._simulator.examination(k), kind="stable")
        items = np.empty(k, dtype=np.int64)
        items[positions] = best
        return Slate(items)

    def __repr__(self) -> str:
        return f"OraclePolicy({self._simulator!r})"


# ---------------------------------------------------------------------------------------------
# Running policies

#: Columns of :attr:`SimulationLog.impressions`.
IMPRESSION_COLUMNS: tuple[str, ...] = (
    "visit",
    "user",
    "time",
    "position",
    "item",
    "propensity",
    "clicked",
    "purchased",
    "true_click_probability",
    "true_purchase_probability",
)


@dataclass(frozen=True)
class SimulationLog:
    """What happened in one run of a policy: one row per impression.

    Attributes:
        policy: the policy's name.
        impressions: DataFrame, one row per (visit, position), columns ``visit`` (number),
            ``user`` (row), ``time``, ``position`` (0 = top), ``item`` (column),
            ``propensity`` (NaN for a deterministic policy), ``clicked``, ``purchased``
            (drawn), and from the truth, which the policy never saw,
            ``true_click_probability`` and ``true_purchase_probability`` (the expected
            values of the impression, :meth:`ShopSimulator.expected_per_position`).
        k: positions per visit.
        seed: the simulator's seed.
    """

    policy: str
    impressions: pd.DataFrame
    k: int
    seed: int

    def __len__(self) -> int:
        return len(self.impressions)

    def per_visit(self) -> pd.DataFrame:
        """One row per visit (index ``visit``): ``user``, ``time``, ``clicks``, ``purchases``
        (drawn counts) and ``expected_clicks``, ``expected_purchases`` (from the truth)."""
        grouped = self.impressions.groupby("visit", sort=True)
        return pd.DataFrame(
            {
                "user": grouped["user"].first(),
                "time": grouped["time"].first(),
                "clicks": grouped["clicked"].sum().astype(np.int64),
                "purchases": grouped["purchased"].sum().astype(np.int64),
                "expected_clicks": grouped["true_click_probability"].sum(),
                "expected_purchases": grouped["true_purchase_probability"].sum(),
            }
        )

    def summary(self) -> pd.Series:
        """Visits, impressions, click and purchase rates per impression (drawn, and expected
        from the truth), distinct products shown."""
        frame = self.impressions
        return pd.Series(
            {
                "visits": frame["visit"].nunique(),
                "impressions": len(frame),
                "click rate": frame["clicked"].mean(),
                "purchase rate": frame["purchased"].mean(),
                "expected click rate": frame["true_click_probability"].mean(),
                "expected purchase rate": frame["true_purchase_probability"].mean(),
                "products shown": frame["item"].nunique(),
            },
            name=self.policy,
            dtype=object,
        )


def simulate(
    simulator: ShopSimulator,
    policy: Policy,
    *,
    visits: int | slice | None = None,
    k: int | None = None,
) -> SimulationLog:
    """Run ``policy`` through the simulator's visits: ``policy.start(observed)``, then for each
    visit ``choose`` -> the visitor's response -> ``learn``.

    The policy gets only a fresh :class:`ObservedShop`, each :class:`Visit`, its own
    :class:`Slate` and the :class:`Feedback`, and a per-visit ``numpy`` generator; nothing
    reachable from them leads to the truth. Every slate is checked
    (:meth:`ShopSimulator.check_slate`).

    Args:
        simulator: the environment.
        policy: a :class:`Policy` (it is started afresh: one policy object can run again).
        visits: ``None`` (all), the first ``n`` or a ``slice`` of the visits; visit ``n`` has
            the same random numbers in any run with the simulator's seed.
        k: slate length (default ``simulator.k``).

    Returns:
        :class:`SimulationLog`, ``len(visits) * k`` impressions.

    Example::

        log = simulate(simulator, RandomPolicy(), visits=1000)
        log.summary()["purchase rate"]
    """
    return _run_policies(simulator, {"policy": policy}, visits, k)["policy"]


def _run_policies(
    simulator: ShopSimulator, named: dict[str, Policy], visits: int | slice | None, k: int | None
) -> dict[str, SimulationLog]:
    """Every policy through the visits, taking turns visit by visit (:func:`ab_test`), so that
    what a visit computes the same for every slate is computed once for all of them; each
    policy still meets its own visits in order, so its log is the one it gets alone."""
    if not isinstance(simulator, ShopSimulator):
        raise TypeError(f"simulator must be a ShopSimulator, got {type(simulator).__name__}")
    k = simulator.k if k is None else checks.positive_int(k, "k", "slate length")
    numbers = simulator.visit_numbers(visits)
    runs = {name: _Run(simulator, policy, numbers, k) for name, policy in named.items()}
    for row, number in enumerate(numbers.tolist()):
        if len(runs) > 1:
            simulator._catalog_arrays(number)
        for run in runs.values():
            run.step(row, number)
    return {name: run.log() for name, run in runs.items()}


class _Run:
    """One policy's run through the visits ``numbers`` (:func:`simulate`; :func:`ab_test` steps
    several runs visit by visit): started at creation, one :meth:`step` per visit, then
    :meth:`log`."""

    def __init__(
        self, simulator: ShopSimulator, policy: Policy, numbers: np.ndarray, k: int
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(
                f"policy must be a recutils.simulator.Policy (choose/learn), got "
                f"{type(policy).__name__}; wrap a model in ModelPolicy(model)"
            )
        self.simulator, self.policy, self.numbers, self.k = simulator, policy, numbers, k
        self.who = f"policy {policy.name!r}"
        size = numbers.size * k
        self.shown = np.empty(size, dtype=np.int64)
        self.propensity = np.full(size, np.nan)
        self.clicked, self.purchased = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
        self.click_probability, self.purchase_probability = np.empty(size), np.empty(size)
        policy.start(simulator.observe())

    def step(self, row: int, number: int) -> None:
        """Visit ``number`` (the run's ``row``-th): choose -> the visitor's response -> learn."""
        simulator, policy, k = self.simulator, self.policy, self.k
        visit = simulator.visit(number)
        slate = policy.choose(visit, k, simulator._generator(number, _POLICY_STREAM))
        items, propensities = simulator.check_slate(visit, slate, k, self.who)
        drawn = simulator._outcome(number, items)
        cells = slice(row * k, (row + 1) * k)
        self.shown[cells] = items
        if propensities is not None:
            self.propensity[cells] = propensities
        self.clicked[cells], self.purchased[cells] = drawn[0], drawn[1]
        self.click_probability[cells], self.purchase_probability[cells] = drawn[2], drawn[3]
        policy.learn(visit, slate, Feedback(clicked=drawn[0].copy(), purchased=drawn[1].copy()))

    def log(self) -> SimulationLog:
        simulator, numbers, k = self.simulator, self.numbers, self.k
        visit_of = np.repeat(numbers, k)
        impressions = pd.DataFrame(
            {
                "visit": visit_of,
                "user": simulator._visit_user[visit_of],
                "time": simulator._visit_time[visit_of],
                "position": np.tile(np.arange(k), numbers.size),
                "item": self.shown,
                "propensity": self.propensity,
                "clicked": self.clicked,
                "purchased": self.purchased,
                "true_click_probability": self.click_probability,
                "true_purchase_probability": self.purchase_probability,
            }
        )
        return SimulationLog(
            policy=self.policy.name, impressions=impressions, k=k, seed=simulator.seed
        )


@dataclass(frozen=True)
class ABTest:
    """Several policies run on the same visits with the same random numbers (:func:`ab_test`).

    Attributes:
        logs: policy name -> :class:`SimulationLog`, in the order given.
    """

    logs: dict[str, SimulationLog]

    _VALUES: ClassVar[tuple[str, ...]] = (
        "clicks",
        "purchases",
        "expected_clicks",
        "expected_purchases",
    )

    def per_visit(self, value: str = "purchases") -> pd.DataFrame:
        """(visits, policies) ``value`` per impression of each visit (the visit's count / k):
        its mean over visits is the rate per impression. ``value``: ``"clicks"``,
        ``"purchases"`` (drawn) or ``"expected_clicks"``, ``"expected_purchases"`` (truth)."""
        checks.one_of(value, "value", self._VALUES)
        return pd.DataFrame(
            {name: log.per_visit()[value] / log.k for name, log in self.logs.items()}
        )

    def summary(
        self, value: str = "purchases", confidence: float = 0.95, seed: int = 0
    ) -> pd.DataFrame:
        """Each policy's mean ``value`` per impression with its bootstrap interval over visits
        (:func:`recutils.uncertainty.interval_table`), one row per policy."""
        table = self.per_visit(value)
        return uncertainty.interval_table(
            {name: table[[name]].rename(columns={name: value}) for name in table.columns},
            value,
            confidence=confidence,
            seed=seed,
        )

    def compare(
        self, a: str, b: str, value: str = "purchases", confidence: float = 0.95, seed: int = 0
    ) -> uncertainty.PairedTest:
        """Policy ``a`` against ``b`` on the same visits: the mean per-visit difference of
        ``value`` per impression, its paired interval and p-value
        (:func:`recutils.uncertainty.paired_test`)."""
        table = self.per_visit(value)
        for name in (a, b):
            if name not in table.columns:
                raise ValueError(
                    f"no policy {name!r} in this test; policies: {list(table.columns)}"
                )
        return uncertainty.paired_test(table[a], table[b], confidence=confidence, seed=seed)


def ab_test(
    simulator: ShopSimulator,
    policies: Mapping[str, Policy] | Sequence[Policy],
    *,
    visits: int | slice | None = None,
    k: int | None = None,
) -> ABTest:
    """Run every policy on the same visits with the same random numbers (common random
    numbers: each visitor meets every policy with the same intent and "coin flips"), so
    per-visit differences are paired.

    Each log is the one :func:`simulate` gives for that policy alone; the policies take turns
    visit by visit, so what a visit computes the same for every slate (the visitor's draws, the
    truth's probabilities for the whole catalog) is computed once for all of them.

    Args:
        simulator: the environment.
        policies: name -> policy, or policies named by their ``name`` (names must differ),
            each a distinct object: it keeps its own state through the run (a policy of your
            own must not share state with another or draw from a global generator: the
            policies take turns).
        visits, k: as in :func:`simulate`.

    Example::

        test = ab_test(simulator, {"ALS": ModelPolicy(als), "popular": ModelPolicy(pop)})
        test.summary()                   # purchases per impression, with intervals
        print(test.compare("ALS", "popular"))
    """
    if isinstance(policies, Mapping):
        named = dict(policies)
    else:
        named = {}
        for policy in policies:
            name = getattr(policy, "name", type(policy).__name__)
            if name in named:
                raise ValueError(f"two policies are named {name!r}; pass a dict of name -> policy")
            named[name] = policy
    if not named:
        raise ValueError("policies is empty; give at least one policy")
    by_object: dict[int, str] = {}
    for name, policy in named.items():
        if id(policy) in by_object:
            raise ValueError(
                f"{by_object[id(policy)]!r} and {name!r} are the same policy object; the policies "
                "take turns visit by visit, so each needs its own (e.g. ModelPolicy(model) twice "
                "for an A/A test)"
            )
        by_object[id(policy)] = name
    return ABTest(logs=_run_policies(simulator, named, visits, k))
