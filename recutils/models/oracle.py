"""The shop's oracle: its true next-view probabilities, as a recommender (a reference point).

With ``taste=False`` or ``departments=False`` the same oracle answers a diagnostic question:
how well could one rank if one knew everything about the users *except* that part of them?
(Notebook 09 asks it of a cross-domain transfer: what is left to learn from another domain.)
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender


class Oracle(Recommender):
    """Scores with the synthetic shop's ground truth, ``truth.view_probability(at)``.

    For the first view of a session starting at ``at`` no model trained on the log can rank
    better in expectation (those views are drawn from this distribution). A test month of any
    events is a different target (tastes drift, products launch, carts and purchases follow
    views), so the oracle's metrics there are a reference point, not a strict ceiling: a model
    can beat it for some users and, in principle, on average. The gap between a model and the
    oracle is roughly what is left to learn. It knows every user's tastes, new users included.
    Only for the shop: user and item numbers must be those of ``IdIndex.from_dataset(shop)``
    (same order as the truth).

    The score is the probability that user ``u``'s next session, starting at ``at``, first
    views product ``i`` (:meth:`~recutils.datasets.shop.ShopTruth.view_probability`)::

        P(i | u) = interest_u(leaf(i)) * softmax over launched j of leaf(i) of
                   (pref(u, j) + appeal_j + new-arrival boost_j)

    with ``interest_u`` the user's seasonal interest in the leaf categories (normalised over
    the leaves) and ``pref(u, j) = 3 style_taste_u[style_j] + 1.5 use_taste_u[use_j]
    - s_u log(price ratio_j) + quality_j``.

    **Parts of the truth.** ``taste=False`` replaces every user's taste (style taste at ``at``,
    use taste, price sensitivity ``s_u``) by the average over all users of the shop, so
    ``pref(u, j)`` becomes the average user's preference ``(1/U) sum_v pref(v, j)`` (pref is
    linear in the taste); ``departments=False`` replaces ``interest_u`` by the users' average
    interest. The formula is otherwise the same, so ``Oracle(at)`` (both True) is the full
    oracle and ``Oracle(at, taste=False, departments=False)`` ranks every user alike: the best
    non-personal list, which knows products' appeal, quality and newness but nothing personal.
    The step from one to another measures what that part of the users is worth.

    Args:
        at: the moment the recommendations are made, e.g. the first day of the test period.
        taste: use each user's own taste (True) or the average user's (False).
        departments: use each user's own interest in the leaf categories (True) or the
            average user's (False).

    Side data of ``fit``:
        truth: ``dataset.truth`` of the shop (:class:`recutils.datasets.shop.ShopTruth`).

    ``score(users)`` returns float32 (len(users), n_items): each row sums to 1 (launched
    products > 0, products not launched at ``at`` 0).

    Example::

        oracle = Oracle(at=protocol.test_start).fit(protocol.train, truth=shop.truth)
        no_taste = Oracle(protocol.test_start, taste=False).fit(protocol.train, truth=shop.truth)
    """

    name = "oracle"
    side_data: ClassVar = {"truth": "the synthetic shop's ground truth, dataset.truth"}
    new_users = "own"  # the truth knows them too

    def __init__(
        self, at: str | pd.Timestamp, *, taste: bool = True, departments: bool = True
    ) -> None:
        try:
            self.at = pd.Timestamp(at)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"at must be a time the shop's period covers, e.g. '2024-12-02' or "
                f"protocol.test_start; got {at!r}"
            ) from error
        if pd.isna(self.at):
            raise ValueError(f"at must be a time, e.g. '2024-12-02'; got {at!r}")
        self.taste = checks.boolean(taste, "taste", "use each user's own taste")
        self.departments = checks.boolean(
            departments, "departments", "use each user's own interest in the leaf categories"
        )

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
        self.truth_ = truth if self.taste and self.departments else self._average_user(truth)

    def _average_user(self, truth: Any) -> Any:
        """A copy of ``truth`` in which every user has the average user's parts that are off."""
        n_users = len(truth.user_ids)

        def everybody(values: np.ndarray) -> np.ndarray:
            return np.repeat(values.mean(axis=0, keepdims=True), n_users, axis=0)

        parts: dict[str, np.ndarray] = {}
        if not self.taste:
            style = everybody(truth.style_taste(self.at))  # the taste at `at`, drift included
            parts.update(
                user_style_start=style,
                user_style_end=style,
                user_drift_start=np.full(n_users, np.datetime64("NaT"), dtype="datetime64[ns]"),
                user_use=everybody(truth.user_use),
                user_price_sensitivity=everybody(truth.user_price_sensitivity),
            )
        if not self.departments:
            parts["user_leaf_interest"] = everybody(truth.user_leaf_interest)
        return dataclasses.replace(truth, **parts)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.truth_.view_probability(self.at, users=users)
