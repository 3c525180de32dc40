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
    items = nb.lists["oracle (true view probabilities)"].items
    weights = np.broadcast_to(nb.position_weights(items.shape[1]), items.shape)
    shown = items >= 0
    new = nb.is_new[np.maximum(items, 0)] & shown
    return float(weights[new].sum() / weights[shown].sum())


def exercise_2(nb):
    """Brands play the role of categories: p(brand | u) from the user's history, and the
    greedy re-ranking of (17.3) over ALS's candidates."""
    interests, names = category_distributions(nb.d.train_and_valid, nb.brands)
    codes = np.searchsorted(names, nb.brands)
    users = nb.als_lists.users
    reranked = calibrated_rerank(nb.candidates.items, nb.candidates.scores, codes,
                                 interests[users], k=nb.K, weight=0.5)
    by_brand = dataclasses.replace(nb.als_lists, items=reranked)
    return bool(nb.brand_disparity(by_brand) < nb.brand_disparity(nb.als_lists))


def exercise_3(nb):
    """A larger power trusts rare products' interactions still more; whether the lists then
    fall below users' own appeal is read from the same measure as section 2."""
    model = IPSBPR(power=1.5, epochs=nb.IPS_EPOCHS, seed=nb.SEED)
    found = ranked_lists(model, nb.d.train_and_valid, nb.d.test, k=nb.K)
    mean_appeal = nb.list_measures(found)["appeal"].mean()
    return bool(mean_appeal < nb.exposure_table.loc["test pairs (what users chose)",
                                                      "mean appeal shown"])
