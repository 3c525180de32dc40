"""The synthetic shop: reproducible, shaped like the spec, and faithful to its own story."""

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import load
from recutils.datasets.shop import STYLE_WORDS, STYLES, generate_shop


@pytest.fixture(scope="module")
def shop():
    return load("shop")


@pytest.fixture(scope="module")
def small():
    return generate_shop(n_users=120, n_items=250, seed=5)


def test_same_seed_same_shop_and_other_seed_differs(small):
    again = generate_shop(n_users=120, n_items=250, seed=5)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.items, again.items)
    pd.testing.assert_frame_equal(small.users, again.users)
    np.testing.assert_array_equal(small.truth.user_style_end, again.truth.user_style_end)
    np.testing.assert_array_equal(small.truth.item_appeal, again.truth.item_appeal)
    other = generate_shop(n_users=120, n_items=250, seed=6)
    assert not small.items["title"].equals(other.items["title"])


def test_default_shop_has_the_promised_shape(shop):
    assert len(shop.users) == 3000
    assert 3900 <= len(shop.items) <= 4100  # n_items=4000, colour families kept whole
    assert set(shop.items["domain"]) == {"Fashion", "Home"}
    assert shop.items["category"].str.count(" > ").eq(2).all()
    assert shop.missing_item_fields() == []
    assert set(shop.interactions["event"]) == {"view", "cart", "purchase"}
    counts = shop.interactions["event"].value_counts()
    assert counts["view"] > counts["cart"] > counts["purchase"] > 1000


def test_popularity_is_long_tailed(shop):
    counts = (
        shop.interactions.groupby("item_id").size().reindex(shop.items["item_id"], fill_value=0)
    )
    top_decile_share = (
        counts.sort_values(ascending=False).iloc[: len(counts) // 10].sum() / counts.sum()
    )
    assert top_decile_share > 0.4


def test_funnel_order_within_sessions(small):
    events = small.interactions
    key = ["user_id", "item_id", "session_id"]
    first_view = events[events["event"] == "view"].groupby(key)["timestamp"].min()
    for event in ("cart", "purchase"):
        later = events[events["event"] == event].set_index(key)["timestamp"]
        assert later.index.isin(first_view.index).all(), f"a {event} without a view"
        assert (later.to_numpy() > first_view.reindex(later.index).to_numpy()).all()
    carts = set(map(tuple, events.loc[events["event"] == "cart", key].to_numpy()))
    purchases = set(map(tuple, events.loc[events["event"] == "purchase", key].to_numpy()))
    assert purchases <= carts


def test_cold_items_and_late_users_appear_only_after_launch_or_signup(shop):
    events = shop.interactions
    launch = shop.items.set_index("item_id")["launch_time"]
    assert (events["timestamp"].to_numpy() >= launch.reindex(events["item_id"]).to_numpy()).all()
    signup = shop.users.set_index("user_id")["signup_time"]
    assert (events["timestamp"].to_numpy() >= signup.reindex(events["user_id"]).to_numpy()).all()
    start = events["timestamp"].min()
    assert (launch > start).mean() > 0.1  # items launched during the period
    assert (signup > start).mean() > 0.1  # users who join late


def test_text_carries_the_latent_style(shop):
    truth = shop.truth
    text = (shop.items["title"] + " " + shop.items["description"]).str.lower()
    for style_index, style in enumerate(STYLES):
        words = {w.lower() for domain in STYLE_WORDS[style].values() for w in domain}
        mentions = text.apply(lambda t, ws=words: any(w in t for w in ws)).to_numpy()
        own = truth.item_style == style_index
        assert mentions[own].mean() > 0.7, style
        assert mentions[~own].mean() < 0.35, style


def test_truth_is_aligned_and_probabilities_are_distributions(shop):
    truth = shop.truth
    assert list(truth.item_ids) == list(shop.items["item_id"])
    assert list(truth.user_ids) == list(shop.users["user_id"])
    at = pd.Timestamp("2024-12-01")
    probability = truth.view_probability(at, users=np.arange(50))
    np.testing.assert_allclose(probability.sum(axis=1), 1.0, atol=1e-9)
    not_launched = truth.item_launch > np.datetime64(at)
    assert not_launched.any() and (probability[:, not_launched] == 0).all()
    with pytest.raises(KeyError, match="not in the shop"):
        truth.user_index(["nobody"])


def test_oracle_predicts_next_month_views_better_than_popularity(shop):
    events = shop.interactions
    truth = shop.truth
    at = pd.Timestamp("2024-12-01")
    december = events[(events["timestamp"] >= at) & (events["event"] == "view")]
    users = truth.user_index(pd.unique(december["user_id"]))[:300]
    oracle = truth.view_probability(at, users=users)
    past = events[events["timestamp"] < at]
    popularity = (
        past.groupby("item_id").size().reindex(shop.items["item_id"], fill_value=0).to_numpy()
    )
    hits = {"oracle": 0, "popularity": 0}
    popular_top = set(np.argsort(-popularity, kind="stable")[:20])
    for row, user in enumerate(users):
        seen = set(
            truth.item_index(december.loc[december["user_id"] == truth.user_ids[user], "item_id"])
        )
        hits["oracle"] += len(seen & set(np.argsort(-oracle[row], kind="stable")[:20]))
        hits["popularity"] += len(seen & popular_top)
    assert hits["oracle"] > 2 * hits["popularity"]


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="n_users must be an integer >= 20"):
        generate_shop(n_users=5)
    with pytest.raises(ValueError, match="start must be a date"):
        generate_shop(start="soon")
    with pytest.raises(ValueError, match="unknown dataset 'shopp'"):
        load("shopp")


def test_documented_rates(shop):
    truth = shop.truth
    start = truth.period_start
    assert abs((truth.user_signup > start).mean() - 0.18) < 0.03  # late sign-ups
    assert abs((truth.item_launch > start).mean() - 0.15) < 0.03  # launched during the year
    assert abs((~np.isnat(truth.user_drift_start)).mean() - 0.40) < 0.04  # drifting users
    family = pd.Series(truth.item_family)
    assert abs((family.map(family.value_counts()) > 1).mean() - 0.40) < 0.05  # in colour families


def test_user_ids_sort_like_the_truth_even_past_9999_users():
    wide = generate_shop(n_users=10_001, n_items=100, seed=1, days=60, sessions_per_user=0.1)
    ids = wide.users["user_id"]
    assert ids.iloc[-1] == "U10001" and ids.iloc[0] == "U00001"
    assert list(ids) == sorted(ids)


def test_first_views_follow_the_oracle_distribution(shop):
    """If view_probability is the distribution of a session's first view, then
    E[p(observed item)] = sum_i p_i^2 for every session (a calibration identity)."""
    truth = shop.truth
    views = shop.interactions[shop.interactions["event"] == "view"]
    first = views.sort_values("timestamp", kind="stable").drop_duplicates("session_id")
    first = first[first["timestamp"] >= pd.Timestamp("2024-09-01")].sample(3000, random_state=0)
    observed, expected = [], []
    for user, item, at in first[["user_id", "item_id", "timestamp"]].itertuples(index=False):
        p = truth.view_probability(at, users=truth.user_index([user]))[0]
        observed.append(p[truth.item_index([item])[0]])
        expected.append(np.sum(p**2))
    observed, expected = np.array(observed), np.array(expected)
    standard_error = observed.std() / np.sqrt(len(observed))
    assert abs(observed.mean() - expected.mean()) < 3 * standard_error
    # ... and it is far better than guessing by popularity
    popularity = views.groupby("item_id").size().reindex(shop.items["item_id"], fill_value=0)
    popularity = (popularity / popularity.sum()).to_numpy()
    assert observed.mean() > 3 * popularity[truth.item_index(first["item_id"])].mean()
