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
        ValueError, match=r"'orders.xlsx'.*'\.xlsx' is not supported.*\.csv, \.csv\.gz.*\.jsonl"
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
    with pytest.raises(ValueError) as error:
        from_frames(orders(), columns={"customer": "user_id", "ts": "timestamp"})
    message = str(error.value)
    assert message.startswith("interactions has no item_id column")
    assert "not mapped: ['sku', 'qty', 'order']" in message
    assert "from_frames" not in message and "my-shop" not in message
    assert "'event'" not in message and "'weight'" not in message  # nothing we added ourselves
    with pytest.raises(ValueError, match="order='rows'"):
        from_frames(orders().drop(columns="ts"), columns={"customer": "user_id", "sku": "item_id"})


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


# --------------------------------------------------------------------------------------------
# Real exports (issue 14): timestamps, orders, file formats, blanks, empty input


def events(ts: list[object]) -> pd.DataFrame:
    n = len(ts)
    return pd.DataFrame(
        {
            "user_id": [f"u{i % 2}" for i in range(n)],
            "item_id": [f"i{i}" for i in range(n)],
            "ts": ts,
        }
    ).rename(columns={"ts": "timestamp"})


def test_day_first_strings_are_read_one_way() -> None:
    dataset = from_frames(events(["01/02/2024", "13/01/2024", "02/03/2024"]))
    assert dataset.interactions.sort_values("item_id")["timestamp"].dt.strftime(
        "%Y-%m-%d"
    ).tolist() == ["2024-02-01", "2024-01-13", "2024-03-02"]
    assert dataset.info["date_order"] == "day first"
    month_first = from_frames(events(["01/02/2024", "01/13/2024", "02/03/2024"]))
    assert month_first.info["date_order"] == "month first"
    assert sorted(month_first.interactions["timestamp"].dt.strftime("%m-%d")) == [
        "01-02",
        "01-13",
        "02-03",
    ]


def test_ambiguous_or_contradictory_day_month_strings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"ambiguous.*'01/02/2024'.*timestamp_format='%d/%m/%Y'"):
        from_frames(events(["01/02/2024", "03/04/2024"]))
    with pytest.raises(ValueError, match="mixes day-first dates"):
        from_frames(events(["13/01/2024", "01/13/2024"]))
    same = from_frames(events(["01/01/2024", "02/02/2024"]))  # both readings agree
    assert same.interactions["timestamp"].dt.month.tolist() == [1, 2]
    given = from_frames(events(["01/02/2024", "03/04/2024"]), timestamp_format="%m/%d/%Y")
    assert given.interactions["timestamp"].dt.month.tolist() == [1, 3]


def test_epoch_unit_mistakes_are_named() -> None:
    seconds = [1_700_000_000, 1_700_000_060]
    with pytest.warns(UserWarning, match=r"every date is before 1990.*timestamp_unit='s'"):
        from_frames(events(seconds), timestamp_unit="ms")
    milliseconds = [1_700_000_000_000, 1_700_000_060_000]
    with pytest.raises(ValueError, match=r"epoch seconds.*look like epoch milliseconds.*'ms'"):
        from_frames(events(milliseconds), timestamp_unit="s")
    assert from_frames(events(milliseconds), timestamp_unit="ms").interactions[
        "timestamp"
    ].min() == pd.Timestamp("2023-11-14 22:13:20")
    with pytest.raises(ValueError, match="timestamp_unit must be one of"):
        from_frames(events(seconds), timestamp_unit="sec")


def test_future_dates_warn() -> None:
    with pytest.warns(UserWarning, match=r"1 date\(s\) are in the future"):
        from_frames(events(["2024-01-01", "2099-01-01"]))
    with pytest.raises(ValueError, match="outside the years 1677-2262"):
        from_frames(events(["2024-01-01", "2999-01-01"]))


def test_mixed_utc_offsets_keep_wall_clock_or_convert() -> None:
    written = ["2024-03-30T12:00:00+01:00", "2024-03-31T12:00:00+02:00"]
    dataset = from_frames(events(written))
    assert dataset.interactions["timestamp"].tolist() == [
        pd.Timestamp("2024-03-30 12:00"),
        pd.Timestamp("2024-03-31 12:00"),
    ]
    assert "+01:00" in dataset.info["timezone"] and "+02:00" in dataset.info["timezone"]
    utc = from_frames(events(written), timezone="UTC")
    assert utc.interactions["timestamp"].tolist() == [
        pd.Timestamp("2024-03-30 11:00"),
        pd.Timestamp("2024-03-31 10:00"),
    ]
    # across the autumn change, wall-clock times repeat; UTC keeps the true order
    autumn = ["2024-10-27T02:30:00+02:00", "2024-10-27T02:10:00+01:00"]
    true_order = from_frames(events(autumn), timezone="UTC").interactions["timestamp"]
    assert true_order.iloc[0] < true_order.iloc[1]
    with pytest.raises(ValueError, match="is not a time zone name"):
        from_frames(events(written), timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="has none"):
        from_frames(events(["2024-01-01", "2024-01-02"]), timezone="UTC")


def test_order_instead_of_times() -> None:
    from recutils.interactions import IdIndex, recency_weighted, user_item_pairs
    from recutils.models.sequential import user_sequences
    from recutils.splitting import leave_last_n_out, temporal_protocol, temporal_split

    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "b", "b", "b"],
            "item": ["x", "y", "z", "z", "x", "y"],
            "step": [3, 1, 2, 1, 2, 3],
        }
    )
    dataset = from_frames(frame, columns={"user": "user_id", "item": "item_id"}, order="step")
    times = dataset.interactions["timestamp"]
    assert pd.api.types.is_integer_dtype(times) and "step" not in dataset.interactions
    assert "positions, not times" in dataset.info["order"]
    split = leave_last_n_out(dataset.interactions, n_test=1)
    assert sorted(split.test["item_id"]) == ["x", "y"]  # a's step 3 is x, b's is y
    index = IdIndex.from_dataset(dataset)
    sequences = user_sequences(dataset.interactions, index)
    assert [index.items[s].tolist() for s in sequences] == [["y", "z", "x"], ["z", "x", "y"]]
    assert [
        index.items[s].tolist() for s in user_sequences(dataset.interactions, index, before=3)
    ] == [["y", "z"], ["z", "x"]]
    assert len(temporal_split(dataset.interactions, test_start=3).test) == 2
    with pytest.raises(ValueError, match="needs real times"):
        temporal_protocol(dataset)
    with pytest.raises(ValueError, match="needs real times"):
        recency_weighted(user_item_pairs(dataset.interactions), half_life_days=7)
    by_rows = from_frames(
        frame.drop(columns="step"), columns={"user": "user_id", "item": "item_id"}, order="rows"
    )
    assert by_rows.interactions["timestamp"].tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="not whole numbers"):
        from_frames(
            frame.assign(step=[1, 2, None, 1, 2, 3]),
            columns={"user": "user_id", "item": "item_id"},
            order="step",
        )
    with pytest.raises(ValueError, match="either times or an order"):
        from_frames(
            frame.assign(timestamp="2024-01-01"),
            columns={"user": "user_id", "item": "item_id"},
            order="step",
        )
    with pytest.raises(ValueError, match="order='stp' names no column"):
        from_frames(frame, columns={"user": "user_id", "item": "item_id"}, order="stp")


def test_a_one_type_log_weighs_the_same_whatever_its_event_is_called() -> None:
    from recutils.interactions import user_item_pairs

    frame = events(["2024-01-01", "2024-01-02", "2024-01-03"])
    as_purchases = user_item_pairs(from_frames(frame).interactions)
    as_ratings = user_item_pairs(from_frames(frame, event="rating").interactions)
    assert as_purchases["weight"].tolist() == as_ratings["weight"].tolist() == [1.0, 1.0, 1.0]
    assert as_purchases.attrs["event_weights"] == {"purchase": 1.0}
    funnel = frame.assign(event=["view", "cart", "purchase"])
    weights = user_item_pairs(from_frames(funnel).interactions).attrs["event_weights"]
    assert weights == {"view": 1.0, "cart": 3.0, "purchase": 5.0}


def test_empty_input_is_refused_where_it_is_made() -> None:
    from recutils.schema import Dataset

    with pytest.raises(ValueError, match="interactions has no rows"):
        from_frames(events([]).astype({"timestamp": "datetime64[ns]"}))
    with pytest.raises(ValueError, match="items has no rows"):
        from_frames(events(["2024-01-01"]), products().iloc[:0], item_columns={"sku": "item_id"})
    dataset = from_frames(events(["2024-01-01"]))
    with pytest.raises(ValueError, match=r"my-shop.interactions has no rows"):
        Dataset("my-shop", dataset.interactions.iloc[:0], dataset.items).validate()


def test_cutoffs_outside_the_data_are_refused() -> None:
    from recutils.splitting import temporal_split

    interactions = from_frames(events(["2024-01-01", "2024-01-02", "2024-01-03"])).interactions
    with pytest.raises(
        ValueError, match=r"test_start \(2025-01-01 00:00:00\) is outside.*test would be empty"
    ):
        temporal_split(interactions, test_start="2025-01-01")
    with pytest.raises(ValueError, match="train would be empty"):
        temporal_split(interactions, test_start="2023-01-01")
    with pytest.raises(ValueError, match=r"valid_start .* is outside"):
        temporal_split(interactions, test_start="2024-01-03", valid_start="2024-01-01")
    assert len(temporal_split(interactions, test_start="2024-01-03").test) == 1


def test_blank_strings_are_missing() -> None:
    items = products().assign(name=["White hanging heart", "", "  "], path=["", None, "Kitchen"])
    frame = orders()
    dataset = from_frames(
        frame,
        items,
        columns=COLUMNS,
        item_columns={"sku": "item_id", "name": "title", "path": "category"},
    )
    assert dataset.items["title"].isna().tolist() == [False, True, True]
    assert dataset.items["category"].isna().tolist() == [True, True, False]
    with pytest.raises(ValueError, match=r"interactions.item_id has 1 null value"):
        from_frames(frame.assign(sku=["85123A", " ", "85123A", "22423"]), columns=COLUMNS)
    from recutils.schema import Dataset

    raw = Dataset("raw", dataset.interactions, dataset.items.assign(brand=["", " ", None]))
    assert "brand" in raw.missing_item_fields()


@pytest.mark.parametrize(
    ("name", "delimiter"), [("orders.tsv", "\t"), ("orders.txt", ";"), ("orders.csv", "|")]
)
def test_delimiters_are_sniffed(tmp_path: Path, name: str, delimiter: str) -> None:
    path = tmp_path / name
    orders().assign(sku=["00123", "71053", "00123", "22423"]).to_csv(
        path, sep=delimiter, index=False
    )
    dataset = from_files(path, columns=COLUMNS)
    assert sorted(dataset.items["item_id"]) == ["00123", "22423", "71053"]


def test_a_wrong_delimiter_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    orders().to_csv(path, sep="\t", index=False)
    with pytest.raises(
        ValueError, match=r"reads as a single column.*header contains '\\t'.*delimiter="
    ):
        from_files(path, columns=COLUMNS, delimiter=",")
    assert len(from_files(path, columns=COLUMNS, delimiter="\t").interactions) == 4


def test_json_lines_and_arrays(tmp_path: Path) -> None:
    frame = orders().assign(sku=["00123", "71053", "00123", "22423"])
    lines = tmp_path / "orders.jsonl"
    frame.to_json(lines, orient="records", lines=True)
    array = tmp_path / "orders.json"
    frame.to_json(array, orient="records")
    for path in (lines, array):
        dataset = from_files(path, columns=COLUMNS)
        assert sorted(dataset.items["item_id"]) == ["00123", "22423", "71053"]
        assert dataset.interactions["user_id"].iloc[0] in {"17850", "13047"}


def test_empty_parts_give_empty_pairs_downstream() -> None:
    from recutils.interactions import IdIndex, user_item_pairs

    dataset = from_frames(events(["2024-01-01", "2024-01-02"]))
    pairs = user_item_pairs(dataset.interactions.iloc[:0])
    assert len(pairs) == 0 and list(pairs.columns) == [
        "user_id",
        "item_id",
        "timestamp",
        "last_timestamp",
        "event",
        "weight",
        "events",
    ]
    assert IdIndex.from_dataset(dataset).matrix(pairs).nnz == 0


def test_review_cases_mixed_formats_epoch_zones_renamed_order_blank_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mixes date formats.*'13/01/2024'.*'2024-01-05'"):
        from_frames(events(["13/01/2024", "03/01/2024", "2024-01-05"]))
    seconds = events([1_700_000_000, 1_700_000_060])
    assert from_frames(seconds, timestamp_unit="s").interactions["timestamp"].iloc[0] == (
        pd.Timestamp("2023-11-14 22:13:20")
    )
    berlin = from_frames(seconds, timestamp_unit="s", timezone="Europe/Berlin")
    assert berlin.interactions["timestamp"].iloc[0] == pd.Timestamp("2023-11-14 23:13:20")
    assert berlin.info["timezone"] == "converted to Europe/Berlin"
    frame = pd.DataFrame({"u": ["a", "a"], "i": ["x", "y"], "pos": [2, 1]})
    for order in ("pos", "step"):  # your name, or the name it is renamed to
        dataset = from_frames(
            frame, columns={"u": "user_id", "i": "item_id", "pos": "step"}, order=order
        )
        assert dataset.interactions.sort_values("timestamp")["item_id"].tolist() == ["y", "x"]
    with pytest.raises(ValueError, match=r"timestamp has 1 missing value"):
        from_frames(events(["2024-01-01", "  "]))
    path = tmp_path / "products.tsv"
    products().to_csv(path, sep="\t", index=False)
    orders_path = tmp_path / "orders.csv"
    orders().to_csv(orders_path, sep=";", index=False)
    dataset = from_files(
        orders_path, path, columns=COLUMNS, item_columns={"sku": "item_id"}, delimiter=";"
    )
    assert len(dataset.items) == 3
