"""Worked solutions of notebook 09's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.events``,
``nb.truth_per_user``, ``nb.per_user``, ...); ``make test`` runs every one through the
notebook's check.
"""

import numpy as np
import pandas as pd

from recutils.evaluation import ranked_lists
from recutils.interactions import user_item_pairs
from recutils.models import ContentBased
from recutils.uncertainty import paired_test


def exercise_1(nb):
    """Section 1's history with the opening moved 120 days earlier, then the same count.

    Only the target's events before the opening day are dropped, so an older department keeps
    more home events; the test users and the test month do not change. A user new to the home
    department is one with no home pair in training. With three more months of home data about
    half of the notebook's cold users have bought or viewed a home product before the test, so
    the cold group shrinks to less than half: an older department leaves fewer users for
    transfer to help, and the models trained on the target alone have more to learn from.
    """
    opened = nb.test_start - pd.Timedelta(days=180)
    before_opening = nb.event_in_target & (nb.events["timestamp"] < opened)
    history = nb.events[(nb.events["timestamp"] < nb.test_start) & ~before_opening]
    train = nb.index.matrix(user_item_pairs(history, nb.EVENT_WEIGHTS))
    home_items = np.asarray((train[:, nb.in_target] > 0).sum(axis=1)).ravel()
    return int((home_items[nb.test_users] == 0).sum())


def exercise_2(nb):
    """``(departments - average) / (oracle - average)`` of the mean nDCG@10 of the same users.

    The rows are means over the same cold users, so the ratio of their differences is the share
    of the oracle's lift over the non-personal list that knowing the user's home departments
    gives on its own: about half, more than taste alone gives (section 3's line). The two
    shares add up to less than 1: the parts help each other (knowing the department tells
    which products compete for the view, knowing the taste which of them wins), so the
    oracle's gain is more than the sum of the two steps taken alone.
    """
    mean = {name: frame["ndcg@10"].mean() for name, frame in nb.truth_per_user.items()}
    average = mean["average user"]
    oracle = mean["oracle (own taste + own departments)"]
    return float((mean["+ own departments"] - average) / (oracle - average))


def exercise_3(nb):
    """Centre each domain's vectors, refit the content profile on both domains, paired test.

    Centring per domain removes the direction that separates every fashion text from every home
    text, so a profile made of fashion products no longer points to whichever home products
    sit closest to fashion as a whole. It changes little: the centred profile stays below the
    home best-sellers for users with no home history (the interval lies below 0), so the
    domain direction was not what held it back; the text space does not carry the latent style
    the shop shares between the domains (a sporty dress is "athletic", a sporty lamp
    "industrial").
    """
    domain = nb.items["domain"].to_numpy()
    centred = np.array(nb.item_vectors, dtype=np.float32, copy=True)
    for name in np.unique(domain):
        centred[domain == name] -= centred[domain == name].mean(axis=0)
    model = ContentBased(popularity_weight=nb.POPULARITY_WEIGHT, center=False)
    frame = ranked_lists(
        model, nb.train, nb.test, k=10, candidates=nb.in_target, item_vectors=centred
    ).per_user(10)
    cold = frame.loc[nb.group_of(frame) == "0", "ndcg@10"]
    test = paired_test(cold, nb.baseline, seed=nb.SEED)
    return bool(test.low > 0)
