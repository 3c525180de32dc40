"""Your own shop's data in the course schema, in one call.

Every notebook of the course runs on a :class:`~recutils.schema.Dataset`. To run them on your
shop, export two tables -- events (who did what to which product, when) and, if you have it,
the catalog -- and call::

    from recutils.datasets import from_files, from_frames

    dataset = from_files(
        "orders.csv", "products.parquet",
        columns={"customer": "user_id", "sku": "item_id", "ordered_at": "timestamp",
                 "qty": "weight", "unit_price": "price", "order_id": "session_id"},
        item_columns={"sku": "item_id", "name": "title", "category_path": "category"},
    )

or :func:`from_frames` with pandas frames you already have. What happens, in order:

1. **Renaming.** ``columns`` / ``item_columns`` map *your* column names to the schema's
   (:mod:`recutils.schema`); a name that is not in your table is an error that lists the
   table's columns. Columns you do not map keep their names (extra columns are kept).
2. **Filling.** Optional columns you do not have are added: ``event`` = the ``event``
   argument (default ``"purchase"``; with one event type the name does not change what a
   model learns, since :func:`recutils.interactions.user_item_pairs` weighs a one-type log 1
   per event), ``weight`` = 1.0, ``price`` = NaN; items get missing
   ``title``/``description``/``category``/``brand``/``price`` as empty (NaN) columns.
   Without an items table, the catalog is the set of item ids seen in the interactions, with
   every other field missing (``Dataset.info["items"]`` says so).
3. **Ids become text.** ``user_id``, ``item_id`` and ``session_id`` are converted to ``str``;
   a blank id (``""``, spaces) is missing, and so are blank item titles, descriptions,
   categories and brands.
   Whole numbers lose the decimal point a float column gives them: ``17850.0`` becomes
   ``"17850"``, not ``"17850.0"`` (a column of integer ids read with missing values is float in
   pandas). Strings are kept exactly (no stripping). When reading CSV files, :func:`from_files`
   reads id columns as text, so leading zeros (``"00123"``) survive.
4. **Timestamps** are parsed with :func:`pandas.to_datetime`, the whole column one way:

   * date strings like ``01/02/2024``: if some value's first number is above 12 the column
     is read day first, if some value's second number is, month first; if both, or neither
     (every value could be either, unless day equals month everywhere), the call refuses and
     asks for ``timestamp_format``, e.g. ``"%d/%m/%Y %H:%M"``, rather than guess value by
     value; so does a column that mixes such dates with another format;
   * numbers are *not* guessed: Unix epoch times need ``timestamp_unit="s"`` (or ``"ms"``); a
     unit that puts the dates outside pandas' range is an error naming the unit the values
     look like, and one that puts every date before 1990 (or any in the future) warns
     (:class:`ImplausibleDatesWarning`);
   * times with a UTC offset or zone keep their wall-clock time as written and drop the zone
     (the schema is naive local time), also when the offsets differ (an export across a
     daylight-saving change); ``timezone="Europe/Berlin"`` converts them all to one zone
     first, and ``timezone="UTC"`` also keeps the true order of the events in the hour when
     clocks go back (whose wall-clock times repeat). Epoch numbers are UTC instants: they
     stay UTC unless ``timezone`` names the shop's zone;
     ``Dataset.info`` records what was found (``date_order``, ``timezone``);
   * values that do not parse, and blank ones, are reported by the validator with their count
     and example rows.

   Data without times but in order (many public sequence datasets): pass ``order=`` -- the
   name of a position column, or ``"rows"`` for the row order -- and ``timestamp`` holds those
   integers (an order, :mod:`recutils.schema`), so sequence models and leave-last-out work.
5. **Duplicates.** Two rows with the same (user_id, item_id, timestamp, event) are not allowed
   by the schema. By default (``aggregate_duplicates=True``) they are merged: ``weight`` is
   summed, ``price`` is the weight-weighted mean of the known prices, other columns (e.g.
   ``session_id``) take the first non-missing value; ``Dataset.info["duplicate_rows_merged"]``
   counts the rows merged away. This is the default because in shop logs such rows are
   nearly always real (one product scanned twice in a basket, a double click) and every user
   would otherwise write the same ``groupby``. Check the count: a large one may mean your
   timestamps were truncated (e.g. to the day), so that distinct events now collide.
   ``aggregate_duplicates=False`` leaves them in, and the validator raises instead. Rows with
   a missing id or time, or a negative weight, are never merged (a sum must not hide them):
   the validator reports them.
6. **Validation** (:meth:`~recutils.schema.Dataset.validate`): anything that still breaks the
   schema -- null ids, duplicate item ids in the catalog, events whose item is not in the
   catalog, negative weights or prices -- raises ``ValueError`` naming the column, the count
   and example rows (with your row labels, so you can find them).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.checks import stacklevel_outside_recutils
from recutils.schema import (
    EVENT,
    ITEM,
    ITEM_COLUMNS,
    ITEM_TEXT_FIELDS,
    PRICE,
    SESSION,
    TIMESTAMP,
    USER,
    WEIGHT,
    Dataset,
    blank_as_missing,
    validate_interactions,
    validate_items,
)

#: File types :func:`from_files` reads, by suffix: delimited text (the delimiter is sniffed
#: unless given), Parquet, and JSON (one object per line, or one array of objects).
DELIMITED_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
JSON_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz")
SUPPORTED_SUFFIXES: tuple[str, ...] = (*DELIMITED_SUFFIXES, ".parquet", *JSON_SUFFIXES)
#: Delimiters :func:`from_files` recognises in delimited text.
DELIMITERS = ",\t;|"

_KEY = [USER, ITEM, TIMESTAMP, EVENT]

#: ``order=`` value meaning "the rows are already in order" (see ``from_frames``).
ORDER_BY_ROWS = "rows"


# --------------------------------------------------------------------------------------------
# Column handling


def _rename(frame: pd.DataFrame, mapping: Mapping[str, str] | None, name: str) -> pd.DataFrame:
    """Rename the user's columns to schema names; unknown source names are an error."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    mapping = dict(mapping or {})
    for source in mapping:
        if source not in frame.columns:
            close = difflib.get_close_matches(str(source), [str(c) for c in frame.columns], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"the column mapping for {name} names {source!r}, but {name} has no such column "
                f"(it has {list(frame.columns)}){hint}"
            )
    renamed = frame.rename(columns=mapping)
    repeated = renamed.columns[renamed.columns.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"after renaming, {name} has the column(s) {repeated} more than once "
            f"(mapping {mapping}, columns {list(frame.columns)}); map only one column to each "
            "schema name, or drop the other"
        )
    return renamed


def ids_to_text(values: pd.Series) -> pd.Series:
    """Ids as ``str`` with missing values kept missing; whole numbers without a decimal point.

    ``17850.0 -> "17850"``, ``17850 -> "17850"``, ``"00123" -> "00123"``, ``2.5 -> "2.5"``.
    """
    if isinstance(values.dtype, pd.StringDtype):
        return values.astype(str)
    if pd.api.types.is_bool_dtype(values):
        return _nullable_text(values)
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64").astype(str).where(values.notna())
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = values.astype(str)
        ints = pd.Series(numbers[whole].astype(np.int64), index=values.index[whole]).astype(str)
        text[whole] = ints
        return text.where(values.notna())
    return values.map(_id_text, na_action="ignore").astype(str).where(values.notna())


def _id_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _nullable_text(values: pd.Series) -> pd.Series:
    # astype(str) alone writes missing values as "nan" in pandas 2
    return values.astype(str).where(values.notna())


#: Plausible event dates: a parsed column entirely before the first, or partly after now, is
#: probably read with the wrong unit or format (a warning says so).
PLAUSIBLE_FROM = pd.Timestamp("1990-01-01")

#: Epoch units and the range of values that puts a date between 1990 and 2100 in each.
_EPOCH_RANGES = {
    "s": (6.3e8, 4.2e9),
    "ms": (6.3e11, 4.2e12),
    "us": (6.3e14, 4.2e15),
    "ns": (6.3e17, 4.2e18),
}

_DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?!\d)")
_UTC_OFFSET = re.compile(r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")


class ImplausibleDatesWarning(UserWarning):
    """Parsed timestamps lie entirely before 1990 or partly in the future."""


def _likely_epoch_unit(numbers: pd.Series) -> str | None:
    """The epoch unit whose 1990-2100 range holds the median magnitude, if any."""
    present = numbers.dropna()
    if present.empty:
        return None
    median = float(np.median(np.abs(present.to_numpy(dtype=np.float64))))
    for unit, (low, high) in _EPOCH_RANGES.items():
        if low <= median <= high:
            return unit
    return None


def _unit_hint(values: pd.Series) -> str:
    unit = _likely_epoch_unit(values)
    example = values.dropna().head(1).tolist()
    if unit is None:
        return f"the values (e.g. {example}) look like no epoch unit between 1990 and 2100"
    return (
        f"the values (e.g. {example}) look like epoch {_UNIT_NAMES[unit]}: timestamp_unit={unit!r}"
    )


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _day_first(values: pd.Series, name: str) -> bool | None:
    """For ``dd/mm/yyyy``-like strings: True if day first, False if month first, None if the
    strings have another form. Ambiguous or contradictory columns are an error."""
    text = values.dropna().astype(str)
    parts = text.str.extract(_DAY_MONTH)
    matched = parts[0].notna()
    if text.empty or not matched.any():
        return None
    if not matched.all():
        raise ValueError(
            f"{name} mixes date formats: {int(matched.sum())} value(s) like "
            f"{text[matched].iloc[0]!r} and {int((~matched).sum())} like "
            f"{text[~matched].iloc[0]!r}; "
            "read value by value they could be read with day and month swapped. Make the "
            "export use one format, or pass timestamp_format for the common one"
        )
    first, second = parts[0].astype(int), parts[1].astype(int)
    first_over, second_over = first > 12, second > 12
    if first_over.any() and second_over.any():
        raise ValueError(
            f"{name} mixes day-first dates (e.g. {text[first_over].iloc[0]!r}) with month-first "
            f"dates (e.g. {text[second_over].iloc[0]!r}); fix the export or parse it yourself"
        )
    if first_over.any():
        return True
    if second_over.any():
        return False
    if (first == second).all():
        return True  # 01/01, 02/02, ...: both readings agree
    example = text[first != second].iloc[0]
    raise ValueError(
        f"{name} is ambiguous: no value has a day above 12, so {example!r} could be read day "
        "first or month first. Pass timestamp_format='%d/%m/%Y' (day first) or "
        "timestamp_format='%m/%d/%Y' (month first), adding the time part if there is one, "
        "e.g. '%d/%m/%Y %H:%M'"
    )


def _parse_strings(
    values: pd.Series, fmt: str | None, name: str, facts: dict[str, Any]
) -> pd.Series | None:
    """Date strings -> datetime64 (tz-aware if they carry one UTC offset); None if some do not
    parse and no format was given (the validator then reports them)."""
    options: dict[str, Any] = {"format": fmt}
    if fmt is None:
        day_first = _day_first(values, name)
        if day_first is not None:
            options["dayfirst"] = day_first
            facts["date_order"] = "day first" if day_first else "month first"
    try:
        return pd.to_datetime(values, **options)
    except (ValueError, TypeError) as error:
        if "mixed time" in str(error).lower() or "utc=true" in str(error).lower():
            return _parse_mixed_offsets(values, options, name, facts)
        parsed = pd.to_datetime(values, **{**options, "format": fmt or "mixed"}, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any() and fmt is None:
        return None
    if bad.any():
        examples = ", ".join(f"row {i!r}: {v!r}" for i, v in values[bad].head(3).items())
        raise ValueError(
            f"{name} has {int(bad.sum())} value(s) that do not match "
            f"timestamp_format={fmt!r} (e.g. {examples}); fix them or the format"
        ) from None
    return parsed


def _parse_mixed_offsets(
    values: pd.Series, options: dict[str, Any], name: str, facts: dict[str, Any]
) -> pd.Series:
    """Times whose UTC offsets differ (an export across a daylight-saving change): the
    instants in UTC, with the written wall-clock times kept in ``facts`` for the caller."""
    try:
        instants = pd.to_datetime(values, **options, utc=True)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{name} has times with different UTC offsets and some that do not parse ({error}); "
            "fix the values, or pass timestamp_format"
        ) from error
    written = values.astype(str).str.replace(_UTC_OFFSET, "", regex=True)
    offsets = pd.unique(values.astype(str).str.extract(r"(Z|[+-]\d{2}:?\d{2})\s*$")[0].dropna())
    facts["utc_offsets"] = sorted(str(o) for o in offsets)
    facts["_wall_clock"] = pd.to_datetime(written, **{**options, "format": None}, errors="coerce")
    return instants


def _parse_timestamps(
    values: pd.Series,
    unit: str | None,
    fmt: str | None,
    timezone: str | None,
    name: str,
    facts: dict[str, Any],
) -> pd.Series | None:
    """Parsed naive ``datetime64[ns]`` values, or ``None`` if some do not parse (the validator
    then reports them). Facts about the parsing (date order, offsets) go into ``facts``."""
    if unit is not None:
        if unit not in _EPOCH_RANGES:
            raise ValueError(
                f"timestamp_unit must be one of {list(_EPOCH_RANGES)} (epoch seconds, "
                f"milliseconds, ...), got {unit!r}"
            )
        if not pd.api.types.is_numeric_dtype(values):
            raise ValueError(
                f"{name} has dtype {values.dtype}, but timestamp_unit={unit!r} needs "
                "numbers (epoch times); drop timestamp_unit to parse date strings"
            )
        try:
            parsed = pd.to_datetime(values, unit=unit).astype("datetime64[ns]")
        except (ValueError, OverflowError) as error:  # OutOfBoundsDatetime is a ValueError
            raise ValueError(
                f"{name} does not convert from epoch {_UNIT_NAMES[unit]} (timestamp_unit="
                f"{unit!r}): the dates would fall outside the years 1677-2262. Check the unit: "
                f"{_unit_hint(values)}"
            ) from error
        _warn_if_implausible(parsed, name, f"timestamp_unit={unit!r}; {_unit_hint(values)}")
        if timezone is None:
            facts["timezone"] = "UTC (epoch times); pass timezone='<your zone>' for local times"
            return parsed
        return _to_naive(parsed.dt.tz_localize("UTC"), timezone, facts)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values):
        raise ValueError(
            f"{name} is numeric (e.g. {values.dropna().head(1).tolist()}); if these are Unix "
            "epoch times pass timestamp_unit='s' (seconds) or 'ms' (milliseconds) -- "
            f"{_unit_hint(values)}; if they are positions in a sequence pass "
            f"order='{values.name}'; otherwise pass date strings"
        )
    else:
        parsed = _parse_strings(values, fmt, name, facts)
        if parsed is None:
            return None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype) or "_wall_clock" in facts:
        parsed = _to_naive(parsed, timezone, facts)
    elif timezone is not None:
        raise ValueError(
            f"timezone={timezone!r} converts times that carry a UTC offset, but {name} has none "
            "(naive times are taken as the shop's local time already); drop timezone"
        )
    try:
        parsed = parsed.astype("datetime64[ns]")
    except ValueError as error:  # OutOfBoundsDatetime: a year beyond 1677-2262
        raise ValueError(
            f"{name} has dates outside the years 1677-2262 (latest {parsed.max()}, earliest "
            f"{parsed.min()}); check timestamp_format or the data"
        ) from error
    _warn_if_implausible(parsed, name, "check timestamp_format or the data")
    return parsed


def _to_naive(parsed: pd.Series, timezone: str | None, facts: dict[str, Any]) -> pd.Series:
    """Time-zone-aware times -> naive local times (see ``from_frames``, step 4)."""
    wall_clock = facts.pop("_wall_clock", None)
    if timezone is not None:
        try:
            converted = parsed.dt.tz_convert(timezone)
        except Exception as error:  # unknown zone names raise several types
            raise ValueError(
                f"timezone={timezone!r} is not a time zone name; use e.g. 'Europe/Berlin', "
                "'America/New_York' or 'UTC'"
            ) from error
        facts["timezone"] = f"converted to {timezone}"
        return converted.dt.tz_localize(None)
    if wall_clock is not None:
        facts["timezone"] = (
            f"UTC offsets {facts.get('utc_offsets')}: each time kept as written (wall-clock); "
            "pass timezone='<your zone>' to convert every time to one zone instead"
        )
        return wall_clock
    facts["timezone"] = f"{parsed.dt.tz}: kept as written (wall-clock)"
    return parsed.dt.tz_localize(None)


def _warn_if_implausible(parsed: pd.Series, name: str, advice: str) -> None:
    present = parsed.dropna()
    if present.empty:
        return
    tomorrow = pd.Timestamp.now() + pd.Timedelta(days=1)
    if present.max() < PLAUSIBLE_FROM:
        problem = f"every date is before {PLAUSIBLE_FROM.year} (latest {present.max()})"
    elif present.max() > tomorrow:
        problem = (
            f"{int((present > tomorrow).sum())} date(s) are in the future (e.g. {present.max()})"
        )
    else:
        return
    warnings.warn(
        f"{name}: {problem}, which is unlikely for a shop's log; {advice}",
        ImplausibleDatesWarning,
        stacklevel=stacklevel_outside_recutils(),
    )


def _merge_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Merge rows repeating a key: weight summed, price weight-averaged, the rest first."""
    duplicated = frame.duplicated(subset=_KEY, keep=False)
    if not duplicated.any():
        return frame, 0
    known = frame[PRICE].notna()
    work = frame.assign(
        _paid=(frame[WEIGHT] * frame[PRICE]).where(known, 0.0),
        _priced_weight=frame[WEIGHT].where(known, 0.0),
        _price_sum=frame[PRICE].where(known, 0.0),
        _priced_rows=known.astype(np.int64),
    )
    others = [c for c in frame.columns if c not in (*_KEY, WEIGHT, PRICE)]
    aggregations: dict[str, tuple[str, str]] = {
        WEIGHT: (WEIGHT, "sum"),
        "_paid": ("_paid", "sum"),
        "_priced_weight": ("_priced_weight", "sum"),
        "_price_sum": ("_price_sum", "sum"),
        "_priced_rows": ("_priced_rows", "sum"),
        **{c: (c, "first") for c in others},
    }
    merged = work.groupby(_KEY, sort=False, dropna=False).agg(**aggregations).reset_index()
    weighted = merged["_paid"] / merged["_priced_weight"].where(merged["_priced_weight"] > 0)
    plain = merged["_price_sum"] / merged["_priced_rows"].where(merged["_priced_rows"] > 0)
    merged[PRICE] = weighted.fillna(plain)  # weights all 0: the plain mean price
    merged = merged[list(frame.columns)]
    return merged, len(frame) - len(merged)


def _can_merge(frame: pd.DataFrame) -> bool:
    """Whether merging is safe: keys complete and weights valid. Otherwise the rows are left
    as they are and the validator reports the problem (merging must not hide a null id or a
    negative weight inside a sum)."""
    if frame[_KEY].isna().any().any() or not pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP]):
        return False
    for column in (WEIGHT, PRICE):
        if not pd.api.types.is_numeric_dtype(frame[column]):
            return False
    weights = frame[WEIGHT].to_numpy(dtype=np.float64, na_value=np.nan)
    prices = frame[PRICE].to_numpy(dtype=np.float64, na_value=np.nan)
    return bool(np.all(weights >= 0) and not np.any(prices < 0))


def _numeric(values: pd.Series) -> pd.Series:
    """float64 if the values are numbers; unchanged otherwise (the validator then says so)."""
    try:
        numbers = pd.to_numeric(values)
    except (ValueError, TypeError):
        return values
    return pd.Series(
        np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan)),
        index=values.index,
        name=values.name,
    )


def _prepare_items(items: pd.DataFrame, mapping: Mapping[str, str] | None) -> pd.DataFrame:
    items = _rename(items, mapping, "items")
    if ITEM not in items.columns:
        return items  # the validator reports the missing column
    items = items.copy()
    items[ITEM] = blank_as_missing(ids_to_text(items[ITEM]))
    for column in ITEM_TEXT_FIELDS:
        if column in items.columns:
            items[column] = blank_as_missing(_nullable_text(items[column]))
        else:
            items[column] = _nullable_text(pd.Series(np.nan, index=items.index, dtype=object))
    items[PRICE] = _numeric(items[PRICE]) if PRICE in items.columns else np.nan
    extras = [c for c in items.columns if c not in ITEM_COLUMNS]
    return items[[*ITEM_COLUMNS, *extras]]


def _catalog_from_ids(item_ids: pd.Series) -> pd.DataFrame:
    ids = pd.Series(np.sort(item_ids.dropna().unique()), dtype=item_ids.dtype, name=ITEM)
    missing = _nullable_text(pd.Series(np.nan, index=ids.index, dtype=object))
    return pd.DataFrame(
        {
            ITEM: ids,
            **{column: missing for column in ITEM_TEXT_FIELDS},
            PRICE: np.full(len(ids), np.nan),
        }
    )[list(ITEM_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Public API


def _order_positions(frame: pd.DataFrame, order: str, original: pd.DataFrame) -> pd.Series:
    """The ``order`` argument as int64 positions (see ``from_frames``)."""
    if order == ORDER_BY_ROWS:
        return pd.Series(np.arange(len(frame), dtype=np.int64), index=frame.index)
    if order not in frame.columns:
        raise ValueError(
            f"order={order!r} names no column of interactions (it has {list(original.columns)}); "
            f"name the column that holds each event's position, or order={ORDER_BY_ROWS!r} if "
            "the rows are already in order"
        )
    values = frame[order]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers != np.round(numbers))
    if bad.any():
        examples = ", ".join(f"row {i!r}: {v!r}" for i, v in values[bad].head(3).items())
        raise ValueError(
            f"interactions.{order} (the order) has {int(bad.sum())} value(s) that are not whole "
            f"numbers (e.g. {examples}); positions must be integers without gaps in the data"
        )
    return numbers.astype(np.int64)


def _require_core_columns(
    frame: pd.DataFrame, original: pd.DataFrame, mapping: Mapping[str, str] | None, timed: bool
) -> None:
    """The user, item and (unless an order is given) time columns exist after renaming."""
    needed = [USER, ITEM] + ([TIMESTAMP] if timed else [])
    missing = [column for column in needed if column not in frame.columns]
    if not missing:
        return
    advice = ", ".join(f"'<your column>': {column!r}" for column in missing)
    time_hint = (
        f"; data without times but in order can pass order='<position column>' or "
        f"order={ORDER_BY_ROWS!r} instead of a {TIMESTAMP}"
        if TIMESTAMP in missing
        else ""
    )
    unmapped = [c for c in original.columns if c not in dict(mapping or {})]
    raise ValueError(
        f"interactions has no {' / '.join(missing)} column: its columns are "
        f"{list(original.columns)}"
        + (f" (renamed with columns={dict(mapping)}; not mapped: {unmapped})" if mapping else "")
        + f". Map yours with columns={{{advice}}}{time_hint}"
    )


def from_frames(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    item_columns: Mapping[str, str] | None = None,
    event: str = "purchase",
    timestamp_unit: str | None = None,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    order: str | None = None,
    aggregate_duplicates: bool = True,
    name: str = "my-shop",
    info: Mapping[str, Any] | None = None,
) -> Dataset:
    """Map your own interactions (and catalog) to a validated :class:`~recutils.schema.Dataset`.

    Args:
        interactions: one row per event; needs a user, an item and a time column (or an
            order, see ``order``).
        items: the catalog, one row per product; ``None`` builds a catalog of bare item ids.
        columns: your interaction column names -> schema names, e.g.
            ``{"customer": "user_id", "sku": "item_id", "ts": "timestamp", "qty": "weight"}``.
        item_columns: the same for ``items``, e.g. ``{"sku": "item_id", "name": "title"}``.
        event: the event type of every row when there is no ``event`` column. With
            :func:`recutils.interactions.user_item_pairs`' default weights the name of a single
            type does not matter (each event weighs 1); the notebooks weigh ``"view"``,
            ``"cart"`` and ``"purchase"`` (``EVENT_WEIGHTS``), so keep ``"purchase"`` for a
            one-type log you run them on.
        timestamp_unit: ``"s"`` / ``"ms"`` (or ``"us"``, ``"ns"``) if timestamps are Unix epoch
            numbers.
        timestamp_format: a :func:`~datetime.datetime.strptime` format for date strings,
            e.g. ``"%d/%m/%Y %H:%M"`` (default: inferred, module docstring step 4).
        timezone: for times that carry a UTC offset, and for epoch numbers (which are UTC):
            convert them all to this zone (e.g. ``"Europe/Berlin"``) before dropping it;
            default ``None`` keeps each time as written (epoch times stay UTC).
        order: for data without times: the name of a column (your name or the one it is
            renamed to in ``columns``) holding each event's position as a whole number, or
            ``"rows"`` for the row order of ``interactions``. The ``timestamp`` column then
            holds these integers
            (an order, :mod:`recutils.schema`); there must be no time column as well.
        aggregate_duplicates: merge rows with the same (user, item, timestamp, event)
            (module docstring, step 5); ``False`` makes them an error.
        name: the dataset's name (shown in ``repr``).
        info: extra facts to record in ``Dataset.info`` (source, export date, ...).

    Returns:
        The dataset, validated; ``info`` records what was filled in, parsed and merged.

    Raises:
        ValueError: a mapped column does not exist, the tables are empty, timestamps are
            ambiguous or do not convert, or the data break the schema (the message names the
            table, the column, the count and example rows).

    Warns:
        ImplausibleDatesWarning: every parsed date is before 1990, or some are in the future
            (e.g. epoch seconds read as milliseconds).

    Example:
        >>> events = pd.DataFrame({"customer": ["c1", "c1", "c2"], "sku": ["A", "B", "A"],
        ...                        "day": ["2024-03-01", "2024-03-02", "2024-03-02"]})
        >>> from_frames(events, columns={"customer": "user_id", "sku": "item_id",
        ...                              "day": "timestamp"})
        Dataset('my-shop': 2 users, 2 items, 3 events)
    """
    original = interactions
    frame = _rename(interactions, columns, "interactions")
    if len(frame) == 0:
        raise ValueError(
            "interactions has no rows; export at least one event (check the file, or a filter "
            "that removed every row)"
        )
    _require_core_columns(frame, original, columns, timed=order is None)
    facts: dict[str, Any] = {"source": "your data", "rows_given": len(frame), **(info or {})}
    filled: dict[str, Any] = {}
    frame = frame.copy()
    if order is not None:
        if TIMESTAMP in frame.columns:
            raise ValueError(
                f"interactions has a {TIMESTAMP} column and order={order!r}: give either times "
                "or an order, not both"
            )
        order = dict(columns or {}).get(order, order)  # your name or the renamed one
        frame[TIMESTAMP] = _order_positions(frame, order, original)
        if order != ORDER_BY_ROWS:
            frame = frame.drop(columns=[order])
        facts["order"] = (
            "the row order of the table" if order == ORDER_BY_ROWS else f"column {order!r}"
        ) + f": {TIMESTAMP} holds positions, not times"
    if EVENT not in frame.columns:
        frame[EVENT] = event
        filled[EVENT] = event
    if WEIGHT not in frame.columns:
        frame[WEIGHT] = 1.0
        filled[WEIGHT] = 1.0
    if PRICE not in frame.columns:
        frame[PRICE] = np.nan
        filled[PRICE] = "NaN (unknown)"
    facts["filled_columns"] = filled

    for column in (USER, ITEM, SESSION):
        if column in frame.columns:
            frame[column] = blank_as_missing(ids_to_text(frame[column]))
    frame[EVENT] = blank_as_missing(_nullable_text(frame[EVENT]))
    frame[WEIGHT] = _numeric(frame[WEIGHT])
    frame[PRICE] = _numeric(frame[PRICE])
    if order is None:
        if not pd.api.types.is_numeric_dtype(frame[TIMESTAMP]):
            frame[TIMESTAMP] = blank_as_missing(frame[TIMESTAMP])  # "" is a missing time
        parsed = _parse_timestamps(
            frame[TIMESTAMP],
            timestamp_unit,
            timestamp_format,
            timezone,
            f"interactions.{TIMESTAMP}",
            facts,
        )
        if parsed is None:
            validate_interactions(frame, name="interactions")  # raises: values that do not parse
        else:
            frame[TIMESTAMP] = parsed

    merged = 0
    if aggregate_duplicates and _can_merge(frame):
        frame, merged = _merge_duplicates(frame)
    facts["duplicate_rows_merged"] = merged

    if items is None:
        catalog = _catalog_from_ids(frame[ITEM])
        facts["items"] = (
            "built from the interactions' item ids: titles, descriptions, categories, brands "
            "and prices are missing"
        )
    else:
        catalog = _prepare_items(items, item_columns)
        facts["items"] = "given"
        if len(catalog) == 0:
            raise ValueError("items has no rows; pass the catalog, or items=None to build one")

    extras = [c for c in frame.columns if c not in (USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE)]
    frame = frame[[USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE, *extras]]
    # Checked under the names the caller knows ("interactions", "items"), then as a Dataset.
    validate_items(catalog, name="items")
    validate_interactions(frame, catalog, name="interactions")
    dataset = Dataset(name=name, interactions=frame, items=catalog, info=facts).validate()
    dataset.interactions = dataset.interactions.reset_index(drop=True)
    dataset.items = dataset.items.reset_index(drop=True)
    return dataset


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return "".join(path.suffixes[-2:]) or "(none)"


def _sniff_delimiter(path: Path, suffix: str) -> str:
    """The delimiter of a text table, from its first lines (``csv.Sniffer`` among
    :data:`DELIMITERS`); a tab for ``.tsv``; a comma when nothing else is found."""
    if suffix.startswith(".tsv"):
        return "\t"
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
        sample = "".join(handle.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_table(
    path: str | os.PathLike[str], text_columns: list[str], delimiter: str | None = None
) -> pd.DataFrame:
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f"cannot read {path.name!r}: the file type {suffix!r} is not supported; use "
            f"{', '.join(SUPPORTED_SUFFIXES)}, or read it with pandas yourself (e.g. "
            "pandas.read_excel) and call from_frames"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in JSON_SUFFIXES:
        return _read_json(path, suffix, text_columns)
    sep = (
        _sniff_delimiter(path, suffix)
        if delimiter is None or suffix.startswith(".tsv")
        else delimiter
    )
    header = pd.read_csv(path, sep=sep, nrows=0).columns
    found = [repr(d) for d in DELIMITERS if d in str(header[0])]
    if len(header) == 1 and (delimiter is None or found):
        hint = f" (its header contains {', '.join(found)})" if found else ""
        raise ValueError(
            f"{path.name!r} reads as a single column {str(header[0])[:60]!r} with the delimiter "
            f"{sep!r}{hint}; pass delimiter=... (e.g. delimiter='\\t' for tab-separated files)"
        )
    id_columns = [c for c in dict.fromkeys(text_columns) if c in header]
    frame = pd.read_csv(path, sep=sep, dtype={c: str for c in id_columns})
    for column in id_columns:
        frame[column] = _undo_float_text(frame[column])
    return frame


def _read_json(path: Path, suffix: str, text_columns: list[str]) -> pd.DataFrame:
    """JSON lines (one object per line) or one JSON array of objects; values as written (no
    date or type guessing; ids stay as they are, numbers become text later)."""
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = not handle.read(4096).lstrip().startswith("[")
    try:
        frame = pd.read_json(path, lines=lines, dtype=False)
    except ValueError as error:
        raise ValueError(
            f"cannot read {path.name!r} as JSON {'lines' if lines else 'array'}: {error}. Use one "
            'JSON object per line ({"user": "u1", "item": "A", ...}) or one array of objects'
        ) from error
    del text_columns  # JSON keeps strings as strings: "00123" stays "00123"
    return frame


def _undo_float_text(values: pd.Series) -> pd.Series:
    """``"17850.0" -> "17850"`` if *every* id in the column is a whole number written as a
    float (what pandas writes for an integer column with missing values); otherwise unchanged,
    so text ids such as ``"00123"`` or ``"2.0-XL"`` are never touched."""
    present = values.dropna()
    if present.empty or not present.str.fullmatch(r"-?\d+\.0+").all():
        return values
    return values.str.replace(r"\.0+$", "", regex=True)


def from_files(
    interactions_path: str | os.PathLike[str],
    items_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Dataset:
    """:func:`from_frames` on files, read by suffix (:data:`SUPPORTED_SUFFIXES`).

    * Delimited text (``.csv``, ``.tsv``, ``.txt``, each also ``.gz``): the delimiter is
      sniffed from the first lines among comma, tab, semicolon and pipe, or given as
      ``delimiter=`` (for both files; a ``.tsv`` file is always read with tabs); a file
      that still reads as one column is an error that says
      so. The id columns (those mapped to ``user_id``, ``item_id`` and ``session_id``, or
      already named so) are read as text, so ids like ``"00123"`` keep their leading zeros; a
      column whose every id is a whole number written as a float (``"17850.0"``, as pandas
      writes integer ids with gaps) is read as ``"17850"``.
    * JSON: one object per line (``.jsonl``, ``.ndjson``, ``.json``) or one array of objects
      (``.json``); values are taken as written (no date guessing).
    * Parquet files keep the types they were written with.

    ``options`` are those of :func:`from_frames` plus ``delimiter``;
    ``Dataset.info["files"]`` records the file names.

    Example:
        >>> dataset = from_files("orders.tsv", columns={"customer": "user_id",
        ...     "sku": "item_id", "ordered_at": "timestamp"})  # doctest: +SKIP
    """
    columns = dict(options.get("columns") or {})
    item_columns = dict(options.get("item_columns") or {})
    id_names = (USER, ITEM, SESSION)
    interaction_ids = [c for c, target in columns.items() if target in id_names] + list(id_names)
    item_ids = [c for c, target in item_columns.items() if target == ITEM] + [ITEM]
    delimiter = options.pop("delimiter", None)
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValueError(f"delimiter must be one character such as ',' or '\t', got {delimiter!r}")
    interactions = _read_table(interactions_path, interaction_ids, delimiter)
    items = None if items_path is None else _read_table(items_path, item_ids, delimiter)
    files = [Path(interactions_path).name] + ([] if items_path is None else [Path(items_path).name])
    info = {"files": files, **dict(options.pop("info", None) or {})}
    return from_frames(interactions, items, info=info, **options)
