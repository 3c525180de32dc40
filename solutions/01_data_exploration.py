"""Worked solutions of notebook 01's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.datasets``,
``nb.pairs``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np
import pandas as pd

from recutils.metrics import gini_index
from recutils.splitting import temporal_split


def exercise_1(nb):
    """Gini of ``[1, 1, 1, 1]`` is 0 and of ``[0, 0, 0, 4]`` is 0.75.

    Even sales: every difference ``|x_i - x_j|`` is 0, so G = 0 (perfect equality).
    One item sells all: the mean is 1; of the 16 ordered pairs, the 6 that pair the seller with
    another item differ by 4 and the rest by 0, so the sum is 24 and
    ``G = 24 / (2 * 4**2 * 1) = 0.75``. With n items the maximum is ``(n - 1) / n``, not 1:
    a catalog of four cannot be more unequal than 0.75.
    """
    return (gini_index([1, 1, 1, 1]), gini_index([0, 0, 0, 4]))


def exercise_2(nb):
    """True on the course's shop: purchases are more concentrated than a same-size sample.

    Purchase pairs are far fewer than all pairs, and fewer draws alone make counts more unequal
    (more items get 0 or 1 by chance), so comparing purchases with all pairs mixes two effects.
    The random sample of all pairs *of the same size* has the small-sample effect only; the
    purchases' Gini is above it, so what people buy is more concentrated on fewer products than
    what they look at, beyond the effect of the smaller sample.
    """
    return bool(nb.gini_of["purchase pairs"] > nb.gini_of["random sample of all pairs, same size"])


def exercise_3(nb):
    """``np.diff(indptr)`` is the number of stored entries of every row, i.e. the distinct items
    of every user (a user-item pair is stored once); count the rows with at least 100.

    No pandas and no loop over users: one subtraction of neighbouring offsets. Users without
    any pair have an empty row (difference 0) and are not counted.
    """
    items_per_user = np.diff(nb.sparse_matrix.indptr)
    return int((items_per_user >= 100).sum())


def exercise_4(nb):
    """Down: with a 7-day window, a smaller share of test events comes from cold users.

    Cold users are those never seen before the cut-off. A later cut-off (7 days before the end
    instead of 30) leaves a longer training period, so more of the test period's users were
    already seen; and the few days after the cut-off contain fewer first-time customers than a
    whole month does. On Online Retail, where many customers buy only once, the drop is large.
    The answer is "down" for every dataset of the course.
    """
    directions = set()
    for dataset in nb.datasets.values():
        events = dataset.interactions
        shares = []
        for window in (7, nb.COLD_WINDOW_DAYS):
            split = temporal_split(
                events, test_start=events["timestamp"].max() - pd.Timedelta(days=window)
            )
            cold = ~split.test["user_id"].isin(split.train["user_id"].unique())
            shares.append(cold.mean())
        directions.add("down" if shares[0] < shares[1] else "up")
    return directions.pop() if len(directions) == 1 else "it depends on the dataset"
