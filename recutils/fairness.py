"""Fair exposure: who gets seen in the lists, measured against who is wanted, and one correction.

A shop's recommendations decide which brands and products are *seen*. Provider fairness
(Singh and Joachims, 2018; Biega et al., 2018) compares each group's share of the attention
the lists give with its share of what users actually wanted:

* **exposure** of an item: the attention its list positions get, summed over users, with the
  position weight of discounted cumulative gain, ``1 / log2(rank + 1)`` for ranks 1..k
  (:func:`item_exposure`); a group's exposure is its items' sum;
* **relevance** of a group: its share of the held-out (test) pairs: what users turned to;
* :func:`group_exposure` puts both side by side per group (a brand, new products): a ratio
  above 1 means the lists show the group more than users' choices would justify. The Gini
  index of item exposure (:func:`recutils.metrics.gini_index`) measures its concentration.

**Calibrated re-ranking** (Steck, 2018) is a post-processing correction: re-rank a model's
candidates so that the categories of a user's list follow the categories of the user's
history, ``p(g | u)`` (:func:`category_distributions`), instead of drifting to the user's (and
everyone's) main category. Greedily, for positions 1..k, add the candidate ``i`` maximising::

    (1 - weight) * sum_{j in list + i} s(u, j) - weight * KL(p(. | u) || q~(. | list + i))

with ``q(g | list)`` the share of the list's items in category ``g`` and
``q~ = (1 - smoothing) q + smoothing p`` (so the divergence stays finite).
:func:`miscalibration` is that divergence for a list. ``weight = 0`` keeps the model's order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks

#: Steck's smoothing of the list's category distribution towards the user's (``alpha``, 0.01).
DEFAULT_SMOOTHING: float = 0.01


def position_weights(k: int) -> np.ndarray:
    """Attention of ranks 1..k: ``1 / log2(rank + 1)`` (DCG's discount), float64 (k,)."""
    k = checks.positive_int(k, "k", "list length")
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def item_exposure(recommended: Any, n_items: int) -> np.ndarray:
    """Each item's exposure: the sum over users of the position weight of the rank it is shown at.

    Args:
        recommended: int (n_users, k) lists, best first, ``-1`` = empty slot.
        n_items: catalog size.

    Returns:
        float64 (n_items,); items never listed get 0.

    Example:
        >>> item_exposure([[0, 1], [1, -1]], 3).round(3)
        array([1.   , 1.631, 0.   ])
    """
    n_items = checks.positive_int(n_items, "n_items", "catalog size")
    lists = checks.item_lists(recommended, n_items)
    weights = np.broadcast_to(
        position_weights(max(lists.shape[1], 1))[: lists.shape[1]], lists.shape
    )
    shown = lists >= 0
    return np.bincount(lists[shown], weights=weights[shown], minlength=n_items)


def _item_labels(item_groups: Any, n_items: int, name: str = "item_groups") -> pd.Series:
    labels = pd.Series(np.asarray(item_groups, dtype=object))
    if len(labels) != n_items:
        raise ValueError(
            f"{name} must give one group per item ({n_items}), got {len(labels)} labels"
        )
    if labels.isna().any():
        raise ValueError(
            f"{name} has {int(labels.isna().sum())} missing labels; give every item a "
            "group (e.g. 'unknown')"
        )
    return labels


def group_exposure(recommended: Any, item_groups: Any, relevant: Any = None) -> pd.DataFrame:
    """Each group's share of exposure, beside its share of relevant pairs.

    Args:
        recommended: int (n_users, k) lists (``-1`` = empty slot).
        item_groups: (n_items,) group of each item (a brand, "new"/"older", a category).
        relevant: optional scipy.sparse (n_users, n_items): what users turned to (test pairs).

    Returns:
        One row per group, sorted by exposure share: ``items``, ``exposure share`` (of the
        lists' total exposure) and, with ``relevant``, ``relevance share`` (of its stored
        pairs) and ``exposure / relevance`` (NaN for a group without relevant pairs).

    Example:
        >>> group_exposure([[0, 1]], ["a", "b"])["exposure share"].round(3).tolist()
        [0.613, 0.387]
    """
    labels = _item_labels(item_groups, len(np.asarray(item_groups, dtype=object)))
    exposure = item_exposure(recommended, len(labels))
    if exposure.sum() == 0:
        raise ValueError("recommended lists are empty: there is no exposure to share")
    table = pd.DataFrame({"group": labels, "exposure": exposure})
    grouped = table.groupby("group", sort=True)
    result = pd.DataFrame(
        {
            "items": grouped.size(),
            "exposure share": grouped["exposure"].sum() / exposure.sum(),
        }
    )
    if relevant is not None:
        matrix = checks.sparse_matrix(relevant, "relevant")
        if matrix.shape[1] != len(labels):
            raise ValueError(
                f"relevant has {matrix.shape[1]} item columns but item_groups {len(labels)}"
            )
        pairs = np.bincount(sp.csr_matrix(matrix).indices, minlength=len(labels))
        if pairs.sum() == 0:
            raise ValueError("relevant has no pairs: nothing to compare exposure with")
        share = pd.Series(pairs, index=labels.index).groupby(labels).sum() / pairs.sum()
        result["relevance share"] = share
        ratio = result["exposure share"] / result["relevance share"].where(share > 0)
        result["exposure / relevance"] = ratio
    result.index.name = "group"
    return result.sort_values("exposure share", ascending=False, kind="stable")


def category_distributions(train: Any, item_categories: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each user's distribution over categories, ``p(g | u)``, from interaction weights.

    ``p(g | u) = sum of u's weights on items of g / sum of u's weights`` (a user without
    interactions gets the catalog's distribution of interactions).

    Args:
        train: scipy.sparse (n_users, n_items) interaction weights.
        item_categories: (n_items,) category label of each item.

    Returns:
        ``(distributions, categories)``: float64 (n_users, n_categories) rows summing to 1, and
        the category labels of its columns (sorted); :func:`calibrated_rerank` and
        :func:`miscalibration` take item categories as column numbers:
        ``np.searchsorted(categories, item_categories)``.
    """
    matrix = sp.csr_matrix(checks.sparse_matrix(train, "train"), dtype=np.float64)
    labels = _item_labels(item_categories, matrix.shape[1], "item_categories")
    try:  # the labels themselves (integer ids stay integers, so searchsorted finds them)
        categories, codes = np.unique(labels.to_numpy(), return_inverse=True)
    except TypeError:  # labels of mixed types (3 and "3") do not sort: compare them as text
        categories, codes = np.unique(labels.astype(str).to_numpy(), return_inverse=True)
    if matrix.sum() <= 0:
        raise ValueError("train has no interactions: there is no distribution over categories")
    membership = sp.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes)),
        shape=(len(codes), len(categories)),
    )
    weights = np.asarray((matrix @ membership).todense())
    totals = weights.sum(axis=1, keepdims=True)
    overall = weights.sum(axis=0) / max(weights.sum(), np.finfo(np.float64).tiny)
    return np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), overall), categories


def _distributions(target: Any, n_users: int | None = None) -> np.ndarray:
    array = np.asarray(target, dtype=np.float64)
    if array.ndim != 2 or (n_users is not None and array.shape[0] != n_users):
        raise ValueError(
            f"target must be (n_users, n_categories) = ({n_users or 'n_users'}, ...) "
            f"distributions, got shape {array.shape}"
        )
    if (array < 0).any() or not np.allclose(array.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("target's rows must be distributions (>= 0, summing to 1)")
    return array


def _item_codes(item_categories: Any, n_categories: int) -> np.ndarray:
    codes = np.asarray(item_categories)
    if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            "item_categories must be a 1-D integer array of column numbers of target "
            f"(np.searchsorted(categories, labels)), got {codes.dtype} of shape {codes.shape}"
        )
    if codes.size and (codes.min() < 0 or codes.max() >= n_categories):
        raise ValueError(f"item_categories must lie in 0..{n_categories - 1}")
    return codes.astype(np.int64, copy=False)


def _kl(target: np.ndarray, counts: np.ndarray, smoothing: float) -> np.ndarray:
    """KL(p || q~) over the last axis; counts -> q, with lists of zero length giving q = p."""
    totals = counts.sum(axis=-1, keepdims=True)
    q = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), target)
    smoothed = (1.0 - smoothing) * q + smoothing * target
    ratio = np.where(target > 0, target / np.where(smoothed > 0, smoothed, 1.0), 1.0)
    return (target * np.log(ratio)).sum(axis=-1)


def miscalibration(
    recommended: Any, item_categories: Any, target: Any, smoothing: float = DEFAULT_SMOOTHING
) -> np.ndarray:
    """Steck's ``C_KL``: KL(p(. | u) || q~(. | list)) per user, float64 (n_users,).

    Args:
        recommended: int (n_users, k) lists (``-1`` = empty slot).
        item_categories: (n_items,) category column of each item (see
            :func:`category_distributions`).
        target: (n_users, n_categories) ``p(g | u)``.
        smoothing: ``alpha`` of ``q~ = (1 - alpha) q + alpha p``, in (0, 1].
    """
    target_array = _distributions(target)
    codes = _item_codes(item_categories, target_array.shape[1])
    lists = checks.item_lists(recommended, len(codes))
    target_array = _distributions(target_array, lists.shape[0])
    smoothing = checks.number(
        smoothing, "smoothing", "Steck's alpha", minimum=0, maximum=1, above_minimum=True
    )
    counts = np.zeros_like(target_array)
    rows, slots = np.nonzero(lists >= 0)
    np.add.at(counts, (rows, codes[lists[rows, slots]]), 1.0)
    return _kl(target_array, counts, smoothing)


def calibrated_rerank(
    candidates: Any,
    candidate_scores: Any,
    item_categories: Any,
    target: Any,
    k: int,
    weight: float,
    smoothing: float = DEFAULT_SMOOTHING,
) -> np.ndarray:
    """Steck's (2018) greedy calibrated re-ranking of each user's candidates (module docstring).

    Args:
        candidates: int (n_users, n) candidate items per user, e.g. ``model.recommend(users,
            k=100).items`` (``-1`` = empty slot, never chosen).
        candidate_scores: float (n_users, n) the model's scores of them.
        item_categories: (n_items,) category column of each item.
        target: (n_users, n_categories) ``p(g | u)``, e.g. from :func:`category_distributions`.
        k: list length (at most ``n``).
        weight: ``lambda`` in [0, 1]: 0 = the model's order, 1 = calibration alone.
        smoothing: Steck's ``alpha``.

    Returns:
        int64 (n_users, k) lists, ``-1`` where a user has fewer than ``k`` candidates.

    Example:
        >>> lists = calibrated_rerank([[0, 1, 2]], [[3.0, 2.9, 1.0]], np.array([0, 0, 1]),
        ...                           [[0.5, 0.5]], k=2, weight=0.5)
        >>> lists.tolist()
        [[0, 2]]
    """
    target_array = _distributions(target)
    codes = _item_codes(item_categories, target_array.shape[1])
    items = checks.item_lists(candidates, len(codes), "candidates")
    scores = np.asarray(candidate_scores, dtype=np.float64)
    if scores.shape != items.shape:
        raise ValueError(
            f"candidate_scores has shape {scores.shape} but candidates {items.shape}; give one "
            "score per candidate"
        )
    target_array = _distributions(target_array, items.shape[0])
    k = checks.positive_int(k, "k", "list length")
    if k > items.shape[1]:
        raise ValueError(f"k={k} is more than the {items.shape[1]} candidates per user")
    weight = checks.number(weight, "weight", "lambda of the trade-off", minimum=0, maximum=1)
    smoothing = checks.number(
        smoothing, "smoothing", "Steck's alpha", minimum=0, maximum=1, above_minimum=True
    )
    available = items >= 0
    if not np.isfinite(scores[available]).all():
        raise ValueError(
            "candidate_scores must be finite wherever a candidate is given (NaN is allowed "
            "only in empty slots, -1, as recommend() returns them)"
        )
    ordered = np.sort(np.where(available, items, -1), axis=1)
    if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
        raise ValueError("candidates repeat an item in a user's row; give each item once")
    scores = np.where(available, scores, 0.0)
    candidate_codes = codes[np.where(available, items, 0)]
    n_users, n_categories = target_array.shape
    rows = np.arange(n_users)
    counts = np.zeros((n_users, n_categories))
    score_sum = np.zeros(n_users)
    chosen = np.full((n_users, k), -1, dtype=np.int64)
    one_hot = np.eye(n_categories)[candidate_codes]  # (n_users, n, n_categories)
    for position in range(k):
        trial = counts[:, None, :] + one_hot
        divergence = _kl(target_array[:, None, :], trial, smoothing)
        objective = (1.0 - weight) * (score_sum[:, None] + scores) - weight * divergence
        objective = np.where(available, objective, -np.inf)
        best = np.argmax(objective, axis=1)
        has_one = available[rows, best]
        chosen[has_one, position] = items[rows[has_one], best[has_one]]
        counts[has_one] += one_hot[rows[has_one], best[has_one]]
        score_sum[has_one] += scores[rows[has_one], best[has_one]]
        available[rows[has_one], best[has_one]] = False
    return chosen
