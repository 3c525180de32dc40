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

Built on them:

* :func:`pair_split` -- a split of events turned into a split of user-item pairs, each part
  paired on its own (pairing before splitting would leak the future into training);
* :func:`temporal_protocol` -- the model notebooks' periods (train, validation, test) as
  user-item matrices in one call (:class:`Protocol`);
* :func:`item_cold_start`, :func:`user_cold_start` -- new products, and held-out users whose
  first ``n`` interactions are revealed (notebook 07);
* :func:`holdout_split` -- a random share of each user's pairs of a matrix held out (for
  choosing a setting on training data alone, as EASE's ``l2="auto"`` does).

Guarantees (tested in ``tests/test_splitting.py``): the parts are disjoint and together are the
input; no (user, item, timestamp) event is in two parts (rows sharing that key always travel
together); for temporal splits, no train event is later than a test event (globally for
:func:`temporal_split`, per user for :func:`leave_last_n_out`); the result does not depend on
the order of the input rows.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.interactions import IdIndex, user_item_pairs
from recutils.schema import ITEM, TIMESTAMP, USER, WEIGHT, Dataset, is_order, require_times


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
        if is_order(times):
            return  # an order instead of times (recutils.schema): integers sort as well
        if not pd.api.types.is_datetime64_any_dtype(times) or getattr(times.dtype, "tz", None):
            raise ValueError(
                f"{name}.{TIMESTAMP} must be naive datetime64 (the course schema) or an integer "
                f"order, got dtype {times.dtype}; convert with pandas.to_datetime (and "
                ".dt.tz_localize(None))"
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
    test_fraction = checks.fraction(test_fraction, "test_fraction", "share of each user's pairs")
    valid_fraction = checks.fraction(valid_fraction, "valid_fraction", "share of each user's pairs")
    seed = checks.seed(seed)
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


def _cutoff(times: pd.Series, value: object, name: str) -> Any:
    """A date, or a number in (0, 1) meaning that quantile of the event times; for an order
    (integer timestamps), a fraction in (0, 1) or an integer position."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a date or a fraction in (0, 1), got {value!r}")
    if is_order(times):
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and 0.0 < float(value) < 1.0:
            return int(times.quantile(float(value), interpolation="lower"))
        raise ValueError(
            f"{name} must be a fraction in (0, 1) or a whole-number position: the timestamps "
            f"are an order (integers), not times; got {value!r}"
        )
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
    in test only: cold start, see :meth:`Split.sizes`. For an order instead of times (integer
    timestamps, :mod:`recutils.schema`) the cut-offs are fractions or integer positions.

    Raises:
        ValueError: a cut-off is not a date or fraction, or lies outside the data (at or before
            the first event, or after the last), which would leave train or test empty.
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
    first, last = times.min(), times.max()
    for label_name, cut in (("test_start", test_cut), ("valid_start", valid_cut)):
        if not first < cut <= last:
            raise ValueError(
                f"{label_name} ({cut}) is outside the data, which run from {first} to {last}: "
                f"{'train' if cut <= first else 'test'} would be empty. Choose a cut-off after "
                "the first event and at or before the last, or a fraction such as 0.8"
            )
    values = times.to_numpy()

    def at_or_after(cut: Any) -> np.ndarray:
        return values >= (cut if is_order(times) else np.datetime64(cut))

    label = np.where(at_or_after(test_cut), 2, np.where(at_or_after(valid_cut), 1, 0))
    label = label.astype(np.int8)
    if end is not None:
        label[at_or_after(end)] = -1
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
    n_test = checks.positive_int(n_test, "n_test", "units per user held out for test")
    n_valid = checks.non_negative_int(n_valid, "n_valid", "units per user for validation")
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


def pair_split(split: Split, **pair_options: Any) -> Split:
    """Turn a split of *events* into a split of *pairs*, pairing each part on its own.

    Pairing first and splitting afterwards would let the future leak into training: a pair first
    seen in November and bought in December would enter train with December's purchase in its
    weight. Here train pairs are built from train events only, test pairs from test events only
    (a test pair may repeat a train pair; :func:`recutils.evaluation.evaluate` drops those from
    the relevant items, since training items are never recommended).

    Args:
        split: a split of events (e.g. :func:`recutils.splitting.temporal_split`).
        **pair_options: passed to :func:`user_item_pairs` (``event_weights``, ``events``).
    """

    def pairs_of(part: pd.DataFrame) -> pd.DataFrame:
        if len(part) == 0:
            return user_item_pairs(split.train, **pair_options).iloc[:0]
        return user_item_pairs(part, **pair_options)

    return Split(
        train=pairs_of(split.train),
        valid=pairs_of(split.valid),
        test=pairs_of(split.test),
        method=f"{split.method}, then paired",
        params={**split.params, **{f"pairs: {key}": value for key, value in pair_options.items()}},
    )


@dataclass(frozen=True)
class Protocol:
    """One dataset cut into periods, as (n_users, n_items) matrices of weighted pairs.

    ``train`` < ``valid_start`` <= ``valid`` < ``test_start`` <= ``test``, in time. Choose
    settings with models fitted on ``train`` and measured on ``valid``; then fit the chosen
    models on ``train_and_valid`` (all events before ``test_start``) and measure once on
    ``test``. Every part was paired on its own (:func:`pair_split`), and
    all four matrices share ``index`` (rows = ``index.users``, columns = ``index.items``).
    """

    dataset: Dataset
    index: IdIndex
    train: sp.csr_matrix
    valid: sp.csr_matrix
    train_and_valid: sp.csr_matrix
    test: sp.csr_matrix
    valid_start: pd.Timestamp
    test_start: pd.Timestamp

    def sizes(self) -> pd.Series:
        """Users, items, period starts and pairs per part, for a notebook's overview table."""
        return pd.Series(
            {
                "users": self.train.shape[0],
                "items": self.train.shape[1],
                "validation from": str(self.valid_start.date()),
                "test from": str(self.test_start.date()),
                "train pairs": self.train.nnz,
                "validation pairs": self.valid.nnz,
                "train + validation pairs": self.train_and_valid.nnz,
                "test pairs": self.test.nnz,
            },
            dtype=object,
        )


def temporal_protocol(
    dataset: Dataset,
    test_days: int = 30,
    valid_days: int = 30,
    **pair_options: Any,
) -> Protocol:
    """Cut ``dataset`` into train, validation (``valid_days``) and test (``test_days``) periods.

    The test period is the last ``test_days`` calendar days of the log (from midnight of the
    day ``test_days - 1`` before the last event's day), the validation period the
    ``valid_days`` days before it. Each part's events are collapsed into weighted user-item
    pairs on their own (``pair_options`` go to :func:`recutils.interactions.user_item_pairs`,
    e.g. ``event_weights``).

    Raises:
        ValueError: ``test_days``/``valid_days`` are not positive integers, or a period would
            hold no events (the log is shorter than the periods).
    """
    test_days = checks.positive_int(test_days, "test_days", "days of the test period")
    valid_days = checks.positive_int(valid_days, "valid_days", "days of the validation period")
    interactions = dataset.interactions
    require_times(interactions[TIMESTAMP], "temporal_protocol (periods of days)")
    last_day = interactions[TIMESTAMP].max().normalize()
    test_start = last_day - pd.Timedelta(days=int(test_days) - 1)
    valid_start = test_start - pd.Timedelta(days=int(valid_days))
    if interactions[TIMESTAMP].min() >= valid_start:
        raise ValueError(
            f"the log starts on {interactions[TIMESTAMP].min().date()}, not before the "
            f"validation period ({valid_start.date()}): with test_days={test_days} and "
            f"valid_days={valid_days} nothing is left for training; use shorter periods"
        )
    index = IdIndex.from_dataset(dataset)
    split = pair_split(
        temporal_split(interactions, test_start=test_start, valid_start=valid_start),
        **pair_options,
    )
    before_test = pair_split(temporal_split(interactions, test_start=test_start), **pair_options)
    return Protocol(
        dataset=dataset,
        index=index,
        train=index.matrix(split.train),
        valid=index.matrix(split.valid),
        train_and_valid=index.matrix(before_test.train),
        test=index.matrix(before_test.test),
        valid_start=valid_start,
        test_start=test_start,
    )


def holdout_split(
    matrix: sp.csr_matrix, fraction: float, seed: int
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each user's interactions into (kept, held out) at random.

    A user with ``n`` interactions has ``min(round(fraction * n), n - 1)`` of them held out
    (at least one is kept). Returns two CSR matrices of the input's shape that sum to it.
    """
    coo = sp.coo_matrix(matrix)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(coo.nnz), coo.row))  # by user, random within a user
    counts = np.bincount(coo.row, minlength=matrix.shape[0])
    user = coo.row[order]
    rank = np.arange(coo.nnz) - (np.cumsum(counts) - counts)[user]
    n_held = np.minimum(np.round(fraction * counts), counts - 1)[user]
    held = np.zeros(coo.nnz, dtype=bool)
    held[order] = rank < n_held

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape)

    return part(~held), part(held)


# --------------------------------------------------------------------------------------------
# Cold start
# --------------------------------------------------------------------------------------------


def _only_columns(matrix: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    kept = sp.csr_matrix(matrix.multiply(columns[None, :]))
    kept.eliminate_zeros()
    return kept


@dataclass(frozen=True)
class ItemColdStart:
    """The test pairs of a temporal split, divided by whether the product is new.

    Attributes:
        new: (n_items,) bool, True for products with no interaction in ``train``.
        test_new: the test pairs on new products (other columns zero), (n_users, n_items).
        test_known: the test pairs on products seen in training.
    """

    new: np.ndarray
    test_new: sp.csr_matrix
    test_known: sp.csr_matrix

    def sizes(self) -> pd.Series:
        """New products, how many of them are bought or viewed in the test, and the pairs."""
        return pd.Series(
            {
                "products without training interactions": int(self.new.sum()),
                "of them with test interactions": int(
                    np.count_nonzero(np.diff(self.test_new.tocsc().indptr))
                ),
                "test pairs on new products": self.test_new.nnz,
                "test pairs on known products": self.test_known.nnz,
            }
        )


def item_cold_start(train: sp.spmatrix, test: sp.spmatrix) -> ItemColdStart:
    """Split ``test`` into pairs on products absent from ``train`` and pairs on known ones.

    Args:
        train: (n_users, n_items) training matrix (e.g. ``protocol.train_and_valid``).
        test: (n_users, n_items) test matrix of the same :class:`IdIndex`.

    Raises:
        ValueError: the shapes differ.
    """
    train_matrix, test_matrix = sp.csr_matrix(train), sp.csr_matrix(test)
    if train_matrix.shape != test_matrix.shape:
        raise ValueError(
            f"train has shape {train_matrix.shape} but test has {test_matrix.shape}; build both "
            "with the same IdIndex"
        )
    new = np.diff(train_matrix.tocsc().indptr) == 0
    return ItemColdStart(
        new=new,
        test_new=_only_columns(test_matrix, new),
        test_known=_only_columns(test_matrix, ~new),
    )


@dataclass(frozen=True)
class ColdUsers:
    """Held-out users and the matrices to train and test with ``n`` revealed interactions.

    Attributes:
        users: (m,) int64 rows of the held-out users (sorted).
        max_revealed: the most interactions :meth:`train` can reveal.
        test: (n_users, n_items) the held-out users' pairs after their first ``max_revealed``
            (rows of other users are empty). The same for every ``n``, so results for
            different ``n`` compare the same users on the same items.
    """

    users: np.ndarray
    max_revealed: int
    test: sp.csr_matrix
    _warm: sp.csr_matrix
    _revealed: tuple[sp.csr_matrix, ...]

    def train(self, n: int) -> sp.csr_matrix:
        """(n_users, n_items) training matrix: every other user's pairs, and the first ``n``
        pairs (in time) of each held-out user."""
        n = checks.integer(
            n,
            "n",
            "revealed interactions, at most max_revealed",
            minimum=0,
            maximum=self.max_revealed,
        )
        return sp.csr_matrix(self._warm + self._revealed[int(n)])

    def revealed(self, n: int) -> sp.csr_matrix:
        """Only the held-out users' first ``n`` pairs (other rows empty)."""
        return sp.csr_matrix(self.train(n) - self._warm)


def user_cold_start(
    pairs: pd.DataFrame,
    index: IdIndex,
    n_users: int,
    max_revealed: int = 10,
    min_test: int = 5,
    seed: int = 0,
) -> ColdUsers:
    """Hold ``n_users`` users out of training, to reveal their history a few pairs at a time.

    Eligible users have at least ``max_revealed + min_test`` pairs; ``n_users`` of them are
    drawn at random (``seed``). A held-out user's pairs are ordered by their first event (ties
    by item id); the first ``max_revealed`` can be revealed to the models
    (:meth:`ColdUsers.train`), the rest are the test. The other users keep all their pairs.

    Args:
        pairs: one row per (user, item) pair with ``user_id``, ``item_id``, ``timestamp`` (the
            pair's first event) and ``weight``, as :func:`recutils.interactions.user_item_pairs`
            returns.
        index: numbering of users and items (rows and columns of the matrices).
        n_users: how many users to hold out.
        max_revealed: the largest number of interactions that will be revealed.
        min_test: test pairs each held-out user must have at least.
        seed: which users are drawn.

    Raises:
        ValueError: missing columns, or fewer eligible users than ``n_users`` (the message
            says how many there are).
    """
    missing = [c for c in (USER, ITEM, TIMESTAMP, WEIGHT) if c not in pairs.columns]
    if missing:
        raise ValueError(
            f"pairs is missing column(s) {missing}; pass user_item_pairs(interactions)"
        )
    n_users = checks.positive_int(n_users, "n_users", "users held out of training")
    max_revealed = checks.non_negative_int(max_revealed, "max_revealed", "most pairs revealed")
    min_test = checks.positive_int(min_test, "min_test", "test pairs each held-out user keeps")
    if pairs.duplicated([USER, ITEM]).any():
        raise ValueError(
            "pairs has repeated (user_id, item_id) rows; collapse events into pairs first with "
            "recutils.interactions.user_item_pairs"
        )
    ordered = pairs.sort_values([USER, TIMESTAMP, ITEM], kind="stable")
    position = ordered.groupby(USER, sort=False, observed=True).cumcount().to_numpy()
    sizes = ordered.groupby(USER, sort=True, observed=True).size()
    eligible = np.sort(index.user_positions(sizes.index[sizes >= max_revealed + min_test]))
    if eligible.size < n_users:
        raise ValueError(
            f"only {eligible.size} users have at least max_revealed + min_test = "
            f"{max_revealed + min_test} pairs; ask for n_users <= {eligible.size} or lower "
            "max_revealed / min_test"
        )
    rng = np.random.default_rng(seed)
    held_out = np.sort(rng.choice(eligible, size=n_users, replace=False)).astype(np.int64)
    is_held_out = np.zeros(index.n_users, dtype=bool)
    is_held_out[held_out] = True
    row_held_out = is_held_out[index.user_positions(ordered[USER])]
    warm = index.matrix(ordered[~row_held_out])
    cold = ordered[row_held_out]
    cold_position = position[row_held_out]
    revealed = tuple(index.matrix(cold[cold_position < n]) for n in range(max_revealed + 1))
    test = index.matrix(cold[cold_position >= max_revealed])
    return ColdUsers(
        users=held_out,
        max_revealed=int(max_revealed),
        test=test,
        _warm=warm,
        _revealed=revealed,
    )
