"""The schema validators: every error names the column, the count and example rows."""

import numpy as np
import pandas as pd
import pytest

from recutils.schema import Dataset, validate_interactions, validate_items


def make_items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["A1", "A2", "A3"],
            "title": ["red shirt", "blue shirt", None],
            "description": [np.nan, "soft", "warm"],
            "category": ["Fashion > Shirts"] * 3,
            "brand": ["X", "Y", np.nan],
            "price": [10.0, np.nan, 30.0],
        }
    )


def make_interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u3"],
            "item_id": ["A1", "A2", "A1", "A3"],
            "timestamp": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-03 00:00", "2024-01-04 00:00"]
            ),
            "event": ["view", "purchase", "view", "cart"],
            "weight": [1.0, 2.0, 1.0, 1.0],
            "price": [10.0, 9.5, np.nan, 30.0],
        }
    )


def test_valid_tables_pass_and_missing_fields_are_reported():
    dataset = Dataset("toy", make_interactions(), make_items()).validate()
    assert dataset.missing_item_fields() == []
    items = make_items().assign(brand=np.nan)
    assert Dataset("toy", make_interactions(), items).missing_item_fields() == ["brand"]
    summary = dataset.summary()
    assert summary["users"] == 3 and summary["user-item pairs"] == 4


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['weight'\]"):
        validate_interactions(make_interactions().drop(columns="weight"))
    with pytest.raises(ValueError, match=r"items is missing column\(s\) \['title', 'brand'\]"):
        validate_items(make_items().drop(columns=["title", "brand"]))


def test_null_ids_are_counted_with_examples():
    frame = make_interactions()
    frame.loc[[1, 3], "user_id"] = None
    with pytest.raises(ValueError, match=r"interactions\.user_id has 2 null value\(s\).*row 1"):
        validate_interactions(frame)
    items = make_items()
    items.loc[0, "item_id"] = None
    with pytest.raises(ValueError, match=r"items\.item_id has 1 null"):
        validate_items(items)


def test_duplicate_item_ids():
    items = pd.concat([make_items(), make_items().iloc[[1]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"1 duplicated id\(s\) on 2 rows.*'A2'"):
        validate_items(items)


def test_duplicate_events():
    frame = pd.concat([make_interactions(), make_interactions().iloc[[0]]], ignore_index=True)
    with pytest.raises(
        ValueError, match=r"2 rows that repeat a \(user_id, item_id, timestamp, event\)"
    ):
        validate_interactions(frame)


def test_items_not_in_catalog():
    frame = make_interactions()
    frame.loc[2, "item_id"] = "Z9"
    frame.loc[3, "item_id"] = "Z9"
    with pytest.raises(
        ValueError,
        match=r"2 rows whose item_id is not in items \(1 distinct ids, e\.g\. \['Z9'\]\)",
    ):
        validate_interactions(frame, make_items())


def test_unparseable_timestamps():
    frame = make_interactions()
    frame["timestamp"] = ["2024-01-01", "yesterday", "2024-02-30", "2024-01-04"]
    with pytest.raises(
        ValueError, match=r"timestamp has 2 value\(s\) that do not parse.*'yesterday'"
    ):
        validate_interactions(frame)
    frame["timestamp"] = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    with pytest.raises(ValueError, match="not datetime64"):
        validate_interactions(frame)


def test_negative_weights_and_prices():
    frame = make_interactions()
    frame.loc[1, "weight"] = -1.0
    with pytest.raises(ValueError, match=r"weight has 1 negative value\(s\).*u1"):
        validate_interactions(frame)
    frame = make_interactions()
    frame.loc[0, "weight"] = np.nan
    with pytest.raises(ValueError, match=r"weight has 1 missing"):
        validate_interactions(frame)
    items = make_items()
    items.loc[2, "price"] = -3.0
    with pytest.raises(ValueError, match=r"items\.price has 1 negative"):
        validate_items(items)


def test_infinite_values_and_time_zones_are_rejected():
    frame = make_interactions()
    frame.loc[0, "weight"] = np.inf
    with pytest.raises(ValueError, match=r"weight has 1 infinite value\(s\)"):
        validate_interactions(frame)
    frame = make_interactions()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    with pytest.raises(ValueError, match="time-zone aware"):
        validate_interactions(frame)
