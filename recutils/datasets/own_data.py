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
   argument (default ``"purchase"``), ``weight`` = 1.0, ``price`` = NaN; items get missing
   ``title``/``description``/``category``/``brand``/``price`` as empty (NaN) columns.
   Without an items table, the catalog is the set of item ids seen in the interactions, with
   every other field missing (``Dataset.info["items"]`` says so).
3. **Ids become text.** ``user_id``, ``item_id`` and ``session_id`` are converted to ``str``.
   Whole numbers lose the decimal point a float column gives them: ``17850.0`` becomes
   ``"17850"``, not ``"17850.0"`` (a column of integer ids read with missing values is float in
   pandas). Strings are kept exactly (no stripping). When reading CSV files, :func:`from_files`
   reads id columns as text, so leading zeros (``"00123"``) survive.
4. **Timestamps** are parsed with :func:`pandas.to_datetime` (pass ``timestamp_format`` for
   e.g. day-first dates ``"%d/%m/%Y %H:%M"``). Numbers are *not* guessed: Unix epoch times
   need ``timestamp_unit="s"`` (or ``"ms"``). Time-zone-aware times keep their wall-clock time
   and drop the zone (the schema is naive local time). Values that do not parse are reported by
   the schema validator with their count and example rows.
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

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
    validate_interactions,
)

#: File types :func:`from_files` reads, by suffix.
SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")

_KEY = [USER, ITEM, TIMESTAMP, EVENT]


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


def _parse_timestamps(
    values: pd.Series, unit: str | None, fmt: str | None, name: str
) -> pd.Series | None:
    """Parsed ``datetime64[ns]`` values, or ``None`` if some do not parse (the validator
    then reports them)."""
    if unit is not None:
        if not pd.api.types.is_numeric_dtype(values):
            raise ValueError(
                f"{name}.{TIMESTAMP} has dtype {values.dtype}, but timestamp_unit={unit!r} needs "
                "numbers (epoch times); drop timestamp_unit to parse date strings"
            )
        try:
            parsed = pd.to_datetime(values, unit=unit)
        except (ValueError, OverflowError) as error:
            raise ValueError(
                f"{name}.{TIMESTAMP} does not convert from epoch {unit!r}: {error}. Check the "
                "unit: 's' for seconds (e.g. 1700000000), 'ms' for milliseconds"
            ) from error
    elif pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values):
        example = values.dropna().head(1).tolist()
        raise ValueError(
            f"{name}.{TIMESTAMP} is numeric (e.g. {example}); if these are Unix epoch times pass "
            "timestamp_unit='s' (seconds) or 'ms' (milliseconds), otherwise pass date strings"
        )
    else:
        try:
            parsed = pd.to_datetime(values, format=fmt)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(values, format=fmt or "mixed", errors="coerce")
            bad = parsed.isna() & values.notna()
            if bad.any() and fmt is None:
                return None  # the validator reports them
            if bad.any():
                examples = ", ".join(f"row {i!r}: {v!r}" for i, v in values[bad].head(3).items())
                raise ValueError(
                    f"{name}.{TIMESTAMP} has {int(bad.sum())} value(s) that do not match "
                    f"timestamp_format={fmt!r} (e.g. {examples}); fix them or the format"
                ) from None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


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
    items[ITEM] = ids_to_text(items[ITEM])
    for column in ITEM_TEXT_FIELDS:
        if column in items.columns:
            items[column] = _nullable_text(items[column])
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


def from_frames(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    item_columns: Mapping[str, str] | None = None,
    event: str = "purchase",
    timestamp_unit: str | None = None,
    timestamp_format: str | None = None,
    aggregate_duplicates: bool = True,
    name: str = "my-shop",
    info: Mapping[str, Any] | None = None,
) -> Dataset:
    """Map your own interactions (and catalog) to a validated :class:`~recutils.schema.Dataset`.

    Args:
        interactions: one row per event; needs a user, an item and a time column.
        items: the catalog, one row per product; ``None`` builds a catalog of bare item ids.
        columns: your interaction column names -> schema names, e.g.
            ``{"customer": "user_id", "sku": "item_id", "ts": "timestamp", "qty": "weight"}``.
        item_columns: the same for ``items``, e.g. ``{"sku": "item_id", "name": "title"}``.
        event: the event type of every row when there is no ``event`` column.
        timestamp_unit: ``"s"`` / ``"ms"`` if timestamps are Unix epoch numbers.
        timestamp_format: a :func:`~datetime.datetime.strptime` format for date strings,
            e.g. ``"%d/%m/%Y %H:%M"`` (default: inferred by pandas).
        aggregate_duplicates: merge rows with the same (user, item, timestamp, event)
            (module docstring, step 5); ``False`` makes them an error.
        name: the dataset's name (shown in ``repr`` and in error messages).
        info: extra facts to record in ``Dataset.info`` (source, export date, ...).

    Returns:
        The dataset, validated; ``info`` records what was filled in and merged.

    Raises:
        ValueError: a mapped column does not exist, or the data break the schema (the message
            names the column, the count and example rows).
    """
    frame = _rename(interactions, columns, "interactions")
    facts: dict[str, Any] = {"source": "your data", "rows_given": len(frame), **(info or {})}
    filled: dict[str, Any] = {}
    frame = frame.copy()
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

    table = f"{name}.interactions"
    if any(column not in frame.columns for column in (USER, ITEM, TIMESTAMP)):
        validate_interactions(frame, name=table)  # raises: names the missing column(s)

    for column in (USER, ITEM, SESSION):
        if column in frame.columns:
            frame[column] = ids_to_text(frame[column])
    frame[EVENT] = _nullable_text(frame[EVENT])
    frame[WEIGHT] = _numeric(frame[WEIGHT])
    frame[PRICE] = _numeric(frame[PRICE])
    parsed = _parse_timestamps(frame[TIMESTAMP], timestamp_unit, timestamp_format, table)
    if parsed is None:
        validate_interactions(frame, name=table)  # raises: values that do not parse
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

    extras = [c for c in frame.columns if c not in (USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE)]
    frame = frame[[USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE, *extras]]
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


def _read_table(path: str | os.PathLike[str], text_columns: list[str]) -> pd.DataFrame:
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
    header = pd.read_csv(path, nrows=0).columns
    id_columns = [c for c in dict.fromkeys(text_columns) if c in header]
    frame = pd.read_csv(path, dtype={c: str for c in id_columns})
    for column in id_columns:
        frame[column] = _undo_float_text(frame[column])
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
    """:func:`from_frames` on files: ``.csv``, ``.csv.gz`` or ``.parquet`` (by suffix).

    In CSV files the id columns (those mapped to ``user_id``, ``item_id`` and ``session_id``,
    or already named so) are read as text, so ids like ``"00123"`` keep their leading zeros;
    a column whose every id is a whole number written as a float (``"17850.0"``, as pandas
    writes integer ids with gaps) is read as ``"17850"``.
    Parquet files keep the types they were written with. ``options`` are those of
    :func:`from_frames`; ``Dataset.info["files"]`` records the file names.
    """
    columns = dict(options.get("columns") or {})
    item_columns = dict(options.get("item_columns") or {})
    id_names = (USER, ITEM, SESSION)
    interaction_ids = [c for c, target in columns.items() if target in id_names] + list(id_names)
    item_ids = [c for c, target in item_columns.items() if target == ITEM] + [ITEM]
    interactions = _read_table(interactions_path, interaction_ids)
    items = None if items_path is None else _read_table(items_path, item_ids)
    files = [Path(interactions_path).name] + ([] if items_path is None else [Path(items_path).name])
    info = {"files": files, **dict(options.pop("info", None) or {})}
    return from_frames(interactions, items, info=info, **options)
