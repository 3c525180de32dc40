"""Benchmark: the course's pipeline on Spark (local[2]) against the single-machine code.

Run from the repository root (needs Java 17+, see README "Spark and Java")::

    python bench/spark_bench.py                   # prints the table
    python bench/spark_bench.py --output PATH     # also writes it (Markdown)
    python bench/spark_bench.py --scales 1,4      # other sizes
    python bench/spark_bench.py --curve PATH      # also notebook 15's cost curve (CSV)

The shop, then 4 and 16 times larger (``recutils.spark.scaled_events``: every user copied under
new ids). For each size, the same two steps both ways, the single-machine code being the
reference measured in the same run:

* **split + pairs**: the weighted pairs of everything before the course's test period (the last
  30 days), with row and column numbers, in Spark (``temporal_periods``, ``split_by_periods``,
  ``user_item_pairs``, ``with_positions``, cached and counted) and in pandas
  (``recutils.interactions.user_item_pairs`` and ``IdIndex.matrix``) on the same events;
* **ALS**: MLlib's ALS (64 factors, 15 sweeps, implicit preferences) against
  ``recutils.models.ALS`` (``implicit``, one thread) on the same pairs.

Plus the fixed costs: starting the session (a new JVM) and an empty job.

With ``--curve PATH``, also notebook 15's cost curve on the same sizes
(:func:`recutils.spark.scaling_curve`: split + pairs, ALS with 3 sweeps, top-10 and evaluation
in Spark, ``implicit`` on the same copies), with the notebook's settings, as CSV. Notebook 15
fits its projection to a cluster on this file unless it is told to measure its own
(``MEASURE_SCALING = True``); ``make bench`` writes ``bench/results/spark_scaling.csv``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
from report import emit

import recutils
from recutils import settings
from recutils import spark as rs
from recutils.datasets import load
from recutils.interactions import IdIndex, user_item_pairs
from recutils.models import ALS
from recutils.schema import Dataset

FACTORS, ITERATIONS, REGULARIZATION = 64, 15, 20.0
CURVE_SWEEPS, CURVE_PARTITIONS, CURVE_SEED, K = 3, 4, 42, 10  # notebook 15's section 5


def scaled_dataset(shop: Dataset, factor: int) -> Dataset:
    """The pandas twin of ``rs.scaled_events``: every user copied ``factor`` times."""
    copies = [shop.interactions]
    users = [shop.users]
    for copy in range(1, factor):
        copies.append(shop.interactions.assign(user_id=shop.interactions["user_id"] + f"~{copy}"))
        users.append(shop.users.assign(user_id=shop.users["user_id"] + f"~{copy}"))
    return Dataset(
        name=f"shop x{factor}",
        interactions=pd.concat(copies, ignore_index=True),
        items=shop.items,
        users=pd.concat(users, ignore_index=True),
    )


def write_curve(spark, shop: Dataset, events, scales: list[int], path: Path) -> None:
    """Notebook 15's cost curve (``rs.scaling_curve``, the notebook's settings) as CSV at
    ``path``, under comment lines saying where and how it was measured (atomic write)."""
    from pyspark.ml.recommendation import ALS as SparkALS

    from recutils.files import write_text_atomic
    from recutils.splitting import temporal_protocol

    weights = dict(settings.EVENT_WEIGHTS)
    d = temporal_protocol(shop, 30, 30, event_weights=weights)
    pairs_per_user = d.train_and_valid.getnnz(axis=1)
    estimator = SparkALS(
        rank=FACTORS,
        maxIter=CURVE_SWEEPS,
        regParam=REGULARIZATION / pairs_per_user[pairs_per_user > 0].mean(),
        alpha=1.0,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="weight",
        seed=CURVE_SEED,
        numUserBlocks=CURVE_PARTITIONS,
        numItemBlocks=CURVE_PARTITIONS,
    )
    valid_start, test_start = rs.temporal_periods(events, 30, 30)
    single = ALS(
        factors=FACTORS, regularization=REGULARIZATION, iterations=CURVE_SWEEPS, seed=CURVE_SEED
    )

    def measure(sizes: list[int]):
        return rs.scaling_curve(
            spark,
            events,
            d.index,
            sizes,
            valid_start=valid_start,
            test_start=test_start,
            als=estimator,
            event_weights=weights,
            k=K,
            single_machine=single.fit_uncached,
            train=d.train_and_valid,
        )

    measure([1])  # the first run starts the Python workers (top-k): time the run after it
    curve = measure(scales)
    header = (
        f"# bench/spark_bench.py --curve (notebook 15's cost curve): Spark {spark.version} on "
        f"{spark.sparkContext.master}, {os.cpu_count()} CPUs ({platform.machine()}), "
        f"Python {platform.python_version()}\n"
        "# seconds of each step, timed once after a warm-up run on the shop; 'single machine' is "
        "recutils.models.ALS (implicit) with the same sweeps on the same copies\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, header + curve.to_csv(float_format="%.3f"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--scales", default="1,4,16", help="sizes, times the shop (1,4,16)")
    parser.add_argument("--curve", type=Path, help="also write notebook 15's cost curve (CSV)")
    args = parser.parse_args(argv)
    reason = rs.spark_unavailable_reason()
    if reason is not None:
        print(f"spark_bench skipped: {reason}")
        return 0
    scales = [int(value) for value in args.scales.split(",")]
    recutils.setup(model_cache=False, seed=0)
    weights = dict(settings.EVENT_WEIGHTS)
    shop = load("shop")
    started = time.perf_counter()
    spark = rs.local_session()
    session_seconds = time.perf_counter() - started
    spark.range(1).count()  # the first job compiles code: time the ones after it
    job_seconds = []
    for _ in range(20):
        started = time.perf_counter()
        spark.range(1).count()
        job_seconds.append(time.perf_counter() - started)
    base_events = rs.events_frame(spark, shop.interactions).cache()
    base_events.count()
    rows = []
    for factor in scales:
        dataset = scaled_dataset(shop, factor)
        index = IdIndex.from_dataset(dataset)
        started = time.perf_counter()
        times = dataset.interactions["timestamp"]
        cut = times.max().normalize() - pd.Timedelta(days=29)  # temporal_protocol's test start
        before_test = dataset.interactions[times < cut]
        train = index.matrix(user_item_pairs(before_test, event_weights=weights))
        pandas_split = time.perf_counter() - started
        events = rs.scaled_events(spark, base_events, factor).cache()
        n_events = events.count()
        started = time.perf_counter()
        valid_start, test_start = rs.temporal_periods(events, 30, 30)
        assert test_start == cut, "Spark's test period differs from recutils'"
        periods = rs.split_by_periods(events, valid_start, test_start)
        pairs = rs.user_item_pairs(periods["train_and_valid"], weights)
        pairs = rs.with_positions(spark, pairs, index).cache()
        n_pairs = pairs.count()
        spark_split = time.perf_counter() - started
        assert n_pairs == train.nnz, "Spark's pairs differ from recutils'"
        pairs_per_user = train.getnnz(axis=1)
        reg_param = REGULARIZATION / pairs_per_user[pairs_per_user > 0].mean()
        started = time.perf_counter()
        from pyspark.ml.recommendation import ALS as SparkALS

        model = SparkALS(
            rank=FACTORS,
            maxIter=ITERATIONS,
            regParam=reg_param,
            implicitPrefs=True,
            userCol="user",
            itemCol="item",
            ratingCol="weight",
            seed=0,
            numUserBlocks=2,
            numItemBlocks=2,
        ).fit(pairs)
        model.userFactors.count()
        spark_als = time.perf_counter() - started
        started = time.perf_counter()
        ALS(factors=FACTORS, regularization=REGULARIZATION, iterations=ITERATIONS).fit(train)
        implicit_als = time.perf_counter() - started
        rows.append(
            f"| {factor}x | {n_events:,} | {n_pairs:,} | {spark_split:.2f} | {pandas_split:.2f} | "
            f"{spark_split / pandas_split:.1f}x | {spark_als:.2f} | {implicit_als:.2f} | "
            f"{spark_als / implicit_als:.0f}x |"
        )
        pairs.unpersist()
        events.unpersist()
    if args.curve is not None:
        write_curve(spark, shop, base_events, scales, args.curve)
    spark.stop()
    table = "\n".join(
        [
            "| shop | events | training pairs | Spark split + pairs (s) | recutils (s) | ratio "
            f"| MLlib ALS, {ITERATIONS} sweeps (s) | implicit ALS (s) | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    job_seconds.sort()
    facts = (
        f"Spark {spark.version} on local[2], {os.cpu_count()} CPUs ({platform.machine()}); "
        f"starting the session (a new JVM) {session_seconds:.1f} s, an empty job "
        f"{job_seconds[len(job_seconds) // 2] * 1000:.0f} ms (median of 20). ALS: {FACTORS} "
        "factors, implicit preferences, the same pairs; implicit on one thread."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
