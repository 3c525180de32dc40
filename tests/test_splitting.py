"""Splits: disjoint parts covering the input, no shared events, no future in train."""

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.shop import generate_shop
from recutils.interactions import user_item_pairs
from recutils.splitting import leave_last_n_out, random_split, temporal_split

KEY = ["user_id", "item_id", "timestamp"]


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_shop(n_users=150, n_items=300, seed=3).interactions


def assert_partition(split, frame, complete=True):
    parts = [split.train, split.valid, split.test]
    index = np.concatenate([p.index.to_numpy() for p in parts])
    assert len(index) == len(np.unique(index)), "a row is in two parts"
    assert set(index) <= set(frame.index)
    if complete:
        assert set(index) == set(frame.index), "a row is in no part"
    keys = [set(map(tuple, p[KEY].to_numpy())) for p in parts]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]


def test_random_split_is_stratified_by_pair(events):
    split = random_split(events, test_fraction=0.2, valid_fraction=0.1, seed=7)
    assert_partition(split, events)
    assert len(split.train) + len(split.valid) + len(split.test) == len(events)
    pairs = lambda f: set(zip(f["user_id"], f["item_id"], strict=True))  # noqa: E731
    assert not pairs(split.train) & pairs(split.test)
    assert not pairs(split.train) & pairs(split.valid)
    # per user: round(0.2 n) test pairs, at least one pair left in train
    n_pairs = events.groupby("user_id")["item_id"].nunique()
    n_test = split.test.groupby("user_id")["item_id"].nunique().reindex(n_pairs.index, fill_value=0)
    expected = np.minimum(np.round(0.2 * n_pairs), n_pairs - 1)
    assert (n_test == expected).all()
    assert set(split.train["user_id"]) == set(events["user_id"])


def test_random_split_is_reproducible_and_ignores_row_order(events):
    first = random_split(events, 0.25, seed=1)
    shuffled = events.sample(frac=1.0, random_state=0)
    second = random_split(shuffled, 0.25, seed=1)
    assert set(first.test.index) == set(second.test.index)
    other = random_split(events, 0.25, seed=2)
    assert set(first.test.index) != set(other.test.index)


def test_random_split_user_with_one_pair_stays_in_train():
    frame = pd.DataFrame(
        {"user_id": ["a", "b", "b", "b", "b"], "item_id": ["x", "x", "y", "z", "w"]}
    )
    split = random_split(frame, test_fraction=0.5, seed=0)
    assert "a" in set(split.train["user_id"]) and "a" not in set(split.test["user_id"])
    assert (split.test["user_id"] == "b").sum() == 2


def test_temporal_split_never_lets_the_future_into_train(events):
    split = temporal_split(events, test_start="2024-11-01", valid_start="2024-10-01")
    assert_partition(split, events)
    assert (
        split.train["timestamp"].max()
        < pd.Timestamp("2024-10-01")
        <= split.valid["timestamp"].min()
    )
    assert (
        split.valid["timestamp"].max() < pd.Timestamp("2024-11-01") <= split.test["timestamp"].min()
    )
    assert len(split.train) + len(split.valid) + len(split.test) == len(events)
    by_quantile = temporal_split(events, test_start=0.8)
    assert by_quantile.train["timestamp"].max() < by_quantile.test["timestamp"].min()
    assert abs(len(by_quantile.test) / len(events) - 0.2) < 0.01
    sizes = split.sizes()
    assert sizes.loc["test", "users not in train"] > 0  # late sign-ups are cold


def test_temporal_split_test_end_and_errors(events):
    split = temporal_split(events, test_start="2024-11-01", test_end="2024-12-01")
    assert split.test["timestamp"].max() < pd.Timestamp("2024-12-01")
    with pytest.raises(ValueError, match=r"valid_start .* must not be after test_start"):
        temporal_split(events, test_start="2024-06-01", valid_start="2024-07-01")
    with pytest.raises(ValueError, match="test_start must be a date"):
        temporal_split(events, test_start="next tuesday")
    with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
        temporal_split(events, test_start=1.5)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
        temporal_split(events, test_start=1)  # not "1 ns after 1970"
    by_end_fraction = temporal_split(events, test_start=0.8, test_end=0.9)
    assert 0 < len(by_end_fraction.test) < len(events) * 0.11


def test_leave_last_n_out_per_user(events):
    pairs = user_item_pairs(events)
    split = leave_last_n_out(pairs, n_test=2, n_valid=1)
    assert_partition(split, pairs)
    n_pairs = pairs.groupby("user_id").size()
    assert set(split.test["user_id"]) == set(n_pairs[n_pairs > 3].index)
    assert len(split.test) == 2 * (n_pairs > 3).sum() and len(split.valid) == (n_pairs > 3).sum()
    for user, test in split.test.groupby("user_id"):
        train = split.train[split.train["user_id"] == user]
        valid = split.valid[split.valid["user_id"] == user]
        assert train["timestamp"].max() <= valid["timestamp"].min()
        assert valid["timestamp"].max() <= test["timestamp"].min()
    assert (n_pairs <= 3).any()  # the fixture has short users, which stay in train


def test_leave_last_n_out_keeps_simultaneous_rows_together():
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "item_id": ["a", "b", "c", "c"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03"]),
            "event": ["view", "view", "view", "cart"],
        }
    )
    split = leave_last_n_out(frame, n_test=1)
    assert list(split.test["event"]) == ["view", "cart"]
    assert list(split.train["item_id"]) == ["a", "b"]


def test_bad_arguments_are_named(events):
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number >= 0 and < 1"):
        random_split(events, test_fraction=1.2)
    with pytest.raises(ValueError, match="test_fraction \\+ valid_fraction must be < 1"):
        random_split(events, 0.6, 0.5)
    with pytest.raises(ValueError, match="n_test must be a positive integer"):
        leave_last_n_out(events, n_test=1.5)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['timestamp'\]"):
        temporal_split(events.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="is empty"):
        random_split(events.iloc[:0])


def test_temporal_and_leave_last_out_ignore_row_order(events):
    shuffled = events.sample(frac=1.0, random_state=4)
    for split_function in (lambda f: temporal_split(f, 0.7), lambda f: leave_last_n_out(f, 3)):
        assert set(split_function(events).test.index) == set(split_function(shuffled).test.index)


def test_missing_values_are_named_not_silently_split(events):
    with_nat = events.copy()
    with_nat.loc[with_nat.index[:2], "timestamp"] = pd.NaT
    with pytest.raises(ValueError, match=r"timestamp has 2 missing value\(s\)"):
        temporal_split(with_nat, test_start=0.8)
    with_null = events.copy()
    with_null.loc[with_null.index[5], "user_id"] = None
    for split_function in (random_split, leave_last_n_out):
        with pytest.raises(ValueError, match=r"user_id has 1 missing value\(s\)"):
            split_function(with_null)
    as_text = events.assign(timestamp=events["timestamp"].astype(str))
    with pytest.raises(ValueError, match="must be naive datetime64"):
        temporal_split(as_text)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        random_split(events, seed=None)
