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

All randomness comes from one ``numpy.random.Generator`` seeded with ``seed``: the same seed gives
the same shop on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import capwords

import numpy as np
import pandas as pd

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

STYLES: tuple[str, ...] = ("minimalist", "vintage", "bohemian", "sporty", "elegant", "playful")
USES: tuple[str, ...] = ("everyday", "work", "outdoor", "evening", "lounge")
TIERS: tuple[str, ...] = ("budget", "mid", "premium")
DOMAINS: tuple[str, ...] = ("Fashion", "Home")
TIER_PRICE_MULTIPLIER = np.array([0.55, 1.0, 2.2])

# Weights of the true preference (see the module docstring).
STYLE_WEIGHT = 3.0
USE_WEIGHT = 1.5
APPEAL_SD = 1.5
NEW_ARRIVAL_BOOST = 0.8
NEW_ARRIVAL_DAYS = 30
CART_INTERCEPT, CART_SLOPE = -4.2, 0.9
BUY_INTERCEPT, BUY_SLOPE = -0.6, 0.5

STYLE_WORDS: dict[str, dict[str, list[str]]] = {
    "minimalist": {
        "Fashion": ["minimalist", "clean-lined", "understated", "pared-back", "simple"],
        "Home": ["minimalist", "Scandi", "clean-lined", "understated", "pared-back"],
    },
    "vintage": {
        "Fashion": ["vintage", "retro", "heritage", "70s-inspired", "old-school"],
        "Home": ["vintage", "retro", "mid-century", "antique-look", "heritage"],
    },
    "bohemian": {
        "Fashion": ["boho", "bohemian", "free-spirited", "folk", "embroidered"],
        "Home": ["boho", "bohemian", "eclectic", "artisan", "macrame"],
    },
    "sporty": {
        "Fashion": ["sporty", "athletic", "performance", "technical", "active"],
        "Home": ["industrial", "utilitarian", "rugged", "loft-style", "metal-frame"],
    },
    "elegant": {
        "Fashion": ["elegant", "tailored", "refined", "timeless", "classic"],
        "Home": ["elegant", "refined", "classic", "luxe", "timeless"],
    },
    "playful": {
        "Fashion": ["playful", "colourful", "bold", "vibrant", "statement"],
        "Home": ["playful", "colourful", "bold", "whimsical", "bright"],
    },
}

USE_PHRASES: dict[str, dict[str, list[str]]] = {
    "everyday": {
        "Fashion": ["everyday wear", "daily errands", "casual weekends"],
        "Home": ["everyday use", "busy family life", "daily routines"],
    },
    "work": {
        "Fashion": ["the office", "business meetings", "the daily commute"],
        "Home": ["the home office", "a focused workspace", "study corners"],
    },
    "outdoor": {
        "Fashion": ["hiking and travel", "outdoor adventures", "rainy city walks"],
        "Home": ["the garden", "balconies and patios", "outdoor dining"],
    },
    "evening": {
        "Fashion": ["evenings out", "parties and weddings", "date nights"],
        "Home": ["entertaining guests", "dinner parties", "festive gatherings"],
    },
    "lounge": {
        "Fashion": ["lounging at home", "slow Sundays", "long travel days"],
        "Home": ["cosy evenings", "reading nooks", "lazy Sunday mornings"],
    },
}

TIER_SENTENCES: dict[str, list[str]] = {
    "budget": ["Great value.", "An affordable everyday pick.", "Budget-friendly without fuss."],
    "mid": ["Quality at a fair price.", "Well made and built to last.", "A dependable choice."],
    "premium": [
        "Premium craftsmanship.",
        "A luxury investment piece.",
        "Made from the finest materials.",
    ],
}

COLOURS: dict[str, list[str]] = {
    "Fashion": [
        "black",
        "white",
        "navy",
        "olive",
        "camel",
        "burgundy",
        "grey",
        "sand",
        "mustard",
        "sky blue",
        "coral",
        "forest green",
    ],
    "Home": [
        "natural",
        "charcoal",
        "ivory",
        "terracotta",
        "sage",
        "ochre",
        "slate",
        "blush",
        "teal",
        "white",
        "black",
        "walnut brown",
    ],
}
BRIGHT_COLOURS = {
    "mustard",
    "sky blue",
    "coral",
    "forest green",
    "terracotta",
    "ochre",
    "blush",
    "teal",
}
NEUTRAL_COLOURS = {"black", "white", "grey", "sand", "ivory", "charcoal", "natural", "slate"}


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


LEAVES: tuple[Leaf, ...] = (
    Leaf(
        ("Fashion", "Women", "Dresses"),
        45,
        ("dress", "midi dress", "maxi dress", "wrap dress", "shirt dress"),
        (
            ("polyester", 0),
            ("viscose", 0),
            ("cotton", 1),
            ("linen", 1),
            ("silk", 2),
            ("organic cotton", 2),
        ),
        (
            "Falls just below the knee.",
            "Has hidden side pockets.",
            "Fully lined.",
            "Cut for a relaxed silhouette.",
            "Ties at the waist.",
        ),
        season=-0.6,
    ),
    Leaf(
        ("Fashion", "Women", "Tops"),
        25,
        ("top", "blouse", "T-shirt", "camisole", "tunic"),
        (("polyester", 0), ("jersey", 0), ("cotton", 1), ("linen", 1), ("silk", 2), ("modal", 1)),
        (
            "Relaxed fit.",
            "Finished with a rounded hem.",
            "Easy to layer.",
            "Machine washable at 30 degrees.",
        ),
        season=-0.3,
        repeat_purchase=0.2,
    ),
    Leaf(
        ("Fashion", "Women", "Knitwear"),
        55,
        ("jumper", "cardigan", "sweater", "knitted vest", "roll-neck"),
        (("acrylic", 0), ("cotton blend", 0), ("wool", 1), ("merino wool", 2), ("cashmere", 2)),
        (
            "Ribbed cuffs and hem.",
            "Soft against the skin.",
            "A chunky, warm knit.",
            "Dropped shoulders for an easy fit.",
        ),
        season=0.8,
    ),
    Leaf(
        ("Fashion", "Men", "Shirts"),
        35,
        ("shirt", "oxford shirt", "overshirt", "flannel shirt", "polo shirt"),
        (("polyester", 0), ("cotton", 1), ("linen", 1), ("flannel", 1), ("Egyptian cotton", 2)),
        ("Button-down collar.", "Regular fit.", "Chest pocket.", "Easy-iron finish."),
        repeat_purchase=0.2,
    ),
    Leaf(
        ("Fashion", "Men", "Trousers"),
        45,
        ("trousers", "chinos", "joggers", "cargo trousers", "jeans"),
        (("polyester", 0), ("denim", 1), ("cotton twill", 1), ("corduroy", 1), ("wool", 2)),
        (
            "Straight leg.",
            "Elasticated back waistband.",
            "Five-pocket styling.",
            "Tapered through the ankle.",
        ),
    ),
    Leaf(
        ("Fashion", "Men", "Jackets"),
        95,
        ("jacket", "bomber jacket", "parka", "blazer", "rain jacket"),
        (
            ("nylon", 0),
            ("faux leather", 0),
            ("denim", 1),
            ("waxed cotton", 1),
            ("leather", 2),
            ("wool", 2),
        ),
        ("Water-repellent finish.", "Two zipped pockets.", "Detachable hood.", "Quilted lining."),
        season=0.5,
    ),
    Leaf(
        ("Fashion", "Shoes", "Sneakers"),
        65,
        ("sneakers", "trainers", "running shoes", "canvas shoes", "slip-ons"),
        (("synthetic mesh", 0), ("canvas", 0), ("recycled knit", 1), ("suede", 1), ("leather", 2)),
        ("Cushioned sole.", "Breathable lining.", "Lace-up fastening.", "Grippy rubber outsole."),
        season=-0.4,
    ),
    Leaf(
        ("Fashion", "Shoes", "Boots"),
        90,
        ("boots", "ankle boots", "Chelsea boots", "hiking boots", "lace-up boots"),
        (("faux leather", 0), ("rubber", 0), ("suede", 1), ("leather", 2), ("nubuck", 2)),
        ("Chunky tread.", "Side zip.", "Padded collar.", "Waterproof membrane."),
        season=0.8,
    ),
    Leaf(
        ("Fashion", "Accessories", "Bags"),
        55,
        ("tote bag", "backpack", "crossbody bag", "weekender bag", "clutch"),
        (
            ("polyester", 0),
            ("canvas", 0),
            ("faux leather", 0),
            ("nylon", 1),
            ("vegan leather", 1),
            ("leather", 2),
        ),
        ("Fits a 15-inch laptop.", "Adjustable strap.", "Magnetic closure.", "Inner zip pocket."),
    ),
    Leaf(
        ("Fashion", "Accessories", "Scarves"),
        25,
        ("scarf", "wrap", "shawl", "bandana", "snood"),
        (("acrylic", 0), ("viscose", 0), ("cotton", 1), ("wool", 1), ("silk", 2), ("cashmere", 2)),
        ("Fringed edges.", "Generously sized.", "Lightweight and soft."),
        season=0.7,
        repeat_purchase=0.2,
    ),
    Leaf(
        ("Home", "Furniture", "Chairs"),
        120,
        ("chair", "armchair", "dining chair", "lounge chair", "stool"),
        (
            ("moulded plastic", 0),
            ("oak-effect laminate", 0),
            ("rattan", 1),
            ("steel", 1),
            ("velvet", 1),
            ("solid oak", 2),
            ("walnut", 2),
        ),
        ("Stackable.", "Padded seat.", "Supplied flat-packed.", "Holds up to 120 kg."),
        repeat_purchase=0.3,
    ),
    Leaf(
        ("Home", "Furniture", "Tables"),
        180,
        ("table", "coffee table", "dining table", "side table", "desk"),
        (
            ("oak-effect laminate", 0),
            ("MDF", 0),
            ("pine", 1),
            ("steel", 1),
            ("solid oak", 2),
            ("marble", 2),
            ("walnut", 2),
        ),
        ("Seats four.", "Extendable top.", "Rounded corners.", "Easy to assemble."),
        repeat_purchase=0.05,
    ),
    Leaf(
        ("Home", "Furniture", "Shelving"),
        110,
        ("bookcase", "shelf unit", "wall shelf", "storage ladder", "display cabinet"),
        (
            ("MDF", 0),
            ("oak-effect laminate", 0),
            ("pine", 1),
            ("bamboo", 1),
            ("steel", 1),
            ("solid oak", 2),
            ("walnut", 2),
        ),
        ("Five open shelves.", "Wall fixings included.", "Adjustable shelves."),
        repeat_purchase=0.1,
    ),
    Leaf(
        ("Home", "Textiles", "Bedding"),
        60,
        ("duvet cover set", "sheet set", "bedspread", "pillowcase pair", "throw"),
        (
            ("polyester", 0),
            ("polycotton", 0),
            ("cotton", 1),
            ("bamboo lyocell", 1),
            ("linen", 2),
            ("Egyptian cotton", 2),
        ),
        ("Double and king sizes.", "Button closure.", "Pre-washed for softness."),
        season=0.4,
        repeat_purchase=0.3,
    ),
    Leaf(
        ("Home", "Textiles", "Cushions"),
        22,
        ("cushion", "floor cushion", "bolster", "cushion cover", "seat pad"),
        (("polyester", 0), ("cotton", 1), ("velvet", 1), ("linen", 1), ("wool", 2), ("silk", 2)),
        ("Feather-filled pad.", "Removable cover.", "Piped edges."),
        repeat_purchase=0.4,
    ),
    Leaf(
        ("Home", "Textiles", "Rugs"),
        95,
        ("rug", "runner", "doormat", "area rug", "kilim"),
        (("polypropylene", 0), ("jute", 1), ("cotton", 1), ("wool", 2), ("hand-knotted wool", 2)),
        ("Anti-slip backing.", "Low pile.", "Suitable for underfloor heating."),
        repeat_purchase=0.1,
    ),
    Leaf(
        ("Home", "Kitchen", "Cookware"),
        50,
        ("frying pan", "saucepan", "casserole dish", "wok", "roasting tin"),
        (
            ("aluminium", 0),
            ("non-stick aluminium", 0),
            ("stainless steel", 1),
            ("cast iron", 2),
            ("copper", 2),
        ),
        ("Induction compatible.", "Oven safe to 220 degrees.", "Dishwasher safe."),
        repeat_purchase=0.3,
    ),
    Leaf(
        ("Home", "Kitchen", "Tableware"),
        35,
        ("dinner set", "mug set", "serving bowl", "plate set", "teapot"),
        (
            ("melamine", 0),
            ("porcelain", 1),
            ("stoneware", 1),
            ("bone china", 2),
            ("hand-glazed ceramic", 2),
        ),
        ("Microwave safe.", "Set of four.", "Reactive glaze: every piece is unique."),
        repeat_purchase=0.5,
    ),
    Leaf(
        ("Home", "Decor", "Lamps"),
        55,
        ("table lamp", "floor lamp", "pendant light", "desk lamp", "lantern"),
        (("plastic", 0), ("steel", 1), ("rattan", 1), ("ceramic", 1), ("glass", 1), ("brass", 2)),
        ("Bulb not included.", "Dimmable.", "Fabric shade.", "Adjustable arm."),
        season=0.3,
        repeat_purchase=0.2,
    ),
    Leaf(
        ("Home", "Decor", "Vases"),
        28,
        ("vase", "bud vase", "planter", "jug vase", "vase set"),
        (
            ("plastic", 0),
            ("glass", 1),
            ("ceramic", 1),
            ("stoneware", 1),
            ("hand-blown glass", 2),
            ("marble", 2),
        ),
        ("Watertight.", "Drainage hole.", "Each one hand-finished."),
        repeat_purchase=0.3,
    ),
)

BRANDS: dict[str, tuple[str, ...]] = {
    "Fashion": (
        "Fjordline",
        "Maison Lark",
        "Tidewell",
        "Corbel & Finch",
        "Urbanic",
        "Wren Atelier",
        "Sola",
        "Kestrel",
        "Bramblewood",
        "Veloce",
        "Marlowe",
        "Juniper Row",
        "Oakhurst",
        "Pimlico",
        "Saltmarsh",
        "Ashby",
        "Loom & Lane",
        "Northvane",
    ),
    "Home": (
        "Hearthstone",
        "Nordhem",
        "Kiln & Co",
        "Lumen House",
        "Terrace",
        "Bellwether",
        "Mosswood",
        "Casa Alba",
        "Driftwood Studio",
        "Hollis",
        "Copperleaf",
        "Stillwater",
        "Larchmont",
        "Fernhill",
        "Quillon",
        "Atelier Nest",
        "Greyhaven",
        "Wickham",
    ),
    "both": (
        "Nordvik",
        "Olive & Oak",
        "Marigold",
        "Studio Haze",
        "Tessellate",
        "Kinfolk Goods",
        "Arbor",
        "Zephyr",
        "Lowtide",
        "Rosewater",
        "Common Thread",
        "Halden",
    ),
}

_WEEKDAY_WEIGHT = np.array([0.9, 0.9, 0.95, 1.0, 1.05, 1.25, 1.3])  # Monday..Sunday
_HOUR_WEIGHT = np.array(
    [
        0.3,
        0.15,
        0.1,
        0.08,
        0.08,
        0.12,
        0.3,
        0.6,
        0.8,
        0.9,
        1.0,
        1.1,
        1.3,
        1.25,
        1.0,
        0.95,
        1.0,
        1.1,
        1.3,
        1.6,
        1.8,
        1.7,
        1.2,
        0.6,
    ]
)
_MONTH_WEIGHT = np.array([1.0, 0.85, 0.9, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.35, 1.5])


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

    def user_index(self, user_ids: np.ndarray | pd.Series | list[str]) -> np.ndarray:
        """Positions of ``user_ids`` in the truth arrays; raises ``KeyError`` for unknown ids."""
        return index_positions(pd.Index(self.user_ids), user_ids, "user", "not in the shop")

    def item_index(self, item_ids: np.ndarray | pd.Series | list[str]) -> np.ndarray:
        """Positions of ``item_ids`` in the truth arrays; raises ``KeyError`` for unknown ids."""
        return index_positions(pd.Index(self.item_ids), item_ids, "item", "not in the shop")

    def style_taste(self, at: pd.Timestamp | str, users: np.ndarray | None = None) -> np.ndarray:
        """(U, 6) style taste at time ``at``: start + w(t) (end - start), w rising 0 -> 1 over
        the user's drift period."""
        users = np.arange(len(self.user_ids)) if users is None else np.asarray(users)
        at64 = np.datetime64(pd.Timestamp(at).to_datetime64(), "ns")
        times = np.full(len(users), at64)
        return self._style_taste_at(users, times)

    def _style_taste_at(self, users: np.ndarray, times: np.ndarray) -> np.ndarray:
        start = self.user_drift_start[users]
        elapsed_days = (times - start) / np.timedelta64(1, "D")
        weight = np.clip(elapsed_days / self.user_drift_days[users], 0.0, 1.0)
        weight = np.where(np.isnat(start), 0.0, weight)[:, None]
        return (1 - weight) * self.user_style_start[users] + weight * self.user_style_end[users]

    def _preference(
        self, style_taste: np.ndarray, users: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        """(len(users), len(items)) true preference, see the module docstring."""
        return (
            STYLE_WEIGHT * style_taste[:, self.item_style[items]]
            + USE_WEIGHT * self.user_use[users][:, self.item_use[items]]
            - self.user_price_sensitivity[users, None] * self.item_log_price_ratio[items][None, :]
            + self.item_quality[items][None, :]
        )

    def preference(self, at: pd.Timestamp | str, users: np.ndarray | None = None) -> np.ndarray:
        """True preference ``pref(u, i, at)`` of users for every product, float64 of shape
        ``(len(users), I)`` (``users``: positions, see :meth:`user_index`; default all U users).

        It is what a user would like, ignoring popularity and which categories they browse:
        ranking each row gives the items the user likes most. Dense: for many users, pass them
        in batches (U x I x 8 bytes).
        """
        users = np.arange(len(self.user_ids)) if users is None else np.asarray(users)
        taste = self.style_taste(at, users)
        return self._preference(taste, users, np.arange(len(self.item_ids)))

    def leaf_weights(self, at: pd.Timestamp | str) -> np.ndarray:
        """(20,) seasonal multipliers of each leaf's session probability at time ``at``."""
        day_of_year = pd.Timestamp(at).day_of_year
        winter = np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
        return np.array([1.0 + leaf.season * winter for leaf in self.leaves])

    def view_probability(
        self, at: pd.Timestamp | str, users: np.ndarray | None = None
    ) -> np.ndarray:
        """Probability that a session starting at ``at`` first views product ``i``, float64 of
        shape ``(len(users), I)`` (``users``: positions, see :meth:`user_index`; default all).

        P(i) = P(leaf of i | season) * softmax over launched items j of the leaf of
        (pref(u, j) + appeal_j + new-arrival boost_j). Products not launched at ``at`` get 0.
        This is the oracle score: the distribution the first view of each session is drawn
        from (later views of a session are drawn without replacement from the same leaf), so no
        model of the log can rank a user's next views better on average. Dense: pass users in
        batches for large shops.
        """
        users = np.arange(len(self.user_ids)) if users is None else np.asarray(users)
        at_ts = pd.Timestamp(at)
        at64 = np.datetime64(at_ts.to_datetime64(), "ns")
        preference = self.preference(at_ts, users)
        logits = (
            preference + self.item_appeal[None, :] + NEW_ARRIVAL_BOOST * self._is_new(at64)[None, :]
        )
        launched = self.item_launch <= at64
        leaf_probability = self.user_leaf_interest[users] * self.leaf_weights(at_ts)[None, :]
        leaf_probability /= leaf_probability.sum(axis=1, keepdims=True)
        probability = np.zeros_like(preference)
        for leaf in range(len(self.leaves)):
            columns = np.flatnonzero((self.item_leaf == leaf) & launched)
            if columns.size:
                probability[:, columns] = (
                    _softmax_rows(logits[:, columns]) * leaf_probability[:, [leaf]]
                )
        return probability

    def _is_new(
        self, at: np.datetime64 | np.ndarray, items: np.ndarray | None = None
    ) -> np.ndarray:
        """1.0 where item ``items[j]`` (default: all) launched less than 30 days before ``at``;
        shape ``at.shape + (len(items),)``."""
        launch = self.item_launch if items is None else self.item_launch[items]
        age_days = (np.asarray(at)[..., None] - launch) / np.timedelta64(1, "D")
        return ((age_days >= 0) & (age_days < NEW_ARRIVAL_DAYS)).astype(float)


def _sample_times(
    rng: np.random.Generator,
    start: pd.Timestamp,
    days: int,
    lower: np.ndarray,
    count: int,
    user_of: np.ndarray,
) -> np.ndarray:
    """Session start times: day from the weekly x seasonal profile, restricted to each
    user's window [lower_u, end), then hour from the daily profile, then minute and second."""
    dates = pd.date_range(start, periods=days, freq="D")
    day_weight = _WEEKDAY_WEIGHT[dates.day_of_week] * _MONTH_WEIGHT[dates.month - 1]
    cdf = np.concatenate([[0.0], np.cumsum(day_weight)]) / day_weight.sum()
    lower_day = np.floor((lower - np.datetime64(start, "ns")) / np.timedelta64(1, "D")).astype(int)
    lower_day = np.clip(lower_day, 0, days - 1)
    low = cdf[lower_day[user_of]]
    u = low + rng.random(count) * (1.0 - low)
    day = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, days - 1)
    hour = rng.choice(24, size=count, p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, size=count)
    times = np.datetime64(start, "ns") + seconds.astype("timedelta64[s]")
    # A session drawn on a user's signup day but before the signup moves to a random time in
    # the few hours after it (not to the signup instant itself, which would stack sessions).
    early = times < lower[user_of]
    later = lower[user_of] + (rng.uniform(0, 4 * 3600, count) * 1e9).astype("timedelta64[ns]")
    return np.where(early, later, times)


def generate_shop(
    n_users: int = 3000,
    n_items: int = 4000,
    seed: int = 42,
    start: str = "2024-01-01",
    days: int = 366,
    sessions_per_user: float = 14.0,
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

    Returns:
        A :class:`~recutils.schema.Dataset` named ``"shop"`` with ``interactions`` (view, cart
        and purchase events), ``items`` (with extra columns ``domain``, ``material``,
        ``colour``, ``launch_time``), ``users`` (``user_id``, ``signup_time``) and ``truth``,
        a :class:`ShopTruth`.
    """
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
        start_ts = pd.Timestamp(start)
    except (ValueError, TypeError) as error:
        raise ValueError(f"start must be a date like '2024-01-01', got {start!r}") from error
    rng = np.random.default_rng(seed)
    period_start = np.datetime64(start_ts.to_datetime64(), "ns")
    period_end = period_start + np.timedelta64(days, "D")

    items, item_arrays = _generate_catalog(rng, n_items, period_start, days)
    users, user_arrays = _generate_users(rng, n_users, period_start, days)
    truth = ShopTruth(
        user_ids=users[USER].to_numpy(dtype=object),
        item_ids=items[ITEM].to_numpy(dtype=object),
        period_start=period_start,
        period_end=period_end,
        **item_arrays,
        **user_arrays,
    )
    interactions = _generate_events(
        rng, truth, items[PRICE].to_numpy(), start_ts, days, sessions_per_user
    )
    dataset = Dataset(
        name="shop",
        interactions=interactions,
        items=items,
        users=users,
        info={
            "source": "synthetic, generated by recutils.datasets.shop.generate_shop",
            "seed": seed,
            "n_users": n_users,
            "n_items_requested": n_items,
            "period": f"{start_ts.date()} to {(start_ts + pd.Timedelta(days=days)).date()}",
            "licence": "generated data; use freely",
        },
        truth=truth,
    )
    return dataset.validate()


def _generate_catalog(
    rng: np.random.Generator, n_items: int, period_start: np.datetime64, days: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    # Brands: house style, tier and quality.
    brand_names: list[str] = []
    brand_domains: list[tuple[str, ...]] = []
    for key, names in BRANDS.items():
        for name in names:
            brand_names.append(name)
            brand_domains.append(DOMAINS if key == "both" else (key,))
    n_brands = len(brand_names)
    brand_style = rng.integers(0, len(STYLES), n_brands)
    brand_tier = rng.choice(3, size=n_brands, p=[0.35, 0.4, 0.25])
    brand_quality = rng.normal(0.0, 0.3, n_brands)

    # Products per leaf, then colour-variant families inside each leaf.
    leaf_share = rng.dirichlet(np.full(len(LEAVES), 8.0))
    leaf_counts = np.maximum(5, np.round(leaf_share * n_items).astype(int))
    rows: list[dict[str, object]] = []
    used_titles: set[str] = set()
    family = 0
    for leaf_index, (leaf, count) in enumerate(zip(LEAVES, leaf_counts, strict=True)):
        domain_brands = [b for b, d in enumerate(brand_domains) if leaf.domain in d]
        made = 0
        while made < count:
            variants = 1 if rng.random() < 0.82 else int(rng.integers(2, 5))
            brand = int(rng.choice(domain_brands))
            style = int(brand_style[brand]) if rng.random() < 0.6 else int(rng.integers(0, 6))
            tier = int(brand_tier[brand]) if rng.random() < 0.7 else int(rng.integers(0, 3))
            use = int(rng.integers(0, len(USES)))
            materials = [m for m, t in leaf.materials if t == tier] or [
                m for m, _ in leaf.materials
            ]
            if rng.random() < 0.8:
                material = str(rng.choice(materials))
            else:
                material = str(rng.choice([m for m, _ in leaf.materials]))
            noun = str(rng.choice(leaf.nouns))
            base_price = leaf.base_price * TIER_PRICE_MULTIPLIER[tier] * rng.lognormal(0, 0.25)
            colours = _pick_colours(rng, leaf.domain, STYLES[style], variants)
            # Two different products never share a title (colour variants of one product do,
            # up to the colour): redraw the wording until the title is new.
            for attempt in range(20):
                text = _describe(
                    rng,
                    leaf,
                    STYLES[style],
                    USES[use],
                    TIERS[tier],
                    material,
                    noun if attempt < 10 else str(rng.choice(leaf.nouns)),
                    brand_names[brand],
                )
                if text["title"] not in used_titles:
                    break
            else:
                text["title"] += f" No. {family}"
            used_titles.add(text["title"])
            for colour in colours:
                price = round(float(base_price * rng.lognormal(0, 0.03)), 2)
                rows.append(
                    {
                        "leaf": leaf_index,
                        "style": style,
                        "use": use,
                        "tier": tier,
                        "brand": brand,
                        "material": material,
                        "colour": colour,
                        "family": family,
                        "title": f"{text['title']} - {colour.title()}"
                        if variants > 1
                        else text["title"],
                        "description": f"{text['description']} Colour: {colour}.",
                        "price": max(price, 1.0),
                    }
                )
            family += 1
            made += variants
    catalog = pd.DataFrame(rows)
    n = len(catalog)

    # Launch times: 85% before the period (up to 2 years), 15% during it.
    launched_during = rng.random(n) < 0.15
    offset_days = np.where(
        launched_during,
        rng.uniform(20, days - 20, n),
        -rng.uniform(1, 730, n),
    )
    # Colour variants of one product launch together.
    first_of_family = catalog.groupby("family").cumcount().to_numpy() == 0
    family_offset = pd.Series(
        offset_days[first_of_family], index=catalog.loc[first_of_family, "family"]
    )
    offset_days = family_offset.loc[catalog["family"]].to_numpy()
    launch = period_start + (offset_days * 86400).astype("timedelta64[s]")
    appeal = rng.normal(0.0, APPEAL_SD, n)

    # Item ids follow launch order, like sequential SKUs.
    order = np.argsort(launch, kind="stable")
    catalog = catalog.iloc[order].reset_index(drop=True)
    launch = launch[order]
    appeal = appeal[order]
    width = max(5, len(str(n)))  # zero-padded so that sorting ids as text keeps their order
    item_ids = np.array([f"P{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    leaf_of = catalog["leaf"].to_numpy()
    price = catalog["price"].to_numpy()
    log_price = np.log(price)
    leaf_median = pd.Series(log_price).groupby(leaf_of).transform("median").to_numpy()
    items = pd.DataFrame(
        {
            ITEM: item_ids,
            TITLE: catalog["title"].to_numpy(),
            DESCRIPTION: catalog["description"].to_numpy(),
            CATEGORY: [LEAVES[leaf].name for leaf in leaf_of],
            BRAND: [brand_names[b] for b in catalog["brand"]],
            PRICE: price,
            "domain": [LEAVES[leaf].domain for leaf in leaf_of],
            "material": catalog["material"].to_numpy(),
            "colour": catalog["colour"].to_numpy(),
            "launch_time": pd.to_datetime(launch).astype("datetime64[ns]"),
        }
    )
    for column in (ITEM, TITLE, DESCRIPTION, CATEGORY, BRAND, "domain", "material", "colour"):
        items[column] = items[column].astype(str)
    arrays = {
        "item_style": catalog["style"].to_numpy(),
        "item_use": catalog["use"].to_numpy(),
        "item_tier": catalog["tier"].to_numpy(),
        "item_leaf": leaf_of,
        "item_log_price_ratio": log_price - leaf_median,
        "item_quality": brand_quality[catalog["brand"].to_numpy()],
        "item_appeal": appeal,
        "item_launch": launch.astype("datetime64[ns]"),
        "item_family": catalog["family"].to_numpy(),
    }
    return items, arrays


def _pick_colours(rng: np.random.Generator, domain: str, style: str, count: int) -> list[str]:
    palette = COLOURS[domain]
    weight = np.ones(len(palette))
    for k, colour in enumerate(palette):
        if style == "playful" and colour in BRIGHT_COLOURS:
            weight[k] = 4.0
        elif style in ("minimalist", "elegant") and colour in NEUTRAL_COLOURS:
            weight[k] = 3.0
    picks = rng.choice(len(palette), size=count, replace=False, p=weight / weight.sum())
    return [palette[k] for k in picks]


def _describe(
    rng: np.random.Generator,
    leaf: Leaf,
    style: str,
    use: str,
    tier: str,
    material: str,
    noun: str,
    brand: str,
) -> dict[str, str]:
    """Title and description from templates; each attribute cue can be left unsaid."""
    style_word = str(rng.choice(STYLE_WORDS[style][leaf.domain]))
    say_style_in_title = rng.random() < 0.6
    title_style = f"{capwords(style_word, '-')} " if say_style_in_title else ""
    # "flannel shirt" in flannel, "denim" jeans: do not say the material twice
    said_by_noun = material.lower() in noun.lower()
    title_material = "" if said_by_noun else f"{capwords(material)} "
    in_material = "" if said_by_noun else f" in {material}"
    title = f"{brand} {title_style}{title_material}{capwords(noun)}"
    sentences = []
    other_style_word = str(rng.choice(STYLE_WORDS[style][leaf.domain]))
    plural = noun.endswith("s") and not noun.endswith("ss")
    if rng.random() < 0.75:
        article = "" if plural else ("An " if other_style_word[0].lower() in "aeiou" else "A ")
        phrase = f"{article}{other_style_word} {noun}{in_material}."
        sentences.append(phrase[0].upper() + phrase[1:])
    else:
        sentences.append(f"{noun[0].upper()}{noun[1:]}{in_material}.")
    if rng.random() < 0.8:
        phrase = str(rng.choice(USE_PHRASES[use][leaf.domain]))
        opener = str(rng.choice(["Made for", "Ideal for", "Perfect for", "Designed for"]))
        sentences.append(f"{opener} {phrase}.")
    if rng.random() < 0.6:
        sentences.append(str(rng.choice(TIER_SENTENCES[tier])))
    sentences.extend(rng.choice(leaf.features, size=int(rng.integers(1, 3)), replace=False))
    return {"title": title, "description": " ".join(str(s) for s in sentences)}


def _generate_users(
    rng: np.random.Generator, n_users: int, period_start: np.datetime64, days: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    style_start = rng.dirichlet(np.full(len(STYLES), 0.3), n_users)
    drifts = rng.random(n_users) < 0.4
    style_end = np.where(
        drifts[:, None], rng.dirichlet(np.full(len(STYLES), 0.3), n_users), style_start
    )
    use = rng.dirichlet(np.full(len(USES), 0.5), n_users)
    price_sensitivity = rng.normal(0.8, 0.7, n_users)

    late = rng.random(n_users) < 0.18
    signup_offset = np.where(late, rng.uniform(0, days - 7, n_users), -rng.uniform(1, 900, n_users))
    signup = period_start + (signup_offset * 86400).astype("timedelta64[s]")
    signup = signup.astype("datetime64[ns]")
    drift_start_offset = (
        np.maximum(signup_offset, 0)
        + rng.uniform(0, 1, n_users) * (days - np.maximum(signup_offset, 0)) * 0.7
    )
    drift_start = period_start + (drift_start_offset * 86400).astype("timedelta64[s]")
    drift_start = np.where(drifts, drift_start.astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    drift_days = rng.uniform(60, 150, n_users)

    # Domain interest: 25% of users shop in one domain only (for cross-domain scenarios).
    fashion_share = rng.beta(1.2, 1.2, n_users)
    single = rng.random(n_users) < 0.25
    fashion_share = np.where(single, (fashion_share > 0.5).astype(float), fashion_share)
    leaf_interest = np.zeros((n_users, len(LEAVES)))
    for domain, share in (("Fashion", fashion_share), ("Home", 1.0 - fashion_share)):
        columns = [k for k, leaf in enumerate(LEAVES) if leaf.domain == domain]
        leaf_interest[:, columns] = (
            rng.dirichlet(np.full(len(columns), 0.6), n_users) * share[:, None]
        )

    width = max(4, len(str(n_users)))  # zero-padded so that sorting ids as text keeps order
    users = pd.DataFrame(
        {
            USER: np.array([f"U{u:0{width}d}" for u in range(1, n_users + 1)], dtype=object),
            "signup_time": pd.to_datetime(signup).astype("datetime64[ns]"),
        }
    )
    users[USER] = users[USER].astype(str)
    arrays = {
        "user_style_start": style_start,
        "user_style_end": style_end,
        "user_drift_start": drift_start,
        "user_drift_days": drift_days,
        "user_use": use,
        "user_price_sensitivity": price_sensitivity,
        "user_leaf_interest": leaf_interest,
        "user_signup": signup,
    }
    return users, arrays


def _generate_events(
    rng: np.random.Generator,
    truth: ShopTruth,
    item_price: np.ndarray,
    start: pd.Timestamp,
    days: int,
    sessions_per_user: float,
) -> pd.DataFrame:
    n_users = len(truth.user_ids)
    period_start = truth.period_start
    active_start = np.maximum(truth.user_signup, period_start)
    active_fraction = (truth.period_end - active_start) / np.timedelta64(days, "D")
    # Log-normal activity (mean ~1, long right tail), capped so no user is a bot.
    activity = np.minimum(rng.lognormal(mean=-0.5, sigma=1.0, size=n_users), 12.0)
    n_sessions = 1 + rng.poisson(sessions_per_user * activity * active_fraction)
    user_of = np.repeat(np.arange(n_users), n_sessions)
    n = len(user_of)
    times = _sample_times(rng, start, days, active_start, n, user_of)
    order = np.lexsort((times, user_of))
    user_of, times = user_of[order], times[order]

    # Leaf of each session: user interest x season at the session's day.
    day_of_year = pd.DatetimeIndex(times).day_of_year.to_numpy()
    winter = np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
    seasons = np.array([leaf.season for leaf in LEAVES])
    leaf_weight = truth.user_leaf_interest[user_of] * (1.0 + seasons[None, :] * winter[:, None])
    leaf_cdf = np.cumsum(leaf_weight, axis=1)
    leaf_cdf /= leaf_cdf[:, -1:]
    session_leaf = (rng.random(n)[:, None] > leaf_cdf).sum(axis=1)
    session_leaf = np.minimum(session_leaf, len(LEAVES) - 1)
    n_views = np.minimum(1 + rng.geometric(0.3, n) - 1 + rng.integers(0, 2, n), 10)
    taste = truth._style_taste_at(user_of, times)

    view_session: list[np.ndarray] = []
    view_item: list[np.ndarray] = []
    view_rank: list[np.ndarray] = []
    view_pref: list[np.ndarray] = []
    for leaf in range(len(LEAVES)):
        leaf_items = np.flatnonzero(truth.item_leaf == leaf)
        k = min(10, leaf_items.size)
        # Sessions of this leaf, in chunks so memory stays bounded (chunk x leaf items).
        leaf_sessions = np.flatnonzero(session_leaf == leaf)
        for sessions in np.array_split(leaf_sessions, max(1, leaf_sessions.size // 20_000)):
            if sessions.size == 0 or leaf_items.size == 0:
                continue
            users = user_of[sessions]
            preference = truth._preference(taste[sessions], users, leaf_items)
            logits = (
                preference
                + truth.item_appeal[leaf_items][None, :]
                + NEW_ARRIVAL_BOOST * truth._is_new(times[sessions], leaf_items)
            )
            launched = truth.item_launch[leaf_items][None, :] <= times[sessions][:, None]
            # Gumbel top-k: the k largest logit + Gumbel noise are k draws without replacement
            # from softmax(logits), in order.
            keyed = np.where(launched, logits + rng.gumbel(size=logits.shape), -np.inf)
            top = (
                np.argpartition(-keyed, k - 1, axis=1)[:, :k]
                if k < leaf_items.size
                else (np.tile(np.arange(leaf_items.size), (sessions.size, 1)))
            )
            order = np.argsort(-np.take_along_axis(keyed, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            wanted = np.minimum(n_views[sessions], launched.sum(axis=1))
            rank = np.broadcast_to(np.arange(k), top.shape)
            keep = rank < wanted[:, None]
            rows = np.broadcast_to(np.arange(sessions.size)[:, None], top.shape)[keep]
            view_session.append(sessions[rows])
            view_item.append(leaf_items[top[keep]])
            view_rank.append(rank[keep])
            view_pref.append(preference[rows, top[keep]])
    session = np.concatenate(view_session)
    item = np.concatenate(view_item)
    rank = np.concatenate(view_rank)
    pref = np.concatenate(view_pref)

    # Funnel: view -> cart -> purchase at checkout (end of the session).
    gaps = rng.exponential(45.0, size=session.size) + 5.0
    order = np.lexsort((rank, session))
    session, item, rank, pref, gaps = (
        session[order],
        item[order],
        rank[order],
        pref[order],
        gaps[order],
    )
    offset = pd.Series(gaps).groupby(session).cumsum().to_numpy()  # seconds into the session
    view_time = times[session] + (offset * 1e9).astype("timedelta64[ns]")
    view_time = view_time.astype("datetime64[s]").astype("datetime64[ns]")
    carted = rng.random(session.size) < _sigmoid(CART_INTERCEPT + CART_SLOPE * pref)
    bought = carted & (rng.random(session.size) < _sigmoid(BUY_INTERCEPT + BUY_SLOPE * pref))
    session_end = pd.Series(view_time).groupby(session).transform("max").to_numpy()
    cart_time = view_time + (rng.integers(5, 60, session.size) * 1e9).astype("timedelta64[ns]")
    buy_time = session_end + np.timedelta64(120, "s")

    # Repeat purchases of the same product are kept with the leaf's probability.
    keep_repeat = np.array([leaf.repeat_purchase for leaf in LEAVES])[truth.item_leaf[item]]
    buy_index = np.flatnonzero(bought)
    pair = user_of[session[buy_index]].astype(np.int64) * len(truth.item_ids) + item[buy_index]
    repeat = pd.Series(pair).duplicated().to_numpy()
    drop = repeat & (rng.random(buy_index.size) >= keep_repeat[buy_index])
    bought[buy_index[drop]] = False

    prices = item_price[item]
    discount = np.where(rng.random(session.size) < 0.1, 0.8, 1.0)
    quantity = 1 + rng.poisson(0.25, session.size)
    session_ids = np.array([f"S{s:06d}" for s in range(1, n + 1)], dtype=object)

    def frame(
        mask: np.ndarray, event: str, when: np.ndarray, weight: np.ndarray, paid: np.ndarray
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                USER: truth.user_ids[user_of[session[mask]]],
                ITEM: truth.item_ids[item[mask]],
                TIMESTAMP: when[mask],
                EVENT: event,
                WEIGHT: weight[mask].astype(float),
                PRICE: paid[mask],
                SESSION: session_ids[session[mask]],
            }
        )

    all_views = np.ones(session.size, dtype=bool)
    ones = np.ones(session.size)
    events = pd.concat(
        [
            frame(all_views, "view", view_time, ones, prices),
            frame(carted, "cart", cart_time, ones, prices),
            frame(bought, "purchase", buy_time, quantity, np.round(prices * discount, 2)),
        ],
        ignore_index=True,
    )
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
