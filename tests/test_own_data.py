"""Your own data -> the schema: from_frames / from_files, and every error a user can hit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.own_data import from_files, from_frames, ids_to_text

COLUMNS = {"customer": "user_id", "sku": "item_id", "ts": "timestamp", "qty": "weight"}


def orders() -> pd.DataFrame:
    """A small export as a shop might have it: its own column names, float customer ids."""
    return pd.DataFrame(
        {
            "customer": [17850.0, 17850.0, 13047.0, 13047.0],
            "sku": ["85123A", "71053", "85123A", "22423"],
            "ts": [
                "2024-03-01 14:05:00",
                "2024-03-01 14:05:00",
                "2024-03-02 09:00:00",
                "2024-03-03",
            ],
            "qty": [6, 2, 1, 3],
            "order": [1001, 1001, 1002, 1003],
        }
    )


def products() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": ["85123A", "71053", "22423"],
            "name": ["White hanging heart", "White metal lantern", "Regency cakestand"],
            "path": ["Home > Lights", "Home > Lights", "Kitchen > Baking"],
            "stock": [10, 0, 4],
        }
    )


# ---------------------------------------------------------------------------------------------
# Happy paths


def test_frames_to_dataset() -> None:
    dataset = from_frames(
        orders(),
        products(),
        columns={**COLUMNS, "order": "session_id"},
        item_columns={"sku": "item_id", "name": "title", "path": "category"},
    )
    inter, items = dataset.interactions, dataset.items
    assert list(inter.columns) == [
        "user_id", "item_id", "timestamp", "event", "weight", "price", "session_id",
    ]  # fmt: skip
    assert inter["user_id"].tolist() == ["17850", "17850", "13047", "13047"]  # not "17850.0"
    assert inter["session_id"].tolist() == ["1001", "1001", "1002", "1003"]
    assert pd.api.types.is_datetime64_any_dtype(inter["timestamp"])
    assert inter["timestamp"].iloc[3] == pd.Timestamp("2024-03-03")
    assert set(inter["event"]) == {"purchase"}
    assert inter["weight"].tolist() == [6.0, 2.0, 1.0, 3.0]
    assert inter["price"].isna().all()
    assert list(items.columns) == [
        "item_id", "title", "description", "category", "brand", "price", "stock",
    ]  # fmt: skip
    assert dataset.missing_item_fields() == ["description", "brand", "price"]
    assert dataset.info["filled_columns"] == {"event": "purchase", "price": "NaN (unknown)"}
    assert dataset.info["items"] == "given"
    assert dataset.name == "my-shop"


def test_defaults_without_items_weight_or_event() -> None:
    frame = orders().drop(columns=["qty"])
    dataset = from_frames(
        frame, columns={"customer": "user_id", "sku": "item_id", "ts": "timestamp"}, event="view"
    )
    assert set(dataset.interactions["event"]) == {"view"}
    assert (dataset.interactions["weight"] == 1.0).all()
    assert dataset.items["item_id"].tolist() == ["22423", "71053", "85123A"]
    assert dataset.missing_item_fields() == ["title", "description", "category", "brand", "price"]
    assert "built from the interactions' item ids" in dataset.info["items"]
    assert "order" in dataset.interactions.columns  # extra columns are kept


def test_float_int_and_mixed_ids_become_clean_text() -> None:
    assert ids_to_text(pd.Series([17850.0, np.nan, 2.5])).tolist()[::2] == ["17850", "2.5"]
    assert ids_to_text(pd.Series([17850.0, np.nan])).isna().tolist() == [False, True]
    assert ids_to_text(pd.Series([1, None], dtype="Int64")).tolist()[0] == "1"
    assert ids_to_text(pd.Series([12, 7])).tolist() == ["12", "7"]
    assert ids_to_text(pd.Series([536365.0, "C536379", 71053], dtype=object)).tolist() == [
        "536365",
        "C536379",
        "71053",
    ]
    assert ids_to_text(pd.Series(["00123", " a "])).tolist() == ["00123", " a "]  # kept exactly


def test_epoch_seconds_need_a_unit() -> None:
    frame = orders().assign(ts=[1_700_000_000, 1_700_000_000, 1_700_000_060, 1_700_003_600])
    with pytest.raises(ValueError, match="timestamp_unit='s'"):
        from_frames(frame, columns=COLUMNS)
    dataset = from_frames(frame, columns=COLUMNS, timestamp_unit="s")
    assert dataset.interactions["timestamp"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20")
    with pytest.raises(ValueError, match="needs numbers"):
        from_frames(orders(), columns=COLUMNS, timestamp_unit="s")


def test_timestamp_format_and_time_zones() -> None:
    frame = orders().assign(
        ts=["01/03/2024 14:05", "01/03/2024 14:05", "02/03/2024 09:00", "03/03/2024 00:00"]
    )
    dataset = from_frames(frame, columns=COLUMNS, timestamp_format="%d/%m/%Y %H:%M")
    assert dataset.interactions["timestamp"].iloc[2] == pd.Timestamp("2024-03-02 09:00")
    frame.loc[3, "ts"] = "2024-03-03"
    with pytest.raises(
        ValueError, match=r"1 value\(s\) that do not match timestamp_format"
    ) as error:
        from_frames(frame, columns=COLUMNS, timestamp_format="%d/%m/%Y %H:%M")
    assert "row 3: '2024-03-03'" in str(error.value)
    local = pd.to_datetime(orders()["ts"], format="mixed")
    aware = orders().assign(ts=local.dt.tz_localize("Europe/Berlin"))
    dataset = from_frames(aware, columns=COLUMNS)
    assert dataset.interactions["timestamp"].dt.tz is None
    assert dataset.interactions["timestamp"].iloc[0] == pd.Timestamp("2024-03-01 14:05:00")


def test_duplicates_are_merged_by_default() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2"],
            "item_id": ["a", "a", "b", "a"],
            "timestamp": ["2024-01-01 10:00"] * 4,
            "weight": [1.0, 3.0, 1.0, 2.0],
            "price": [2.0, 4.0, np.nan, 1.0],
            "session_id": ["s1", "s2", "s1", "s3"],
        }
    )
    dataset = from_frames(frame)
    inter = dataset.interactions
    assert dataset.info["duplicate_rows_merged"] == 1
    assert len(inter) == 3
    merged = inter[(inter["user_id"] == "u1") & (inter["item_id"] == "a")].iloc[0]
    assert merged["weight"] == 4.0
    assert merged["price"] == pytest.approx((1 * 2.0 + 3 * 4.0) / 4)
    assert merged["session_id"] == "s1"
    assert np.isnan(inter.loc[inter["item_id"] == "b", "price"].item())
    with pytest.raises(
        ValueError, match=r"2 rows that repeat a \(user_id, item_id, timestamp, event\)"
    ):
        from_frames(frame, aggregate_duplicates=False)


def test_csv_and_parquet_files(tmp_path: Path) -> None:
    frame = orders().assign(sku=["00123", "071053", "00123", "22423"])
    catalog = products().assign(sku=["00123", "071053", "22423"])
    frame.to_csv(tmp_path / "orders.csv", index=False)
    frame.to_csv(tmp_path / "orders.csv.gz", index=False)
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    catalog.to_csv(tmp_path / "products.csv", index=False)
    options = {"columns": COLUMNS, "item_columns": {"sku": "item_id", "name": "title"}}
    datasets = [
        from_files(tmp_path / "orders.csv", tmp_path / "products.csv", **options),
        from_files(tmp_path / "orders.csv.gz", tmp_path / "products.csv", **options),
        from_files(tmp_path / "orders.parquet", tmp_path / "products.csv", **options),
    ]
    for dataset in datasets:
        assert dataset.interactions["item_id"].tolist() == ["00123", "071053", "00123", "22423"]
        assert dataset.interactions["user_id"].tolist() == ["17850", "17850", "13047", "13047"]
        assert dataset.items["title"].iloc[0] == "White hanging heart"
        pd.testing.assert_frame_equal(dataset.interactions, datasets[0].interactions)
    assert datasets[0].info["files"] == ["orders.csv", "products.csv"]
    assert (
        from_files(tmp_path / "orders.csv", columns=COLUMNS, info={"shop": "test"}).info["shop"]
        == "test"
    )


def test_unsupported_or_missing_files(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"'orders.xlsx'.*'\.xlsx' is not supported.*\.csv, \.csv\.gz, \.parquet"
    ):
        from_files(tmp_path / "orders.xlsx", columns=COLUMNS)
    with pytest.raises(FileNotFoundError, match=r"orders\.csv"):
        from_files(tmp_path / "orders.csv", columns=COLUMNS)


# ---------------------------------------------------------------------------------------------
# Every schema error, as a user meets it through from_frames


def test_mapping_typo_names_the_column() -> None:
    with pytest.raises(
        ValueError, match=r"names 'custmer'.*no such column.*did you mean 'customer'"
    ):
        from_frames(orders(), columns={**COLUMNS, "custmer": "user_id"})


def test_unmapped_required_column() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) \['item_id'\]"):
        from_frames(orders(), columns={"customer": "user_id", "ts": "timestamp"})


def test_two_columns_mapped_to_one_name() -> None:
    with pytest.raises(ValueError, match=r"has the column\(s\) \['user_id'\] more than once"):
        from_frames(orders().assign(user_id=1), columns=COLUMNS)


def test_not_a_frame() -> None:
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        from_frames([{"user_id": 1}])  # type: ignore[arg-type]


def test_null_ids() -> None:
    frame = orders()
    frame.loc[2, "customer"] = np.nan
    with pytest.raises(
        ValueError, match=r"user_id has 1 null value\(s\) \(e\.g\. row 2: user_id=nan"
    ):
        from_frames(frame, columns=COLUMNS)
    frame = orders()
    frame.loc[[1, 3], "sku"] = None
    with pytest.raises(ValueError, match=r"item_id has 2 null value\(s\) \(e\.g\. row 1"):
        from_frames(frame, columns=COLUMNS)


def test_duplicate_item_ids_in_catalog() -> None:
    catalog = pd.concat([products(), products().iloc[[0]]], ignore_index=True)
    with pytest.raises(
        ValueError, match=r"items.item_id has 1 duplicated id\(s\) on 2 rows .*'85123A'"
    ):
        from_frames(orders(), catalog, columns=COLUMNS, item_columns={"sku": "item_id"})


def test_items_missing_from_catalog() -> None:
    with pytest.raises(
        ValueError,
        match=r"2 rows whose item_id is not in items \(1 distinct ids, e\.g\. \['85123A'\]\)",
    ):
        from_frames(orders(), products().iloc[1:], columns=COLUMNS, item_columns={"sku": "item_id"})


def test_items_without_an_id_column() -> None:
    with pytest.raises(ValueError, match=r"items is missing column\(s\) \['item_id'"):
        from_frames(orders(), products(), columns=COLUMNS)


def test_timestamps_that_do_not_parse() -> None:
    frame = orders()
    frame.loc[[1, 2], "ts"] = ["yesterday", "2024-13-45"]
    with pytest.raises(ValueError) as error:
        from_frames(frame, columns=COLUMNS)
    message = str(error.value)
    assert "timestamp has 2 value(s) that do not parse as dates" in message
    assert "row 1: user_id='17850', item_id='71053', timestamp='yesterday'" in message


def test_negative_weights_and_prices() -> None:
    frame = orders()
    frame.loc[3, "qty"] = -3
    with pytest.raises(ValueError, match=r"weight has 1 negative value\(s\) \(e\.g\. row 3"):
        from_frames(frame, columns=COLUMNS)
    # a negative weight is not hidden inside a merged sum (-1 + 3 would be 2)
    frame = orders()
    frame.loc[1, ["sku", "qty"]] = ["85123A", -1]
    with pytest.raises(ValueError, match=r"weight has 1 negative value"):
        from_frames(frame, columns=COLUMNS)
    with pytest.raises(ValueError, match=r"price has 1 negative value"):
        from_frames(orders().assign(price=[1.0, -2.0, 1.0, 1.0]), columns=COLUMNS)


def test_weights_that_are_not_numbers() -> None:
    frame = orders().assign(qty=["1", "two", "3", "4"])
    with pytest.raises(ValueError, match="weight must be numeric"):
        from_frames(frame, columns=COLUMNS)


def test_float_ids_in_csv_files(tmp_path: Path) -> None:
    mapping = {"customer": "user_id", "sku": "item_id", "ts": "timestamp"}
    # pandas writes an integer id column with a gap as floats: "17850.0"; a blank is a null id
    (tmp_path / "orders.csv").write_text(
        "customer,sku,ts\n17850.0,00123,2024-03-01\n13047.0,2.0,2024-03-02\n,00123,2024-03-03\n"
    )
    with pytest.raises(ValueError, match=r"user_id has 1 null value\(s\) \(e\.g\. row 2"):
        from_files(tmp_path / "orders.csv", columns=mapping)
    (tmp_path / "orders.csv").write_text(
        "customer,sku,ts\n17850.0,00123,2024-03-01\n13047.0,2.0,2024-03-02\n"
    )
    inter = from_files(tmp_path / "orders.csv", columns=mapping).interactions
    assert inter["user_id"].tolist() == ["17850", "13047"]
    assert inter["item_id"].tolist() == ["00123", "2.0"]  # not every sku is a float: kept as text
