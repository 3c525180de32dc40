"""The one data schema every dataset in the course is mapped to, and its validation.

Interactions (one row per event)
    ==============  ===============  ==========================================================
    column          dtype            meaning
    ==============  ===============  ==========================================================
    ``user_id``     str              who acted
    ``item_id``     str              on which product (must be in the items table)
    ``timestamp``   datetime64       when (naive, in the shop's local time; any unit) -- or,
                    or int64         for data that has an order but no times, the event's
                                     position (see "Order instead of times" below)
    ``event``       str              ``"view"``, ``"cart"`` or ``"purchase"`` (other names are
                                     allowed for your own data)
    ``weight``      float64          quantity for purchases, 1.0 for views and carts; >= 0
    ``price``       float64          unit price paid, NaN where unknown; >= 0
    ``session_id``  str (optional)   a session or basket (an invoice in Online Retail)
    ==============  ===============  ==========================================================

Items (one row per product)
    ===============  =======  ============================================================
    ``item_id``      str      unique, no nulls
    ``title``        str      product name; may be missing (NaN)
    ``description``  str      free text; may be missing
    ``category``     str      category path, levels joined by ``" > "``; may be missing
    ``brand``        str      may be missing
    ``price``        float64  list price; may be missing
    ===============  =======  ============================================================

A column that a dataset does not have at all is present and entirely missing (NaN), so code
can rely on the columns existing; :meth:`Dataset.missing_item_fields` says which are empty.
A blank text (``""`` or only spaces) counts as missing everywhere (:func:`is_blank`).
Extra columns (``domain``, ``launch_time``, ...) are allowed and kept.

Order instead of times
    Many public sequence datasets give each user's items in order but no times. Their
    ``timestamp`` column holds integers -- a position in the user's sequence, or a global
    sequence number -- never invented dates. Everything that needs only the order works on
    them (sorting, :func:`~recutils.splitting.leave_last_n_out`, sequence models,
    :func:`~recutils.splitting.temporal_split` with integer cut-offs); what needs durations
    (days, half-lives, calendar windows) raises an error that says so (:func:`require_times`).
    ``recutils.datasets.from_frames(..., order=...)`` builds such a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

USER = "user_id"
ITEM = "item_id"
TIMESTAMP = "timestamp"
EVENT = "event"
WEIGHT = "weight"
PRICE = "price"
SESSION = "session_id"

TITLE = "title"
DESCRIPTION = "description"
CATEGORY = "category"
BRAND = "brand"

INTERACTION_COLUMNS: tuple[str, ...] = (USER, ITEM, TIMESTAMP, EVENT, WEIGHT, PRICE)
ITEM_COLUMNS: tuple[str, ...] = (ITEM, TITLE, DESCRIPTION, CATEGORY, BRAND, PRICE)
ITEM_TEXT_FIELDS: tuple[str, ...] = (TITLE, DESCRIPTION, CATEGORY, BRAND)

#: Event types of the course datasets, in funnel order.
EVENTS: tuple[str, ...] = ("view", "cart", "purchase")
CATEGORY_SEPARATOR = " > "


def is_blank(values: pd.Series) -> pd.Series:
    """True where a value is missing (None/NaN) or a string that is empty after stripping
    whitespace: ``["a", "", "  ", None] -> [False, True, True, True]``."""
    text = values.astype("string")
    return (text.isna() | (text.str.strip() == "")).fillna(True).astype(bool)


def blank_as_missing(values: pd.Series) -> pd.Series:
    """``values`` with blank strings (``""``, whitespace only) replaced by missing (NaN)."""
    return values.where(~is_blank(values).to_numpy())


def is_order(timestamps: pd.Series) -> bool:
    """Whether a ``timestamp`` column holds an order (integers) rather than times."""
    return bool(pd.api.types.is_integer_dtype(timestamps))


def require_times(timestamps: pd.Series, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` if ``timestamps`` is an order (integers), not times."""
    if is_order(timestamps):
        raise ValueError(
            f"{what} needs real times (datetime64), but this {TIMESTAMP} column is an order "
            "(integers: the data have positions, not times). Use what needs only the order, "
            "e.g. recutils.splitting.leave_last_n_out, or load data with times"
        )


def _examples(
    frame: pd.DataFrame, mask: np.ndarray | pd.Series, columns: Iterable[str], n: int = 3
) -> str:
    """Up to ``n`` offending rows as ``{col: value}`` dicts, with their index labels."""
    rows = frame.loc[np.asarray(mask), list(columns)].head(n)
    parts = []
    for label, row in rows.iterrows():
        values = ", ".join(f"{c}={row[c]!r}" for c in row.index)
        parts.append(f"row {label!r}: {values}")
    return "; ".join(parts)


def _require_columns(frame: pd.DataFrame, required: Iterable[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it has {list(frame.columns)}. "
            f"Required: {list(required)} (rename yours, e.g. with recutils.datasets.from_frames)"
        )


def _check_no_nulls(frame: pd.DataFrame, column: str, name: str, also: Iterable[str] = ()) -> None:
    nulls = frame[column].isna().to_numpy()
    if nulls.any():
        cols = [column, *[c for c in also if c != column]]
        raise ValueError(
            f"{name}.{column} has {int(nulls.sum())} null value(s) "
            f"(e.g. {_examples(frame, nulls, cols)}); drop those rows or fill the ids"
        )


def _check_non_negative(frame: pd.DataFrame, column: str, name: str, allow_nan: bool) -> None:
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        raise ValueError(f"{name}.{column} must be numeric, got dtype {values.dtype}")
    array = values.to_numpy(dtype=float, na_value=np.nan)
    if not allow_nan and np.isnan(array).any():
        bad = np.isnan(array)
        raise ValueError(
            f"{name}.{column} has {int(bad.sum())} missing value(s) "
            f"(e.g. {_examples(frame, bad, [column])}); every row needs a {column} >= 0"
        )
    shown = [USER, ITEM, column] if USER in frame else [ITEM, column]
    infinite = np.isinf(array)
    if infinite.any():
        raise ValueError(
            f"{name}.{column} has {int(infinite.sum())} infinite value(s) "
            f"(e.g. {_examples(frame, infinite, shown)}); {column} must be a finite number >= 0"
        )
    negative = array < 0
    if negative.any():
        raise ValueError(
            f"{name}.{column} has {int(negative.sum())} negative value(s) "
            f"(e.g. {_examples(frame, negative, shown)}); "
            f"{column} must be >= 0 (drop returns/cancellations or map them to another event type)"
        )


def validate_items(items: pd.DataFrame, name: str = "items") -> None:
    """Raise ``ValueError`` if ``items`` does not follow the schema (see module docstring).

    Checks: every column of :data:`ITEM_COLUMNS` exists; ``item_id`` has no nulls and no
    duplicates; ``price`` is numeric and not negative (NaN allowed).
    """
    _require_columns(items, ITEM_COLUMNS, name)
    _check_no_nulls(items, ITEM, name, also=[TITLE])
    duplicated = items[ITEM].duplicated(keep=False).to_numpy()
    if duplicated.any():
        n_ids = items.loc[duplicated, ITEM].nunique()
        raise ValueError(
            f"{name}.{ITEM} has {n_ids} duplicated id(s) on {int(duplicated.sum())} rows "
            f"(e.g. {_examples(items, duplicated, [ITEM, TITLE])}); item ids must be unique"
        )
    _check_non_negative(items, PRICE, name, allow_nan=True)


def validate_interactions(
    interactions: pd.DataFrame, items: pd.DataFrame | None = None, name: str = "interactions"
) -> None:
    """Raise ``ValueError`` if ``interactions`` does not follow the schema.

    Checks: the columns of :data:`INTERACTION_COLUMNS` exist; ``user_id``/``item_id`` have no
    nulls; ``timestamp`` is naive datetime64 without missing values (strings that do not parse
    are reported) or an integer order; ``weight`` is numeric, finite, present and >= 0;
    ``price`` finite and >= 0 where known; no duplicated (user_id, item_id, timestamp, event)
    rows; and, if ``items`` is given, every ``item_id``
    is in the catalog.
    """
    _require_columns(interactions, INTERACTION_COLUMNS, name)
    _check_no_nulls(interactions, USER, name, also=[ITEM, TIMESTAMP])
    _check_no_nulls(interactions, ITEM, name, also=[USER, TIMESTAMP])

    timestamps = interactions[TIMESTAMP]
    if is_order(timestamps):
        pass  # an order instead of times: integers, never missing (module docstring)
    elif not pd.api.types.is_datetime64_any_dtype(timestamps):
        parsed = pd.to_datetime(timestamps, errors="coerce", format="mixed")
        bad = (parsed.isna() & timestamps.notna()).to_numpy()
        if bad.any():
            raise ValueError(
                f"{name}.{TIMESTAMP} has {int(bad.sum())} value(s) that do not parse as dates "
                f"(e.g. {_examples(interactions, bad, [USER, ITEM, TIMESTAMP])}); "
                "use ISO dates like '2024-03-01 14:05:00' or datetime64 values"
            )
        raise ValueError(
            f"{name}.{TIMESTAMP} has dtype {timestamps.dtype}, not datetime64; convert it with "
            "pandas.to_datetime (recutils.datasets.from_frames does this for you)"
        )
    if getattr(timestamps.dtype, "tz", None) is not None:
        raise ValueError(
            f"{name}.{TIMESTAMP} is time-zone aware ({timestamps.dtype}); the schema uses naive "
            "local times: convert with .dt.tz_convert('Europe/London').dt.tz_localize(None) "
            "(your shop's time zone)"
        )
    missing_time = timestamps.isna().to_numpy()
    if missing_time.any():
        raise ValueError(
            f"{name}.{TIMESTAMP} has {int(missing_time.sum())} missing value(s) "
            f"(e.g. {_examples(interactions, missing_time, [USER, ITEM, TIMESTAMP])}); "
            "every event needs a time"
        )
    _check_no_nulls(interactions, EVENT, name, also=[USER, ITEM])
    _check_non_negative(interactions, WEIGHT, name, allow_nan=False)
    _check_non_negative(interactions, PRICE, name, allow_nan=True)

    key = [USER, ITEM, TIMESTAMP, EVENT]
    duplicated = interactions.duplicated(subset=key, keep=False).to_numpy()
    if duplicated.any():
        raise ValueError(
            f"{name} has {int(duplicated.sum())} rows that repeat a ({', '.join(key)}) event "
            f"(e.g. {_examples(interactions, duplicated, [*key, WEIGHT])}); "
            "aggregate them first, e.g. summing weight"
        )

    if items is not None:
        known = pd.Index(items[ITEM])
        unknown = ~interactions[ITEM].isin(known).to_numpy()
        if unknown.any():
            unknown_ids = pd.unique(interactions.loc[unknown, ITEM])
            raise ValueError(
                f"{name} has {int(unknown.sum())} rows whose {ITEM} is not in items "
                f"({len(unknown_ids)} distinct ids, e.g. {list(unknown_ids[:3])}); "
                "add those items to the catalog or drop the rows"
            )


@dataclass
class Dataset:
    """A dataset in the course schema: interactions, items and (optionally) users.

    Attributes:
        name: short name, e.g. ``"shop"`` or ``"online-retail"``.
        interactions: events, see the module docstring.
        items: the catalog, see the module docstring.
        users: optional per-user table (``user_id`` plus e.g. ``signup_time``).
        info: free-form facts about the dataset (source, licence, generation parameters).
        truth: ground truth of a synthetic dataset (see :class:`recutils.datasets.shop.ShopTruth`),
            ``None`` for real data.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)
    truth: Any = None

    def validate(self) -> Dataset:
        """Check both tables against the schema; returns ``self`` so calls can be chained.

        A dataset needs at least one item and one interaction: an empty table is refused here,
        where it is made, rather than failing later inside a model.
        """
        for table, frame in (("items", self.items), ("interactions", self.interactions)):
            if isinstance(frame, pd.DataFrame) and len(frame) == 0:
                raise ValueError(
                    f"{self.name}.{table} has no rows; a dataset needs at least one item and "
                    "one interaction (check the file, or a filter that removed every row)"
                )
        validate_items(self.items, name=f"{self.name}.items")
        validate_interactions(self.interactions, self.items, name=f"{self.name}.interactions")
        return self

    def missing_item_fields(self) -> list[str]:
        """Item columns of the schema that are entirely missing in this dataset."""
        return [c for c in ITEM_COLUMNS if c != ITEM and is_blank(self.items[c]).all()]

    def summary(self) -> pd.Series:
        """Sizes and sparsity: users, items, events, user-item pairs, density, time span."""
        inter = self.interactions
        n_users = inter[USER].nunique()
        n_items = len(self.items)
        n_pairs = len(inter[[USER, ITEM]].drop_duplicates())
        return pd.Series(
            {
                "users": n_users,
                "items in catalog": n_items,
                "items with events": inter[ITEM].nunique(),
                "events": len(inter),
                "user-item pairs": n_pairs,
                "density (pairs / users x items)": n_pairs / max(n_users * n_items, 1),
                "first event": inter[TIMESTAMP].min(),
                "last event": inter[TIMESTAMP].max(),
                "event types": ", ".join(sorted(inter[EVENT].unique())),
                "missing item fields": ", ".join(self.missing_item_fields()) or "none",
            },
            name=self.name,
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: {self.interactions[USER].nunique():,} users, "
            f"{len(self.items):,} items, {len(self.interactions):,} events)"
        )
