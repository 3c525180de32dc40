"""The Spark helpers (recutils.spark), each checked against its single-machine twin.

Tests marked ``needs_spark`` start a local Spark session and are skipped, with the reason, where
Spark cannot start (no Java 17+); the others (finding Java, the skip rule, argument checks) run
everywhere.
"""

from __future__ import annotations

import os
import re
import stat
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils import spark as rs
from recutils.datasets import load
from recutils.datasets.shop import generate_shop
from recutils.environment import usable_cpus
from recutils.interactions import IdIndex
from recutils.metrics import ranking_metrics_per_user
from recutils.ranking import top_k_items
from recutils.splitting import temporal_protocol

# pytest restores the warning filters after each test, so local_session's own filter for
# PySpark's pandas-3 warning (what it is about is checked below) is repeated here
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning",
    "ignore:The copy keyword is deprecated",
)
REASON = rs.spark_unavailable_reason()
needs_spark = pytest.mark.skipif(REASON is not None, reason=f"Spark cannot start: {REASON}")
WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


# ------------------------------------------------------------------------------------------
# Finding Java, and the notebook skip rule (no Spark needed)
# ------------------------------------------------------------------------------------------


def fake_java(folder: Path, version_line: str) -> Path:
    """A JAVA_HOME whose bin/java prints ``version_line`` to stderr, as java -version does."""
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.skipif(os.name == "nt", reason="the fake java is a shell script")
@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
    ],
)
def test_java_major_version_reads_old_and_new_version_strings(tmp_path, monkeypatch, line, major):
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path, line)))
    assert rs.java_major_version() == major


@pytest.mark.skipif(os.name == "nt", reason="the fake java is a shell script")
def test_an_old_java_is_named_with_how_to_install_a_new_one(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path, 'openjdk version "11.0.2"')))
    reason = rs.spark_unavailable_reason()
    assert reason is not None and "Java 11" in reason and "openjdk" in reason


def test_a_missing_java_gives_the_reason_and_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    reason = rs.spark_unavailable_reason()
    assert reason is not None and "no `java`" in reason and "apt install" in reason
    assert rs.java_executable() is None and rs.java_major_version() is None
    with pytest.raises(rs.SparkUnavailableError, match="Java 17"):
        rs.local_session()
    skip = rs.notebook_skip_reason("notebooks/15_spark_at_scale.ipynb")
    assert skip is not None and skip.startswith("15_spark_at_scale.ipynb skipped")


def test_only_the_spark_notebooks_are_ever_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    assert rs.notebook_skip_reason("notebooks/14_shop_simulator.ipynb") is None
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    for name in rs.SPARK_NOTEBOOKS:
        assert (notebooks / name).is_file(), f"SPARK_NOTEBOOKS names a missing notebook {name}"


def test_scaled_index_lists_the_users_copy_by_copy():
    index = IdIndex(users=pd.Index(["a", "b"]), items=pd.Index(["x", "y"]))
    scaled = rs.scaled_index(index, 3)
    assert scaled.users.tolist() == ["a", "b", "a~1", "b~1", "a~2", "b~2"]
    assert scaled.items.equals(index.items)
    assert rs.scaled_index(index, 1).users.tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="factor"):
        rs.scaled_index(index, 0)


def test_the_module_examples_that_need_no_session_run():
    import doctest

    assert doctest.testmod(rs).failed == 0


def test_lists_array_fills_missing_users_with_minus_one():
    lists = pd.DataFrame({"user": [2, 0], "items": [[5, 1, 3], [4, 2, -1]]})
    array = rs.lists_array(lists, n_users=4, k=2)
    assert array.tolist() == [[4, 2], [-1, -1], [5, 1], [-1, -1]]
    with pytest.raises(ValueError, match=r"0\.\.1"):
        rs.lists_array(lists, n_users=2, k=2)


USABLE_CORES = usable_cpus()


@pytest.mark.parametrize(
    ("master", "cores"),
    [
        ("local", 1),
        ("local[1]", 1),
        ("local[1 ,3]", 1),
        ("local[1000]", USABLE_CORES),  # tasks beyond the cores share them
        ("local[*]", USABLE_CORES),
        ("yarn", None),
        ("spark://host:7077", None),
        ("local-cluster[2,1,1024]", None),
    ],
)
def test_local_cores_reads_a_local_master_and_leaves_a_cluster_unknown(master, cores):
    assert rs.local_cores(master) == cores


@pytest.mark.parametrize("master", ["", "local[0]", None])
def test_local_cores_rejects_what_is_not_a_master(master):
    with pytest.raises(ValueError, match="master"):
        rs.local_cores(master)


def literal_assignments(source: str) -> dict[str, object]:
    """Every ``NAME = literal`` (and ``A, B = literal, literal``) at the top of ``source``."""
    import ast

    values = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        try:
            value = ast.literal_eval(node.value)
        except ValueError:  # computed (e.g. from settings): not a setting this test compares
            continue
        if isinstance(target, ast.Name):
            values[target.id] = value
        elif isinstance(target, ast.Tuple):
            values.update(zip((t.id for t in target.elts), value, strict=True))
    return values


def test_the_reference_cost_curve_was_measured_with_notebook_15s_settings():
    # notebook 15 projects a cluster from bench/results/spark_scaling.csv unless the learner
    # measures their own: if its parameters and the bench script's drift apart, the notebook
    # would silently read a curve of another model
    import json

    root = Path(__file__).resolve().parents[1]
    notebook = json.loads((root / "notebooks" / "15_spark_at_scale.ipynb").read_text("utf-8"))
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    notebook_values = literal_assignments("".join(cell["source"]))
    bench = literal_assignments((root / "bench" / "spark_bench.py").read_text("utf-8"))
    pairs = {
        "FACTORS": "FACTORS",
        "REGULARIZATION": "REGULARIZATION",
        "SCALE_ITERATIONS": "CURVE_SWEEPS",
        "PARTITIONS": "CURVE_PARTITIONS",
        "SEED": "CURVE_SEED",
        "K": "K",
    }
    for in_notebook, in_bench in pairs.items():
        assert notebook_values[in_notebook] == bench[in_bench], (in_notebook, in_bench)
    assert (notebook_values["TEST_DAYS"], notebook_values["VALID_DAYS"]) == (30, 30)
    assert notebook_values["REFERENCE_CURVE"] == "../bench/results/spark_scaling.csv"
    reference = root / "bench" / "results" / "spark_scaling.csv"
    header = reference.read_text("utf-8").splitlines()[0]  # the notebook reads its cores here
    assert re.search(r" on local\[(\d+)\], (\d+) CPUs", header), header
    curve = pd.read_csv(reference, comment="#")
    assert tuple(curve["scale"]) == notebook_values["SCALES"]
    assert set(curve["ALS sweeps"]) == {notebook_values["SCALE_ITERATIONS"]}


# ------------------------------------------------------------------------------------------
# With a Spark session
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    session = rs.local_session(partitions=2, driver_memory="2g")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def shop():
    return generate_shop(n_users=150, n_items=200, seed=3, days=120)


@needs_spark
def test_pandas_3_frames_go_to_spark_and_back_unchanged(spark):
    """What PySpark's pandas-3 warning is about, checked for the types the course uses."""
    frame = pd.DataFrame(
        {
            "text": pd.array(["a", None, "c"], dtype="str"),
            "count": np.array([1, 2, 3], dtype=np.int64),
            "value": [0.5, np.nan, 2.0],
            "time": pd.to_datetime(
                ["2024-01-01 10:00:00.123456", "2024-02-29", "2024-12-31"], format="ISO8601"
            ),
            "category": pd.Categorical(["x", "y", "x"]),
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = spark.createDataFrame(frame).toPandas()
    futures = {str(w.message) for w in caught if issubclass(w.category, FutureWarning)}
    assert all("does not yet fully support pandas" in message for message in futures)
    assert back["text"].isna().tolist() == [False, True, False]
    assert back["text"].dropna().tolist() == ["a", "c"]
    assert back["count"].tolist() == [1, 2, 3]
    assert np.allclose(back["value"], frame["value"], equal_nan=True)
    assert (back["time"] == frame["time"]).all()  # to the microsecond, as naive UTC times
    assert back["category"].tolist() == ["x", "y", "x"]  # a categorical comes back as strings
    rows = spark.createDataFrame(frame).where("text IS NULL").count()
    assert rows == 1  # a missing string is a Spark null


def assert_split_equals_recutils(spark, dataset, test_days, valid_days):
    """Spark's periods and every part's pairs equal ``temporal_protocol``'s, entry by entry."""
    protocol = temporal_protocol(dataset, test_days, valid_days, event_weights=WEIGHTS)
    events = rs.events_frame(spark, dataset.interactions)
    valid_start, test_start = rs.temporal_periods(events, test_days, valid_days)
    assert (valid_start, test_start) == (protocol.valid_start, protocol.test_start)
    periods = rs.split_by_periods(events, valid_start, test_start)
    for part in ("train", "valid", "train_and_valid", "test"):
        matrix = rs.pairs_matrix(rs.user_item_pairs(periods[part], WEIGHTS), protocol.index)
        expected = getattr(protocol, part)
        assert matrix.nnz == expected.nnz > 0
        assert (matrix != expected).nnz == 0, part


@needs_spark
def test_the_split_and_the_pairs_equal_recutils(spark, shop):
    assert_split_equals_recutils(spark, shop, 20, 20)


@needs_spark
def test_the_split_and_the_pairs_equal_recutils_on_online_retail(spark):
    """Notebook 15's check on the real log that ships with the course (a UK shop's purchases,
    the notebook's 30-day periods): its section 2 runs it on the generated shop only."""
    assert_split_equals_recutils(spark, load("online-retail"), 30, 30)


@needs_spark
@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX-only")
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_the_split_does_not_move_with_the_machines_time_zone(spark, shop, monkeypatch, zone):
    """Naive timestamps (TIMESTAMP_NTZ) end to end: a learner's laptop in another time zone
    gets the same periods and pairs as recutils (and as this UTC machine)."""
    protocol = temporal_protocol(shop, 20, 20, event_weights=WEIGHTS)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        events = rs.events_frame(spark, shop.interactions)
        valid_start, test_start = rs.temporal_periods(events, 20, 20)
        assert (valid_start, test_start) == (protocol.valid_start, protocol.test_start)
        periods = rs.split_by_periods(events, valid_start, test_start)
        for part in ("train", "test"):
            matrix = rs.pairs_matrix(rs.user_item_pairs(periods[part], WEIGHTS), protocol.index)
            assert (matrix != getattr(protocol, part)).nnz == 0, part
        first = rs.user_item_pairs(periods["test"], WEIGHTS).toPandas()["timestamp"].min()
        assert first >= test_start
    finally:
        monkeypatch.undo()
        time.tzset()


@needs_spark
def test_pairs_keep_first_and_last_times_and_drop_unweighted_events(spark):
    events = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "item_id": ["a", "a", "b", "a"],
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-03", "2024-01-05"]),
            "event": ["cart", "view", "view", "purchase"],
        }
    )
    pairs = (
        rs.user_item_pairs(rs.events_frame(spark, events), {"view": 1, "cart": 3})
        .toPandas()
        .sort_values(["user_id", "item_id"])
        .reset_index(drop=True)
    )
    assert pairs[["user_id", "item_id", "weight", "events"]].values.tolist() == [
        ["u", "a", 4.0, 2],
        ["u", "b", 1.0, 1],
    ]  # v's purchase weighs 0 here, so v has no pair
    assert pairs.loc[0, "timestamp"] == pd.Timestamp("2024-01-01")
    assert pairs.loc[0, "last_timestamp"] == pd.Timestamp("2024-01-02")


@needs_spark
def test_bad_inputs_are_named(spark, shop):
    with pytest.raises(ValueError, match="lacks the columns"):
        rs.events_frame(spark, shop.interactions.drop(columns=["event"]))
    with pytest.raises(ValueError, match="must hold datetimes"):
        rs.events_frame(spark, shop.interactions.assign(timestamp="2024-01-01"))
    with pytest.raises(ValueError, match=r"missing values in \['user_id'\]"):
        rs.events_frame(spark, shop.interactions.assign(user_id=None))
    with pytest.raises(ValueError, match="naive times"):
        rs.events_frame(
            spark,
            shop.interactions.assign(
                timestamp=shop.interactions["timestamp"].dt.tz_localize("UTC")
            ),
        )
    with pytest.raises(ValueError, match="partitions"):
        rs.events_frame(spark, shop.interactions, partitions=0)
    events = rs.events_frame(spark, shop.interactions)
    with pytest.raises(ValueError, match="event_weights"):
        rs.user_item_pairs(events, {})
    with pytest.raises(ValueError, match="no event has a positive weight"):
        rs.user_item_pairs(events, {"purchases": 1})  # a misspelt type: an error, not 0 rows
    with pytest.raises(ValueError, match="to numbers"):
        rs.user_item_pairs(events, {"view": "1"})
    with pytest.raises(ValueError, match="finite and >= 0"):
        rs.user_item_pairs(events, {"view": -1})
    with pytest.raises(ValueError, match="nothing is left for training"):
        rs.temporal_periods(events, 100, 100)
    with pytest.raises(ValueError, match="must not be after"):
        rs.split_by_periods(events, "2024-03-01", "2024-02-01")
    other = IdIndex(users=pd.Index(["nobody"]), items=pd.Index(["nothing"]))
    with pytest.raises(KeyError, match="not in the index"):
        rs.with_positions(spark, events, other)


@needs_spark
def test_top_k_from_factors_equals_numpy_and_leaves_out_seen_items(spark):
    rng = np.random.default_rng(0)
    users, items = rng.standard_normal((30, 4)), rng.standard_normal((12, 4)).astype(np.float32)
    users[3] = 0.0  # all scores tie: the course's rule, lower column first
    seen = sp.random(30, 12, density=0.3, random_state=1, format="lil")
    seen[5, :] = 1.0  # every item seen: an empty list of -1
    seen[6, :] = 0.0
    seen[6, :10] = 1.0  # two items left for a list of 4
    seen = sp.csr_matrix(seen)
    seen.eliminate_zeros()
    user_factors = spark.createDataFrame(
        pd.DataFrame({"id": np.arange(30), "features": list(users.astype(np.float32))})
    )
    coo = seen.tocoo()
    seen_pairs = spark.createDataFrame(pd.DataFrame({"user": coo.row, "item": coo.col}))
    lists = rs.top_k_from_factors(spark, user_factors, items, seen_pairs, 4).toPandas()
    got = rs.lists_array(lists, 30, 4)
    expected = top_k_items(users.astype(np.float32) @ items.T, 4, exclude=seen)
    assert np.array_equal(got, expected)
    assert got[5].tolist() == [-1, -1, -1, -1] and (got[6, 2:] == -1).all()
    scores = lists.set_index("user").loc[6, "scores"]
    assert np.isnan(scores[2:]).all() and np.isfinite(scores[:2]).all()
    with pytest.raises(ValueError, match="k must be"):
        rs.top_k_from_factors(spark, user_factors, items, None, 13)


@needs_spark
def test_mllib_ranking_metrics_equal_recutils_and_map_differs_by_its_denominator(spark):
    rng = np.random.default_rng(2)
    n_users, n_items, k = 40, 30, 5
    recommended = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    relevant = sp.csr_matrix(rng.random((n_users, n_items)) < 0.2, dtype=np.float32)
    keep = np.flatnonzero(relevant.getnnz(axis=1) > 0)
    lists = spark.createDataFrame(pd.DataFrame({"user": keep, "items": list(recommended[keep])}))
    coo = relevant.tocoo()
    pairs = spark.createDataFrame(pd.DataFrame({"user": coo.row, "item": coo.col}))
    mllib = rs.ranking_metrics(lists, pairs, k)
    ours = ranking_metrics_per_user(recommended[keep], relevant[keep], k)
    assert mllib["users"] == len(keep)
    assert mllib["precisionAtK"] == pytest.approx(ours[f"precision@{k}"].mean(), rel=1e-12)
    assert mllib["recallAtK"] == pytest.approx(ours[f"recall@{k}"].mean(), rel=1e-12)
    assert mllib["ndcgAtK"] == pytest.approx(ours[f"ndcg@{k}"].mean(), rel=1e-12)
    sizes = relevant[keep].getnnz(axis=1)
    converted = (ours[f"map@{k}"].to_numpy() * sizes / np.minimum(k, sizes)).mean()
    assert mllib["meanAveragePrecisionAtK"] == pytest.approx(converted, rel=1e-12)
    only = rs.ranking_metrics(lists, pairs, k, ["ndcgAtK"])
    assert list(only.index) == ["ndcgAtK", "users"]
    with pytest.raises(ValueError, match="unknown metrics"):
        rs.ranking_metrics(lists, pairs, k, ["auc"])


@needs_spark
def test_encoding_inside_spark_gives_the_in_process_vectors(spark):
    from recutils.text import encode_texts

    texts = ["red wool scarf", "oak dining table", "", "linen shirt, blue", "steel kettle"]
    frame = spark.createDataFrame(
        pd.DataFrame({"item_id": [f"P{i}" for i in range(5)], "text": texts})
    ).repartition(2)
    result = rs.encode_texts(frame).toPandas().set_index("item_id").loc[[f"P{i}" for i in range(5)]]
    vectors = np.stack(result["vector"].to_numpy())
    assert vectors.shape == (5, 384)
    assert np.allclose(vectors, encode_texts(texts, cache=False), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="no column 'title'"):
        rs.encode_texts(frame, text="title")


@needs_spark
def test_scaled_events_copy_every_user_under_the_scaled_index(spark, shop):
    events = rs.events_frame(spark, shop.interactions)
    scaled = rs.scaled_events(spark, events, 3)
    assert scaled.count() == 3 * len(shop.interactions)
    index = rs.scaled_index(IdIndex.from_dataset(shop), 3)
    users = {row["user_id"] for row in scaled.select("user_id").distinct().collect()}
    assert users <= set(index.users)
    positioned = rs.with_positions(spark, scaled, index)  # every copy has a row number
    assert positioned.count() == 3 * len(shop.interactions)


@needs_spark
def test_factor_matrix_puts_each_vector_on_its_row_and_zeros_elsewhere(spark):
    factors = spark.createDataFrame(
        pd.DataFrame({"id": [3, 0], "features": [[1.0, 2.0], [3.0, 4.0]]})
    )
    matrix = rs.factor_matrix(factors, 5)
    assert matrix.dtype == np.float32 and matrix.shape == (5, 2)
    assert matrix.tolist() == [[3, 4], [0, 0], [0, 0], [1, 2], [0, 0]]
    with pytest.raises(ValueError, match="rows=3"):
        rs.factor_matrix(factors, 3)
    with pytest.raises(ValueError, match="no rows"):
        rs.factor_matrix(factors.limit(0), 5)
    with pytest.raises(ValueError, match="an id twice"):
        rs.factor_matrix(factors.union(factors), 5)


@needs_spark
def test_scaling_curve_times_every_step_and_measures_the_same_pipeline(spark, shop):
    from pyspark.ml.recommendation import ALS as SparkALS

    d = temporal_protocol(shop, 20, 20, event_weights=WEIGHTS)
    events = rs.events_frame(spark, shop.interactions).cache()
    valid_start, test_start = rs.temporal_periods(events, 20, 20)
    als = SparkALS(
        rank=4,
        maxIter=2,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="weight",
        seed=0,
    )
    fitted = []
    curve = rs.scaling_curve(
        spark,
        events,
        d.index,
        [1, 2],
        valid_start=valid_start,
        test_start=test_start,
        als=als,
        event_weights=WEIGHTS,
        k=5,
        train=d.train_and_valid,
        single_machine=lambda matrix: fitted.append(matrix.shape),
    )
    assert list(curve.index) == [1, 2]
    assert curve["events"].tolist() == [len(shop.interactions), 2 * len(shop.interactions)]
    assert curve["training pairs"].tolist() == [d.train_and_valid.nnz, 2 * d.train_and_valid.nnz]
    assert curve["users"].tolist() == [d.index.n_users, 2 * d.index.n_users]
    assert fitted == [d.train_and_valid.shape, (2 * d.index.n_users, d.index.n_items)]
    assert (curve[[*rs.SCALING_STEPS, "single machine"]] > 0).all().all()
    assert (curve["ALS sweeps"] == 2).all()
    assert curve["nDCG@5 (Spark)"].between(0, 1).all()  # measured on the copies' test pairs
    with pytest.raises(ValueError, match="needs train"):
        rs.scaling_curve(
            spark,
            events,
            d.index,
            [1],
            valid_start=valid_start,
            test_start=test_start,
            als=als,
            event_weights=WEIGHTS,
            single_machine=print,
        )
    with pytest.raises(ValueError, match="pass the training matrix"):
        rs.scaling_curve(
            spark,
            events,
            d.index,
            [1],
            valid_start=valid_start,
            test_start=test_start,
            als=als,
            event_weights=WEIGHTS,
            single_machine=print,
            train=d.train_and_valid[:5],
        )
    with pytest.raises(ValueError, match="scales"):
        rs.scaling_curve(
            spark,
            events,
            d.index,
            [],
            valid_start=valid_start,
            test_start=test_start,
            als=als,
            event_weights=WEIGHTS,
        )
    events.unpersist()


@needs_spark
def test_a_long_als_fit_checkpoints_instead_of_overflowing_the_stack(spark):
    # without a checkpoint folder, 40 sweeps of MLlib's ALS ended in a StackOverflowError that
    # stopped the JVM on the course's machine; with it, ALS cuts its lineage every 10 sweeps.
    # If this regresses, the JVM dies and the later tests of this module fail with it.
    from pyspark.ml.recommendation import ALS as SparkALS

    folder = spark.sparkContext.getCheckpointDir()
    if rs._can_write_checkpoints():  # else (Windows without winutils) a deeper stack: below
        assert folder is not None and "recutils-spark-checkpoints-" in folder
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({"user": rng.integers(0, 50, 600), "item": rng.integers(0, 80, 600)})
    pairs = pairs.drop_duplicates().assign(weight=1.0)
    als = SparkALS(
        rank=4,
        maxIter=40,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="weight",
        seed=1,
        numUserBlocks=2,
        numItemBlocks=2,
    )
    model = als.fit(spark.createDataFrame(pairs))
    assert model.userFactors.count() == pairs["user"].nunique()
    if folder is not None:  # the last checkpoint's files (ALS deletes the earlier ones)
        written = list(Path(folder.removeprefix("file:")).glob("rdd-*/part-*"))
        assert written, f"no checkpoint was written to {folder}"
    assert model.itemFactors.count() == pairs["item"].nunique()


@pytest.mark.parametrize(
    ("os_name", "environ", "can"),
    [
        ("posix", {}, True),
        ("nt", {}, False),
        ("nt", {"HADOOP_HOME": ""}, False),
        ("nt", {"HADOOP_HOME": r"C:\hadoop"}, True),
    ],
)
def test_where_a_local_jvm_can_write_checkpoints(os_name, environ, can):
    assert rs._can_write_checkpoints(os_name, environ) is can


WITHOUT_CHECKPOINTS = """
import numpy as np, pandas as pd
from pyspark.ml.recommendation import ALS
from recutils import spark as rs
rs._can_write_checkpoints = lambda: False  # as on Windows without winutils
spark = rs.local_session(partitions=2, driver_memory="1g")
options = spark.conf.get("spark.driver.extraJavaOptions")
assert rs.DEEP_STACK in options.split(), options
assert spark.sparkContext.getCheckpointDir() is None
rng = np.random.default_rng(0)
pairs = pd.DataFrame({"user": rng.integers(0, 50, 600), "item": rng.integers(0, 80, 600)})
pairs = pairs.drop_duplicates().assign(weight=1.0)
als = ALS(rank=4, maxIter=40, implicitPrefs=True, userCol="user", itemCol="item",
          ratingCol="weight", seed=1, numUserBlocks=2, numItemBlocks=2)
model = als.fit(spark.createDataFrame(pairs))
assert model.userFactors.count() == pairs["user"].nunique()
print("fitted")
"""


@needs_spark
def test_without_checkpoints_a_deeper_stack_runs_a_long_als_fit():
    # The Windows fallback, on any machine: a JVM that cannot write checkpoints gets
    # DEEP_STACK, and 40 sweeps (which overflowed the default stack without checkpoints)
    # finish. JVM options are read when the JVM starts, so this needs a process of its own.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CHECKPOINTS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("fitted"), (
        done.stdout[-2000:] + done.stderr[-3000:]
    )


@needs_spark
def test_the_session_is_quiet_and_restarts_with_new_settings(spark, tmp_path):
    assert spark.conf.get("spark.ui.showConsoleProgress") == "false"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert rs.log_path().is_file()  # the JVM writes here, not into the notebook
    with pytest.raises(ValueError, match="checkpoint_dir is empty"):
        rs.local_session(checkpoint_dir=" ")
    # last test of the module: a new session stops the fixture's (its object is dead after)
    again = rs.local_session(partitions=3, driver_memory="2g", checkpoint_dir=tmp_path)
    assert again.conf.get("spark.sql.shuffle.partitions") == "3"
    assert again.sparkContext.getCheckpointDir().startswith(f"file:{tmp_path}/")
    assert again.range(5).count() == 5
    assert spark.sparkContext._jsc is None  # the old session was stopped, not left running
