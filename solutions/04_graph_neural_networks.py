"""Worked solutions of notebook 04's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.h``,
``nb.a_hat``, ``nb.depth_tests``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np
import torch


def exercise_1(nb):
    """Item 1 is node 3; its neighbours are users 0 and 1 (nodes 0 and 1), each with weight
    ``1 / sqrt(2 * 2) = 0.5`` in ``A_hat``. LightGCN's layer has no weight matrix and no ReLU,
    so the layer-1 vector is just the weighted sum of the neighbours' layer-0 vectors:
    ``0.5 * (1, 0) + 0.5 * (0, 1) = (0.5, 0.5)``. Unlike the GCN layer of equation 04.1, the
    node's own vector is not in this sum: LightGCN keeps it through the layer average instead.
    """
    a_hat = torch.from_numpy(nb.a_hat.toarray())
    return sum(a_hat[3, j] * nb.h[j] for j in nb.neighbours[3])


def exercise_2(nb):
    """Equation 04.3 with L = 2: propagate twice, ``E1 = A_hat E0`` and ``E2 = A_hat E1``, and
    average the three layers with equal weights ``1/3``. Row 3 is item 1.

    Layer 2 of item 1 reaches, through its users, every item those users bought (itself
    included), so the final vector mixes item 1's own vector, its buyers' vectors and the
    vectors of the products bought next to it.
    """
    a_hat = torch.from_numpy(nb.a_hat.toarray())
    e0 = nb.h
    e1 = a_hat @ e0
    e2 = a_hat @ e1
    return ((e0 + e1 + e2) / 3)[3]


def exercise_3(nb):
    """(b): one layer ranks better than none; two and three layers are not measurably
    different from one, at the top 20.

    Read the ``ndcg@20`` table of the test period: the row ``0 layers`` has a negative paired
    difference from one layer whose interval stays below zero (p < 0.05): a propagation layer
    helps over plain matrix factorisation. The rows ``2 layers`` and ``3 layers`` have
    intervals that contain zero (p > 0.05): no measurable gain, and no measurable loss either,
    so "over-smoothing costs accuracy" (a) is not what this table shows, nor is "every layer
    helps" (c). (d) is wrong because 0 against 1 layer is measurable. At the top 10 the
    three-layer model does trail by a small measurable margin: read both tables before
    concluding, and remember the three-layer curve was still rising when the budget ended.
    """
    table = nb.depth_tests["ndcg@20"]
    difference, p = table["minus " + nb.chosen], table["p"]
    deeper = [nb.depth_name(layers) for layers in nb.LAYER_CHOICES if layers > nb.best_layers]
    zero = nb.depth_name(0)
    if any(p[name] < 0.05 and difference[name] < 0 for name in deeper):
        return "a"
    if any(p[name] < 0.05 and difference[name] > 0 for name in deeper):
        return "c"
    if not (p[zero] < 0.05 and difference[zero] < 0):
        return "d"
    return "b"


def exercise_4(nb):
    """About 24 draws per epoch, against one appearance as a positive.

    Every training pair ``(u, i)`` draws one negative uniformly among the ``n - n_u`` items
    user ``u`` does not have, so a given item ``r`` that ``u`` does not have is drawn with
    probability ``1 / (n - n_u)`` per pair, and user ``u`` has ``n_u`` pairs. Summed over the
    users who do not have ``r``::

        E[draws of r] = sum_{u: r not in u} n_u / (n - n_u)

    which is close to ``pairs / n`` (every item gets about the same share of the negatives,
    whatever its popularity). A rarely seen item is pushed down about 24 times per epoch and
    pulled up once: BPR learns that it is "not what users pick", which is why the IDs-only
    model ranks rarely seen products below random in section 6.
    """
    train = nb.train.tocsr()
    n_items = train.shape[1]
    n_u = np.diff(train.indptr).astype(np.float64)
    has_r = np.asarray((train[:, nb.rare_item] > 0).todense()).ravel()
    return float((n_u / (n_items - n_u))[~has_r].sum())
