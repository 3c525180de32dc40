"""The synthetic shop: reproducible, shaped like the spec, and faithful to its own story."""

import dataclasses
import hashlib
import platform

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import load
from recutils.datasets import shop as shop_module
from recutils.datasets.shop import (
    DOMAINS,
    LEAVES,
    STYLE_WORDS,
    STYLES,
    TIERS,
    ShopConfig,
    generate_shop,
)


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


def test_vocabulary_file_fills_the_tables():
    assert tuple(STYLE_WORDS) == STYLES
    assert len(LEAVES) == 20 and {leaf.domain for leaf in LEAVES} == set(DOMAINS)
    for leaf in LEAVES:
        assert len(leaf.path) == 3 and leaf.nouns and leaf.features
        assert {tier for _, tier in leaf.materials} <= set(range(len(TIERS)))


def test_truth_methods_take_one_time_or_one_time_per_user(small):
    truth = small.truth
    users = np.arange(10)
    times = truth.period_start + np.arange(10) * np.timedelta64(30, "D")
    per_user = truth.preference(times, users)
    assert per_user.shape == (10, len(truth.item_ids))
    np.testing.assert_allclose(per_user[3], truth.preference(times[3], users[3:4])[0], rtol=1e-12)
    assert truth.leaf_weights(times).shape == (10, len(LEAVES))
    np.testing.assert_allclose(truth.leaf_weights(times)[3], truth.leaf_weights(times[3]))
    assert truth.style_taste(times, users).shape == (10, len(STYLES))
    assert truth.is_new(times, np.arange(7)).shape == (10, 7)


def test_config_numbers_reach_the_log_and_the_truth():
    config = ShopConfig(discount_probability=0.0, extra_quantity_mean=0.0, use_weight=0.0)
    shop = generate_shop(n_users=40, n_items=120, seed=1, config=config)
    assert shop.truth.config is config
    purchases = shop.interactions[shop.interactions["event"] == "purchase"]
    assert len(purchases) and (purchases["weight"] == 1.0).all()
    listed = shop.items.set_index("item_id")["price"].reindex(purchases["item_id"])
    np.testing.assert_allclose(purchases["price"].to_numpy(), listed.to_numpy())
    # use_weight 0: the use taste no longer changes the true preference
    truth = shop.truth
    other_use = dataclasses.replace(truth, user_use=truth.user_use[::-1].copy())
    at = truth.period_start
    np.testing.assert_allclose(other_use.preference(at), truth.preference(at))


# SHA-256 digests of everything generate_shop returns, recorded from the code before the shop
# module was split into steps: a refactoring, a new numpy/pandas or a reordered random draw that
# changes the shop changes them. "tables": the name, info, the three tables (ints, strings, times,
# prices in pence), the leaves and the truth's ids, integer and time arrays; the same everywhere.
# "everything": that plus the truth's float arrays and view_probability of all users at two
# dates; their last bits depend on the CPU's SIMD code and the OS maths library, so it is
# recorded per machine type (both recorded with the code before the split, and equal after it).
TABLE_DIGESTS = {
    "default": "e165749ec5a858c211a533aca03c3380656721ea8e7e669456bfac756b88b83a",
    "small": "80bc52e1111e33fce395860640e262ae780ea9384866f43d44633e8f3cb9ab05",
}
FLOAT_DIGESTS = {
    # Linux x86_64 with AVX2 and no AVX-512
    ("Linux", "x86_64", ("X86_V3",), "2.4.6", "3.1.1"): {
        "default": "9efb3e0d92b1896b13173056b695e1adea49b479638835cf95eb42d8236672f1",
        "small": "ea2a4056c964a88db6fdd80c9fd2fbe85523a08b7a7c7bc1b7a5d4deda4e2817",
    },
    # Linux x86_64 with AVX-512 (Ice Lake)
    ("Linux", "x86_64", ("X86_V3", "X86_V4", "AVX512_ICL"), "2.4.6", "3.1.1"): {
        "default": "eabb6bf69c007146b669ee6f21d9460bded74a5ae50e48f64bd61a3ef6ff9afa",
        "small": "3c6dd047f1ac5057421d64b03e886fe66ef2c3d5d402c847ca93d385a55821e6",
    },
}


def this_machine():
    simd = np.__config__.CONFIG.get("SIMD Extensions", {}).get("found", [])
    return (platform.system(), platform.machine(), tuple(simd), np.__version__, pd.__version__)


def shop_digests(dataset) -> dict[str, str]:
    """{"tables": ..., "everything": ...} SHA-256 digests, see TABLE_DIGESTS and FLOAT_DIGESTS."""
    tables, everything = hashlib.sha256(), hashlib.sha256()

    def add(label, value, exact_everywhere=True):
        if isinstance(value, str):
            data = value.encode()
        else:
            array = np.ascontiguousarray(value)
            data = f"{array.dtype.str}|{array.shape}|".encode()
            if array.dtype == object:
                data += "\x1f".join(map(str, array.ravel())).encode()
            else:
                data += array.tobytes()
        for digest in (tables, everything) if exact_everywhere else (everything,):
            digest.update(label.encode() + b"|" + data)

    add("dataset", f"{dataset.name}|{sorted(dataset.info.items())}")
    for name in ("interactions", "items", "users"):
        frame = getattr(dataset, name)
        add(name, f"{list(frame.columns)}|{[str(t) for t in frame.dtypes]}")
        add(name, pd.util.hash_pandas_object(frame, index=True).to_numpy())
    truth = dataset.truth
    add("leaves", repr(truth.leaves))
    for attribute in dataclasses.fields(truth):
        value = getattr(truth, attribute.name)
        if isinstance(value, np.ndarray | np.datetime64):
            value = np.asarray(value)
            add(attribute.name, value, exact_everywhere=value.dtype.kind != "f")
    mid_june = truth.period_start + np.timedelta64(166 * 24 + 14, "h")  # 2024-06-15 14:00
    december = truth.period_end - np.timedelta64(31, "D")  # 2024-12-01
    for at in (mid_june, december):
        add(f"view_probability {at}", truth.view_probability(at), exact_everywhere=False)
    return {"tables": tables.hexdigest(), "everything": everything.hexdigest()}


def check_digests(dataset, which):
    digests = shop_digests(dataset)
    assert digests["tables"] == TABLE_DIGESTS[which]
    recorded = FLOAT_DIGESTS.get(this_machine())
    if recorded is None:
        pytest.skip(f"float digests recorded on {sorted(FLOAT_DIGESTS)}, this is {this_machine()}")
    assert digests["everything"] == recorded[which]


def test_default_shop_is_bit_for_bit_unchanged(shop):
    check_digests(shop, "default")


def test_small_shop_is_bit_for_bit_unchanged():
    small = generate_shop(
        n_users=300, n_items=400, seed=7, start="2023-03-01", days=300, sessions_per_user=9.5
    )
    check_digests(small, "small")


# -- the generated shop in the course's cache ------------------------------------------------


def assert_same_shop(expected, found) -> None:
    """Frames equal with their dtypes, truth arrays equal bit for bit (NaT included)."""
    for name in ("interactions", "items", "users"):
        pd.testing.assert_frame_equal(
            getattr(found, name), getattr(expected, name), check_exact=True
        )
    assert found.info == expected.info and found.name == expected.name
    for field in dataclasses.fields(expected.truth):
        want, got = getattr(expected.truth, field.name), getattr(found.truth, field.name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape, field.name
            if want.dtype == object:
                assert list(got) == list(want), field.name
            else:
                assert got.tobytes() == want.tobytes(), field.name
        else:
            assert type(got) is type(want) and got == want, field.name


def cached_entries(folder):
    return sorted((folder / "datasets").glob("shop-*.npz"))


def test_the_cached_shop_is_the_generated_shop_and_is_read_without_generating(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    options = {"n_users": 60, "n_items": 150, "seed": 3, "days": 90}
    generated = generate_shop(**options, cache=False)
    assert cached_entries(tmp_path) == []  # cache=False neither reads nor writes
    first = generate_shop(**options, cache=True)  # a miss: generated, then written
    assert len(cached_entries(tmp_path)) == 1
    assert_same_shop(generated, first)
    monkeypatch.setattr(shop_module, "_generate_shop", fail_if_generated)
    assert_same_shop(generated, generate_shop(**options, cache=True))  # read, not generated
    # another option or another config is another shop, so another entry
    with pytest.raises(AssertionError, match="generated although"):
        generate_shop(**{**options, "seed": 4}, cache=True)
    with pytest.raises(AssertionError, match="generated although"):
        generate_shop(**options, config=ShopConfig(cart_slope=1.0), cache=True)


def test_the_course_switch_decides_when_cache_is_not_given(tmp_path, monkeypatch):
    from recutils import environment

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("RECUTILS_MODEL_CACHE", raising=False)  # the switch alone decides
    options = {"n_users": 40, "n_items": 120, "seed": 1, "days": 70}
    generate_shop(**options)  # the unit tests' switch is off (conftest): nothing is kept
    assert cached_entries(tmp_path) == []
    monkeypatch.setitem(environment._state, "model_cache", 1)  # as after recutils.setup()
    generate_shop(**options)
    assert len(cached_entries(tmp_path)) == 1
    # a seed that is not a number has no key: generated every time, nothing kept
    generate_shop(**{**options, "seed": np.random.SeedSequence(1)})
    assert len(cached_entries(tmp_path)) == 1


def test_a_corrupt_cached_shop_is_reported_and_generated_again(tmp_path, monkeypatch):
    from recutils.cache import CacheWarning

    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    options = {"n_users": 40, "n_items": 120, "seed": 2, "days": 70}
    generated = generate_shop(**options, cache=True)
    [entry] = cached_entries(tmp_path)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the arrays
    entry.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="rebuilding it"):
        again = generate_shop(**options, cache=True)
    assert_same_shop(generated, again)
    assert_same_shop(generated, generate_shop(**options, cache=True))  # the rebuilt entry


def fail_if_generated(*args, **kwargs):
    raise AssertionError("the shop was generated although it should come from the cache")
