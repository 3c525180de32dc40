"""From event logs to what models eat: user-item pairs, id <-> index maps, sparse matrices.

A model sees users and items as row and column numbers. :class:`IdIndex` fixes that numbering
once per dataset (users from every interaction, items from the whole catalog, so products nobody
bought yet still get a column), and every matrix of a split is built on the same numbering:
``train`` and ``test`` rows line up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.schema import EVENT, EVENTS, ITEM, TIMESTAMP, USER, WEIGHT, Dataset, require_times

#: Default importance of each event type when several are merged into one pair weight.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


def user_item_pairs(
    interactions: pd.DataFrame,
    event_weights: Mapping[str, float] | None = None,
    events: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Collapse events into one row per (user, item) pair.

    ``weight`` of a pair = sum over its events of ``event_weights[event]`` (events of types not in
    ``event_weights`` count 0; the event's own ``weight`` column is ignored: a purchase of 3
    units counts like a purchase of 1).

    With ``event_weights=None`` the weights are *relative*: :data:`DEFAULT_EVENT_WEIGHTS`
    (view 1, cart 3, purchase 5; any other type, e.g. ``"rating"``, 1) divided by the smallest
    of them among the event types present, so the weakest type present counts 1. A log of one
    event type therefore gives every event weight 1 whatever it is called: a purchase log, a
    ratings table or your own export through ``from_frames`` (whose ``event`` defaults to
    ``"purchase"``) give a model the same matrix. With views present, views count 1, carts 3
    and purchases 5. The weights used are in ``pairs.attrs["event_weights"]``. ``timestamp``
    is the pair's *first* event (when the user discovered the item), ``last_timestamp`` its last,
    ``events`` the number of events, ``event`` the strongest event type reached (by weight; equal
    weights by funnel order, purchase > cart > view).

    Args:
        interactions: events in the course schema.
        event_weights: weight per event type; e.g. ``{"purchase": 1.0}`` keeps only purchases.
        events: if given, only events of these types are used at all.

    Returns:
        A frame with columns ``user_id, item_id, timestamp, last_timestamp, event, weight,
        events``, sorted by user then first time, with a fresh RangeIndex. Pairs whose weight is
        0 are dropped; if that drops everything (e.g. a typo in ``event_weights``), ``ValueError``
        names the event types present.
    """
    if event_weights is None:
        # the course's defaults (1 for any other type), relative to the weakest type present
        present = pd.unique(interactions[EVENT])
        weights = {str(e): DEFAULT_EVENT_WEIGHTS.get(str(e), 1.0) for e in present}
        weakest = min(weights.values(), default=1.0)
        weights = {event: weight / weakest for event, weight in weights.items()}
    else:
        weights = dict(event_weights)
    bad = {k: v for k, v in weights.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"event_weights must be finite and >= 0, got {bad}")
    if isinstance(events, str):
        raise TypeError(f"events must be a tuple of event types, e.g. ({events!r},), not a string")
    frame = interactions
    if events is not None:
        frame = frame[frame[EVENT].isin(events)]
    points = frame[EVENT].map(weights).fillna(0.0).astype(float)
    frame = frame.assign(_points=points.to_numpy())
    frame = frame[frame["_points"] > 0]
    if len(frame) == 0 and len(interactions) > 0:
        present = sorted(pd.unique(interactions[EVENT]))
        raise ValueError(
            f"no event has a positive weight: the data has event types {present}, "
            f"event_weights is {weights}" + ("" if events is None else f" and events is {events}")
        )
    # Strength of each event type: by weight, ties broken by funnel order (view < cart < purchase)
    ranked = sorted(weights, key=lambda e: (weights[e], EVENTS.index(e) if e in EVENTS else -1))
    strength = {event: rank for rank, event in enumerate(ranked)}
    frame = frame.assign(_strength=frame[EVENT].map(strength).to_numpy())
    grouped = frame.groupby([USER, ITEM], sort=False, observed=True)
    pairs = grouped.agg(
        timestamp=(TIMESTAMP, "min"),
        last_timestamp=(TIMESTAMP, "max"),
        weight=("_points", "sum"),
        events=("_points", "size"),
        _strongest=("_strength", "max"),
    ).reset_index()
    strongest = pairs.pop("_strongest").to_numpy().astype(np.int64)  # float when empty
    pairs[EVENT] = np.asarray(ranked, dtype=object)[strongest]
    pairs[EVENT] = pairs[EVENT].astype(str)
    columns = [USER, ITEM, TIMESTAMP, "last_timestamp", EVENT, WEIGHT, "events"]
    pairs = pairs[columns].sort_values([USER, TIMESTAMP, ITEM], kind="stable")
    pairs = pairs.reset_index(drop=True)
    pairs.attrs["event_weights"] = weights
    return pairs


@dataclass(frozen=True)
class IdIndex:
    """A fixed numbering of users (rows) and items (columns).

    Attributes:
        users: user ids; ``users[k]`` is the user of row ``k``.
        items: item ids; ``items[k]`` is the item of column ``k``.
    """

    users: pd.Index
    items: pd.Index

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> IdIndex:
        """Users: those of ``dataset.users`` in its order (for the shop, the order of its ground
        truth), then any other user with an interaction, sorted; without a users table, every
        user with an interaction, sorted. Items: the whole catalog, in catalog order."""
        seen = pd.Index(pd.unique(dataset.interactions[USER]))
        if dataset.users is None:
            users = seen.sort_values()
        else:
            listed = pd.Index(dataset.users[USER])
            users = listed.append(seen.difference(listed).sort_values())
        return cls(users=pd.Index(users, name=USER), items=pd.Index(dataset.items[ITEM], name=ITEM))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_positions(self, user_ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Row numbers of ``user_ids``; raises ``KeyError`` naming unknown ids."""
        return index_positions(self.users, user_ids, "user", _REBUILD_HINT)

    def item_positions(self, item_ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Column numbers of ``item_ids``; raises ``KeyError`` naming unknown ids."""
        return index_positions(self.items, item_ids, "item", _REBUILD_HINT)

    def matrix(self, frame: pd.DataFrame, value: str | None = WEIGHT) -> sp.csr_matrix:
        """Sparse (n_users, n_items) float32 matrix of ``frame``.

        Entry (u, i) is the sum of ``frame[value]`` over the rows of pair (u, i), or the number
        of rows if ``value`` is None. Use ``(m > 0)`` for a binary matrix.
        """
        rows = self.user_positions(frame[USER])
        cols = self.item_positions(frame[ITEM])
        data = (
            np.ones(len(frame), np.float32) if value is None else frame[value].to_numpy(np.float32)
        )
        matrix = sp.csr_matrix(
            (data, (rows, cols)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        matrix.sum_duplicates()
        matrix.sort_indices()
        return matrix


_REBUILD_HINT = "build the IdIndex from the whole dataset (IdIndex.from_dataset) before splitting"


def index_positions(
    index: pd.Index, ids: pd.Series | np.ndarray | list[str], kind: str, hint: str = ""
) -> np.ndarray:
    """Positions of ``ids`` in ``index`` as int64; ``KeyError`` names the unknown ones."""
    positions = index.get_indexer(np.asarray(ids, dtype=object))
    unknown = positions < 0
    if unknown.any():
        examples = list(pd.unique(np.asarray(ids, dtype=object)[unknown])[:3])
        raise KeyError(
            f"{int(unknown.sum())} {kind} id(s) are not in the index (e.g. {examples})"
            + (f"; {hint}" if hint else "")
        )
    return positions.astype(np.int64)


def recency_weighted(
    pairs: pd.DataFrame, half_life_days: float, now: object | None = None, column: str = WEIGHT
) -> pd.DataFrame:
    """Discount each row's weight by its age: ``w * 0.5 ** (age_days / half_life_days)``.

    ``age`` is ``now - last_timestamp`` (or ``now - timestamp`` if there is no
    ``last_timestamp`` column, as for raw events); ``now`` defaults to the latest time in
    ``pairs`` (the end of the training period). A pair last touched one half-life ago counts
    half, two half-lives ago a quarter. Returns a copy with ``column`` replaced; build the
    matrix from it as usual (``IdIndex.matrix``), so every model can use recency.
    """
    if not isinstance(half_life_days, (int, float)) or not half_life_days > 0:
        raise ValueError(
            f"half_life_days must be a positive number of days, got {half_life_days!r}"
        )
    times = pairs["last_timestamp"] if "last_timestamp" in pairs.columns else pairs[TIMESTAMP]
    require_times(times, "recency_weighted (a half-life in days)")
    reference = times.max() if now is None else pd.Timestamp(now)
    age_days = (reference - times).dt.total_seconds().to_numpy() / 86400.0
    if (age_days < 0).any():
        raise ValueError(
            f"{int((age_days < 0).sum())} rows are later than now={reference}; "
            "recency weighting needs now >= every timestamp"
        )
    weighted = pairs.copy()
    weighted[column] = pairs[column].to_numpy(dtype=float) * 0.5 ** (age_days / half_life_days)
    return weighted


def only_items(matrix: sp.spmatrix, items: np.ndarray) -> sp.csr_matrix:
    """The entries of ``matrix`` in the given columns, every other entry removed.

    ``only_items(M, S)[u, i] = M[u, i]`` if ``i`` is in ``S`` else ``0`` (not stored), e.g. the
    test pairs on new items, on rarely seen items, or on one department. Rows left empty stay
    in the matrix (evaluation skips users without a relevant item).

    Args:
        matrix: (n_users, n_items) sparse matrix.
        items: a (n_items,) boolean mask, or item (column) numbers.

    Returns:
        A float32-or-same-dtype CSR matrix of the same shape, with explicit zeros removed.

    Example:
        >>> m = sp.csr_matrix(np.array([[1, 2, 0], [0, 3, 4]], dtype=np.float32))
        >>> only_items(m, np.array([False, True, True])).toarray().tolist()
        [[0.0, 2.0, 0.0], [0.0, 3.0, 4.0]]
        >>> only_items(m, [0]).nnz
        1
    """
    if not sp.issparse(matrix):
        raise TypeError(
            f"matrix must be a scipy.sparse (n_users, n_items) matrix, got {type(matrix).__name__}"
        )
    array = np.asarray(items)
    n_items = matrix.shape[1]
    if array.dtype == bool:
        if array.shape != (n_items,):
            raise ValueError(
                f"items as a mask must have one entry per column ({n_items}), got shape "
                f"{array.shape}"
            )
        mask = array
    else:
        mask = np.zeros(n_items, dtype=bool)
        mask[checks.positions(array, n_items, "item")] = True
    kept = sp.csr_matrix(matrix).multiply(mask[None, :]).tocsr()
    kept.eliminate_zeros()
    return kept
