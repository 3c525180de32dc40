"""UCI Online Retail loader: published figures, cleaning, file checks, xlsx/zip path, cache."""

from __future__ import annotations

import gzip
import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import online_retail as retail
from recutils.datasets.online_retail import load_online_retail

# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The raw table that ships with recutils (always present)."""
    return retail.read_compact_table(retail.BUNDLED_FILE)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    """load("online-retail") with an empty data directory: the bundled copy."""
    return load_online_retail(tmp_path_factory.mktemp("empty-data-dir"))


@pytest.fixture(scope="module")
def csv_path(shared_data_dir: Path) -> Path:
    """The course's earlier CSV copy, if a data directory beside the repository has it."""
    path = shared_data_dir / "online-retail" / retail.CSV_FILE
    if not path.is_file():
        pytest.skip(
            f"{retail.CSV_FILE} not found in {path.parent}; set RECUTILS_DATA_DIR to a data "
            f"directory holding online-retail/{retail.CSV_FILE}"
        )
    return path


def as_official_csv(frame: pd.DataFrame) -> str:
    """Rows as the course's CSV copy writes them: CustomerID as a float, times to the second."""
    return frame.assign(CustomerID=frame["CustomerID"].astype("float64")).to_csv(
        index=False, date_format="%Y-%m-%d %H:%M:%S"
    )


@pytest.fixture(scope="module")
def sample_csv_text(raw: pd.DataFrame) -> str:
    """The header and first 200 lines, plus the first 20 lines without a customer after them
    (so the sample has cancellations, a discount line and missing CustomerIDs)."""
    no_customer = raw.iloc[200:5000].loc[lambda f: f["CustomerID"].isna()].head(20)
    assert len(no_customer) == 20
    return as_official_csv(pd.concat([raw.head(200), no_customer]))


def _official_cell(text: str) -> int | str:
    """Excel holds numeric invoice numbers and stock codes as numbers."""
    return int(text) if text.isdigit() else text


def write_official_xlsx(csv_text: str, path: Path) -> None:
    """Write rows as the official workbook does: numbers, datetimes, empty cells."""
    from openpyxl import Workbook

    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Online Retail"
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(
            [
                _official_cell(row.InvoiceNo),
                _official_cell(row.StockCode),
                row.Description or None,
                int(row.Quantity),
                pd.Timestamp(row.InvoiceDate).to_pydatetime(),
                float(row.UnitPrice),
                float(row.CustomerID) if row.CustomerID else None,
                row.Country,
            ]
        )
    workbook.save(path)


def write_official_zip(csv_text: str, path: Path) -> None:
    workbook = path.parent / "workbook.tmp.xlsx"
    write_official_xlsx(csv_text, workbook)
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(workbook, retail.XLSX_FILE)
    workbook.unlink()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every urlopen fail as if offline; returns the URLs that were tried."""
    tried: list[str] = []

    def offline(url, *args, **kwargs):
        tried.append(str(url))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tried


# ---------------------------------------------------------------------------------------------
# The file and its published figures


def test_raw_table_has_official_rows_and_fingerprint(raw: pd.DataFrame) -> None:
    assert len(raw) == retail.RAW_ROWS == 541_909
    assert raw["InvoiceNo"].nunique() == 25_900
    assert retail.content_fingerprint(raw) == retail.CONTENT_FINGERPRINT
    assert raw["Description"].isna().sum() == 1_454
    assert raw["CustomerID"].isna().sum() == 135_080


def test_figures_after_the_three_basic_drops(raw: pd.DataFrame) -> None:
    lines, dropped = retail.basic_lines(raw)
    assert dropped == {
        "missing CustomerID": 135_080,
        "cancellation (InvoiceNo starts with C)": 8_905,
        "Quantity <= 0": 0,
    }
    assert len(lines) == 397_924
    assert lines["CustomerID"].nunique() == 4_339
    assert lines["StockCode"].nunique() == 3_665
    assert lines["InvoiceNo"].nunique() == 18_536
    assert len(lines[["CustomerID", "StockCode"]].drop_duplicates()) == 266_802


def test_fingerprint_ignores_row_order_but_not_content(raw: pd.DataFrame) -> None:
    sample = raw.head(500)
    shuffled = sample.sample(frac=1.0, random_state=0)
    assert retail.content_fingerprint(shuffled) == retail.content_fingerprint(sample)
    changed = sample.copy()
    changed.loc[changed.index[7], "Quantity"] += 1
    assert retail.content_fingerprint(changed) != retail.content_fingerprint(sample)


def test_bundled_file_is_checked_and_reproducible(raw: pd.DataFrame, tmp_path: Path) -> None:
    assert retail.sha256_of(retail.BUNDLED_FILE) == retail.PARQUET_SHA256
    assert retail.BUNDLED_FILE.stat().st_size < 5 * 2**20  # it ships with the repository
    # tools/bundle_online_retail.py's writer gives the same bytes from the same table
    again = retail.write_compact_table(raw, tmp_path / retail.PARQUET_FILE)
    assert retail.sha256_of(again) == retail.PARQUET_SHA256


def test_compact_table_round_trip(raw: pd.DataFrame, tmp_path: Path) -> None:
    sample = raw.iloc[list(range(300)) + list(range(1400, 2000))].reset_index(drop=True)
    assert sample["CustomerID"].isna().any() and sample["Description"].isna().any()
    path = retail.write_compact_table(sample, tmp_path / "sample.parquet")
    pd.testing.assert_frame_equal(retail.read_compact_table(path), sample)
    assert [p.name for p in tmp_path.iterdir()] == ["sample.parquet"]  # no temporary left


def test_csv_copy_holds_the_bundled_table(raw: pd.DataFrame, csv_path: Path) -> None:
    pd.testing.assert_frame_equal(retail.read_csv_source(csv_path), raw)


# ---------------------------------------------------------------------------------------------
# The cleaned dataset


def test_cleaning_counts(dataset) -> None:
    info = dataset.info
    assert info["rows_dropped"] == {
        "missing CustomerID": 135_080,
        "cancellation (InvoiceNo starts with C)": 8_905,
        "Quantity <= 0": 0,
        "non-product StockCode": 1_554,
        "UnitPrice <= 0": 33,
    }
    assert info["non_product_stock_codes_dropped"] == [
        "BANK CHARGES",
        "C2",
        "DOT",
        "M",
        "PADS",
        "POST",
    ]
    assert info["rows_kept"] == 541_909 - sum(info["rows_dropped"].values()) == 396_337
    assert info["duplicate_lines_merged"] == 10_087
    assert len(dataset.interactions) == 396_337 - 10_087
    assert info["licence"] == "CC BY 4.0"
    assert info["file_sha256"] == retail.PARQUET_SHA256
    assert info["file"] == "online_retail.parquet (ships with recutils)"
    assert info["verified"] == "sha256 of the file"
    assert "doi:10.1057/dbm.2012.17" in info["citation"]


def test_schema_and_mapping(dataset) -> None:
    dataset.validate()
    inter, items, users = dataset.interactions, dataset.items, dataset.users
    assert list(inter.columns) == [
        "user_id", "item_id", "timestamp", "event", "weight", "price", "session_id",
    ]  # fmt: skip
    assert pd.api.types.is_datetime64_any_dtype(inter["timestamp"])
    assert set(inter["event"]) == {"purchase"}
    assert (inter["weight"] > 0).all() and (inter["price"] > 0).all()
    assert not inter.duplicated(["user_id", "item_id", "timestamp", "event"]).any()
    assert inter["timestamp"].is_monotonic_increasing
    # ids are clean text: integer customer ids, stock codes with their letter suffixes
    assert "17850" in set(inter["user_id"]) and not inter["user_id"].str.contains(r"\.").any()
    assert {"85123A", "84029G", "71053"} <= set(items["item_id"])
    assert not retail.is_non_product(items["item_id"]).any()
    assert set(items["item_id"]) == set(inter["item_id"])
    assert len(users) == inter["user_id"].nunique() == 4_334
    assert len(items) == 3_659
    assert dataset.missing_item_fields() == ["description", "category", "brand"]
    assert (items["title"] == items["title"].str.strip()).all()
    heart = items.set_index("item_id").loc["85123A"]
    assert heart["title"] == "WHITE HANGING HEART T-LIGHT HOLDER"
    first = users.set_index("user_id").loc["17850"]
    assert first["country"] == "United Kingdom"
    assert first["first_purchase_time"] == pd.Timestamp("2010-12-01 08:26:00")


def test_duplicate_lines_are_merged_with_weighted_price(dataset) -> None:
    # Invoice 539318 of customer 12348 lists 21213 twice: 24 at 0.55 and 120 at 0.42.
    inter = dataset.interactions
    row = inter[
        (inter["user_id"] == "12348")
        & (inter["item_id"] == "21213")
        & (inter["timestamp"] == pd.Timestamp("2010-12-16 19:09:00"))
    ]
    assert len(row) == 1
    assert row["weight"].item() == 144.0
    assert row["price"].item() == pytest.approx((24 * 0.55 + 120 * 0.42) / 144)
    assert row["session_id"].item() == "539318"


def test_keeping_non_products(tmp_path: Path) -> None:
    kept = load_online_retail(tmp_path, drop_non_products=False)
    assert kept.info["rows_dropped"]["non-product StockCode"] == 0
    assert kept.info["rows_dropped"]["UnitPrice <= 0"] == 40
    assert {"POST", "M"} <= set(kept.items["item_id"])
    assert len(kept.items) == 3_665


def test_is_non_product() -> None:
    codes = pd.Series(["POST", "m", "BANK CHARGES", "gift_0001_20", "C2", "85123A", "DCGSSGIRL"])
    assert retail.is_non_product(codes).tolist() == [True, True, True, True, True, False, False]


# ---------------------------------------------------------------------------------------------
# Missing, damaged and downloaded files


def test_without_a_file_of_your_own_the_bundled_copy_is_used_offline(
    tmp_path: Path, no_network
) -> None:
    dataset = load_online_retail(tmp_path, drop_non_products=False)
    assert dataset.info["file"].startswith(retail.PARQUET_FILE)
    assert no_network == []  # nothing is downloaded unless asked
    assert not (tmp_path / "online-retail").exists()  # and nothing is written


def test_without_any_copy_the_error_says_what_to_do(tmp_path: Path, monkeypatch, no_network):
    monkeypatch.setattr(retail, "BUNDLED_FILE", tmp_path / "gone" / retail.PARQUET_FILE)
    with pytest.raises(FileNotFoundError) as error:
        load_online_retail(tmp_path)
    message = str(error.value)
    assert "reinstall recutils" in message
    for name in retail.ACCEPTED_FILES:
        assert repr(name) in message
    assert str(tmp_path / "online-retail") in message
    assert retail.UCI_ZIP_URL in message
    assert "RECUTILS_DATA_DIR" in message and "data_dir=" in message and "download=True" in message
    monkeypatch.setenv("RECUTILS_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        load_online_retail()
    assert no_network == []


def test_damaged_bundled_copy_is_rejected(tmp_path: Path, monkeypatch) -> None:
    damaged = tmp_path / retail.PARQUET_FILE
    data = bytearray(retail.BUNDLED_FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(retail, "BUNDLED_FILE", damaged)
    with pytest.raises(ValueError, match=r"ships with recutils is damaged: reinstall") as error:
        load_online_retail(tmp_path / "data")
    assert retail.PARQUET_SHA256 in str(error.value)


def test_a_file_in_the_data_directory_comes_first(tmp_path: Path, raw: pd.DataFrame) -> None:
    folder = tmp_path / "online-retail"
    retail.write_compact_table(raw.head(300), folder / retail.PARQUET_FILE)
    with pytest.raises(ValueError, match="does not hold the official Online Retail data"):
        load_online_retail(tmp_path)  # a Parquet file of your own is checked by content
    mine = load_online_retail(tmp_path, verify=False)
    assert mine.info["file"] == retail.PARQUET_FILE and mine.info["raw_rows"] == 300
    assert mine.info["verified"] == "not verified (verify=False)"


def test_offline_download_fails_cleanly(tmp_path: Path, no_network) -> None:
    with pytest.raises(FileNotFoundError, match="Could not download") as error:
        load_online_retail(tmp_path, download=True)
    assert no_network == [retail.UCI_ZIP_URL]
    assert repr(retail.CSV_FILE) in str(error.value)
    assert list((tmp_path / "online-retail").iterdir()) == []  # no partial file left


def test_damaged_csv_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "online-retail"
    folder.mkdir()
    (folder / retail.CSV_FILE).write_bytes(gzip.compress(b"InvoiceNo,StockCode\n1,2\n"))
    with pytest.raises(ValueError) as error:
        load_online_retail(tmp_path)
    message = str(error.value)
    assert retail.CSV_FILE in message and retail.CSV_SHA256 in message
    assert retail.sha256_of(folder / retail.CSV_FILE) in message
    assert "Restore" in message


# ---------------------------------------------------------------------------------------------
# The official xlsx / zip path, on a small sample


def test_xlsx_parses_like_the_csv(tmp_path: Path, sample_csv_text: str) -> None:
    (tmp_path / "sample.csv").write_text(sample_csv_text)
    write_official_xlsx(sample_csv_text, tmp_path / retail.XLSX_FILE)
    write_official_zip(sample_csv_text, tmp_path / retail.ZIP_FILES[0])
    from_csv = retail.read_csv_source(tmp_path / "sample.csv")
    assert len(from_csv) == 220 and from_csv["CustomerID"].isna().sum() == 20
    assert from_csv["InvoiceNo"].str.startswith("C").any()
    pd.testing.assert_frame_equal(
        retail.read_official_source(tmp_path / retail.XLSX_FILE), from_csv
    )
    pd.testing.assert_frame_equal(
        retail.read_official_source(tmp_path / retail.ZIP_FILES[0]), from_csv
    )


def test_official_file_content_is_verified(tmp_path: Path, sample_csv_text: str) -> None:
    folder = tmp_path / "online-retail"
    folder.mkdir()
    write_official_xlsx(sample_csv_text, folder / retail.XLSX_FILE)
    with pytest.raises(ValueError) as error:
        load_online_retail(tmp_path)
    message = str(error.value)
    assert retail.XLSX_FILE in message and "220 rows" in message
    assert retail.CONTENT_FINGERPRINT in message and "verify=False" in message
    # the check can be switched off; the data then load like the CSV sample
    unchecked = load_online_retail(tmp_path, verify=False)
    assert unchecked.info["verified"].startswith("not verified")
    (tmp_path / "sample.csv").write_text(sample_csv_text)
    expected = retail.build_dataset(retail.read_csv_source(tmp_path / "sample.csv"))
    pd.testing.assert_frame_equal(unchecked.interactions, expected.interactions)
    pd.testing.assert_frame_equal(unchecked.items, expected.items)
    pd.testing.assert_frame_equal(unchecked.users, expected.users)


def test_download_then_cache(tmp_path: Path, sample_csv_text: str, monkeypatch) -> None:
    write_official_zip(sample_csv_text, tmp_path / "served.zip")
    served = (tmp_path / "served.zip").read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(served))

    first = load_online_retail(tmp_path / "data", download=True, verify=False)
    folder = tmp_path / "data" / "online-retail"
    assert (folder / "online+retail.zip").read_bytes() == served
    caches = list(folder.glob(f"{retail._CACHE_PREFIX}*.parquet"))
    assert len(caches) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(["online+retail.zip", caches[0].name])

    # the second load reads the cache, not the workbook
    def no_parsing(path):
        raise AssertionError("the workbook was parsed again")

    monkeypatch.setattr(retail, "read_official_source", no_parsing)
    second = load_online_retail(tmp_path / "data", verify=False)
    pd.testing.assert_frame_equal(second.interactions, first.interactions)
    # the content check also applies to what comes from the cache
    with pytest.raises(ValueError, match="does not hold the official"):
        load_online_retail(tmp_path / "data")

    # a damaged cache is ignored and rebuilt
    monkeypatch.undo()
    caches[0].write_bytes(b"not parquet")
    third = load_online_retail(tmp_path / "data", verify=False)
    pd.testing.assert_frame_equal(third.interactions, first.interactions)
    assert pd.read_parquet(caches[0]).shape == (220, 8)


def test_download_that_is_not_a_zip(tmp_path: Path, monkeypatch) -> None:
    page = b"<html>moved</html>"
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(page))
    with pytest.raises(ValueError, match="not a zip archive"):
        load_online_retail(tmp_path, download=True)
    assert list((tmp_path / "online-retail").iterdir()) == []


def test_code_text() -> None:
    assert retail._code_text(536365) == "536365"
    assert retail._code_text(71053.0) == "71053"
    assert retail._code_text("85123A") == "85123A"
    assert retail._code_text(np.int64(22423)) == "22423"
