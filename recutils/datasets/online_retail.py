"""UCI Online Retail: real e-commerce transactions, mapped to the course schema.

All transactions of a UK-based online retailer of all-occasion gifts (many of its customers
are wholesalers) from 2010-12-01 to 2011-12-09: 541,909 invoice lines. Source: the UCI
Machine Learning Repository, dataset "Online Retail" (id 352), licence CC BY 4.0; cite
:data:`CITATION` wherever results on it are shown.

Where the file comes from
    The whole raw table ships with recutils (CC BY 4.0 allows it, with credit) as
    :data:`BUNDLED_FILE`, a 3 MB Parquet file (zstd, text columns dictionary-encoded) holding
    all 541,909 lines with the original columns. ``load("online-retail")`` uses it when you
    have not put a file of your own in place, so it needs no setting and no network.

    A file of your own takes precedence. :func:`load_online_retail` first looks in
    ``data_dir() / "online-retail"`` (see :func:`recutils.environment.data_dir`: the
    ``data_dir`` argument, else ``$RECUTILS_DATA_DIR``, else the repository's ``data/``) for,
    in this order:

    1. ``online_retail.parquet`` -- the bundled file's format (:func:`write_compact_table`).
    2. ``online_retail.csv.gz`` -- the same 541,909 rows as CSV (the course's earlier copy).
    3. ``Online Retail.xlsx`` -- the official UCI file.
    4. ``online+retail.zip`` or ``online_retail.zip`` -- the zip the UCI site serves
       (:data:`UCI_ZIP_URL`), containing the xlsx. ``download=True`` fetches it.

    Only if none is there is the bundled copy used. Nothing is downloaded unless you pass
    ``download=True``. The bundled file and the CSV are checked by their SHA-256
    (:data:`PARQUET_SHA256`, :data:`CSV_SHA256`); a Parquet file of your own, by content.

Why other files are checked by content, not by checksum
    The course was built without network access, so the SHA-256 of the official zip/xlsx
    could not be measured; and a zip's (or a Parquet file's) bytes change if it is re-packed
    although the data do not. What is known is the content: the CSV and the bundled file hold
    the same rows. So after reading such a file, the loader computes
    :func:`content_fingerprint` -- a SHA-256 over the canonicalised key columns, independent
    of row order -- and compares it with the fingerprint of the course's copies
    (:data:`CONTENT_FINGERPRINT`, together with the row count
    :data:`RAW_ROWS`). A file with other rows, fewer rows or changed quantities, prices,
    customers or times fails; ``verify=False`` skips the comparison (``Dataset.info`` then
    says the content was not verified).

Cache
    Parsing the xlsx takes about a minute, so the parsed table is written next to it as
    ``online_retail.parsed-<first 16 hex digits of the source's SHA-256>.parquet`` (written
    to a temporary file, then renamed, so an interrupted run leaves no half-written cache).
    It is used only if it was made from a file with the same SHA-256 and its content still
    has the fingerprint recorded in it; otherwise the source is parsed again. Delete it
    freely. The CSV needs no cache: it loads and cleans in one to two seconds.

Cleaning (in this order; ``Dataset.info["rows_dropped"]`` has the count of every step)
    1. lines without ``CustomerID`` (a recommender needs to know who bought);
    2. cancellations (``InvoiceNo`` starting with ``"C"``);
    3. ``Quantity <= 0`` (adjustments; none remain after steps 1-2 in the official data);
    4. non-product stock codes, if ``drop_non_products`` (default): the codes in
       :data:`NON_PRODUCT_STOCK_CODES` (postage, carriage, manual entries, fees, discounts,
       samples, bad-debt adjustments) and gift vouchers (:data:`GIFT_VOUCHER_PATTERN`),
       compared case-insensitively. Codes of real products sold through other channels
       (``DCGS...``, e.g. party bags) are kept;
    5. ``UnitPrice <= 0`` (free lines: the remaining products given away at price 0).

    Then lines repeating a (customer, stock code, minute) key -- the same product entered
    twice on an invoice, sometimes at two prices -- are merged into one event: quantities are
    summed, the price is the quantity-weighted mean ``sum(q_i * p_i) / sum(q_i)``, and the
    session is the invoice of the first line in file order (two invoices of the same
    customer in the same minute occur a few dozen times; the event keeps the first).
    ``Dataset.info["duplicate_lines_merged"]`` counts the lines merged away.

Mapping to the schema (:mod:`recutils.schema`)
    interactions: ``user_id`` = ``CustomerID`` as the integer's text (``"17850"``),
    ``item_id`` = ``StockCode`` (text: ``"85123A"``), ``timestamp`` = ``InvoiceDate``
    (UK local time, minute resolution), ``event`` = ``"purchase"``, ``weight`` = quantity
    (units), ``price`` = unit price (GBP), ``session_id`` = ``InvoiceNo``; sorted by
    (timestamp, user_id, item_id).

    items (only products that remain in the interactions): ``title`` = the most frequent
    ``Description`` of the code among the kept lines, stripped of surrounding whitespace and
    otherwise as in the data (upper case; ties go to the alphabetically first);
    ``description``, ``category``, ``brand`` = missing (the dataset has none); ``price`` =
    the median unit price of the kept lines (GBP).

    users: ``user_id``, ``country`` (the country of most of the customer's invoices, ties to
    the alphabetically first), ``first_purchase_time``.

Measured on the file (after steps 1-3): 397,924 lines, 4,339 customers, 3,665 stock codes,
18,536 invoices, 266,802 distinct customer-product pairs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.environment import data_dir as resolve_data_dir
from recutils.files import atomic_path, download_zip, sha256_of
from recutils.schema import (
    BRAND,
    CATEGORY,
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

NAME = "online-retail"

#: The compact Parquet copy (the format of :data:`BUNDLED_FILE`; see :func:`write_compact_table`).
PARQUET_FILE = "online_retail.parquet"
#: The raw table shipped inside recutils (package data), used when the data directory has none.
BUNDLED_FILE = Path(__file__).resolve().parent / "bundled" / PARQUET_FILE
#: The course's CSV copy of the official file (same rows, same column order).
CSV_FILE = "online_retail.csv.gz"
#: The official UCI file.
XLSX_FILE = "Online Retail.xlsx"
#: Names accepted for the zip the UCI site serves (the first is the name it is served under).
ZIP_FILES: tuple[str, ...] = ("online+retail.zip", "online_retail.zip")
#: Every accepted file name, in the order they are looked for.
ACCEPTED_FILES: tuple[str, ...] = (PARQUET_FILE, CSV_FILE, XLSX_FILE, *ZIP_FILES)

#: SHA-256 of :data:`BUNDLED_FILE` (written by ``tools/bundle_online_retail.py``).
PARQUET_SHA256 = "110e49970c9bb556a64c0733c4948ea26bf156e5feeb938b6bb154e8c3a2977d"
#: SHA-256 of ``online_retail.csv.gz`` (7,611,818 bytes).
CSV_SHA256 = "737745256ddb4410bfe4e29f2dcb72329b7486e584837f1e84f9a07416cf7d45"
#: :func:`content_fingerprint` of the raw table (measured on ``online_retail.csv.gz``).
CONTENT_FINGERPRINT = "26002e91c8481f4b331d25adc42ff940ae0541c3de7ac9293fdda812586fab3e"
#: Lines in the raw file.
RAW_ROWS = 541_909

UCI_PAGE_URL = "https://archive.ics.uci.edu/dataset/352/online+retail"
UCI_ZIP_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"
LICENCE = "CC BY 4.0"
CITATION = (
    'Daqing Chen, Sai Liang Sain and Kun Guo (2012), "Data mining for the online retail '
    'industry: A case study of RFM model-based customer segmentation using data mining", '
    "Journal of Database Marketing and Customer Strategy Management 19(3), 197-208, "
    "doi:10.1057/dbm.2012.17. Data: UCI Machine Learning Repository, Online Retail (id 352)."
)

#: Stock codes that are not products (compared after upper-casing): postage, carriage,
#: manual entries, bank charges, Amazon fees, CRUK commission, discounts, samples, bad-debt
#: adjustments and the 0.001-GBP "pads to match all cushions" filler line.
NON_PRODUCT_STOCK_CODES: frozenset[str] = frozenset(
    {"POST", "DOT", "C2", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "D", "S", "B", "PADS"}
)
#: Gift vouchers (``gift_0001_10`` ... ``gift_0001_50``) are not products either.
GIFT_VOUCHER_PATTERN = re.compile(r"^GIFT_\d+_\d+$", re.IGNORECASE)

RAW_COLUMNS: tuple[str, ...] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

_FINGERPRINT_VERSION = "recutils online-retail content fingerprint v1"
_CACHE_PREFIX = "online_retail.parsed-"
_DOWNLOAD_TIMEOUT_SECONDS = 120.0


# --------------------------------------------------------------------------------------------
# Finding, downloading and checking the source file


def _how_to_provide(folder: Path) -> str:
    names = ", ".join(repr(name) for name in ACCEPTED_FILES)
    return (
        f"Put one of these files into {folder}: {names} "
        f"('{PARQUET_FILE}' and '{CSV_FILE}' are the course's copies; '{XLSX_FILE}' is the "
        f"official file from "
        f"{UCI_PAGE_URL}, also accepted as the zip the site serves, {UCI_ZIP_URL}). "
        "Or call load_online_retail(download=True) to download the zip. "
        "To use another folder pass data_dir=... or set the environment variable "
        f"RECUTILS_DATA_DIR; the files live in <data_dir>/{NAME}/."
    )


def find_source(folder: str | os.PathLike[str]) -> Path | None:
    """The first file of :data:`ACCEPTED_FILES` present in ``folder``, or ``None``."""
    folder = Path(folder)
    for name in ACCEPTED_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def download_online_retail(
    folder: str | os.PathLike[str],
    url: str = UCI_ZIP_URL,
    timeout: float = _DOWNLOAD_TIMEOUT_SECONDS,
) -> Path:
    """Download the official zip into ``folder`` as ``online+retail.zip`` and return its path.

    The file is written under a temporary name and renamed only once it is complete and is a
    zip archive, so an interrupted download leaves nothing that looks like the dataset. Its
    content is checked when it is loaded (see the module docstring).

    Raises:
        FileNotFoundError: the download failed (no network, timeout, HTTP error); the message
            says how to put the file in place by hand.
        ValueError: what was downloaded is not a zip archive.
    """
    folder = Path(folder)
    return download_zip(
        url, folder / ZIP_FILES[0], timeout, "the Online Retail dataset", _how_to_provide(folder)
    )


def _verify_checksum(path: Path, actual: str, expected: str, bundled: bool) -> None:
    if actual != expected:
        what = (
            "the copy of Online Retail that ships with recutils is damaged: reinstall recutils "
            "(or restore the file with git)"
            if bundled
            else "the file is damaged or is not the course's copy of Online Retail. Restore it "
            f"(or delete it and use the official file from {UCI_PAGE_URL}, e.g. with "
            "download=True)"
        )
        raise ValueError(f"{path} has SHA-256 {actual}, expected {expected}: {what}")


def verify_content(raw: pd.DataFrame, source: str | os.PathLike[str] = "the file") -> str:
    """Check that ``raw`` holds the rows of the official file; return its fingerprint.

    Raises:
        ValueError: the row count or :func:`content_fingerprint` differ from the known values.
    """
    fingerprint = content_fingerprint(raw)
    _check_content(len(raw), fingerprint, source)
    return fingerprint


def _check_content(n_rows: int, fingerprint: str, source: str | os.PathLike[str]) -> None:
    if n_rows != RAW_ROWS or fingerprint != CONTENT_FINGERPRINT:
        raise ValueError(
            f"{source} does not hold the official Online Retail data: it has {n_rows:,} rows "
            f"(expected {RAW_ROWS:,}) and content fingerprint {fingerprint} (expected "
            f"{CONTENT_FINGERPRINT}). Delete it and download it again from {UCI_ZIP_URL} "
            "(or pass download=True); if you are sure it is the official file, pass "
            "verify=False and the data are used unchecked"
        )


def content_fingerprint(raw: pd.DataFrame) -> str:
    """SHA-256 over the canonicalised key columns of a raw Online Retail table.

    Each row becomes one line of tab-separated fields: ``InvoiceNo`` and ``StockCode`` as
    text; ``Quantity`` as an integer; ``InvoiceDate`` rounded to the minute, as minutes since
    1970-01-01; ``CustomerID`` as an integer, empty if missing; ``UnitPrice`` in units of
    0.0001 (rounded to an integer). The lines are sorted, so the fingerprint does not depend
    on the row order, joined with ``"\\n"``, prefixed with a version line and hashed.
    ``Description`` and ``Country`` are left out: these six keys identify the transactions,
    and text columns are where two faithful readers of a spreadsheet most easily differ
    (whitespace, numbers stored as text). Rounding the time (not flooring it) absorbs the
    float noise of Excel times; prices have at most 3 decimals, so 4 lose nothing.
    """
    minutes = _round_to_minute(raw["InvoiceDate"]).to_numpy(dtype="datetime64[m]")
    customers = pd.Series(raw["CustomerID"], copy=False).astype("Int64")
    price = np.rint(raw["UnitPrice"].to_numpy(dtype=float) * 10_000).astype(np.int64)
    fields = [
        raw["InvoiceNo"].astype(str),
        raw["StockCode"].astype(str),
        pd.Series(raw["Quantity"].to_numpy(dtype=np.int64).astype(str), index=raw.index),
        pd.Series(minutes.astype(np.int64).astype(str), index=raw.index),
        customers.astype(str).where(customers.notna(), ""),
        pd.Series(price.astype(str), index=raw.index),
    ]
    lines = fields[0]
    for column in fields[1:]:
        lines = lines + "\t" + column
    ordered = np.sort(lines.to_numpy(dtype=object))
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode())
    digest.update(("\n" + "\n".join(ordered)).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading the source into the raw table (the official columns, canonical dtypes)


def _round_to_minute(values: pd.Series) -> pd.Series:
    # Excel stores times as fractions of a day; rounding (not flooring) removes float noise
    # such as 08:25:59.9999 without moving the times, which are whole minutes.
    return pd.Series(pd.to_datetime(values), copy=False).astype("datetime64[ns]").dt.round("min")


def _nullable_text(values: pd.Series) -> pd.Series:
    """Values as text with missing values kept missing (``astype(str)`` alone writes "nan"
    in pandas 2)."""
    return values.astype(str).where(values.notna())


def _code_text(value: Any) -> Any:
    """A code cell as text: 536365 or 536365.0 -> "536365"; strings unchanged; missing kept."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _canonical_raw(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Official columns with fixed dtypes: codes as str, Quantity int64, InvoiceDate
    datetime64[ns] (whole minutes), UnitPrice float64, CustomerID Int64."""
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{source} is missing column(s) {missing}; it has {list(frame.columns)}. "
            f"The Online Retail columns are {list(RAW_COLUMNS)}"
        )
    customer = pd.Series(
        pd.to_numeric(frame["CustomerID"], errors="raise").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        index=frame.index,
    )
    if not np.all(customer.isna() | (customer == customer.round())):
        raise ValueError(f"{source}: CustomerID has non-integer values")
    raw = pd.DataFrame(
        {
            "InvoiceNo": frame["InvoiceNo"].map(_code_text).astype(str),
            "StockCode": frame["StockCode"].map(_code_text).astype(str),
            "Description": _nullable_text(frame["Description"]),
            "Quantity": pd.to_numeric(frame["Quantity"], errors="raise").astype(np.int64),
            "InvoiceDate": _round_to_minute(frame["InvoiceDate"]),
            "UnitPrice": pd.to_numeric(frame["UnitPrice"], errors="raise").astype(np.float64),
            "CustomerID": customer.astype("Int64"),
            "Country": _nullable_text(frame["Country"]),
        }
    )
    return raw.reset_index(drop=True)


def read_csv_source(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ``online_retail.csv.gz`` (or a CSV with the same columns) into the raw table.

    Only empty fields are missing values (so no code is ever read as NaN); codes stay text.
    No checksum is checked here (see :func:`load_online_retail`).
    """
    frame = pd.read_csv(
        path,
        dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str},
        keep_default_na=False,
        na_values={"Description": [""], "CustomerID": [""]},
    )
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    return _canonical_raw(frame, str(path))


def read_compact_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_compact_table` into the raw table.

    No checksum is checked here (see :func:`load_online_retail`).
    """
    import pyarrow.parquet as pq

    frame = pq.read_table(path, columns=list(RAW_COLUMNS)).to_pandas()
    return _canonical_raw(frame, str(path))


def write_compact_table(raw: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a raw table (all rows, original columns and order) as compact Parquet, atomically.

    Text columns are dictionary-encoded (each distinct invoice number, stock code, product
    name and country is stored once), ``Quantity`` and ``CustomerID`` are 32-bit integers
    (``CustomerID`` nullable), ``InvoiceDate`` whole seconds, ``UnitPrice`` float64, and the
    file is compressed with zstd at level 19: the 541,909 lines take about 3 MB (the csv.gz
    takes 7.6 MB). :func:`read_compact_table` gives back the same table.
    ``tools/bundle_online_retail.py`` made :data:`BUNDLED_FILE` with it.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = _canonical_raw(raw, "the table to write")

    def text(column: str) -> pa.Array:
        values = raw[column].astype(object).where(raw[column].notna(), None)
        return pa.array(values.to_numpy(), pa.string()).dictionary_encode()

    table = pa.table(
        {
            "InvoiceNo": text("InvoiceNo"),
            "StockCode": text("StockCode"),
            "Description": text("Description"),
            "Quantity": pa.array(raw["Quantity"].to_numpy(), pa.int32()),
            "InvoiceDate": pa.array(raw["InvoiceDate"].to_numpy().astype("datetime64[s]")),
            "UnitPrice": pa.array(raw["UnitPrice"].to_numpy(), pa.float64()),
            "CustomerID": pa.array(
                raw["CustomerID"].to_numpy(dtype=object, na_value=None), pa.int32()
            ),
            "Country": text("Country"),
        }
    )
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary, compression="zstd", compression_level=19)
    return Path(path)


def read_official_source(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse the official ``Online Retail.xlsx``, or a zip containing it, into the raw table.

    Excel stores numeric invoice numbers and stock codes as numbers; they are turned back into
    text without a decimal point (``71053``, not ``71053.0``). No content check here (see
    :func:`verify_content`). Takes about a minute for the full file (openpyxl is slow).
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":  # (an xlsx is a zip too, so go by the name)
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".xlsx")]
            preferred = [m for m in members if Path(m).name == XLSX_FILE]
            chosen = preferred or members
            if len(chosen) != 1:
                raise ValueError(
                    f"{path} should contain one '{XLSX_FILE}', it contains "
                    f"{archive.namelist()}; download the zip again from {UCI_ZIP_URL}"
                )
            workbook: Any = io.BytesIO(archive.read(chosen[0]))
    else:
        workbook = path
    frame = pd.read_excel(workbook, engine="openpyxl", sheet_name=0)
    return _canonical_raw(frame, str(path))


def _cache_path(source: Path, source_sha256: str) -> Path:
    return source.parent / f"{_CACHE_PREFIX}{source_sha256[:16]}.parquet"


def _read_cache(path: Path, source_sha256: str) -> tuple[pd.DataFrame, str] | None:
    """The cached raw table and its fingerprint if it was made from this source and is intact,
    else ``None``."""
    if not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("recutils_source_sha256") != source_sha256:
            return None
        raw = table.to_pandas()
        raw = _canonical_raw(raw, str(path))
        fingerprint = content_fingerprint(raw)
        if fingerprint != meta.get("recutils_content_fingerprint"):
            return None
        return raw, fingerprint
    except (OSError, ValueError, KeyError, TypeError):  # damaged or foreign: rebuilt
        return None


def _write_cache(path: Path, raw: pd.DataFrame, source_sha256: str, fingerprint: str) -> None:
    """Write the raw table atomically (temporary file, then rename); failures are ignored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(raw, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[b"recutils_source_sha256"] = source_sha256.encode()
    metadata[b"recutils_content_fingerprint"] = fingerprint.encode()
    table = table.replace_schema_metadata(metadata)
    try:
        with atomic_path(path) as temporary:
            pq.write_table(table, temporary)
    except OSError:  # a read-only data folder: no cache, loading still works
        pass


# --------------------------------------------------------------------------------------------
# Cleaning and mapping to the schema


def is_non_product(stock_codes: pd.Series) -> pd.Series:
    """True where a stock code is not a product (see :data:`NON_PRODUCT_STOCK_CODES`)."""
    codes = stock_codes.astype(str).str.strip().str.upper()
    return codes.isin(NON_PRODUCT_STOCK_CODES) | codes.str.match(GIFT_VOUCHER_PATTERN.pattern)


def _dropping(lines: pd.DataFrame, dropped: dict[str, int], mask: Any, label: str) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    dropped[label] = int(mask.sum())
    return lines.loc[~mask]


def basic_lines(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Steps 1-3 of the cleaning (module docstring): drop lines without a customer,
    cancellations and ``Quantity <= 0``. The dataset's published figures are measured here.

    Returns:
        The kept lines (raw columns, original order and index) and the lines dropped per step.
    """
    dropped: dict[str, int] = {}
    lines = _dropping(raw, dropped, raw["CustomerID"].isna(), "missing CustomerID")
    cancelled = lines["InvoiceNo"].str.upper().str.startswith("C")
    lines = _dropping(lines, dropped, cancelled, "cancellation (InvoiceNo starts with C)")
    lines = _dropping(lines, dropped, lines["Quantity"] <= 0, "Quantity <= 0")
    return lines, dropped


def clean_lines(
    raw: pd.DataFrame, drop_non_products: bool = True
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """All cleaning steps of the module docstring (:func:`basic_lines`, then steps 4-5).

    Returns:
        The kept invoice lines (raw columns, original order and index); the number of lines
        each step dropped (every step listed, 0 if it dropped nothing or was switched off);
        the non-product stock codes dropped in step 4, sorted.
    """
    lines, dropped = basic_lines(raw)
    codes: list[str] = []
    if drop_non_products:
        non_product = is_non_product(lines["StockCode"])
        codes = sorted(set(lines.loc[non_product, "StockCode"].astype(str)))
        lines = _dropping(lines, dropped, non_product, "non-product StockCode")
    else:
        dropped["non-product StockCode"] = 0
    lines = _dropping(lines, dropped, lines["UnitPrice"] <= 0, "UnitPrice <= 0")
    return lines, dropped, codes


def _interactions(lines: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One purchase event per (customer, code, minute); returns it and the lines merged away."""
    frame = pd.DataFrame(
        {
            USER: lines["CustomerID"].astype("Int64").astype(str),
            ITEM: lines["StockCode"].astype(str),
            TIMESTAMP: lines["InvoiceDate"].astype("datetime64[ns]"),
            WEIGHT: lines["Quantity"].astype(np.float64),
            "_paid": lines["Quantity"].astype(np.float64) * lines["UnitPrice"],
            SESSION: lines["InvoiceNo"].astype(str),
        }
    )
    grouped = frame.groupby([USER, ITEM, TIMESTAMP], sort=False)
    events = grouped.agg(
        **{WEIGHT: (WEIGHT, "sum"), "_paid": ("_paid", "sum"), SESSION: (SESSION, "first")}
    ).reset_index()
    events[PRICE] = events.pop("_paid") / events[WEIGHT]
    events[EVENT] = "purchase"
    events[EVENT] = events[EVENT].astype(str)
    events = events[[USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE, SESSION]]
    events = events.sort_values([TIMESTAMP, USER, ITEM], kind="stable", ignore_index=True)
    return events, len(frame) - len(events)


def _most_frequent(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Per key, the most frequent non-null value; ties go to the alphabetically first."""
    pairs = pd.DataFrame({"key": keys.to_numpy(), "value": values.to_numpy()}).dropna()
    counts = pairs.value_counts().rename("n").reset_index()
    counts = counts.sort_values(["key", "n", "value"], ascending=[True, False, True])
    return counts.drop_duplicates("key").set_index("key")["value"]


def _items(lines: pd.DataFrame) -> pd.DataFrame:
    codes = lines["StockCode"].astype(str)
    item_ids = pd.Index(np.sort(codes.unique()), name=ITEM).astype(str)
    titles = _most_frequent(codes, _nullable_text(lines["Description"]).str.strip())
    prices = lines["UnitPrice"].groupby(codes.to_numpy()).median()
    missing = _nullable_text(pd.Series(np.nan, index=item_ids, dtype=object))
    items = pd.DataFrame(
        {
            TITLE: _nullable_text(titles.reindex(item_ids)),
            DESCRIPTION: missing,
            CATEGORY: missing,
            BRAND: missing,
            PRICE: prices.reindex(item_ids).astype(np.float64),
        },
        index=item_ids,
    )
    return items.reset_index()


def _users(lines: pd.DataFrame) -> pd.DataFrame:
    user_ids = lines["CustomerID"].astype("Int64").astype(str)
    invoices = pd.DataFrame(
        {
            "user": user_ids.to_numpy(),
            "invoice": lines["InvoiceNo"].to_numpy(),
            "country": lines["Country"].to_numpy(),
        }
    ).drop_duplicates()
    country = _most_frequent(invoices["user"], invoices["country"])
    first = lines["InvoiceDate"].groupby(user_ids.to_numpy()).min()
    index = pd.Index(np.sort(user_ids.unique()), name=USER).astype(str)
    users = pd.DataFrame(
        {
            "country": _nullable_text(country.reindex(index)),
            "first_purchase_time": first.reindex(index).astype("datetime64[ns]"),
        },
        index=index,
    )
    return users.reset_index()


def build_dataset(
    raw: pd.DataFrame, drop_non_products: bool = True, info: dict[str, Any] | None = None
) -> Dataset:
    """Clean a raw Online Retail table and map it to a validated :class:`Dataset`."""
    lines, dropped, non_products = clean_lines(raw, drop_non_products=drop_non_products)
    interactions, merged = _interactions(lines)
    facts: dict[str, Any] = {
        "source": "UCI Machine Learning Repository, Online Retail (id 352)",
        "url": UCI_PAGE_URL,
        "download_url": UCI_ZIP_URL,
        "licence": LICENCE,
        "citation": CITATION,
        **(info or {}),
        "raw_rows": len(raw),
        "rows_dropped": dropped,
        "rows_kept": len(lines),
        "duplicate_lines_merged": merged,
        "cleaning": {"drop_non_products": drop_non_products},
        "non_product_stock_codes_dropped": non_products,
        "currency": "GBP",
        "timestamps": "UK local time, minute resolution",
    }
    dataset = Dataset(
        name=NAME,
        interactions=interactions,
        items=_items(lines),
        users=_users(lines),
        info=facts,
    )
    return dataset.validate()


def load_online_retail(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    drop_non_products: bool = True,
    *,
    verify: bool = True,
    use_cache: bool = True,
) -> Dataset:
    """Load UCI Online Retail as a validated :class:`~recutils.schema.Dataset` ("online-retail").

    With no file of your own in the data directory, the copy that ships with recutils
    (:data:`BUNDLED_FILE`) is used: no setting, no network.

    Args:
        data_dir: the data directory; your own file is looked for in
            ``data_dir / "online-retail"`` (module docstring). ``None``: ``$RECUTILS_DATA_DIR``,
            else the repository's ``data/``.
        download: if no file of your own is there, download the official zip from UCI instead
            of using the bundled copy (a few MB; parsing it the first time takes about a
            minute). Off by default: nothing is downloaded unless you ask.
        drop_non_products: drop postage, fees, manual entries, vouchers, ... (module docstring).
        verify: check the file's SHA-256 (bundled Parquet, CSV) or the content fingerprint of
            its rows (official file, a Parquet file of your own). Turn off only for a file you
            trust whose check fails; ``info["verified"]`` records it.
        use_cache: read/write the parsed copy of the official file (module docstring).

    Returns:
        The dataset: purchases (``weight`` = units, ``price`` = GBP per unit, ``session_id`` =
        invoice), items (title and median price), users (country, first purchase time) and
        ``info`` with source, licence, citation, file, checksum and the cleaning counts.

    Raises:
        FileNotFoundError: no file of your own and no bundled copy (a damaged installation),
            or ``download=True`` failed; the message says what to do.
        ValueError: the file fails its check (message: file, expected and actual digest, and
            what to do).

    Example:
        >>> retail = load_online_retail()  # doctest: +SKIP
        >>> retail.info["rows_dropped"]["missing CustomerID"]  # doctest: +SKIP
        135080
    """
    folder = resolve_data_dir(data_dir) / NAME
    source = find_source(folder)
    if source is None and download:
        source = download_online_retail(folder)
    if source is None:
        if not BUNDLED_FILE.is_file():
            raise FileNotFoundError(
                f"No Online Retail file in {folder}, and the copy that ships with recutils "
                f"({BUNDLED_FILE.name}) is missing from this installation (reinstall recutils). "
                + _how_to_provide(folder)
            )
        source = BUNDLED_FILE

    source_sha256 = sha256_of(source)
    bundled = source == BUNDLED_FILE
    info: dict[str, Any] = {
        "file": f"{source.name} (ships with recutils)" if bundled else source.name,
        "file_sha256": source_sha256,
    }
    if source.name == CSV_FILE or bundled:
        expected = CSV_SHA256 if source.name == CSV_FILE else PARQUET_SHA256
        if verify:
            _verify_checksum(source, source_sha256, expected, bundled)
        raw = read_csv_source(source) if source.name == CSV_FILE else read_compact_table(source)
        info["verified"] = "sha256 of the file" if verify else "not verified (verify=False)"
    elif source.name == PARQUET_FILE:  # a copy of your own: by checksum if it is the same file
        raw = read_compact_table(source)
        if source_sha256 == PARQUET_SHA256:
            info["verified"] = "sha256 of the file"
        else:
            fingerprint = content_fingerprint(raw)
            if verify:
                _check_content(len(raw), fingerprint, source)
            info["content_fingerprint"] = fingerprint
            info["verified"] = (
                "content fingerprint of the rows" if verify else "not verified (verify=False)"
            )
    else:
        cache = _cache_path(source, source_sha256)
        cached = _read_cache(cache, source_sha256) if use_cache else None
        if cached is None:
            raw = read_official_source(source)
            fingerprint = content_fingerprint(raw)
        else:
            raw, fingerprint = cached
        if verify:
            _check_content(len(raw), fingerprint, source)
        if use_cache and cached is None:
            _write_cache(cache, raw, source_sha256, fingerprint)
        info["content_fingerprint"] = fingerprint
        info["verified"] = (
            "content fingerprint of the rows" if verify else "not verified (verify=False)"
        )
    return build_dataset(raw, drop_non_products=drop_non_products, info=info)
