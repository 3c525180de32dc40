"""Category best-sellers: what a shop shows a new user who ticked a few categories at sign-up.

A cold-start baseline without learning (notebook 07): the user's categories come from a
sign-up form (the categories they ticked) and, optionally, from the products they have already
interacted with; within them, and then in the rest of the catalog, products go by popularity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender

#: The options of ``Onboarding(history=...)``.
HISTORY = ("none", "categories", "counts")


class Onboarding(Recommender):
    """Popularity within each user's categories first, then the rest of the catalog.

    With ``c(i)`` the category of item ``i``, ``pop_i`` its number of training users
    (``popularity_``), ``P_u`` the categories user ``u`` ticked (``picks[u]``) and ``n_u(c)``
    the number of the user's training items in category ``c``::

        w_u(c)      = [c in P_u] + h_u(c)
        h_u(c)      = 0             history="none"
                      [n_u(c) > 0]  history="categories"
                      n_u(c)        history="counts"
        score(u, i) = w_u(c(i)) + pop_i / (max_j pop_j + 1)

    The popularity term is below 1, so items are ordered by the weight ``w_u`` of their
    category first and by popularity within it: the best-sellers of the user's categories,
    then the shop's best-sellers. A user with no picks and (with a history option) no training
    items gets plain popularity.

    Without picks, the history options are rules that use a user's history but learn nothing,
    the simple baselines a collaborative model must beat: ``"categories"``, the best-sellers of
    every category the user has touched; ``"counts"``, the user's most-touched category first,
    which matters where popularity cannot order items (among new products, all at 0).

    Args:
        item_category: (n_items,) category label of each item column (strings such as
            ``"Fashion > Women > Dresses"``, or integers), in the item order of the IdIndex
            (``dataset.items["category"]``). Checked against the training matrix in ``fit``.
        picks: ``{user number: categories the user ticked}`` (an iterable of labels of
            ``item_category``); users not in it ticked nothing. ``None``: nobody ticked.
        history: what the user's training items add: ``"none"`` (only the picks),
            ``"categories"`` (each category they fall in, like a ticked one) or ``"counts"``
            (how many fall in each category).

    ``new_users = "own"``: the form is for new users, who get their own scores (popularity
    within their picks), not plain popularity.

    Example: items 0 and 1 are shoes, 2 and 3 bags; user 2 is new and ticked "bags"; item
    popularity is (1, 2, 0, 1). The bags come first, the more popular one first, then the
    best-selling shoe:

        >>> train = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]], "f4"))
        >>> model = Onboarding(["shoes", "shoes", "bags", "bags"], picks={2: {"bags"}})
        >>> model.fit(train).recommend([2], k=3).items.tolist()
        [[3, 2, 1]]

    In a notebook: ``Onboarding(dataset.items["category"], picks).fit(train)``.
    """

    name = "onboarding"
    new_users = "own"

    def __init__(
        self,
        item_category: Any,
        picks: Mapping[int, Iterable[Any]] | None = None,
        history: str = "none",
    ) -> None:
        categories = np.asarray(item_category)
        if categories.ndim != 1 or categories.size == 0:
            raise ValueError(
                "item_category must be a 1-D sequence with one category label per item "
                f"column (e.g. items['category']), got shape {categories.shape}"
            )
        if picks is not None and not isinstance(picks, Mapping):
            raise TypeError(
                "picks must be a mapping {user number: categories the user ticked} or None, "
                f"got {type(picks).__name__}"
            )
        self.item_category = item_category
        self.picks = picks
        self.history = checks.one_of(
            history, "history", HISTORY, "what the user's training items add to the picks"
        )

    def _fit(self, train: sp.csr_matrix) -> None:
        labels = np.asarray(self.item_category)
        self._check_item_rows(labels.size, "item_category")
        if pd.isna(labels).any():
            raise ValueError(
                f"item_category has {int(pd.isna(labels).sum())} missing label(s); give every "
                "item a category (e.g. 'unknown')"
            )
        names, codes = np.unique(labels, return_inverse=True)
        # (n_items, n_categories) one-hot membership
        self.category_of_item_ = sp.csr_matrix(
            (np.ones(codes.size, dtype=np.float32), (np.arange(codes.size), codes)),
            shape=(codes.size, names.size),
        )
        self.categories_ = names
        rows, columns = [], []
        code_of = {name: code for code, name in enumerate(names.tolist())}
        for user, ticked in (self.picks or {}).items():
            if not checks.is_integer(user) or not 0 <= int(user) < self.n_users_:
                raise ValueError(
                    f"picks has the key {user!r}, which is not a user number of the training "
                    f"matrix (0..{self.n_users_ - 1}); key picks by user number "
                    "(IdIndex.user_positions)"
                )
            if isinstance(ticked, str) or not isinstance(ticked, Iterable):
                raise TypeError(
                    f"picks[{user!r}] must be a collection of category labels (e.g. a set), "
                    f"got {type(ticked).__name__}"
                )
            for label in set(ticked):
                code = code_of.get(label)
                if code is None:
                    raise ValueError(
                        f"picks[{user!r}] names the category {label!r}, which no item has; "
                        f"valid labels are those of item_category, e.g. {names[:3].tolist()}"
                    )
                rows.append(int(user))
                columns.append(code)
        # (n_users, n_categories) 1 where the user ticked the category
        self.picked_ = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)),
            shape=(self.n_users_, names.size),
        )
        self.popularity_term_ = self.popularity_ / (self.popularity_.max() + 1.0)

    def category_weights(self, users: Any) -> np.ndarray:
        """``w_u(c)`` of the formula: (len(users), n_categories) float32, columns in the order
        of ``categories_`` (the sorted labels)."""
        self._check_fitted()
        rows = checks.positions(users, self.n_users_, "user")
        weights = self.picked_[rows].toarray()
        if self.history != "none":
            seen = (self.train_[rows] > 0).astype(np.float32)
            counts = (seen @ self.category_of_item_).toarray()
            weights += counts if self.history == "counts" else (counts > 0)
        return weights.astype(np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        weights = self.category_weights(users)
        return (self.category_of_item_ @ weights.T).T + self.popularity_term_[None, :]
