"""Simple rules over the order of a user's history: the baselines a sequential model must beat.

A sequence model such as :class:`~recutils.models.sequential.SASRec` reads a user's history
``s_1, ..., s_n`` (item numbers, oldest first, from
:func:`~recutils.models.sequential.user_sequences`) and scores every item as the next one. Much
of what it can learn is also available to a rule with no training at all: the next product is
often in the same category as the last one, is one the user looked at a minute ago, or is one
that followed the last product in other users' histories. These three rules take the same
side data as SASRec (``sequences``) and keep the same contract (:mod:`recutils.models.base`):

====================  =========================================================================
rule                  the user's evidence ``s_u(i)`` (an integer >= 0, 0 = no evidence)
====================  =========================================================================
LastCategoryPopular   ``[category(i) = category(s_n)]``: 1 in the last item's category
RecentlyViewed        ``1 + t``, ``t`` = the position of ``i``'s last occurrence among the last
                      ``max_length`` items (the most recent item has the largest value)
LastItemTransitions   ``C[s_n, i]``: how often ``i`` came within ``window`` steps after ``s_n``
                      in the training histories (a first-order Markov chain, or co-occurrence)
====================  =========================================================================

and every rule scores

    score(u, i) = s_u(i) + pop(i) / (P + 1)                                       (float32)

with ``pop(i)`` the number of training users of item ``i`` (``popularity_``) and ``P`` its
maximum: the fraction is in ``[0, 1)``, so the evidence orders the list and the training
popularity breaks ties within it and fills the rest of the list (an empty history ranks by
popularity alone). In float32 the tie-break is exact while ``s_u(i) * (P + 1) < 2**24``.

**Which protocol suits which rule.** ``recommend`` and
:func:`recutils.evaluation.ranked_lists` leave out the user's training items. Every item of a
history built from training events is a training item, so under such a protocol
:class:`RecentlyViewed` has nothing left to recommend and falls back to popularity (and
:class:`LastItemTransitions` cannot recommend the item again). Evaluate the rule where a repeat
counts: the next *event* (including a return to a product seen before), e.g. with
:meth:`SequenceRule.score_sequences` and no exclusion, or ``recommend(...,
exclude_seen=False)``.

**Cost.** Scoring ``B`` histories is O(B * n_items) (one dense row each); fitting
:class:`LastItemTransitions` is O(total history length * window).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender
from recutils.models.sequential import _check_history, checked_sequences

__all__ = ["LastCategoryPopular", "LastItemTransitions", "RecentlyViewed", "SequenceRule"]

_SEQUENCES = "one array of item numbers per user row, oldest first"


class SequenceRule(Recommender):
    """Base of the rules: stores the histories, adds the popularity tie-break, scores any
    history with :meth:`score_sequences`. A rule implements ``_evidence`` (and ``_learn`` if
    it learns more than the histories and the popularity).

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        sequences_: the checked histories, one int64 array per user row.
        tie_break_: float32 (n_items,), ``pop(i) / (P + 1)``, in ``[0, 1)``.
    """

    side_data: ClassVar = {"sequences": _SEQUENCES}
    new_users = "own"  # an empty history ranks by training popularity

    def _fit(self, train: sp.csr_matrix, *, sequences: Any = None, **side_data: Any) -> None:
        if sequences is None:
            raise TypeError(
                f"{type(self).__name__}.fit needs sequences=, one history per user row, e.g. "
                "fit(train, sequences=user_sequences(events, index, before=test_start))"
            )
        self.sequences_ = checked_sequences(sequences, *train.shape)
        top = float(self.popularity_.max())
        self.tie_break_ = (self.popularity_.astype(np.float64) / (top + 1.0)).astype(np.float32)
        self._learn(train, **side_data)

    def _learn(self, train: sp.csr_matrix, **side_data: Any) -> None:
        """What the rule learns besides the histories (nothing by default)."""

    @abstractmethod
    def _evidence(self, histories: list[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), n_items): ``s_u(i)`` for non-empty checked histories."""

    def _scores_of(self, histories: list[np.ndarray]) -> np.ndarray:
        scores = np.broadcast_to(self.tie_break_, (len(histories), self.n_items_)).copy()
        filled = [row for row, history in enumerate(histories) if history.size]
        if filled:
            scores[filled] += self._evidence([histories[row] for row in filled])
        return scores

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._scores_of([self.sequences_[user] for user in users])

    def score_sequences(self, histories: Sequence[Any]) -> np.ndarray:
        """Scores of every item as the next one after each history, e.g. a session fed one
        event at a time (the same method as :meth:`SASRec.score_sequences`).

        Args:
            histories: a list of histories, each a 1-D array of item numbers, oldest first.

        Returns:
            float32 (len(histories), n_items), ``s(i) + pop(i) / (P + 1)`` per history.
        """
        self._check_fitted()
        if isinstance(histories, (str, bytes)) or (
            isinstance(histories, np.ndarray) and histories.ndim == 1 and histories.size
        ):
            raise TypeError(
                "histories must be a list of histories (one array of item numbers each), got "
                f"a single {type(histories).__name__}; to score one history pass [history]"
            )
        checked = [_check_history(h, f"histories[{k}]") for k, h in enumerate(histories)]
        for k, history in enumerate(checked):
            if history.size and history.max() >= self.n_items_:
                bad = [int(v) for v in np.unique(history[history >= self.n_items_])[:5]]
                raise ValueError(
                    f"histories[{k}] holds items {bad} outside the catalog: the rule was "
                    f"fitted on {self.n_items_} items, numbered 0..{self.n_items_ - 1}"
                )
        return self._scores_of(checked)


class LastCategoryPopular(SequenceRule):
    """The best-sellers of the category of the user's last item: no training beyond counting.

    ``s_u(i) = 1`` if ``category(i) = category(s_n)`` (``s_n`` the last item of the history),
    else 0, so ``score(u, i) = [category(i) = category(s_n)] + pop(i) / (P + 1)``: the
    category's items by training popularity, then every other item by training popularity.

    Side data of ``fit``:
        sequences: ``sequences[u]`` = the items of user row ``u``, oldest first (e.g. from
            :func:`~recutils.models.sequential.user_sequences`, cut at the split).
        item_categories: one label per item column (n_items,), any hashable values (e.g.
            ``dataset.items["category"]`` in the order of the IdIndex); no missing values.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> train = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1.0]]))
        >>> rule = LastCategoryPopular().fit(
        ...     train, sequences=[[0, 1], [3, 1], [2]], item_categories=["a", "a", "b", "b"])
        >>> rule.recommend([0, 2], k=2, exclude_seen=False).items.tolist()
        [[1, 0], [3, 2]]

    Attributes set by :meth:`fit` (besides those of :class:`SequenceRule`):
        category_codes_: int64 (n_items,), the category of each item as a number.
        categories_: the distinct labels, ``categories_[category_codes_[i]]`` is item i's.
    """

    name = "last-category best-sellers"
    side_data: ClassVar = {
        "sequences": _SEQUENCES,
        "item_categories": "one category label per item column",
    }

    def _learn(self, train: sp.csr_matrix, *, item_categories: Any = None) -> None:
        if item_categories is None:
            raise TypeError(
                "LastCategoryPopular.fit needs item_categories=, one label per item column, "
                "e.g. dataset.items['category'] (in the catalog order of the IdIndex)"
            )
        if isinstance(item_categories, (str, bytes)):
            raise TypeError("item_categories must be one label per item, got a single string")
        labels = pd.Series(np.asarray(item_categories, dtype=object).ravel())
        self._check_item_rows(len(labels), "item_categories")
        missing = np.flatnonzero(labels.isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"item_categories has {missing.size} missing labels (e.g. items "
                f"{missing[:3].tolist()}); give every item a category (e.g. 'unknown')"
            )
        codes, uniques = pd.factorize(labels, sort=False)
        self.category_codes_ = codes.astype(np.int64)
        self.categories_ = np.asarray(uniques, dtype=object)

    def _evidence(self, histories: list[np.ndarray]) -> np.ndarray:
        last = self.category_codes_[[history[-1] for history in histories]]
        return (self.category_codes_[None, :] == last[:, None]).astype(np.float32)


class RecentlyViewed(SequenceRule):
    """The user's most recent distinct items, most recent first, then the best-sellers.

    With ``w`` the last ``L = max_length`` items of the history (``w_1`` oldest) and ``t(i)``
    the position of ``i``'s *last* occurrence in ``w`` (1..L), ``s_u(i) = t(i)`` for items in
    ``w`` and 0 for the others. Nothing is learned but the popularity.

    Mind the protocol: leaving out the user's training items (``recommend``'s default,
    :func:`~recutils.evaluation.ranked_lists`) removes the whole history when it holds training
    events, and the rule becomes :class:`~recutils.models.MostPopular`. It answers "what will
    the user look at next, returns included": score with ``score_sequences`` or
    ``recommend(..., exclude_seen=False)``.

    Args:
        max_length: ``L``, the most recent items read per history (an int >= 1); the list
            holds at most ``L`` distinct recent items before the best-sellers.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> train = sp.csr_matrix(np.eye(3, 4, dtype=np.float32))
        >>> rule = RecentlyViewed().fit(train, sequences=[[2, 0, 1, 0], [], [3]])
        >>> rule.recommend([0], k=3, exclude_seen=False).items.tolist()  # 0 is the most recent
        [[0, 1, 2]]
    """

    name = "recently viewed"

    def __init__(self, max_length: int = 50) -> None:
        self.max_length = checks.positive_int(max_length, "max_length", "most recent items read")

    def _evidence(self, histories: list[np.ndarray]) -> np.ndarray:
        evidence = np.zeros((len(histories), self.n_items_), dtype=np.float32)
        for row, history in enumerate(histories):
            window = history[-self.max_length :]
            items, from_end = np.unique(window[::-1], return_index=True)
            evidence[row, items] = window.size - from_end  # 1..L, the last occurrence
        return evidence


class LastItemTransitions(SequenceRule):
    """Item-to-item from the last event: the items that followed it in the training histories.

    Counts over the training histories ``h`` (``sequences``), for every pair of steps at most
    ``window`` apart:

        C[j, i] = #{(h, t, o): h_t = j, h_{t+o} = i, 1 <= o <= window, i != j}

    (``symmetric=True`` also counts ``i`` *before* ``j``: co-occurrence within ``window``
    steps). With ``s_n`` the last item of the history, ``s_u(i) = C[s_n, i]``: for
    ``window=1`` the next-item counts of a first-order Markov chain. Items that never followed
    ``s_n`` rank by training popularity.

    Args:
        window: steps after an item that count as following it (an int >= 1).
        symmetric: count both directions (co-occurrence) instead of "i after j" only.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> train = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
        >>> rule = LastItemTransitions().fit(train, sequences=[[0, 1, 2], [0, 1, 3, 0, 2]])
        >>> rule.transitions_.toarray()[0].tolist()  # after 0: 1 twice, 2 once
        [0.0, 2.0, 1.0, 0.0]
        >>> rule.score_sequences([[3, 0]]).argmax(axis=1).tolist()
        [1]

    Attributes set by :meth:`fit` (besides those of :class:`SequenceRule`):
        transitions_: float32 CSR (n_items, n_items), ``C`` (zero diagonal).
    """

    name = "item-to-item (last item)"

    def __init__(self, window: int = 1, symmetric: bool = False) -> None:
        self.window = checks.positive_int(window, "window", "steps after an item that count")
        self.symmetric = checks.boolean(symmetric, "symmetric", "count both directions")

    def _learn(self, train: sp.csr_matrix) -> None:
        sources, targets = [], []
        for offset in range(1, self.window + 1):
            for history in self.sequences_:
                if history.size > offset:
                    sources.append(history[:-offset])
                    targets.append(history[offset:])
        source = np.concatenate(sources) if sources else np.zeros(0, dtype=np.int64)
        target = np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64)
        if self.symmetric:
            source, target = np.concatenate([source, target]), np.concatenate([target, source])
        different = source != target
        counts = sp.csr_matrix(
            (
                np.ones(int(different.sum()), dtype=np.float32),
                (source[different], target[different]),
            ),
            shape=(self.n_items_, self.n_items_),
        )
        counts.sum_duplicates()
        self.transitions_ = counts

    def _evidence(self, histories: list[np.ndarray]) -> np.ndarray:
        last = np.array([history[-1] for history in histories], dtype=np.int64)
        return self.transitions_[last].toarray().astype(np.float32, copy=False)

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        """C[j, :] + the popularity tie-break: what followed j, most often first."""
        return self.transitions_[items].toarray() + self.tie_break_[None, :]
