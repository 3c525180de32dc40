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

from recutils.schema import EVENT, ITEM, TIMESTAMP, USER, WEIGHT, Dataset

#: Default importance of each event type when several are merged into one pair weight.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


def user_item_pairs(
    interactions: pd.DataFrame,
    event_weights: Mapping[str, float] | None = None,
    events: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Collapse events into one row per (user, item) pair.

    ``weight`` of a pair = sum over its events of ``event_weights[event]`` (events of types not in
    ``event_weights`` count 0; ``None`` uses :data:`DEFAULT_EVENT_WEIGHTS`, and the event's own
    ``weight`` column is ignored: a purchase of 3 units counts like a purchase of 1). ``timestamp``
    is the pair's *first* event (when the user discovered the item), ``last_timestamp`` its last,
    ``events`` the number of events, ``event`` the strongest event type reached (by weight).

    Args:
        interactions: events in the course schema.
        event_weights: weight per event type; e.g. ``{"purchase": 1.0}`` keeps only purchases.
        events: if given, only events of these types are used at all.

    Returns:
        A frame with columns ``user_id, item_id, timestamp, last_timestamp, event, weight,
        events``, sorted by user then first time, with a fresh RangeIndex. Pairs whose weight is
        0 are dropped.
    """
    weights = dict(DEFAULT_EVENT_WEIGHTS if event_weights is None else event_weights)
    bad = {k: v for k, v in weights.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"event_weights must be finite and >= 0, got {bad}")
    frame = interactions
    if events is not None:
        frame = frame[frame[EVENT].isin(events)]
    points = frame[EVENT].map(weights).fillna(0.0).astype(float)
    frame = frame.assign(_points=points.to_numpy())
    frame = frame[frame["_points"] > 0]
    grouped = frame.groupby([USER, ITEM], sort=False, observed=True)
    pairs = grouped.agg(
        timestamp=(TIMESTAMP, "min"),
        last_timestamp=(TIMESTAMP, "max"),
        weight=("_points", "sum"),
        events=("_points", "size"),
        _strongest=("_points", "max"),
    ).reset_index()
    strongest_name = {v: k for k, v in sorted(weights.items(), key=lambda kv: kv[1])}
    pairs[EVENT] = pairs.pop("_strongest").map(strongest_name).astype(str)
    columns = [USER, ITEM, TIMESTAMP, "last_timestamp", EVENT, WEIGHT, "events"]
    return pairs[columns].sort_values([USER, TIMESTAMP, ITEM], kind="stable").reset_index(drop=True)


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
        """Users: every user with an interaction (plus those of ``dataset.users``), sorted;
        items: the whole catalog, in catalog order."""
        user_ids = pd.unique(dataset.interactions[USER])
        if dataset.users is not None:
            user_ids = pd.unique(
                np.concatenate(
                    [dataset.users[USER].to_numpy(dtype=object), np.asarray(user_ids, dtype=object)]
                )
            )
        return cls(
            users=pd.Index(sorted(user_ids), name=USER),
            items=pd.Index(dataset.items[ITEM], name=ITEM),
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_positions(self, user_ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Row numbers of ``user_ids``; raises ``KeyError`` naming unknown ids."""
        return _positions(self.users, user_ids, "user")

    def item_positions(self, item_ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Column numbers of ``item_ids``; raises ``KeyError`` naming unknown ids."""
        return _positions(self.items, item_ids, "item")

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


def _positions(index: pd.Index, ids: pd.Series | np.ndarray | list[str], kind: str) -> np.ndarray:
    positions = index.get_indexer(np.asarray(ids, dtype=object))
    unknown = positions < 0
    if unknown.any():
        examples = list(pd.unique(np.asarray(ids, dtype=object)[unknown])[:3])
        raise KeyError(
            f"{int(unknown.sum())} {kind} id(s) are not in the index (e.g. {examples}); "
            f"build the IdIndex from the whole dataset (IdIndex.from_dataset) before splitting"
        )
    return positions.astype(np.int64)
