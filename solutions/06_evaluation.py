"""Worked solutions of notebook 06's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.per_user``,
``nb.lists``, ``nb.models``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np
import pandas as pd


def exercise_1(nb):
    """About two standard errors: ``n = (2 sd(d_u) / mean(d_u))^2``, in thousands.

    The standard error of a mean of ``n`` per-user differences is ``sd / sqrt(n)``; the mean
    sits two standard errors from 0 when ``sqrt(n) = 2 sd / mean``. The per-user differences of
    two good models are mostly 0 (both miss) with a few large values either way, so their
    standard deviation is many times the mean difference, and squaring that ratio gives
    nearly twice the test month's users: the difference between the two best models is too
    small for one month of this shop to show it. (To detect a difference of this size 80% of
    the time, a test needs about twice as many users again: ``n = (2.8 sd / mean)^2``.)
    """
    differences = (nb.per_user[nb.best]["ndcg@10"] - nb.per_user[nb.second]["ndcg@10"])
    values = differences.to_numpy()
    users = (2 * values.std(ddof=1) / values.mean()) ** 2
    return float(users / 1000)


def exercise_2(nb):
    """The mean of ``scores == 0`` over every test user and every product.

    ItemKNN scores a product by the similarities to the user's products of the few neighbours
    it keeps per product; a product that is no neighbour of any of the user's products gets
    exactly 0. For most users that is most of the catalog, so a sampled negative usually has
    the same score as a test product ItemKNN does not know, and the tie puts the test product
    in the middle of the 101 instead of near the top.
    """
    users = nb.lists["ItemKNN"].users
    scores = np.asarray(nb.models["ItemKNN"].score(users))
    return float((scores == 0).mean())


def exercise_3(nb):
    """Mask the products launched in the 90 days before the test and restrict the lists.

    ``restricted(items=mask)`` keeps the lists and counts only the test products in the mask
    as relevant, so a model that never recommends new arrivals scores 0. The collaborative
    models have seen the newest products only briefly; a model that reads the text can place
    them from the first day. The segment is small (a few hundred users), so before trusting
    the winner run ``paired_test`` on ``restricted(items=mask).per_user(20)`` of the top two.
    """
    launched = pd.to_datetime(nb.d.dataset.items["launch_time"])
    start = nb.d.test_start
    new = ((launched >= start - pd.Timedelta(days=90)) & (launched < start)).to_numpy()
    recall = {name: nb.lists[name].restricted(items=new).metrics(20).loc[20, "recall"]
              for name in nb.learned}
    return max(recall, key=recall.get)
