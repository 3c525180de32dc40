"""Worked solutions of notebook 13's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.work``,
``nb.http``, ``nb.ivf``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np

from recutils.encoder_compression import PcaProjection, similar_items_overlap
from recutils.vector_search import recall_at_k, search


def exercise_1(nb):
    """ALS's score is a dot product of the two saved matrices (formula of notebook 03).

    The saved arrays are the whole model: user 42's row of the user factors times every
    product's row of the item factors gives its scores; the products it already has in
    training are set to minus infinity (``recommend`` leaves them out); the 10 best, ties by
    lower column number (a stable sort of the negated scores), are the list the service sends.
    """
    with np.load(nb.work / "models" / "ALS" / "arrays.npz", allow_pickle=False) as arrays:
        names = set(arrays.files)
        user_key = next(name for name in names if "user_factors" in name)
        item_key = next(name for name in names if "item_factors" in name)
        scores = arrays[item_key] @ arrays[user_key][42]
    scores[nb.d.train_and_valid[42].indices] = -np.inf
    return tuple(np.argsort(-scores, kind="stable")[: nb.K].tolist())


def exercise_2(nb):
    """Little's law, X = c / t, read backwards: t = c / X.

    With 8 requests always in flight and X requests answered per second, each request spent
    on average 8 / X seconds in the system (queueing included). It matches the measured mean
    latency up to the time a client thread needs between two requests.
    """
    result = nb.http[8]
    return result.concurrency / result.throughput * 1000


def exercise_3(nb):
    """4: recall grows with nprobe, and the queries' true neighbours mostly sit in the query's
    nearest cell or the next few.

    One cell misses the neighbours that fall just across a cell boundary; with 1,000 cells of a
    catalog built around 4,009 shop products, a product's neighbourhood spans a few cells, so
    probing 4 of them finds nearly all of the true top 10, at a quarter of the speed of one.
    """
    for nprobe in (1, 2, 4, 8, 16):
        found, _ = search(nb.ivf, nb.queries, nb.K, nprobe=nprobe)
        if recall_at_k(found, nb.true_ids) >= 0.99:
            return nprobe
    return None


def exercise_4(nb):
    """128: the similar-items lists need more directions than the cosines do.

    64 dimensions keep most of each vector's length, but a top-10 list depends on small
    differences between close neighbours, which the dropped directions carry. Fit one
    projection per size on the catalog's full vectors and measure the overlap with the full
    model's lists.
    """
    for dims in (16, 32, 64, 128):
        reduced = PcaProjection(dims=dims, seed=nb.SEED).fit(nb.item_vectors)
        kept = similar_items_overlap(nb.item_vectors, reduced.transform(nb.item_vectors)).mean()
        if kept >= 0.9:
            return dims
    return None


def exercise_5(nb):
    """Cores = requests per second x seconds per request, and exact scoring's seconds grow
    linearly with the catalog: milliseconds per 1,000 products x 5,000 (thousands of products)."""
    per_thousand_ms = nb.answer_scaling.loc[1_000_000, "ms per request per 1,000 products"]
    return round(nb.peak_rps * per_thousand_ms * 5_000 / 1000, 2)
