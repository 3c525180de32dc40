"""The "shop": the course's embedded synthetic online shop, generated from a seed (no download).

Why synthetic? Public e-commerce logs either lack product text (Online Retail has only short
upper-case names), lack a funnel, or cannot be redistributed; and no real log tells you what
users *really* prefer. The shop has all of it, and its ground truth is exposed so a notebook can
show an oracle upper bound and check what a model has learned.

The generative story
--------------------
**Catalog.** Two related product domains, *Fashion* and *Home*, in a three-level category tree
(domain > department > leaf, 20 leaves). Every product has latent attributes shared by both
domains:

* a **style** (minimalist, vintage, bohemian, sporty, elegant, playful),
* a **use** (everyday, work, outdoor, evening, lounge),
* a **price tier** (budget, mid, premium) that sets the price (leaf base price x tier multiplier
  x log-normal noise) and favours some materials (polyester is budget, cashmere premium),
* a **brand** (48 invented brands; 12 sell in both domains). A brand has a house style, a tier and
  a quality; a product takes its brand's style with probability 0.6 (else a uniformly random
  style, which may be the brand's again) and its tier likewise with probability 0.7,
* a **material** and a **colour** (colour carries almost no preference signal: it is the axis
  along which near-duplicate *variants* of one product differ: 18% of products are designed as
  a family of 2-4 colour variants with almost the same text, so about 40% of the catalog's
  entries belong to such a family),
* an **appeal** (visibility/marketing, normal with sd 1.5, shared by all users): the source of
  the long tail of popularity,
* a **launch time**: 85% of products are listed before the period starts, 15% launch during it
  (item cold start); a new product gets extra exposure for its first 30 days.

**Text.** Titles and descriptions are written from templates whose words carry the latent
attributes, with synonyms ("minimalist", "clean-lined", "pared-back"), domain-specific words for
the same style (sporty fashion is "athletic", sporty home is "industrial": a text encoder cannot
know they are the same taste, behaviour can), look-alikes with different tiers ("leather" vs
"faux leather", "solid oak" vs "oak-effect laminate"), and attributes left unsaid (each cue is
dropped with some probability), so text is informative but imperfect.

**Users.** Each user has a style taste (a Dirichlet(0.3) point on the 6 styles: most users love
one or two styles), a use taste, a price sensitivity ``s`` (normal, mean 0.8, sd 0.7: a few like
expensive things), an interest in each domain and, within a domain, in each leaf category. 40% of
users drift: their style taste moves linearly to a second taste over 60-150 days starting at a
random time. 82% of users exist before the period starts; 18% sign up during it (user cold
start). Activity is log-normal: a user present all year has ``1 + Poisson(sessions_per_user *
a)`` sessions with ``a`` log-normal (mean about 1, capped at 12), so a few users are very active.

**Preference.** The true utility of product ``i`` for user ``u`` at time ``t`` is

    pref(u, i, t) = 3.0 * style_taste_u(t)[style_i] + 1.5 * use_taste_u[use_i]
                    - s_u * log(price_i / median price of i's leaf) + quality_brand(i)

**Sessions and the funnel.** Session times follow weekly, daily and seasonal (November-December
peak) profiles. A session picks a leaf with probability proportional to the user's interest in
it times a seasonal factor (knitwear and boots in winter, dresses and sneakers in summer), then
the user views 1-10 distinct launched products of that leaf, drawn without replacement with
probability proportional to ``exp(pref + appeal + new-arrival boost)``. Each view becomes a
cart with probability ``sigmoid(-4.2 + 0.9 pref)``, each cart a purchase with
``sigmoid(-0.6 + 0.5 pref)`` at checkout (quantity 1 + Poisson(0.25)). Repeat purchases of the
same product are kept with a leaf-specific probability (``Leaf.repeat_purchase``: 0.05 for
tables, 0.1 for most durables, up to 0.5 for tableware).

The simulator
-------------
:class:`recutils.simulator.ShopSimulator` turns the story into an environment for online
experiments: the sessions of a period of the log are replayed as visits (same users, same
times), a policy shows ``k`` products, and the visitor's response is drawn from this truth: an
intent leaf from ``leaf_interest_at``, each position examined with probability
``1 / log2(r + 2)``, an examined product clicked with ``sigmoid(-8 + view logit + 4 [in the
intent leaf])`` and a click bought with the funnel's ``sigmoid(-4.2 + 0.9 pref) x
sigmoid(-0.6 + 0.5 pref)``. Policies see only the log before the period and their own
feedback; the formulas, the calibration and the common random numbers are in
:mod:`recutils.simulator`.

Where things are
----------------
The words (style synonyms, use phrases, colours, brands, and the 20 leaves with their nouns,
materials, features, base prices and seasons) are in ``bundled/shop_vocabulary.toml``; every
number of the story is a field of :class:`ShopConfig`; :class:`ShopTruth` holds the latent
attributes and computes the probabilities the log is drawn from (the generator calls the same
methods as the oracle); :func:`generate_shop` runs ``_generate_catalog``, ``_generate_users``
and ``_generate_events``, each a short list of named steps.

All randomness comes from one ``numpy.random.Generator`` seeded with ``seed``: the same seed gives
the same shop on every machine (up to the last bits of some floats, which depend on the CPU and
the maths library). The steps draw in a fixed order, so moving a draw, or a word in the
vocabulary, changes the shop (``tests/test_shop.py`` pins it by digest).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import capwords
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.random import Generator

from recutils.cache import course_cache_wanted
from recutils.interactions import index_positions
from recutils.schema import (
    BRAND,
    CATEGORY,
    CATEGORY_SEPARATOR,
    DESCRIPTION,
    EVENT,
    ITEM,
    PRICE,
    SESSION,
    TIMESTAMP,
    TITLE,
    USER,
    WEIGHT,
    Dataset,
)

# The latent attributes; an item's or user's attribute is an index into these tuples.
STYLES: tuple[str, ...] = ("minimalist", "vintage", "bohemian", "sporty", "elegant", "playful")
USES: tuple[str, ...] = ("everyday", "work", "outdoor", "evening", "lounge")
TIERS: tuple[str, ...] = ("budget", "mid", "premium")
DOMAINS: tuple[str, ...] = ("Fashion", "Home")


@dataclass(frozen=True)
class ShopConfig:
    """Every number of the generative story (module docstring); the defaults make the course's shop.

    Each field's comment says what it does. Pairs ``(low, high)`` are the bounds of a uniform
    draw (``high`` excluded for integers).

    Example:
        >>> tasteful = ShopConfig(style_weight=5.0)  # style matters more than in the course
        >>> generate_shop(n_users=100, n_items=200, config=tasteful).truth.config.style_weight
        5.0
    """

    # -- Brands: a house style (uniform), a tier and a quality each.
    brand_tier_probabilities: tuple[float, ...] = (0.35, 0.4, 0.25)  # budget, mid, premium
    brand_quality_sd: float = 0.3  # quality ~ Normal(0, sd), part of every user's preference
    # -- Catalog: products per leaf, then designs of one product or a family of colour variants.
    leaf_share_concentration: float = 8.0  # leaf shares ~ Dirichlet(8): leaves of similar size
    min_products_per_leaf: int = 5
    single_product_probability: float = 0.82  # a design is one product, else a colour family
    family_sizes: tuple[int, int] = (2, 5)  # ... of 2-4 colour variants
    brand_style_probability: float = 0.6  # a product has its brand's style, else a random one
    brand_tier_probability: float = 0.7  # ... and its brand's tier, else a random one
    typical_material_probability: float = 0.8  # a material typical of the tier, else any
    tier_price_multipliers: tuple[float, ...] = (0.55, 1.0, 2.2)  # x the leaf's base price
    price_noise_sd: float = 0.25  # ... x LogNormal(0, sd) per design
    variant_price_noise_sd: float = 0.03  # ... x LogNormal(0, sd) per colour variant
    min_price: float = 1.0  # ... and at least 1 GBP
    bright_colour_weight: float = 4.0  # playful products pick bright colours 4x as often
    neutral_colour_weight: float = 3.0  # minimalist and elegant ones pick neutral colours 3x
    # -- Text: each cue is said with this probability, else left unsaid.
    style_in_title_probability: float = 0.6
    style_in_description_probability: float = 0.75
    use_in_description_probability: float = 0.8
    tier_in_description_probability: float = 0.6
    feature_sentences: tuple[int, int] = (1, 3)  # 1 or 2 of the leaf's feature sentences
    title_attempts: int = 20  # a title another design has is redrawn up to 20 times ...
    same_noun_attempts: int = 10  # ... with another noun after 10, then numbered "No. <n>"
    # -- Launch and visibility.
    launch_during_probability: float = 0.15  # launched during the period (item cold start) ...
    launch_margin_days: int = 20  # ... but not in its first or last 20 days
    listed_before_days: tuple[float, float] = (1, 730)  # else listed this long before the start
    appeal_sd: float = 1.5  # appeal ~ Normal(0, sd), shared by all users: the long tail
    new_arrival_boost: float = 0.8  # added to the view logit of a product ...
    new_arrival_days: int = 30  # ... in its first 30 days
    # -- Users: tastes, sign-up, drift and interests.
    style_concentration: float = 0.3  # style taste ~ Dirichlet(0.3): one or two loved styles
    drift_probability: float = 0.4  # the style taste drifts to a second Dirichlet(0.3) draw
    use_concentration: float = 0.5  # use taste ~ Dirichlet(0.5)
    price_sensitivity_mean: float = 0.8  # s ~ Normal(0.8, 0.7): a few like expensive things
    price_sensitivity_sd: float = 0.7
    late_signup_probability: float = 0.18  # signs up during the period (user cold start) ...
    late_signup_margin_days: int = 7  # ... but not in its last 7 days
    signed_up_before_days: tuple[float, float] = (1, 900)  # else signed up this long before
    drift_start_fraction: float = 0.7  # the drift starts in the first 70% of the user's time ...
    drift_days: tuple[float, float] = (60, 150)  # ... and takes 60-150 days
    fashion_share_beta: float = 1.2  # interest in Fashion ~ Beta(1.2, 1.2), Home the rest ...
    single_domain_probability: float = 0.25  # ... or all in one domain (cross-domain scenarios)
    leaf_interest_concentration: float = 0.6  # a domain's share over its leaves ~ Dirichlet(0.6)
    # -- Preference: style_weight x style taste + use_weight x use taste - s x log price ratio
    #    + brand quality (module docstring).
    style_weight: float = 3.0
    use_weight: float = 1.5
    # -- Sessions: 1 + Poisson(sessions_per_user x activity x share of the period the user is
    #    signed up), at times drawn from weekly x monthly day profiles and an hourly profile.
    activity_log_mean: float = -0.5  # activity ~ LogNormal(-0.5, 1): mean about 1, long tail ...
    activity_log_sd: float = 1.0
    max_activity: float = 12.0  # ... capped, so no user is a bot
    # fmt: off
    weekday_weights: tuple[float, ...] = (0.9, 0.9, 0.95, 1.0, 1.05, 1.25, 1.3)  # Monday..Sunday
    month_weights: tuple[float, ...] = (  # January..December: November-December peak
        1.0, 0.85, 0.9, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.35, 1.5,
    )
    hour_weights: tuple[float, ...] = (  # 0h..23h: quiet nights, lunch and evening peaks
        0.3, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
        1.3, 1.25, 1.0, 0.95, 1.0, 1.1, 1.3, 1.6, 1.8, 1.7, 1.2, 0.6,
    )
    # fmt: on
    signup_day_hours: int = 4  # a session drawn before the sign-up moves 0-4 h after it
    winter_peak_day: int = 15  # leaf seasons peak on this day of the year (15 January)
    view_count_p: float = 0.3  # views per session: Geometric(0.3) + 0 or 1 ...
    max_views: int = 10  # ... at most 10
    # -- Funnel: view -> cart -> purchase at checkout.
    view_gap_mean_seconds: float = 45.0  # seconds between views: 5 + Exponential(45)
    min_view_gap_seconds: float = 5.0
    cart_intercept: float = -4.2  # P(cart | view) = sigmoid(-4.2 + 0.9 pref)
    cart_slope: float = 0.9
    buy_intercept: float = -0.6  # P(purchase | cart) = sigmoid(-0.6 + 0.5 pref)
    buy_slope: float = 0.5
    cart_delay_seconds: tuple[int, int] = (5, 60)  # a cart comes 5-59 s after its view
    checkout_delay_seconds: int = 120  # purchases come 120 s after the session's last view
    discount_probability: float = 0.1  # a purchase is paid at a discount ...
    discount_factor: float = 0.8  # ... of 20%
    extra_quantity_mean: float = 0.25  # quantity bought: 1 + Poisson(0.25)


# ---------------------------------------------------------------------------------------------
# The vocabulary (bundled/shop_vocabulary.toml)


@dataclass(frozen=True)
class Leaf:
    """A leaf category: its path, base price (GBP), product nouns, materials and features."""

    path: tuple[str, str, str]
    base_price: float
    nouns: tuple[str, ...]
    materials: tuple[tuple[str, int], ...]  # (material, tier index it is typical of)
    features: tuple[str, ...]
    season: float = 0.0  # > 0: more popular in winter, < 0: in summer
    repeat_purchase: float = 0.1  # probability a repeat purchase of the same product is kept

    @property
    def domain(self) -> str:
        return self.path[0]

    @property
    def name(self) -> str:
        return CATEGORY_SEPARATOR.join(self.path)


VOCABULARY_FILE = Path(__file__).resolve().parent / "bundled" / "shop_vocabulary.toml"


def _leaf_from_table(table: dict[str, Any]) -> Leaf:
    """A :class:`Leaf` from one ``[[leaves]]`` table; a material reads ``"silk (premium)"``."""
    materials = []
    for text in table["materials"]:
        found = re.fullmatch(r"(.+) \((\w+)\)", text)
        if found is None or found.group(2) not in TIERS:
            raise ValueError(f"{VOCABULARY_FILE.name}: material {text!r} is not 'name (tier)'")
        materials.append((found.group(1), TIERS.index(found.group(2))))
    return Leaf(
        path=tuple(table["category"].split(CATEGORY_SEPARATOR)),
        base_price=table["base_price"],
        nouns=tuple(table["nouns"]),
        materials=tuple(materials),
        features=tuple(table["features"]),
        season=table["season"],
        repeat_purchase=table["repeat_purchase"],
    )


def _read_vocabulary() -> dict[str, Any]:
    """The vocabulary file, checked against STYLES, USES, TIERS and DOMAINS."""
    with VOCABULARY_FILE.open("rb") as file:
        vocabulary = tomllib.load(file)
    for section, keys in (
        ("style_words", STYLES),
        ("use_phrases", USES),
        ("tier_sentences", TIERS),
        ("colours", DOMAINS),
        ("brands", (*DOMAINS, "both")),
    ):
        if tuple(vocabulary[section]) != keys:
            raise ValueError(f"{VOCABULARY_FILE.name}: [{section}] must have keys {keys}")
    return vocabulary


_VOCABULARY = _read_vocabulary()
# style -> domain -> synonyms; use -> domain -> phrases; tier -> sentences; domain -> colours
STYLE_WORDS: dict[str, dict[str, list[str]]] = _VOCABULARY["style_words"]
USE_PHRASES: dict[str, dict[str, list[str]]] = _VOCABULARY["use_phrases"]
USE_OPENERS: list[str] = _VOCABULARY["use_openers"]
TIER_SENTENCES: dict[str, list[str]] = _VOCABULARY["tier_sentences"]
COLOURS: dict[str, list[str]] = _VOCABULARY["colours"]
BRIGHT_COLOURS: frozenset[str] = frozenset(_VOCABULARY["colour_groups"]["bright"])
NEUTRAL_COLOURS: frozenset[str] = frozenset(_VOCABULARY["colour_groups"]["neutral"])
# "Fashion", "Home" or "both" -> brand names
BRANDS: dict[str, tuple[str, ...]] = {
    key: tuple(names) for key, names in _VOCABULARY["brands"].items()
}
LEAVES: tuple[Leaf, ...] = tuple(_leaf_from_table(table) for table in _VOCABULARY["leaves"])


# ---------------------------------------------------------------------------------------------
# The ground truth: the distributions the log is drawn from


def _as_datetime64(at: Any) -> Any:
    """``at`` as ``datetime64[ns]``: one time (anything ``pd.Timestamp`` reads) or an array."""
    if np.ndim(at) == 0:
        return np.datetime64(pd.Timestamp(at).to_datetime64(), "ns")
    return np.asarray(at, dtype="datetime64[ns]")


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class ShopTruth:
    """The shop's hidden ground truth, aligned with ``user_ids`` and ``item_ids``.

    Arrays are indexed by user position (``U`` users) and item position (``I`` items); use
    :meth:`user_index` / :meth:`item_index` to translate ids. Times are ``datetime64[ns]``.
    Methods taking ``at`` accept one time (``"2024-12-01"``, a ``pd.Timestamp``); those that
    say so also accept an array of times, one per user or session.

    Example:
        >>> truth = generate_shop(n_users=50, n_items=200, seed=1).truth
        >>> p = truth.view_probability("2024-12-01", users=truth.user_index(["U0001"]))
        >>> p.shape == (1, len(truth.item_ids)), round(float(p.sum()), 6)
        (True, 1.0)
    """

    user_ids: np.ndarray  # (U,) str
    item_ids: np.ndarray  # (I,) str
    item_style: np.ndarray  # (I,) int index into STYLES
    item_use: np.ndarray  # (I,) int index into USES
    item_tier: np.ndarray  # (I,) int index into TIERS
    item_leaf: np.ndarray  # (I,) int index into LEAVES
    item_log_price_ratio: np.ndarray  # (I,) log(price / median price of the leaf)
    item_quality: np.ndarray  # (I,) brand quality
    item_appeal: np.ndarray  # (I,) popularity/visibility (logit units)
    item_launch: np.ndarray  # (I,) datetime64[ns]
    item_family: np.ndarray  # (I,) int: products with the same family are colour variants
    user_style_start: np.ndarray  # (U, 6) style taste before drifting (rows sum to 1)
    user_style_end: np.ndarray  # (U, 6) style taste after drifting (= start if no drift)
    user_drift_start: np.ndarray  # (U,) datetime64[ns]; NaT if the user does not drift
    user_drift_days: np.ndarray  # (U,) float
    user_use: np.ndarray  # (U, 5) use taste (rows sum to 1)
    user_price_sensitivity: np.ndarray  # (U,)
    user_leaf_interest: np.ndarray  # (U, 20) P(session in leaf), before seasonality
    user_signup: np.ndarray  # (U,) datetime64[ns]
    period_start: np.datetime64
    period_end: np.datetime64
    leaves: tuple[Leaf, ...] = field(default=LEAVES)
    config: ShopConfig = field(default=ShopConfig())  # the numbers the shop was generated with

    def user_index(self, user_ids: np.ndarray | pd.Series | list[str]) -> np.ndarray:
        """Positions of ``user_ids`` in the truth arrays; raises ``KeyError`` for unknown ids."""
        return index_positions(pd.Index(self.user_ids), user_ids, "user", "not in the shop")

    def item_index(self, item_ids: np.ndarray | pd.Series | list[str]) -> np.ndarray:
        """Positions of ``item_ids`` in the truth arrays; raises ``KeyError`` for unknown ids."""
        return index_positions(pd.Index(self.item_ids), item_ids, "item", "not in the shop")

    def _users(self, users: np.ndarray | None) -> np.ndarray:
        return np.arange(len(self.user_ids)) if users is None else np.asarray(users)

    def _items(self, items: np.ndarray | None) -> np.ndarray:
        return np.arange(len(self.item_ids)) if items is None else np.asarray(items)

    def style_taste(self, at: Any, users: np.ndarray | None = None) -> np.ndarray:
        """(len(users), 6) style taste at ``at`` (one time, or one time per user):
        ``start + w(t) (end - start)``, ``w`` rising linearly from 0 to 1 over the user's drift
        period (0 for users who do not drift). ``users``: positions, default all U users."""
        users = self._users(users)
        times = np.broadcast_to(_as_datetime64(at), users.shape)
        start = self.user_drift_start[users]
        elapsed_days = (times - start) / np.timedelta64(1, "D")
        weight = np.clip(elapsed_days / self.user_drift_days[users], 0.0, 1.0)
        weight = np.where(np.isnat(start), 0.0, weight)[:, None]
        return (1 - weight) * self.user_style_start[users] + weight * self.user_style_end[users]

    def preference(
        self, at: Any, users: np.ndarray | None = None, items: np.ndarray | None = None
    ) -> np.ndarray:
        """True preference ``pref(u, i, at)``, float64 of shape ``(len(users), len(items))``:

            pref = 3.0 * style_taste_u(at)[style_i] + 1.5 * use_taste_u[use_i]
                   - s_u * log(price_i / median price of i's leaf) + quality_brand(i)

        (weights from :class:`ShopConfig`). ``at``: one time, or one per user; ``users`` and
        ``items``: positions (see :meth:`user_index`), default all U users and all I items.

        It is what a user would like, ignoring popularity and which categories they browse:
        ranking each row gives the items the user likes most. Dense: for many users, pass them
        in batches (U x I x 8 bytes).
        """
        users, items = self._users(users), self._items(items)
        taste = self.style_taste(at, users)
        return (
            self.config.style_weight * taste[:, self.item_style[items]]
            + self.config.use_weight * self.user_use[users][:, self.item_use[items]]
            - self.user_price_sensitivity[users, None] * self.item_log_price_ratio[items][None, :]
            + self.item_quality[items][None, :]
        )

    def is_new(self, at: Any, items: np.ndarray | None = None) -> np.ndarray:
        """1.0 where product ``items[j]`` (default: all) launched less than 30 days
        (``ShopConfig.new_arrival_days``) before ``at``, else 0.0; shape
        ``np.shape(at) + (len(items),)`` (``at``: one time or an array of times)."""
        launch = self.item_launch if items is None else self.item_launch[items]
        age_days = (np.asarray(_as_datetime64(at))[..., None] - launch) / np.timedelta64(1, "D")
        return ((age_days >= 0) & (age_days < self.config.new_arrival_days)).astype(float)

    def view_logits(
        self, preference: np.ndarray, at: Any, items: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits a session's views are drawn with: ``pref + appeal_i + 0.8 * is_new(i, at)``
        (boost ``ShopConfig.new_arrival_boost``), shape of ``preference``, which holds
        :meth:`preference` for ``items`` (default all); ``at``: one time or one per row."""
        appeal = self.item_appeal if items is None else self.item_appeal[items]
        return preference + appeal[None, :] + self.config.new_arrival_boost * self.is_new(at, items)

    def leaf_weights(self, at: Any) -> np.ndarray:
        """Seasonal multipliers of each leaf's session probability at ``at``:
        ``1 + season_leaf * cos(2 pi (day_of_year(at) - 15) / 365.25)``, the cosine being 1 in
        mid-January and -1 in mid-July. Shape (20,) for one time, (n, 20) for n times."""
        times = np.atleast_1d(_as_datetime64(at))
        day_of_year = pd.DatetimeIndex(times).day_of_year.to_numpy()
        winter = np.cos(2 * np.pi * (day_of_year - self.config.winter_peak_day) / 365.25)
        seasons = np.array([leaf.season for leaf in self.leaves])
        weights = 1.0 + seasons[None, :] * winter[:, None]
        return weights[0] if np.ndim(at) == 0 else weights

    def leaf_interest_at(self, at: Any, users: np.ndarray | None = None) -> np.ndarray:
        """(len(users), 20) weight of each leaf for a session at ``at`` (one time, or one per
        user): ``user_leaf_interest`` x :meth:`leaf_weights`; rows are not normalised."""
        return self.user_leaf_interest[self._users(users)] * self.leaf_weights(at)

    def view_probability(self, at: Any, users: np.ndarray | None = None) -> np.ndarray:
        """Probability that a session starting at ``at`` first views product ``i``, float64 of
        shape ``(len(users), I)`` (``users``: positions, see :meth:`user_index`; default all).

        P(i) = P(leaf of i | season) * softmax over launched items j of the leaf of
        (pref(u, j) + appeal_j + new-arrival boost_j). Products not launched at ``at`` get 0.
        This is the oracle score: the distribution the first view of each session is drawn
        from (later views of a session are drawn without replacement from the same leaf), so no
        model of the log can rank a user's next views better on average. Dense: pass users in
        batches for large shops.
        """
        users = self._users(users)
        at64 = _as_datetime64(at)
        preference = self.preference(at64, users)
        logits = self.view_logits(preference, at64)
        launched = self.item_launch <= at64
        leaf_probability = self.leaf_interest_at(at64, users)
        leaf_probability /= leaf_probability.sum(axis=1, keepdims=True)
        probability = np.zeros_like(preference)
        for leaf in range(len(self.leaves)):
            columns = np.flatnonzero((self.item_leaf == leaf) & launched)
            if columns.size:
                probability[:, columns] = (
                    _softmax_rows(logits[:, columns]) * leaf_probability[:, [leaf]]
                )
        return probability


# ---------------------------------------------------------------------------------------------
# The generator


def generate_shop(
    n_users: int = 3000,
    n_items: int = 4000,
    seed: int = 42,
    start: str = "2024-01-01",
    days: int = 366,
    sessions_per_user: float = 14.0,
    config: ShopConfig | None = None,
    cache: bool | None = None,
) -> Dataset:
    """Generate the synthetic shop (see the module docstring for the generative story).

    Args:
        n_users: number of users (the course uses 3,000; at least 20).
        n_items: approximate catalog size (the course uses 4,000; at least 100). The exact size
            differs a little because colour-variant families are kept whole and every leaf gets
            at least 5 products (so small catalogs come out relatively larger).
        seed: seed of the single random generator; the same seed gives the same shop.
        start: first day of the period, ``YYYY-MM-DD``.
        days: length of the period in days (at least 60).
        sessions_per_user: scale of the number of sessions (a user present all year with
            average activity has about ``1 + sessions_per_user`` sessions).
        config: the numbers of the story (:class:`ShopConfig`); default ``ShopConfig()``.
        cache: keep the generated shop in the course's cache and read it from there the next
            time (:func:`cached_shop_arrays`: a tenth of a second instead of about one for the
            course's shop); ``None`` (default): on after ``recutils.setup()``, off in your own
            scripts and the unit tests (``recutils.cache.course_cache_wanted``). The shop is the
            same either way, to the last bit. Only a whole-number ``seed`` has a key: with a
            ``SeedSequence`` or a generator the shop is generated every time.

    Returns:
        A :class:`~recutils.schema.Dataset` named ``"shop"`` with ``interactions`` (view, cart
        and purchase events), ``items`` (with extra columns ``domain``, ``material``,
        ``colour``, ``launch_time``), ``users`` (``user_id``, ``signup_time``) and ``truth``,
        a :class:`ShopTruth`.

    Example:
        >>> shop = generate_shop(n_users=200, n_items=300, seed=1)
        >>> len(shop.users), list(shop.interactions["event"].unique())
        (200, ['view', 'cart', 'purchase'])
    """
    start_ts = _check_options(n_users, n_items, days, sessions_per_user, start)
    config = ShopConfig() if config is None else config
    if not isinstance(config, ShopConfig):
        raise TypeError(f"config must be a ShopConfig, got {type(config).__name__}")
    options = {
        "n_users": int(n_users),
        "n_items": int(n_items),
        "seed": seed,
        "start": str(start_ts),
        "days": int(days),
        "sessions_per_user": float(sessions_per_user),
    }
    cacheable = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    generating = {name: value for name, value in options.items() if name != "start"}
    if not (course_cache_wanted(cache) and cacheable):  # a SeedSequence or Generator: no key
        return _generate_shop(start_ts, config, **generating)
    arrays = cached_shop_arrays(
        lambda: shop_to_arrays(_generate_shop(start_ts, config, **generating)), config, **options
    )
    return shop_from_arrays(arrays, config, _shop_info(start_ts, **options))


def _shop_info(start_ts: pd.Timestamp, **options: Any) -> dict[str, Any]:
    """The ``info`` of a generated shop (from its options)."""
    end = (start_ts + pd.Timedelta(days=options["days"])).date()
    return {
        "source": "synthetic, generated by recutils.datasets.shop.generate_shop",
        "seed": options["seed"],
        "n_users": options["n_users"],
        "n_items_requested": options["n_items"],
        "period": f"{start_ts.date()} to {end}",
        "licence": "generated data; use freely",
    }


def _generate_shop(
    start_ts: pd.Timestamp,
    config: ShopConfig,
    *,
    n_users: int,
    n_items: int,
    seed: Any,
    days: int,
    sessions_per_user: float,
) -> Dataset:
    """:func:`generate_shop` without the cache (``seed``: anything ``default_rng`` takes)."""
    rng = np.random.default_rng(seed)
    period_start = np.datetime64(start_ts.to_datetime64(), "ns")
    period_end = period_start + np.timedelta64(days, "D")

    items, item_arrays = _generate_catalog(rng, n_items, period_start, days, config)
    users, user_arrays = _generate_users(rng, n_users, period_start, days, config)
    truth = ShopTruth(
        user_ids=users[USER].to_numpy(dtype=object),
        item_ids=items[ITEM].to_numpy(dtype=object),
        period_start=period_start,
        period_end=period_end,
        config=config,
        **item_arrays,
        **user_arrays,
    )
    interactions = _generate_events(rng, truth, items[PRICE].to_numpy(), sessions_per_user)
    dataset = Dataset(
        name="shop",
        interactions=interactions,
        items=items,
        users=users,
        info=_shop_info(
            start_ts,
            n_users=n_users,
            n_items=n_items,
            seed=seed,
            days=days,
        ),
        truth=truth,
    )
    return dataset.validate()


# ---------------------------------------------------------------------------------------------
# The generated shop in the course's cache

#: The frames of a shop's :class:`~recutils.schema.Dataset` kept in the cache, in this order.
SHOP_FRAMES: tuple[str, ...] = ("interactions", "items", "users")
#: The array fields of :class:`ShopTruth` (``leaves`` and ``config`` are not arrays: the
#: vocabulary file's leaves, and the config the shop is generated with).
TRUTH_ARRAYS: tuple[str, ...] = tuple(
    name for name in ShopTruth.__dataclass_fields__ if name not in ("leaves", "config")
)


def shop_to_arrays(shop: Dataset) -> dict[str, np.ndarray]:
    """A generated shop as named NumPy arrays, without pickle (:mod:`recutils.cache`'s format).

    A frame's text column ``c`` becomes ``frame.c.codes`` (int32) and ``frame.c.values``
    (fixed-width str, each distinct value once); a NumPy column (numbers, times) is stored as
    it is; the column order and dtypes are kept in ``frame.__columns__`` and
    ``frame.__dtypes__``. The truth's arrays are ``truth.<field>`` (its id arrays as
    fixed-width str). A column of another kind (nullable, categorical), a missing text or a
    text ending in NUL (fixed-width str drops it) raises ``ValueError``: the shop has none."""
    arrays: dict[str, np.ndarray] = {}
    for name in SHOP_FRAMES:
        frame = getattr(shop, name)
        arrays[f"{name}.__columns__"] = np.array(frame.columns, dtype=str)
        arrays[f"{name}.__dtypes__"] = np.array([str(t) for t in frame.dtypes], dtype=str)
        for column in frame.columns:
            values = frame[column]
            if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biufmM":
                arrays[f"{name}.{column}"] = values.to_numpy()
                continue
            if not pd.api.types.is_string_dtype(values.dtype):
                raise ValueError(f"{name}.{column} has dtype {values.dtype}: not kept as arrays")
            codes, uniques = pd.factorize(values)
            texts = np.asarray(uniques, dtype=object)
            if (codes < 0).any() or any(text.endswith("\0") for text in texts):
                raise ValueError(f"{name}.{column} has a missing text or one ending in NUL")
            arrays[f"{name}.{column}.codes"] = codes.astype(np.int32)
            arrays[f"{name}.{column}.values"] = texts.astype(str)
    for field_name in TRUTH_ARRAYS:
        value = np.asarray(getattr(shop.truth, field_name))
        arrays[f"truth.{field_name}"] = value.astype(str) if value.dtype.hasobject else value
    return arrays


def shop_from_arrays(
    arrays: dict[str, np.ndarray], config: ShopConfig, info: dict[str, Any]
) -> Dataset:
    """The shop :func:`shop_to_arrays` stored: the same frames (columns, dtypes, values) and
    truth, validated as a generated shop is."""
    frames: dict[str, pd.DataFrame] = {}
    for name in SHOP_FRAMES:
        columns = {}
        names, dtypes = arrays[f"{name}.__columns__"], arrays[f"{name}.__dtypes__"]
        for column, dtype in zip(names.tolist(), dtypes.tolist(), strict=True):
            if f"{name}.{column}" in arrays:
                columns[column] = pd.Series(arrays[f"{name}.{column}"], dtype=dtype, copy=False)
            else:
                uniques = arrays[f"{name}.{column}.values"].astype(object)
                columns[column] = pd.Series(
                    uniques[arrays[f"{name}.{column}.codes"]], dtype=dtype, copy=False
                )
        frames[name] = pd.DataFrame(columns)
    truth_fields: dict[str, Any] = {}
    for field_name in TRUTH_ARRAYS:
        value = arrays[f"truth.{field_name}"]
        if value.dtype.kind == "U":
            value = value.astype(object)
        truth_fields[field_name] = value[()] if value.ndim == 0 else value
    return Dataset(
        name="shop",
        **frames,
        info=info,
        truth=ShopTruth(**truth_fields, config=config),
    ).validate()


def cached_shop_arrays(
    generate: Callable[[], dict[str, np.ndarray]],
    config: ShopConfig,
    *,
    n_users: int,
    n_items: int,
    seed: int,
    start: str,
    days: int,
    sessions_per_user: float,
) -> dict[str, np.ndarray]:
    """The arrays of the shop with these options from ``recutils.cache_dir() / "datasets"``;
    ``generate()`` makes them on a miss (:func:`recutils.cache.cached_arrays`: written
    atomically, checksums verified when read, a corrupt entry reported and rebuilt).

    The key holds every option, the config, this module's source, the vocabulary file and the
    schema's (any edit to the story or its columns is another shop), and NumPy's and pandas'
    versions (their random draws and text handling). It holds nothing of the machine: the
    cache is one machine's (the last bits of some floats depend on the CPU)."""
    from dataclasses import asdict

    from recutils import schema
    from recutils.cache import cached_arrays, package_versions, stable_key
    from recutils.environment import cache_dir
    from recutils.files import sha256_of

    key = stable_key(
        "recutils.datasets.shop.generate_shop",
        {
            "options": {
                "n_users": n_users,
                "n_items": n_items,
                "seed": seed,
                "start": start,
                "days": days,
                "sessions_per_user": sessions_per_user,
            },
            "config": asdict(config),
            "code": sha256_of(__file__),
            "vocabulary": sha256_of(VOCABULARY_FILE),
            "schema": sha256_of(schema.__file__),
            "libraries": package_versions(["numpy", "pandas"]),
        },
    )
    return cached_arrays(key, generate, cache_dir() / "datasets", name="shop")


def _check_options(
    n_users: int, n_items: int, days: int, sessions_per_user: float, start: str
) -> pd.Timestamp:
    """Raise ``ValueError`` for an impossible option; return ``start`` as a timestamp."""
    for value, label, minimum in (
        (n_users, "n_users", 20),
        (n_items, "n_items", 100),
        (days, "days", 60),
    ):
        if not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    if not sessions_per_user > 0:
        raise ValueError(f"sessions_per_user must be > 0, got {sessions_per_user!r}")
    try:
        return pd.Timestamp(start)
    except (ValueError, TypeError) as error:
        raise ValueError(f"start must be a date like '2024-01-01', got {start!r}") from error


def _days_after(origin: np.datetime64, offset_days: np.ndarray) -> np.ndarray:
    """``origin + offset_days`` (float days, may be negative), to the second."""
    return origin + (offset_days * 86400).astype("timedelta64[s]")


# -- Catalog ----------------------------------------------------------------------------------


class _Brands(NamedTuple):
    names: list[str]
    domains: list[tuple[str, ...]]  # the domains each brand sells in
    style: np.ndarray  # house style (index into STYLES)
    tier: np.ndarray  # house tier (index into TIERS)
    quality: np.ndarray


class _Design(NamedTuple):
    """One product design: what its colour variants share."""

    variants: int
    brand: int
    style: int
    tier: int
    use: int
    material: str
    noun: str
    base_price: float


def _generate_catalog(
    rng: Generator, n_items: int, period_start: np.datetime64, days: int, config: ShopConfig
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The items table and the items' truth arrays; item ids follow launch order."""
    brands = _draw_brands(rng, config)
    leaf_counts = _draw_leaf_counts(rng, n_items, config)
    catalog = _design_products(rng, brands, leaf_counts, config)
    launch = _draw_launch_times(rng, catalog["family"].to_numpy(), period_start, days, config)
    appeal = rng.normal(0.0, config.appeal_sd, len(catalog))
    # Item ids follow launch order, like sequential SKUs.
    order = np.argsort(launch, kind="stable")
    catalog = catalog.iloc[order].reset_index(drop=True)
    launch, appeal = launch[order], appeal[order]
    return _items_table(catalog, launch, brands), _item_arrays(catalog, launch, appeal, brands)


def _draw_brands(rng: Generator, config: ShopConfig) -> _Brands:
    """Every brand of BRANDS with a house style, a tier and a quality."""
    names: list[str] = []
    domains: list[tuple[str, ...]] = []
    for key, brand_names in BRANDS.items():
        for name in brand_names:
            names.append(name)
            domains.append(DOMAINS if key == "both" else (key,))
    style = rng.integers(0, len(STYLES), len(names))
    tier = rng.choice(len(TIERS), size=len(names), p=config.brand_tier_probabilities)
    quality = rng.normal(0.0, config.brand_quality_sd, len(names))
    return _Brands(names, domains, style, tier, quality)


def _draw_leaf_counts(rng: Generator, n_items: int, config: ShopConfig) -> np.ndarray:
    """(20,) number of products of each leaf: ``n_items x Dirichlet`` share, at least 5."""
    leaf_share = rng.dirichlet(np.full(len(LEAVES), config.leaf_share_concentration))
    return np.maximum(config.min_products_per_leaf, np.round(leaf_share * n_items).astype(int))


def _design_products(
    rng: Generator, brands: _Brands, leaf_counts: np.ndarray, config: ShopConfig
) -> pd.DataFrame:
    """One row per product (leaf, latent attributes, brand, text, price, family), leaf by leaf:
    designs until the leaf has its count, each design one product or a colour family."""
    rows: list[dict[str, object]] = []
    used_titles: set[str] = set()
    family = 0
    for leaf_index, (leaf, count) in enumerate(zip(LEAVES, leaf_counts, strict=True)):
        leaf_brands = [b for b, domains in enumerate(brands.domains) if leaf.domain in domains]
        made = 0
        while made < count:
            design = _draw_design(rng, leaf, leaf_brands, brands, config)
            colours = _pick_colours(rng, leaf.domain, STYLES[design.style], design.variants, config)
            text = _write_unique_text(
                rng, leaf, design, brands.names[design.brand], used_titles, family, config
            )
            for colour in colours:
                noise = rng.lognormal(0, config.variant_price_noise_sd)
                price = round(float(design.base_price * noise), 2)
                title = (
                    text["title"] if design.variants == 1 else f"{text['title']} - {colour.title()}"
                )
                rows.append(
                    {
                        "leaf": leaf_index,
                        "style": design.style,
                        "use": design.use,
                        "tier": design.tier,
                        "brand": design.brand,
                        "material": design.material,
                        "colour": colour,
                        "family": family,
                        "title": title,
                        "description": f"{text['description']} Colour: {colour}.",
                        "price": max(price, config.min_price),
                    }
                )
            family += 1
            made += design.variants
    return pd.DataFrame(rows)


def _draw_design(
    rng: Generator, leaf: Leaf, leaf_brands: list[int], brands: _Brands, config: ShopConfig
) -> _Design:
    """Number of colour variants, brand, style, tier, use, material, noun and base price."""
    if rng.random() < config.single_product_probability:
        variants = 1
    else:
        variants = int(rng.integers(*config.family_sizes))
    brand = int(rng.choice(leaf_brands))
    if rng.random() < config.brand_style_probability:
        style = int(brands.style[brand])
    else:
        style = int(rng.integers(0, len(STYLES)))
    if rng.random() < config.brand_tier_probability:
        tier = int(brands.tier[brand])
    else:
        tier = int(rng.integers(0, len(TIERS)))
    use = int(rng.integers(0, len(USES)))
    any_material = [m for m, _ in leaf.materials]
    typical = [m for m, t in leaf.materials if t == tier] or any_material
    if rng.random() < config.typical_material_probability:
        material = str(rng.choice(typical))
    else:
        material = str(rng.choice(any_material))
    noun = str(rng.choice(leaf.nouns))
    base_price = (
        leaf.base_price
        * config.tier_price_multipliers[tier]
        * rng.lognormal(0, config.price_noise_sd)
    )
    return _Design(variants, brand, style, tier, use, material, noun, base_price)


def _pick_colours(
    rng: Generator, domain: str, style: str, count: int, config: ShopConfig
) -> list[str]:
    """``count`` distinct colours of the domain's palette; playful products favour bright
    colours, minimalist and elegant ones neutral colours."""
    palette = COLOURS[domain]
    weight = np.ones(len(palette))
    for k, colour in enumerate(palette):
        if style == "playful" and colour in BRIGHT_COLOURS:
            weight[k] = config.bright_colour_weight
        elif style in ("minimalist", "elegant") and colour in NEUTRAL_COLOURS:
            weight[k] = config.neutral_colour_weight
    picks = rng.choice(len(palette), size=count, replace=False, p=weight / weight.sum())
    return [palette[k] for k in picks]


def _write_unique_text(
    rng: Generator,
    leaf: Leaf,
    design: _Design,
    brand: str,
    used_titles: set[str],
    family: int,
    config: ShopConfig,
) -> dict[str, str]:
    """Title and description of a design, with a title no other design has (its colour
    variants share it, up to the colour): the wording is redrawn up to 20 times, from the
    11th time with another noun of the leaf, then the title gets ``No. <family>``. Adds the
    title to ``used_titles``."""
    for attempt in range(config.title_attempts):
        noun = design.noun if attempt < config.same_noun_attempts else str(rng.choice(leaf.nouns))
        title = _write_title(rng, leaf, design, noun, brand, config)
        description = _write_description(rng, leaf, design, noun, config)
        if title not in used_titles:
            break
    else:
        title += f" No. {family}"
    used_titles.add(title)
    return {"title": title, "description": description}


def _said_by(noun: str, material: str) -> bool:
    """Whether the noun already says the material ("flannel shirt", "denim" jeans): then the
    text does not say it twice."""
    return material.lower() in noun.lower()


def _write_title(
    rng: Generator, leaf: Leaf, design: _Design, noun: str, brand: str, config: ShopConfig
) -> str:
    """``<Brand> [<Style Word>] [<Material>] <Noun>``, the style word said with probability."""
    style_word = str(rng.choice(STYLE_WORDS[STYLES[design.style]][leaf.domain]))
    say_style = rng.random() < config.style_in_title_probability
    title_style = f"{capwords(style_word, '-')} " if say_style else ""
    title_material = "" if _said_by(noun, design.material) else f"{capwords(design.material)} "
    return f"{brand} {title_style}{title_material}{capwords(noun)}"


def _write_description(
    rng: Generator, leaf: Leaf, design: _Design, noun: str, config: ShopConfig
) -> str:
    """What it is (with a style word or not), what it is made for, a tier sentence, one or two
    of the leaf's features; each cue but the features may be left unsaid."""
    in_material = "" if _said_by(noun, design.material) else f" in {design.material}"
    style_word = str(rng.choice(STYLE_WORDS[STYLES[design.style]][leaf.domain]))
    sentences = []
    if rng.random() < config.style_in_description_probability:
        plural = noun.endswith("s") and not noun.endswith("ss")
        article = "" if plural else ("An " if style_word[0].lower() in "aeiou" else "A ")
        phrase = f"{article}{style_word} {noun}{in_material}."
        sentences.append(phrase[0].upper() + phrase[1:])
    else:
        sentences.append(f"{noun[0].upper()}{noun[1:]}{in_material}.")
    if rng.random() < config.use_in_description_probability:
        phrase = str(rng.choice(USE_PHRASES[USES[design.use]][leaf.domain]))
        opener = str(rng.choice(USE_OPENERS))
        sentences.append(f"{opener} {phrase}.")
    if rng.random() < config.tier_in_description_probability:
        sentences.append(str(rng.choice(TIER_SENTENCES[TIERS[design.tier]])))
    n_features = int(rng.integers(*config.feature_sentences))
    sentences.extend(rng.choice(leaf.features, size=n_features, replace=False))
    return " ".join(str(s) for s in sentences)


def _draw_launch_times(
    rng: Generator, family: np.ndarray, period_start: np.datetime64, days: int, config: ShopConfig
) -> np.ndarray:
    """(I,) datetime64[ns] launch times: during the period (away from its ends) or up to two
    years before it; the colour variants of one family launch together."""
    n = len(family)
    launched_during = rng.random(n) < config.launch_during_probability
    margin = config.launch_margin_days
    offset_days = np.where(
        launched_during,
        rng.uniform(margin, days - margin, n),
        -rng.uniform(*config.listed_before_days, n),
    )
    _, first_of_family = np.unique(family, return_index=True)
    return _days_after(period_start, offset_days[first_of_family][family])


def _items_table(catalog: pd.DataFrame, launch: np.ndarray, brands: _Brands) -> pd.DataFrame:
    """The items table of the schema, plus ``domain``, ``material``, ``colour``,
    ``launch_time``; ids ``P00001``... in row order."""
    n = len(catalog)
    width = max(5, len(str(n)))  # zero-padded so that sorting ids as text keeps their order
    leaf_of = catalog["leaf"].to_numpy()
    items = pd.DataFrame(
        {
            ITEM: np.array([f"P{i:0{width}d}" for i in range(1, n + 1)], dtype=object),
            TITLE: catalog["title"].to_numpy(),
            DESCRIPTION: catalog["description"].to_numpy(),
            CATEGORY: [LEAVES[leaf].name for leaf in leaf_of],
            BRAND: [brands.names[b] for b in catalog["brand"]],
            PRICE: catalog["price"].to_numpy(),
            "domain": [LEAVES[leaf].domain for leaf in leaf_of],
            "material": catalog["material"].to_numpy(),
            "colour": catalog["colour"].to_numpy(),
            "launch_time": pd.to_datetime(launch).astype("datetime64[ns]"),
        }
    )
    for column in (ITEM, TITLE, DESCRIPTION, CATEGORY, BRAND, "domain", "material", "colour"):
        items[column] = items[column].astype(str)
    return items


def _item_arrays(
    catalog: pd.DataFrame, launch: np.ndarray, appeal: np.ndarray, brands: _Brands
) -> dict[str, np.ndarray]:
    """The item fields of :class:`ShopTruth`."""
    leaf_of = catalog["leaf"].to_numpy()
    log_price = np.log(catalog["price"].to_numpy())
    leaf_median = pd.Series(log_price).groupby(leaf_of).transform("median").to_numpy()
    return {
        "item_style": catalog["style"].to_numpy(),
        "item_use": catalog["use"].to_numpy(),
        "item_tier": catalog["tier"].to_numpy(),
        "item_leaf": leaf_of,
        "item_log_price_ratio": log_price - leaf_median,
        "item_quality": brands.quality[catalog["brand"].to_numpy()],
        "item_appeal": appeal,
        "item_launch": launch.astype("datetime64[ns]"),
        "item_family": catalog["family"].to_numpy(),
    }


# -- Users ------------------------------------------------------------------------------------


def _generate_users(
    rng: Generator, n_users: int, period_start: np.datetime64, days: int, config: ShopConfig
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The users table (``user_id``, ``signup_time``) and the users' truth arrays."""
    tastes = _draw_tastes(rng, n_users, config)
    signup_offset = _draw_signup_offsets(rng, n_users, days, config)
    drifts = tastes["drifts"]
    drift_offset, drift_days = _draw_drifts(rng, drifts, signup_offset, days, config)
    leaf_interest = _draw_leaf_interest(rng, n_users, config)
    signup = _days_after(period_start, signup_offset).astype("datetime64[ns]")
    drift_start = _days_after(period_start, drift_offset).astype("datetime64[ns]")
    drift_start = np.where(drifts, drift_start, np.datetime64("NaT", "ns"))
    width = max(4, len(str(n_users)))  # zero-padded so that sorting ids as text keeps order
    users = pd.DataFrame(
        {
            USER: np.array([f"U{u:0{width}d}" for u in range(1, n_users + 1)], dtype=object),
            "signup_time": pd.to_datetime(signup).astype("datetime64[ns]"),
        }
    )
    users[USER] = users[USER].astype(str)
    arrays = {
        "user_style_start": tastes["style_start"],
        "user_style_end": tastes["style_end"],
        "user_drift_start": drift_start,
        "user_drift_days": drift_days,
        "user_use": tastes["use"],
        "user_price_sensitivity": tastes["price_sensitivity"],
        "user_leaf_interest": leaf_interest,
        "user_signup": signup,
    }
    return users, arrays


def _draw_tastes(rng: Generator, n_users: int, config: ShopConfig) -> dict[str, Any]:
    """Style taste before and after drifting (``drifts``: who drifts), use taste and price
    sensitivity of every user."""
    style_prior = np.full(len(STYLES), config.style_concentration)
    style_start = rng.dirichlet(style_prior, n_users)
    drifts = rng.random(n_users) < config.drift_probability
    style_end = np.where(drifts[:, None], rng.dirichlet(style_prior, n_users), style_start)
    use = rng.dirichlet(np.full(len(USES), config.use_concentration), n_users)
    price_sensitivity = rng.normal(
        config.price_sensitivity_mean, config.price_sensitivity_sd, n_users
    )
    return {
        "style_start": style_start,
        "drifts": drifts,
        "style_end": style_end,
        "use": use,
        "price_sensitivity": price_sensitivity,
    }


def _draw_signup_offsets(rng: Generator, n_users: int, days: int, config: ShopConfig) -> np.ndarray:
    """(U,) sign-up day relative to the period start: during it, or up to 900 days before."""
    late = rng.random(n_users) < config.late_signup_probability
    return np.where(
        late,
        rng.uniform(0, days - config.late_signup_margin_days, n_users),
        -rng.uniform(*config.signed_up_before_days, n_users),
    )


def _draw_drifts(
    rng: Generator, drifts: np.ndarray, signup_offset: np.ndarray, days: int, config: ShopConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Drift start, in days from the period start, uniform in the first 70% of the user's time
    in the period (drawn for every user; used for those who ``drifts``), and drift length."""
    first_day = np.maximum(signup_offset, 0)
    drift_offset = (
        first_day
        + rng.uniform(0, 1, len(drifts)) * (days - first_day) * config.drift_start_fraction
    )
    drift_days = rng.uniform(*config.drift_days, len(drifts))
    return drift_offset, drift_days


def _draw_leaf_interest(rng: Generator, n_users: int, config: ShopConfig) -> np.ndarray:
    """(U, 20) interest in each leaf: a share of interest in Fashion (all in one domain for
    some users), Home the rest, each domain's share spread over its leaves by a Dirichlet."""
    fashion_share = rng.beta(config.fashion_share_beta, config.fashion_share_beta, n_users)
    single = rng.random(n_users) < config.single_domain_probability
    fashion_share = np.where(single, (fashion_share > 0.5).astype(float), fashion_share)
    leaf_interest = np.zeros((n_users, len(LEAVES)))
    for domain, share in (("Fashion", fashion_share), ("Home", 1.0 - fashion_share)):
        columns = [k for k, leaf in enumerate(LEAVES) if leaf.domain == domain]
        prior = np.full(len(columns), config.leaf_interest_concentration)
        leaf_interest[:, columns] = rng.dirichlet(prior, n_users) * share[:, None]
    return leaf_interest


# -- Events -----------------------------------------------------------------------------------

# Sessions of one leaf are handled in chunks of about this many (memory: chunk x leaf items).
_SESSIONS_PER_CHUNK = 20_000


class _Views(NamedTuple):
    """One entry per view: its session, product, rank in the session and true preference."""

    session: np.ndarray
    item: np.ndarray
    rank: np.ndarray
    preference: np.ndarray


def _generate_events(
    rng: Generator, truth: ShopTruth, item_price: np.ndarray, sessions_per_user: float
) -> pd.DataFrame:
    """The interactions table: views of each session, carts and purchases."""
    config = truth.config
    user_of, times = _draw_sessions(rng, truth, sessions_per_user)
    session_leaf = _draw_session_leaves(rng, truth, user_of, times)
    n_views = _draw_view_counts(rng, len(user_of), config)
    views = _draw_views(rng, truth, user_of, times, session_leaf, n_views)
    views, view_time = _order_and_time_views(rng, views, times, config)
    carted, bought = _draw_carts_and_purchases(rng, views.preference, config)
    cart_time, buy_time = _cart_and_checkout_times(rng, views.session, view_time, config)
    user = user_of[views.session]
    bought = _drop_repeat_purchases(rng, truth, user, views.item, bought)
    prices = item_price[views.item]
    paid, quantity = _draw_payments(rng, prices, config)
    every, ones = np.ones(len(user), dtype=bool), np.ones(len(user))
    steps = [  # (event, which views, time, weight, price)
        ("view", every, view_time, ones, prices),
        ("cart", carted, cart_time, ones, prices),
        ("purchase", bought, buy_time, quantity, paid),
    ]
    return _events_table(truth, user, views, steps)


def _draw_sessions(
    rng: Generator, truth: ShopTruth, sessions_per_user: float
) -> tuple[np.ndarray, np.ndarray]:
    """Owner and start time of every session, sorted by user then time. A user has
    ``1 + Poisson(sessions_per_user x activity x share of the period signed up)`` sessions."""
    config = truth.config
    n_users = len(truth.user_ids)
    active_start = np.maximum(truth.user_signup, truth.period_start)
    active_fraction = (truth.period_end - active_start) / (truth.period_end - truth.period_start)
    activity = np.minimum(
        rng.lognormal(mean=config.activity_log_mean, sigma=config.activity_log_sd, size=n_users),
        config.max_activity,
    )
    n_sessions = 1 + rng.poisson(sessions_per_user * activity * active_fraction)
    user_of = np.repeat(np.arange(n_users), n_sessions)
    times = _draw_session_times(rng, truth, active_start, user_of)
    order = np.lexsort((times, user_of))
    return user_of[order], times[order]


def _day_weights(dates: pd.DatetimeIndex, config: ShopConfig) -> np.ndarray:
    """Relative number of sessions on each date: weekday weight x month weight."""
    weekday = np.array(config.weekday_weights)[dates.day_of_week]
    return weekday * np.array(config.month_weights)[dates.month - 1]


def _draw_session_times(
    rng: Generator, truth: ShopTruth, lower: np.ndarray, user_of: np.ndarray
) -> np.ndarray:
    """Session start times: day from the weekly x monthly profile, restricted to each user's
    window [lower_u, end), then hour from the daily profile, then minute and second."""
    config, start, count = truth.config, truth.period_start, len(user_of)
    days = int((truth.period_end - start) / np.timedelta64(1, "D"))
    day_weight = _day_weights(pd.date_range(start, periods=days, freq="D"), config)
    cdf = np.concatenate([[0.0], np.cumsum(day_weight)]) / day_weight.sum()
    lower_day = np.floor((lower - start) / np.timedelta64(1, "D")).astype(int)
    lower_day = np.clip(lower_day, 0, days - 1)
    low = cdf[lower_day[user_of]]
    u = low + rng.random(count) * (1.0 - low)
    day = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, days - 1)
    hour_weight = np.array(config.hour_weights)
    hour = rng.choice(24, size=count, p=hour_weight / hour_weight.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, size=count)
    times = start + seconds.astype("timedelta64[s]")
    # A session drawn on a user's signup day but before the signup moves to a random time in
    # the few hours after it (not to the signup instant itself, which would stack sessions).
    early = times < lower[user_of]
    delay = rng.uniform(0, config.signup_day_hours * 3600, count)
    later = lower[user_of] + (delay * 1e9).astype("timedelta64[ns]")
    return np.where(early, later, times)


def _draw_session_leaves(
    rng: Generator, truth: ShopTruth, user_of: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """Leaf of each session, with probability proportional to the user's interest in it times
    its season at the session's time (:meth:`ShopTruth.leaf_interest_at`)."""
    leaf_cdf = np.cumsum(truth.leaf_interest_at(times, user_of), axis=1)
    leaf_cdf /= leaf_cdf[:, -1:]
    session_leaf = (rng.random(len(user_of))[:, None] > leaf_cdf).sum(axis=1)
    return np.minimum(session_leaf, len(truth.leaves) - 1)


def _draw_view_counts(rng: Generator, n_sessions: int, config: ShopConfig) -> np.ndarray:
    """Views wanted by each session: Geometric(0.3) + 0 or 1, at most 10."""
    views = rng.geometric(config.view_count_p, n_sessions) + rng.integers(0, 2, n_sessions)
    return np.minimum(views, config.max_views)


def _draw_views(
    rng: Generator,
    truth: ShopTruth,
    user_of: np.ndarray,
    times: np.ndarray,
    session_leaf: np.ndarray,
    n_views: np.ndarray,
) -> _Views:
    """The views of every session, leaf by leaf (see :func:`_draw_views_in_leaf`)."""
    found = []
    for leaf in range(len(truth.leaves)):
        leaf_items = np.flatnonzero(truth.item_leaf == leaf)
        leaf_sessions = np.flatnonzero(session_leaf == leaf)
        n_chunks = max(1, leaf_sessions.size // _SESSIONS_PER_CHUNK)
        for sessions in np.array_split(leaf_sessions, n_chunks):
            if sessions.size and leaf_items.size:
                users, starts = user_of[sessions], times[sessions]
                found.append(
                    _draw_views_in_leaf(
                        rng, truth, sessions, users, starts, leaf_items, n_views[sessions]
                    )
                )
    return _Views(*(np.concatenate(parts) for parts in zip(*found, strict=True)))


def _draw_views_in_leaf(
    rng: Generator,
    truth: ShopTruth,
    sessions: np.ndarray,
    users: np.ndarray,
    times: np.ndarray,
    leaf_items: np.ndarray,
    n_views: np.ndarray,
) -> _Views:
    """Each session's views among the leaf's launched products: ``n_views`` of them (or all
    launched), drawn without replacement with probability proportional to
    ``exp(view_logits)``. Gumbel top-k: the k largest logit + Gumbel noise are k draws without
    replacement from softmax(logits), in order."""
    preference = truth.preference(times, users, leaf_items)
    logits = truth.view_logits(preference, times, leaf_items)
    launched = truth.item_launch[leaf_items][None, :] <= times[:, None]
    keyed = np.where(launched, logits + rng.gumbel(size=logits.shape), -np.inf)
    k = min(truth.config.max_views, leaf_items.size)
    if k < leaf_items.size:
        top = np.argpartition(-keyed, k - 1, axis=1)[:, :k]
    else:
        top = np.tile(np.arange(leaf_items.size), (sessions.size, 1))
    order = np.argsort(-np.take_along_axis(keyed, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    wanted = np.minimum(n_views, launched.sum(axis=1))
    rank = np.broadcast_to(np.arange(k), top.shape)
    keep = rank < wanted[:, None]
    rows = np.broadcast_to(np.arange(sessions.size)[:, None], top.shape)[keep]
    return _Views(sessions[rows], leaf_items[top[keep]], rank[keep], preference[rows, top[keep]])


def _order_and_time_views(
    rng: Generator, views: _Views, session_times: np.ndarray, config: ShopConfig
) -> tuple[_Views, np.ndarray]:
    """Views sorted by session and rank, and their times (to the second): the session's start
    plus ``5 + Exponential(45)`` seconds per view."""
    gaps = rng.exponential(config.view_gap_mean_seconds, size=views.session.size)
    gaps = gaps + config.min_view_gap_seconds
    order = np.lexsort((views.rank, views.session))
    views = _Views(*(column[order] for column in views))
    offset = pd.Series(gaps[order]).groupby(views.session).cumsum().to_numpy()
    view_time = session_times[views.session] + (offset * 1e9).astype("timedelta64[ns]")
    return views, view_time.astype("datetime64[s]").astype("datetime64[ns]")


def _draw_carts_and_purchases(
    rng: Generator, preference: np.ndarray, config: ShopConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Which views are carted, ``sigmoid(-4.2 + 0.9 pref)``, and which carts bought,
    ``sigmoid(-0.6 + 0.5 pref)``."""
    n = preference.size
    carted = rng.random(n) < _sigmoid(config.cart_intercept + config.cart_slope * preference)
    buys = rng.random(n) < _sigmoid(config.buy_intercept + config.buy_slope * preference)
    return carted, carted & buys


def _cart_and_checkout_times(
    rng: Generator, session: np.ndarray, view_time: np.ndarray, config: ShopConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Cart times (5-59 s after the view) and checkout times (120 s after the session's last
    view), one per view."""
    session_end = pd.Series(view_time).groupby(session).transform("max").to_numpy()
    delay = rng.integers(*config.cart_delay_seconds, session.size)
    cart_time = view_time + (delay * 1e9).astype("timedelta64[ns]")
    buy_time = session_end + np.timedelta64(config.checkout_delay_seconds, "s")
    return cart_time, buy_time


def _drop_repeat_purchases(
    rng: Generator, truth: ShopTruth, user: np.ndarray, item: np.ndarray, bought: np.ndarray
) -> np.ndarray:
    """``bought`` without most repeat purchases: buying a product the user bought before is
    kept with the leaf's ``repeat_purchase`` probability."""
    keep_repeat = np.array([leaf.repeat_purchase for leaf in truth.leaves])[truth.item_leaf[item]]
    buy_index = np.flatnonzero(bought)
    pair = user[buy_index].astype(np.int64) * len(truth.item_ids) + item[buy_index]
    repeat = pd.Series(pair).duplicated().to_numpy()
    drop = repeat & (rng.random(buy_index.size) >= keep_repeat[buy_index])
    bought = bought.copy()
    bought[buy_index[drop]] = False
    return bought


def _draw_payments(
    rng: Generator, prices: np.ndarray, config: ShopConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Price paid (10% of purchases at 20% off, rounded to pence) and quantity
    (``1 + Poisson(0.25)``), one per view."""
    discounted = rng.random(prices.size) < config.discount_probability
    discount = np.where(discounted, config.discount_factor, 1.0)
    quantity = 1 + rng.poisson(config.extra_quantity_mean, prices.size)
    return np.round(prices * discount, 2), quantity


def _events_table(
    truth: ShopTruth,
    user: np.ndarray,
    views: _Views,
    steps: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """The interactions table: one row per view selected by each funnel step, sorted by time,
    user, funnel step (view, cart, purchase) and item; session ids ``S000001``..."""
    session_ids = np.array([f"S{s + 1:06d}" for s in range(views.session.max() + 1)], dtype=object)
    frames = [
        pd.DataFrame(
            {
                USER: truth.user_ids[user[mask]],
                ITEM: truth.item_ids[views.item[mask]],
                TIMESTAMP: when[mask],
                EVENT: event,
                WEIGHT: weight[mask].astype(float),
                PRICE: price[mask],
                SESSION: session_ids[views.session[mask]],
            }
        )
        for event, mask, when, weight, price in steps
    ]
    events = pd.concat(frames, ignore_index=True)
    funnel_order = events[EVENT].map({"view": 0, "cart": 1, "purchase": 2})
    events = (
        events.assign(_order=funnel_order)
        .sort_values([TIMESTAMP, USER, "_order", ITEM], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    for column in (USER, ITEM, EVENT, SESSION):
        events[column] = events[column].astype(str)
    events[TIMESTAMP] = events[TIMESTAMP].astype("datetime64[ns]")
    return events
