"""The shop's oracle: its true next-view probabilities, as a recommender (an upper bound)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.models.base import Recommender


class Oracle(Recommender):
    """Scores with the synthetic shop's ground truth, ``truth.view_probability(at)``.

    No model trained on the log can rank a user's next views better on average (they were drawn
    from this distribution), so its metrics are the ceiling of a table; the gap between a model
    and the oracle is what is left to learn. It knows every user's tastes, new users included.
    Only for the shop: user and item numbers must be those of ``IdIndex.from_dataset(shop)``
    (same order as the truth).

    Args:
        at: the moment the recommendations are made, e.g. the first day of the test period.

    Side data of ``fit``:
        truth: ``dataset.truth`` of the shop (:class:`recutils.datasets.shop.ShopTruth`).

    Example::

        oracle = Oracle(at=protocol.test_start).fit(protocol.train, truth=shop.truth)
    """

    name = "oracle"
    side_data: ClassVar = {"truth": "the synthetic shop's ground truth, dataset.truth"}
    new_users = "own"  # the truth knows them too

    def __init__(self, at: str | pd.Timestamp) -> None:
        self.at = pd.Timestamp(at)

    def _fit(self, train: sp.csr_matrix, *, truth: Any = None) -> None:
        if not hasattr(truth, "view_probability"):
            raise TypeError(
                "Oracle.fit needs truth=, the shop's ground truth (load('shop').truth); real "
                f"datasets have none, got {type(truth).__name__}"
            )
        expected = (len(truth.user_ids), len(truth.item_ids))
        if train.shape != expected:
            raise ValueError(
                f"the training matrix has shape {train.shape} but the shop's truth has {expected} "
                "(users, items); build the matrix with IdIndex.from_dataset(shop)"
            )
        self.truth_ = truth

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.truth_.view_probability(self.at, users=users)
