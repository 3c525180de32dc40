"""Worked solutions of notebook 17's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.lists``,
``nb.candidates``, ``nb.d``, ...); ``make test`` runs every one through the notebook's check.
"""

import dataclasses

import numpy as np

from recutils.evaluation import ranked_lists
from recutils.fairness import calibrated_rerank, category_distributions
from recutils.models import IPSBPR


def exercise_1(nb):
    """Formula (17.1): each shown slot adds its position's weight; the new products' share is
    their sum over the total (empty slots, -1, add nothing)."""
    items = nb.lists["oracle"].items
    weights = np.broadcast_to(nb.position_weights(items.shape[1]), items.shape)
    shown = items >= 0
    new = nb.is_new[np.maximum(items, 0)] & shown
    return float(weights[new].sum() / weights[shown].sum())


def exercise_2(nb):
    """Brands play the role of categories: p(brand | u) from the user's history, and the
    greedy re-ranking of (17.4) over ALS's candidates. The disparity falls below ALS's own:
    calibration serves whatever target it is given, here each user's brands, which moves the
    lists' brand shares towards what users chose."""
    interests, names = category_distributions(nb.d.train_and_valid, nb.brands)
    codes = np.searchsorted(names, nb.brands)
    users = nb.als_lists.users
    reranked = calibrated_rerank(nb.candidates.items, nb.candidates.scores, codes,
                                 interests[users], k=nb.K, weight=0.5)
    return round(float(nb.brand_disparity(dataclasses.replace(nb.als_lists, items=reranked))), 3)


def exercise_3(nb):
    """A larger power trusts rare products' interactions still more: the lists' mean appeal
    falls further, below the appeal of what users chose, while the cap M clips many more
    products' weights and logged nDCG falls further."""
    model = IPSBPR(power=1.5, epochs=nb.IPS_EPOCHS, seed=nb.SEED)
    found = ranked_lists(model, nb.d.train_and_valid, nb.d.test, k=nb.K)
    return round(float(nb.list_measures(found)["appeal"].mean()), 2)
