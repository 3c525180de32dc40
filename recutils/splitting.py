"""Train / validation / test splits that never leak.

Three ways to hold data out, each answering a different question:

* :func:`random_split` -- per user, a random share of the user's (user, item) pairs goes to test
  (stratified: every user with enough pairs is in train and in test, in the same proportion).
  "How well does the model fill in a user's missing items?" Optimistic: train contains events
  from after the test events.
* :func:`temporal_split` -- one global cut-off date: train before, test after. "How well would
  the model have done if deployed on that date?" The honest offline protocol for a shop; it also
  produces cold users and cold items (who appear only after the cut-off).
* :func:`leave_last_n_out` -- per user, the last ``n`` units in time go to test.
  "What will this user do next?" The protocol of sequential recommenders.

Guarantees (tested in ``tests/test_splitting.py``): the parts are disjoint and together are the
input; no (user, item, timestamp) event is in two parts (rows sharing that key always travel
together); for temporal splits, no train event is later than a test event (globally for
:func:`temporal_split`, per user for :func:`leave_last_n_out`); the result does not depend on
the order of the input rows.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recutils.schema import ITEM, TIMESTAMP, USER


@dataclass
class Split:
    """The parts of a split. ``valid`` is an empty frame (same columns) when not requested."""

    train: pd.DataFrame
    test: pd.DataFrame
    valid: pd.DataFrame
    method: str
    params: dict[str, object] = field(default_factory=dict)

    def sizes(self) -> pd.DataFrame:
        """Rows, users and items of each part, and how many test users/items are cold."""
        train_users = pd.Index(pd.unique(self.train[USER]))
        train_items = pd.Index(pd.unique(self.train[ITEM]))
        rows = {}
        for name, part in (("train", self.train), ("valid", self.valid), ("test", self.test)):
            users = pd.Index(pd.unique(part[USER]))
            items = pd.Index(pd.unique(part[ITEM]))
            rows[name] = {
                "rows": len(part),
                "users": len(users),
                "items": len(items),
                "users not in train": int((~users.isin(train_users)).sum()),
                "items not in train": int((~items.isin(train_items)).sum()),
            }
        return pd.DataFrame(rows).T

    def __repr__(self) -> str:
        return (
            f"Split({self.method}: train {len(self.train):,} rows, valid {len(self.valid):,}, "
            f"test {len(self.test):,})"
        )


def _check_fraction(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _check_frame(frame: pd.DataFrame, columns: list[str], name: str = "interactions") -> None:
    """The columns exist and have no missing values; timestamps are naive datetime64."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; it has {list(frame.columns)}")
    if len(frame) == 0:
        raise ValueError(f"{name} is empty; there is nothing to split")
    for column in columns:
        nulls = frame[column].isna().to_numpy()
        if nulls.any():
            examples = frame.index[nulls][:3].tolist()
            raise ValueError(
                f"{name}.{column} has {int(nulls.sum())} missing value(s) (e.g. rows {examples}); "
                "a split needs every row's user, item and time: drop or fill them first"
            )
    if TIMESTAMP in columns:
        times = frame[TIMESTAMP]
        if not pd.api.types.is_datetime64_any_dtype(times) or getattr(times.dtype, "tz", None):
            raise ValueError(
                f"{name}.{TIMESTAMP} must be naive datetime64 (the course schema), got dtype "
                f"{times.dtype}; convert with pandas.to_datetime (and .dt.tz_localize(None))"
            )


def _units(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct ``keys`` groups in sorted order (``keys[0]`` must be the user).

    Returns (unit code of each row, user code of each unit); user codes are in sorted order too,
    so units of one user are contiguous and increasing.
    """
    unit_codes = frame.groupby(keys, sort=True, observed=True).ngroup().to_numpy()
    row_user = frame.groupby(USER, sort=True, observed=True).ngroup().to_numpy()
    unit_user = np.empty(unit_codes.max() + 1, dtype=np.int64)
    unit_user[unit_codes] = row_user
    return unit_codes, unit_user


def _parts(frame: pd.DataFrame, label: np.ndarray, method: str, params: dict[str, object]) -> Split:
    """label: 0 train, 1 valid, 2 test (one per row)."""
    return Split(
        train=frame[label == 0],
        valid=frame[label == 1],
        test=frame[label == 2],
        method=method,
        params=params,
    )


def random_split(
    interactions: pd.DataFrame,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.0,
    seed: int = 42,
) -> Split:
    """Per-user stratified random split of (user, item) pairs.

    All rows of one (user, item) pair go to the same part, so a test item is always new to the
    user in train. For a user with ``n`` pairs, ``round(test_fraction * n)`` random pairs go to
    test and ``round(valid_fraction * n)`` to valid, but at least one pair stays in train (a user
    with a single pair is train only).

    Args:
        interactions: rows with ``user_id`` and ``item_id`` (events or pairs).
        test_fraction: share of each user's pairs held out for test, in [0, 1).
        valid_fraction: share of each user's pairs held out for validation (taken from what
            would otherwise be train), in [0, 1); ``test_fraction + valid_fraction < 1``.
        seed: seed of the shuffle; the split does not depend on the input's row order.
    """
    _check_frame(interactions, [USER, ITEM])
    _check_fraction(test_fraction, "test_fraction")
    _check_fraction(valid_fraction, "valid_fraction")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer (a split must be reproducible), got {seed!r}")
    if test_fraction + valid_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + valid_fraction must be < 1, got {test_fraction} + {valid_fraction}"
        )
    # One unit per (user, item) pair, numbered in sorted order (independent of row order).
    pair_codes, pair_user = _units(interactions, [USER, ITEM])
    rng = np.random.default_rng(seed)
    key = rng.random(len(pair_user))
    order = np.lexsort((key, pair_user))  # users in sorted order, random within a user
    counts = np.bincount(pair_user)
    user_sorted = pair_user[order]
    rank = np.arange(len(order)) - (np.cumsum(counts) - counts)[user_sorted]
    n = counts[user_sorted]
    n_test = np.minimum(np.round(test_fraction * n), n - 1)
    n_valid = np.minimum(np.round(valid_fraction * n), n - 1 - n_test)
    pair_label = np.zeros(len(pair_user), dtype=np.int8)
    pair_label[order] = np.where(rank < n_test, 2, np.where(rank < n_test + n_valid, 1, 0))
    params = {"test_fraction": test_fraction, "valid_fraction": valid_fraction, "seed": seed}
    return _parts(interactions, pair_label[pair_codes], "random (per user, by pair)", params)


def _cutoff(times: pd.Series, value: object, name: str) -> pd.Timestamp:
    """A date, or a number in (0, 1) meaning that quantile of the event times."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a date or a fraction in (0, 1), got {value!r}")
    if isinstance(value, numbers.Real):
        if not 0.0 < float(value) < 1.0:
            raise ValueError(
                f"{name} as a number is a fraction of the events and must be in (0, 1), got "
                f"{value!r}; for a date pass a string like '2024-11-01'"
            )
        return pd.Timestamp(times.quantile(float(value), interpolation="lower"))
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a date like '2024-11-01', got {value!r}") from error
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date like '2024-11-01', got {value!r}")
    if stamp.tz is not None:
        raise ValueError(f"{name} must be a naive date like the timestamps, got {value!r}")
    return stamp


def temporal_split(
    interactions: pd.DataFrame,
    test_start: object = 0.8,
    valid_start: object | None = None,
    test_end: object | None = None,
) -> Split:
    """Global temporal split: train < ``valid_start`` <= valid < ``test_start`` <= test.

    Args:
        interactions: rows with ``user_id``, ``item_id`` and ``timestamp``.
        test_start: first instant of the test period: a date (``"2024-12-01"``) or a number in
            (0, 1), the quantile of event times (0.8: the last 20% of events are test).
        valid_start: first instant of the validation period (before ``test_start``), same forms;
            ``None`` for no validation part.
        test_end: if given, events at or after it are dropped (e.g. to test on one month);
            same forms.

    Every train event is strictly earlier than every valid event, and every valid event
    strictly earlier than every test event. Users and items first seen after the cut-off are
    in test only: cold start, see :meth:`Split.sizes`.
    """
    _check_frame(interactions, [USER, ITEM, TIMESTAMP])
    times = interactions[TIMESTAMP]
    test_cut = _cutoff(times, test_start, "test_start")
    valid_cut = test_cut if valid_start is None else _cutoff(times, valid_start, "valid_start")
    if valid_cut > test_cut:
        raise ValueError(f"valid_start ({valid_cut}) must not be after test_start ({test_cut})")
    end = None if test_end is None else _cutoff(times, test_end, "test_end")
    if end is not None and end <= test_cut:
        raise ValueError(f"test_end ({end}) must be after test_start ({test_cut})")
    values = times.to_numpy()
    label = np.where(
        values >= np.datetime64(test_cut), 2, np.where(values >= np.datetime64(valid_cut), 1, 0)
    )
    label = label.astype(np.int8)
    if end is not None:
        label[values >= np.datetime64(end)] = -1
    params = {
        "test_start": test_cut,
        "valid_start": None if valid_start is None else valid_cut,
        "test_end": end,
    }
    return _parts(interactions, label, "temporal (global cut-off)", params)


def leave_last_n_out(interactions: pd.DataFrame, n_test: int = 1, n_valid: int = 0) -> Split:
    """Per user, the last ``n_test`` units in time go to test and the ``n_valid`` before to valid.

    A *unit* is a (user, item, timestamp) group of rows (so a view and a cart of the same item at
    the same second stay together). Units are ordered by time; units at the same instant (e.g.
    the purchases of one checkout) are ordered by a fixed hash of the item id, so which of them
    is held out is arbitrary but reproducible, and not biased towards low or high ids (in the
    shop, ids follow launch order). Users with at most
    ``n_test + n_valid`` units keep everything in train (they would have nothing to learn from).

    For "the next new item" evaluation, apply it to :func:`recutils.interactions.user_item_pairs`
    (one row per pair, timed at first contact): test then holds the last items each user found.
    """
    _check_frame(interactions, [USER, ITEM, TIMESTAMP])
    for value, name in ((n_test, "n_test"), (n_valid, "n_valid")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if n_test < 1:
        raise ValueError(f"n_test must be at least 1, got {n_test}")
    # Same-time units are ordered by a hash of the item id (fixed key: the same on every machine).
    tie_break = pd.util.hash_array(interactions[ITEM].to_numpy(dtype=object, copy=False))
    unit_codes, unit_user = _units(
        interactions.assign(_tie=tie_break), [USER, TIMESTAMP, "_tie", ITEM]
    )
    # Units are numbered by user, then time, then item: position from the end within the user.
    counts = np.bincount(unit_user)
    rank_from_end = np.cumsum(counts)[unit_user] - 1 - np.arange(len(unit_user))
    n = counts[unit_user]
    enough = n > n_test + n_valid
    unit_label = np.where(
        enough & (rank_from_end < n_test),
        2,
        np.where(enough & (rank_from_end < n_test + n_valid), 1, 0),
    ).astype(np.int8)
    params = {"n_test": n_test, "n_valid": n_valid}
    return _parts(interactions, unit_label[unit_codes], "leave last n out (per user)", params)
