"""The shop's oracle: its true next-view probabilities, as a recommender (an upper bound)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.models.base import Recommender


class Oracle(Recommender):
    """Scores with the synthetic shop's ground truth, ``truth.view_probability(at)``.

    No model trained on the log can rank a user's next views better on average (they were drawn
    from this distribution), so its metrics are the ceiling of a table; the gap between a model
    and the oracle is what is left to learn. Only for the shop: user and item numbers must be
    those of ``IdIndex.from_dataset(shop)`` (same order as the truth).

    Args:
        truth: ``dataset.truth`` of the shop (:class:`recutils.datasets.shop.ShopTruth`).
        at: the moment the recommendations are made, e.g. the first day of the test period.
    """

    name = "oracle"

    def __init__(self, truth: object, at: str | pd.Timestamp) -> None:
        if not hasattr(truth, "view_probability"):
            raise TypeError(
                "truth must be the shop's ground truth (load('shop').truth); real datasets have "
                f"none, got {type(truth).__name__}"
            )
        self.truth = truth
        self.at = pd.Timestamp(at)

    def __repr__(self) -> str:
        return f"Oracle(at={str(self.at)!r})"

    def _fit(self, train: sp.csr_matrix) -> None:
        expected = (len(self.truth.user_ids), len(self.truth.item_ids))
        if train.shape != expected:
            raise ValueError(
                f"the training matrix has shape {train.shape} but the shop's truth has {expected} "
                "(users, items); build the matrix with IdIndex.from_dataset(shop)"
            )

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.truth.view_probability(self.at, users=users)
