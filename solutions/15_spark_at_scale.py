"""Worked solutions of notebook 15's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.periods``,
``nb.per_user``, ``nb.train_pairs``, ...); ``make test`` runs every one through the notebook's
check.
"""

import numpy as np
from pyspark.sql import functions as F

from recutils import spark as rs
from recutils.datasets import load


def exercise_1(nb):
    """Formula (15.1) with a purchase weighing 1 and views and carts 0.

    ``user_item_pairs`` drops events whose type has no positive weight, so only the pairs with
    at least one purchase in the test period are left; ``count`` is the action that runs the
    ``groupBy``.
    """
    return rs.user_item_pairs(nb.periods["test"], {"purchase": 1}).count()


def exercise_2(nb):
    """Both MAPs sum the precision at each hit; only the denominator differs.

    The course's per-user value is ``S_u / |R_u|``; MLlib's is ``S_u / min(k, |R_u|)``. So
    MLlib's = course's * |R_u| / min(k, |R_u|), averaged over the same users.
    """
    course_map = nb.per_user["ALS (MLlib, on Spark)"][f"map@{nb.K}"].to_numpy()
    relevant_counts = nb.mllib_lists.relevant.getnnz(axis=1)
    return float(np.mean(course_map * relevant_counts / np.minimum(nb.K, relevant_counts)))


def exercise_3(nb):
    """Popularity = number of training users per product: a ``groupBy`` on the product column.

    Every (user, product) pair appears once in ``train_pairs``, so counting rows counts users.
    Sorting by the count (descending), then by column number (ascending), is the course's tie
    rule; ``limit`` keeps the 10 first, and only they come back to the driver.
    """
    top = (
        nb.train_pairs.groupBy("item")
        .agg(F.count(F.lit(1)).alias("users"))
        .orderBy(F.desc("users"), F.asc("item"))
        .limit(nb.K)
        .collect()
    )
    return tuple(int(row["item"]) for row in top)


def exercise_4(nb):
    """Formula (15.2) for ALS, trying 1, 2, 3, ... machines until the fit takes 2 minutes or
    less (the projection is a decreasing function of the machines, so the first one that fits
    is the smallest)."""
    stage = nb.als_stage  # the curve's "ALS, 3 sweeps"; projected_minutes scales it to 15
    for machines in range(1, 100_000):
        if nb.projected_minutes(stage, machines) <= 2:
            return machines
    return "no number of machines: the fixed part alone takes longer"


def exercise_5(nb):
    """Section 2's steps on another log: the split is a ``where`` per period and the pairs a
    ``groupBy``, whatever the shop. Online Retail has purchases only, so every pair's weight is
    a multiple of the purchase's; ``count`` is the action that runs the job."""
    retail = load("online-retail")
    events = rs.events_frame(nb.spark, retail.interactions)
    valid_start, test_start = rs.temporal_periods(events, nb.TEST_DAYS, nb.VALID_DAYS)
    periods = rs.split_by_periods(events, valid_start, test_start)
    return rs.user_item_pairs(periods["test"], nb.EVENT_WEIGHTS).count()
