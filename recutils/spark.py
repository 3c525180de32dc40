"""The course's pipeline on Apache Spark: a quiet local session, the split, pairs, top-k, metrics.

Spark runs the same steps as the rest of the course on data split into *partitions*, each
processed by a task on some core of some machine. On a laptop the "cluster" is ``local[2]``
(one JVM, two cores); the same code runs on a cluster when ``master`` names one
(``spark://host:7077``, ``yarn``, ``k8s://...``). Every helper here has a single-machine twin
in ``recutils`` that it is checked against (``tests/test_spark.py``, notebook 15):

* :func:`local_session` -- a session whose output reads the same on every machine: no console
  progress bars, the JVM's own messages in a log file instead of the notebook, the Python
  workers started with this interpreter (on a local master), a fixed number of shuffle
  partitions, naive timestamps (``TIMESTAMP_NTZ``, so no time zone moves a boundary), and a
  checkpoint folder, so that ALS cuts its lineage every ``checkpointInterval`` sweeps (see
  :func:`local_session`); :func:`local_cores`, the cores a local master runs tasks on;
* :func:`temporal_periods`, :func:`split_by_periods` -- the course's split
  (:func:`recutils.splitting.temporal_protocol`: the last ``test_days`` days are test, the
  ``valid_days`` before them validation);
* :func:`user_item_pairs` -- events to weighted pairs
  (:func:`recutils.interactions.user_item_pairs` with explicit ``event_weights``);
* :func:`with_positions` -- ids to the row and column numbers of an
  :class:`~recutils.interactions.IdIndex`, failing on unknown ids instead of dropping them;
* :func:`top_k_from_factors` -- each user's ``k`` best items by ``x_u . y_i`` with the user's
  training items left out, scored in pandas batches (``mapInPandas``), the same lists as
  :func:`recutils.ranking.top_k_items`;
* :func:`ranking_metrics` -- MLlib's ``RankingEvaluator`` on those lists;
* :func:`encode_texts` -- MiniLM inside Spark, the model loaded once per Python worker;
* :func:`scaled_events` -- a log ``factor`` times larger (copies of every user under new ids),
  and :func:`scaling_curve` -- each step's seconds on such logs (notebook 15's projection,
  ``bench/spark_bench.py``).

**Java.** Spark runs on the Java virtual machine: pyspark 4 needs Java 17 or 21.
:func:`spark_unavailable_reason` says why Spark cannot start here (no pyspark, no ``java``,
an old ``java``) and how to install Java; :func:`local_session` raises
:class:`SparkUnavailableError` with that text.

**pandas 3.** PySpark 4.3 warns on import that it "does not yet fully support pandas >= 3.0.0".
What the course uses was checked under pandas 3 (``tests/test_spark.py``): pandas -> Spark ->
pandas round trips of strings (missing values become nulls and come back as missing), integers,
floats and naive timestamps (to the microsecond: Spark has no nanoseconds), ``mapInPandas`` and
pandas UDFs with Arrow. Strings come back with pandas 3's ``str`` dtype, categoricals as plain
strings. :func:`local_session` silences that one warning (and pyspark's own use of pandas'
deprecated ``copy=`` keyword), nothing else.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils import checks
from recutils.environment import cache_dir, usable_cpus
from recutils.interactions import IdIndex
from recutils.schema import EVENT, ITEM, TIMESTAMP, USER, WEIGHT

if TYPE_CHECKING:  # pyspark is imported only when a function needs it
    from pyspark.sql import DataFrame, SparkSession

#: Java versions pyspark 4 runs on (it refuses 8 and 11).
MINIMUM_JAVA = 17

#: How to get Java 17+, printed whenever Spark cannot start for want of it.
JAVA_HELP = (
    "Spark needs Java 17 or newer. Install it with your system's package manager: "
    "Debian/Ubuntu `sudo apt install openjdk-17-jre-headless`, macOS `brew install openjdk@17`, "
    "Windows `winget install Microsoft.OpenJDK.17`, or with conda "
    "`conda install -c conda-forge openjdk=17` (environment.yml has it); then open a new "
    "terminal, or set JAVA_HOME to the Java folder. The rest of the course runs without Java."
)

#: Spark settings of :func:`local_session` (``partitions`` and ``driver_memory`` are added).
QUIET_SETTINGS: dict[str, str] = {
    "spark.ui.showConsoleProgress": "false",  # the [Stage 3:====>] bars
    "spark.ui.enabled": "false",  # no web UI on port 4040 (one less thing to bind)
    "spark.sql.session.timeZone": "UTC",  # timestamps read the same on every machine ...
    "spark.sql.timestampType": "TIMESTAMP_NTZ",  # ... and stay naive, like the course's
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # pandas <-> Spark through Arrow
    "spark.sql.adaptive.enabled": "false",  # the partitions asked for, not ones chosen at run time
    "spark.python.worker.reuse": "true",  # a Python worker (and the model it loaded) is kept
}

_PANDAS_WARNING = "PySpark does not yet fully support pandas"

_local_checkpoints: Path | None = None  # this process's checkpoint folder (local masters)


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here; the message says why and how to fix it."""


def java_executable() -> Path | None:
    """The ``java`` Spark will start: ``$JAVA_HOME/bin/java`` if ``JAVA_HOME`` is set, else the
    first ``java`` on ``PATH`` (pyspark's own rule); ``None`` if there is none."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / ("java.exe" if os.name == "nt" else "java")
        return candidate if candidate.exists() else None
    found = shutil.which("java")
    return None if found is None else Path(found)


def java_major_version(java: str | os.PathLike[str] | None = None) -> int | None:
    """The major version of ``java`` (default :func:`java_executable`): 17 for
    ``openjdk version "17.0.15"``, 8 for ``"1.8.0_392"``; ``None`` if it cannot be run."""
    java = java_executable() if java is None else Path(java)
    if java is None:
        return None
    try:
        result = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def spark_unavailable_reason() -> str | None:
    """Why Spark cannot start on this machine, with how to fix it; ``None`` when it can.

    Checks that pyspark is installed and that a ``java`` of version :data:`MINIMUM_JAVA` or
    newer is found (``JAVA_HOME``, else ``PATH``). Starts no JVM, so it is cheap.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return (
            "pyspark is not installed: run `make setup` (or `pip install -r requirements.txt "
            "-c constraints.txt`)."
        )
    java = java_executable()
    if java is None:
        where = "JAVA_HOME/bin" if os.environ.get("JAVA_HOME") else "PATH"
        return f"no `java` was found on {where}. {JAVA_HELP}"
    version = java_major_version(java)
    if version is None:
        return f"`{java} -version` did not run or did not say its version. {JAVA_HELP}"
    if version < MINIMUM_JAVA:
        return f"`{java}` is Java {version}. {JAVA_HELP}"
    return None


#: Course notebooks that need Spark: ``make test`` and ``make course`` skip them, with
#: :func:`notebook_skip_reason`'s line, where Spark cannot start.
SPARK_NOTEBOOKS = ("15_spark_at_scale.ipynb",)


def notebook_skip_reason(notebook: str | os.PathLike[str]) -> str | None:
    """Why the course notebook ``notebook`` (a path or file name) cannot run on this machine:
    it is one of :data:`SPARK_NOTEBOOKS` and :func:`spark_unavailable_reason` says Spark cannot
    start. ``None`` when it can run (every other notebook always can)."""
    name = Path(notebook).name
    if name not in SPARK_NOTEBOOKS:
        return None
    reason = spark_unavailable_reason()
    return None if reason is None else f"{name} skipped, it needs Apache Spark: {reason}"


def log_path() -> Path:
    """The file that receives the JVM's own output (log lines, warnings, stack traces):
    ``recutils.cache_dir() / "spark" / "jvm.log"``. Read it when a Spark job fails."""
    return cache_dir() / "spark" / "jvm.log"


def quiet_pyspark_warnings() -> None:
    """Silence PySpark's pandas-3 FutureWarning and its use of pandas' deprecated ``copy=``
    keyword (see the module docstring for what was checked); no other warning."""
    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
    warnings.filterwarnings(
        "ignore", message="The copy keyword is deprecated", module=r"pyspark\..*"
    )


def local_session(
    master: str = "local[2]",
    partitions: int = 4,
    driver_memory: str = "4g",
    app_name: str = "recutils",
    settings: Mapping[str, str] | None = None,
    python: str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> SparkSession:
    """A Spark session whose output reads the same on every machine.

    The JVM is started once per Python process, with its standard output and error appended
    to :func:`log_path` (Jupyter would otherwise copy its start-up messages and warnings into
    the notebook); a second call stops the running session and starts a new one on the same
    JVM, with the new settings (except ``driver_memory``, fixed when the JVM started). On a
    local master the Python workers run this interpreter (``PYSPARK_PYTHON``), so they import
    the same packages. Settings: :data:`QUIET_SETTINGS` (timestamps are naive,
    ``TIMESTAMP_NTZ``, so no time zone of this machine or the cluster's moves them), then
    ``spark.sql.shuffle.partitions`` and ``spark.default.parallelism`` = ``partitions``, then
    ``settings``.

    **Checkpoints.** An iterative job such as MLlib's ALS builds each sweep's factors from the
    previous sweep's, so the plan (*lineage*) a task carries grows with every sweep, and
    reading it back can overflow a task thread's stack (``java.lang.StackOverflowError``; on a
    local master Spark then stops the whole JVM, and Python loses its connection to Java:
    ``Py4JError``, ``Connection refused``; the error itself is in :func:`log_path`). On the
    course's machine 15 sweeps overflowed now and then and 40 always; the limit depends on the
    data, the blocks and the JVM's stack size. With a checkpoint folder set, ALS writes its
    item factors there every ``checkpointInterval`` sweeps (default 10) and starts the lineage
    afresh; without one it silently skips checkpointing. A local session checkpoints to a
    temporary folder of this process, removed when Python exits; whenever a folder is set,
    Spark also deletes, eventually, checkpoints no longer referenced
    (``spark.cleaner.referenceTracking.cleanCheckpoints``). On Windows, writing a checkpoint
    needs Hadoop's ``winutils.exe`` (``HADOOP_HOME``); without it a local session gets a
    larger thread stack instead (``-Xss16m``, which also lets 40 sweeps run).

    Args:
        master: where the work runs. ``"local[2]"``: this process's JVM with 2 task slots
            (the course's laptop). A cluster: ``"spark://host:7077"`` (standalone),
            ``"yarn"``, ``"k8s://https://host:443"``; there every executor needs a Python with
            the course's packages (``python``), and ``partitions`` should grow with the cores.
        partitions: partitions after a shuffle (a ``groupBy``, a join): 4 keeps two cores busy
            with little overhead on the course's data; a cluster wants 2-4 per core.
        driver_memory: heap of the driver JVM (``"4g"``), which in local mode also runs the
            tasks.
        app_name: the application's name in Spark's logs.
        settings: further Spark settings, applied last.
        python: the Python the workers run (``PYSPARK_PYTHON``). Default: this interpreter on
            a local master; on a cluster, whatever ``PYSPARK_PYTHON`` already says (the
            executors' own Python; this laptop's path would not exist there). A local session
            sets ``PYSPARK_PYTHON`` for the whole process, so a cluster session started later
            in the same process should pass ``python`` explicitly.
        checkpoint_dir: the checkpoint folder (``spark.checkpoint.dir``). Default: a temporary
            folder on a local master; none on a cluster, where it must be storage every
            machine reaches (``hdfs://...``, ``s3a://...``), so pass one there. A folder given
            here is not cleaned up: each session adds a subfolder to it.

    Returns:
        The active ``SparkSession``; stop it with ``spark.stop()``.

    Raises:
        SparkUnavailableError: pyspark or Java 17+ is missing (the message says how to fix it).
        ValueError: ``master`` or ``checkpoint_dir`` is empty, or ``partitions`` is not a
            positive integer.

    Example:
        >>> spark = local_session()  # doctest: +SKIP
        >>> spark.range(3).count()  # doctest: +SKIP
        3
    """
    reason = spark_unavailable_reason()
    if reason is not None:
        raise SparkUnavailableError(reason)
    partitions = checks.positive_int(partitions, "partitions", "shuffle partitions")
    if not isinstance(master, str) or not master:
        raise ValueError(f"master must be a Spark master URL such as 'local[2]', got {master!r}")
    if checkpoint_dir is not None:
        checkpoint_dir = str(checkpoint_dir)
        if not checkpoint_dir.strip():
            raise ValueError(
                "checkpoint_dir is empty; give a folder ('/tmp/checkpoints', "
                "'hdfs://namenode/checkpoints') or None for the default"
            )
        if "://" not in checkpoint_dir:  # a plain path: ~ means the home folder
            checkpoint_dir = os.path.expanduser(checkpoint_dir)
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    quiet_pyspark_warnings()
    if python is not None:
        os.environ["PYSPARK_PYTHON"] = str(python)
    elif master.startswith("local"):
        os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers import what we import
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no "resolves to loopback" warning
    local = master.startswith("local")
    if checkpoint_dir is None and not local and SparkContext._jvm is not None:
        # an earlier local session's folder is a system property of this JVM, which SparkConf
        # would read: a cluster must not inherit this laptop's temporary folder
        SparkContext._jvm.java.lang.System.clearProperty("spark.checkpoint.dir")
    conf = SparkConf().setMaster(master).setAppName(app_name)
    conf.set("spark.driver.memory", str(driver_memory))
    for key, value in QUIET_SETTINGS.items():
        conf.set(key, value)
    conf.set("spark.sql.shuffle.partitions", str(partitions))
    conf.set("spark.default.parallelism", str(partitions))
    conf.set("spark.executorEnv.OMP_NUM_THREADS", "1")  # one BLAS thread per task
    java_options = []
    if checkpoint_dir is None and local:
        if _can_write_checkpoints():
            checkpoint_dir = str(_local_checkpoint_dir())
        else:
            java_options.append(DEEP_STACK)  # checkpoints cannot be written: a deeper stack
    if checkpoint_dir is not None:
        conf.set("spark.checkpoint.dir", checkpoint_dir)
        conf.set("spark.cleaner.referenceTracking.cleanCheckpoints", "true")
    crash_file = log_path().parent / "hs_err_pid%p.log"
    if not re.search(r"[\s\"']", str(crash_file)):  # a JVM crash report beside the log
        java_options.append(f"-XX:ErrorFile={crash_file}")
    if java_options:  # read when the JVM starts (the first session of this process)
        conf.set("spark.driver.extraJavaOptions", " ".join(java_options))
    for key, value in (settings or {}).items():
        conf.set(str(key), str(value))
    active = SparkContext._active_spark_context
    if active is not None:
        active.stop()
    if SparkContext._gateway is None:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as log:  # the JVM keeps its own copy of the file handle
            gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        context = SparkContext(conf=conf, gateway=gateway)
    else:
        context = SparkContext(conf=conf)
    context.setLogLevel("ERROR")
    return SparkSession(context)


#: The JVM option a local session gets where it cannot write checkpoints (Windows without
#: Hadoop's winutils): a 16 MB thread stack, deep enough for 40 ALS sweeps' lineage.
DEEP_STACK = "-Xss16m"


def _can_write_checkpoints(
    os_name: str | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether a local JVM can write checkpoints: everywhere but on Windows without
    ``HADOOP_HOME`` (Hadoop writes files there through ``winutils.exe``, which it finds under
    ``HADOOP_HOME``). ``os_name`` and ``environ`` default to this process's (``os.name``,
    ``os.environ``); tests pass others.

    Example:
        >>> _can_write_checkpoints("nt", {}), _can_write_checkpoints("posix", {})
        (False, True)
    """
    os_name = os.name if os_name is None else os_name
    environ = os.environ if environ is None else environ
    return os_name != "nt" or bool(environ.get("HADOOP_HOME"))


def _local_checkpoint_dir() -> Path:
    """This process's checkpoint folder for local sessions: a new temporary folder, created on
    first use and removed when the interpreter exits."""
    global _local_checkpoints
    if _local_checkpoints is None or not _local_checkpoints.is_dir():
        _local_checkpoints = Path(tempfile.mkdtemp(prefix="recutils-spark-checkpoints-"))
        atexit.register(shutil.rmtree, _local_checkpoints, ignore_errors=True)
    return _local_checkpoints


_LOCAL_MASTER = re.compile(r"local(?:\[\s*(\*|\d+)\s*(?:,\s*\d+\s*)?\])?")


def local_cores(master: str) -> int | None:
    """The cores a local master computes on; ``None`` for a cluster's master.

    ``"local[N]"`` (and ``"local[N,F]"``, ``F`` retries per task) runs N tasks at once, but on
    no more cores than this process may use: ``local[8]`` on a 4-core laptop computes on 4.
    ``"local"`` is 1 and ``"local[*]"`` every core this process may use (``os.sched_getaffinity``
    where the system has it, so a container's limit counts; else ``os.cpu_count()``). A
    cluster's cores (``"spark://..."``, ``"yarn"``, ``"k8s://..."``,
    ``"local-cluster[...]"``) are its executors', set by its own settings, not in the URL.

    Args:
        master: a Spark master URL, e.g. ``spark.sparkContext.master``.

    Returns:
        ``min(N, usable cores)`` for a local master, ``None`` for any other.

    Raises:
        ValueError: ``master`` is not a non-empty string, or asks for 0 tasks (``"local[0]"``).

    Example:
        >>> local_cores("local[1]"), local_cores("yarn")
        (1, None)
    """
    if not isinstance(master, str) or not master.strip():
        raise ValueError(f"master must be a Spark master URL such as 'local[2]', got {master!r}")
    match = _LOCAL_MASTER.fullmatch(master.strip())
    if match is None:
        return None
    usable = usable_cpus()
    slots = match.group(1)
    if slots is None:
        return 1
    if slots == "*":
        return usable
    if int(slots) < 1:
        raise ValueError(f"master {master!r} asks for 0 tasks at once; use local[1] or more")
    return min(int(slots), usable)


# --------------------------------------------------------------------------------------------
# Data: frames, the split, pairs, positions
# --------------------------------------------------------------------------------------------


def events_frame(
    spark: SparkSession, events: pd.DataFrame, partitions: int | None = None
) -> DataFrame:
    """``events`` (the course schema) as a Spark DataFrame of ``user_id``, ``item_id``,
    ``timestamp``, ``event`` (strings and a naive timestamp, to the microsecond; other columns
    dropped), cut into ``partitions`` partitions (default the session's shuffle partitions).

    From pandas on the driver, which suits the course's logs; a real pipeline reads its log
    where it lies (``spark.read.parquet(...)``) into the same four columns.

    Example:
        >>> events = events_frame(spark, load("shop").interactions)  # doctest: +SKIP
        >>> events.count()  # doctest: +SKIP
        171973
    """
    from pyspark.sql import types as T

    missing = [c for c in (USER, ITEM, TIMESTAMP, EVENT) if c not in events.columns]
    if missing:
        raise ValueError(
            f"events lacks the columns {missing}; it needs {USER}, {ITEM}, {TIMESTAMP} and "
            f"{EVENT} (the course schema, recutils.schema)"
        )
    if not pd.api.types.is_datetime64_any_dtype(events[TIMESTAMP]):
        raise ValueError(f"events.{TIMESTAMP} must hold datetimes, got {events[TIMESTAMP].dtype}")
    if getattr(events[TIMESTAMP].dt, "tz", None) is not None:
        raise ValueError(
            f"events.{TIMESTAMP} must be naive times (the course schema), not tz-aware"
        )
    empty = [c for c in (USER, ITEM, TIMESTAMP, EVENT) if events[c].isna().any()]
    if empty:
        raise ValueError(f"events has missing values in {empty}; drop or fill those rows first")
    if partitions is not None:
        partitions = checks.positive_int(partitions, "partitions", "partitions of the frame")
    frame = pd.DataFrame(
        {
            USER: events[USER].astype(str).to_numpy(),
            ITEM: events[ITEM].astype(str).to_numpy(),
            TIMESTAMP: events[TIMESTAMP].to_numpy(dtype="datetime64[us]"),
            EVENT: events[EVENT].astype(str).to_numpy(),
        }
    )
    schema = T.StructType(
        [
            T.StructField(USER, T.StringType(), False),
            T.StructField(ITEM, T.StringType(), False),
            T.StructField(TIMESTAMP, T.TimestampNTZType(), False),
            T.StructField(EVENT, T.StringType(), False),
        ]
    )
    parts = partitions or int(spark.conf.get("spark.sql.shuffle.partitions"))
    return spark.createDataFrame(frame, schema=schema).repartition(parts)


def temporal_periods(
    events: DataFrame, test_days: int = 30, valid_days: int = 30
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(valid_start, test_start)`` of :func:`recutils.splitting.temporal_protocol`: the test
    period is the last ``test_days`` calendar days of the log, validation the ``valid_days``
    before it. One Spark job (the latest and earliest event).

    Raises:
        ValueError: the days are not positive integers, or no event is left for training.

    Example:
        >>> temporal_periods(events_frame(spark, load("shop").interactions))  # doctest: +SKIP
        (Timestamp('2024-11-02 00:00:00'), Timestamp('2024-12-02 00:00:00'))
    """
    from pyspark.sql import functions as F

    test_days = checks.positive_int(test_days, "test_days", "days of the test period")
    valid_days = checks.positive_int(valid_days, "valid_days", "days of the validation period")
    row = events.agg(F.min(TIMESTAMP).alias("first"), F.max(TIMESTAMP).alias("last")).first()
    if row is None or row["last"] is None:
        raise ValueError("events is empty: there is nothing to split")
    last_day = pd.Timestamp(row["last"]).normalize()
    test_start = last_day - pd.Timedelta(days=test_days - 1)
    valid_start = test_start - pd.Timedelta(days=valid_days)
    if pd.Timestamp(row["first"]) >= valid_start:
        raise ValueError(
            f"the log starts on {pd.Timestamp(row['first']).date()}, not before the validation "
            f"period ({valid_start.date()}): with test_days={test_days} and "
            f"valid_days={valid_days} nothing is left for training; use shorter periods"
        )
    return valid_start, test_start


def split_by_periods(events: DataFrame, valid_start: Any, test_start: Any) -> dict[str, DataFrame]:
    """The events of each period: ``train`` (before ``valid_start``), ``valid``
    (``valid_start`` <= t < ``test_start``), ``train_and_valid`` (before ``test_start``) and
    ``test`` (from ``test_start``). Lazy: nothing runs until a result is asked for.

    The cut-offs are naive times compared with the naive ``timestamp`` column (both
    ``TIMESTAMP_NTZ``), so the machine's time zone never moves a boundary.

    Example:
        >>> valid_start, test_start = temporal_periods(events)  # doctest: +SKIP
        >>> periods = split_by_periods(events, valid_start, test_start)  # doctest: +SKIP
        >>> periods["test"].count()  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    valid_start, test_start = pd.Timestamp(valid_start), pd.Timestamp(test_start)
    if valid_start.tz is not None or test_start.tz is not None:
        raise ValueError("valid_start and test_start must be naive times, like the timestamps")
    if valid_start > test_start:
        raise ValueError(f"valid_start ({valid_start}) must not be after test_start ({test_start})")
    time = F.col(TIMESTAMP)

    def instant(stamp: pd.Timestamp) -> Any:
        return F.lit(stamp.isoformat(sep=" ")).cast("timestamp_ntz")

    valid_at, test_at = instant(valid_start), instant(test_start)
    return {
        "train": events.where(time < valid_at),
        "valid": events.where((time >= valid_at) & (time < test_at)),
        "train_and_valid": events.where(time < test_at),
        "test": events.where(time >= test_at),
    }


def user_item_pairs(events: DataFrame, event_weights: Mapping[str, float]) -> DataFrame:
    """One row per (user, item): ``weight`` = sum of ``event_weights[event]`` over its events,
    ``timestamp`` its first event, ``last_timestamp`` its last, ``events`` how many.

    The Spark twin of :func:`recutils.interactions.user_item_pairs` with explicit weights,
    formula (15.1) of notebook 15: events of types not in ``event_weights`` count 0 (and are
    not counted in ``events``), and pairs of weight 0 are dropped. One small job (the distinct
    event types) checks that some type present has a positive weight, so a misspelt key is an
    error, not an empty result; the pairs themselves are lazy.

    Example:
        >>> pairs = user_item_pairs(events, {"view": 1, "cart": 3, "purchase": 5})  # doctest: +SKIP
        >>> pairs.columns  # doctest: +SKIP
        ['user_id', 'item_id', 'timestamp', 'last_timestamp', 'weight', 'events']
    """
    from pyspark.sql import functions as F

    if not isinstance(event_weights, Mapping) or not event_weights:
        raise ValueError(
            "event_weights must be a non-empty mapping such as {'view': 1, 'cart': 3, "
            f"'purchase': 5}}, got {event_weights!r}"
        )
    if not all(checks.is_number(value) for value in event_weights.values()):
        raise ValueError(f"event_weights must map event types to numbers, got {event_weights!r}")
    bad = {k: v for k, v in event_weights.items() if not np.isfinite(float(v)) or float(v) < 0}
    if bad:
        raise ValueError(f"event_weights must be finite and >= 0, got {bad}")
    present = sorted(row[0] for row in events.select(EVENT).distinct().collect())
    if present and not any(float(event_weights.get(event, 0)) > 0 for event in present):
        raise ValueError(
            f"no event has a positive weight: the data has event types {present}, "
            f"event_weights is {dict(event_weights)}"
        )
    points = F.lit(0.0)
    for event, weight in event_weights.items():
        points = F.when(F.col(EVENT) == str(event), F.lit(float(weight))).otherwise(points)
    weighted = events.withColumn("_points", points).where(F.col("_points") > 0)
    return weighted.groupBy(USER, ITEM).agg(
        F.min(TIMESTAMP).alias(TIMESTAMP),
        F.max(TIMESTAMP).alias("last_timestamp"),
        F.sum("_points").alias(WEIGHT),
        F.count(F.lit(1)).alias("events"),
    )


def with_positions(spark: SparkSession, frame: DataFrame, index: IdIndex) -> DataFrame:
    """``frame`` with ``user`` (row) and ``item`` (column) numbers of ``index`` added.

    A broadcast join with the two id tables (each small next to the events: the driver holds
    them, as it holds ``index``; for hundreds of millions of users, MLlib's ``StringIndexer``
    numbers ids inside Spark instead). A row whose ``user_id`` or ``item_id`` is not in
    ``index`` raises ``KeyError`` instead of being dropped by the join; the check is one job
    over ``frame`` (cache ``frame`` first if it is costly to compute).

    Example:
        >>> pairs = with_positions(spark, user_item_pairs(events, weights), index)  # doctest: +SKIP
        >>> pairs.select("user", "item", "weight").first()  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    users = spark.createDataFrame(
        pd.DataFrame(
            {USER: index.users.astype(str), "user": np.arange(index.n_users, dtype=np.int32)}
        )
    )
    items = spark.createDataFrame(
        pd.DataFrame(
            {ITEM: index.items.astype(str), "item": np.arange(index.n_items, dtype=np.int32)}
        )
    )
    joined = frame.join(F.broadcast(users), USER, "left").join(F.broadcast(items), ITEM, "left")
    unknown = joined.where(F.col("user").isNull() | F.col("item").isNull())
    example = unknown.select(USER, ITEM).limit(3).collect()
    if example:
        shown = ", ".join(f"({row[USER]}, {row[ITEM]})" for row in example)
        raise KeyError(
            f"rows with ids not in the index, e.g. {shown}: build the IdIndex from the same "
            "dataset (IdIndex.from_dataset) as the events"
        )
    return joined


def pairs_matrix(pairs: DataFrame, index: IdIndex) -> Any:
    """Collect ``pairs`` (``user_id``, ``item_id``, ``weight``) into the (n_users, n_items)
    CSR matrix of ``index``, the form every ``recutils`` model eats."""
    frame = pairs.select(USER, ITEM, WEIGHT).toPandas()
    return index.matrix(frame)


def scaled_events(spark: SparkSession, events: DataFrame, factor: int) -> DataFrame:
    """``events`` with every user copied ``factor`` times: copy ``c`` of user ``U`` is
    ``U~c`` (copy 0 keeps its id). The catalog and each user's behaviour are unchanged, so the
    log grows ``factor`` times with the same distribution: a cheap stand-in for a bigger shop
    when what is measured is time, not quality (the catalog does not grow).

    Example:
        >>> bigger = scaled_events(spark, events, 4)  # doctest: +SKIP
        >>> bigger.count() == 4 * events.count()  # doctest: +SKIP
        True
    """
    from pyspark.sql import functions as F

    factor = checks.positive_int(factor, "factor", "copies of each user")
    copies = spark.range(factor).withColumnRenamed("id", "_copy")
    user = F.when(F.col("_copy") == 0, F.col(USER)).otherwise(
        F.concat(F.col(USER), F.lit("~"), F.col("_copy").cast("string"))
    )
    return events.crossJoin(F.broadcast(copies)).withColumn(USER, user).drop("_copy")


def scaled_index(index: IdIndex, factor: int) -> IdIndex:
    """The :class:`~recutils.interactions.IdIndex` of :func:`scaled_events`: the users of
    ``index``, then copy 1 of each (``U~1``), copy 2, ...; the same items."""
    factor = checks.positive_int(factor, "factor", "copies of each user")
    base = index.users.astype(str)
    users = base.append([base + f"~{copy}" for copy in range(1, factor)]) if factor > 1 else base
    return IdIndex(users=pd.Index(users, name=USER), items=index.items)


def factor_matrix(factors: DataFrame, rows: int) -> np.ndarray:
    """MLlib's factors (``id``, ``features``), as ``ALSModel.userFactors`` or ``itemFactors``,
    collected into a (rows, rank) float32 array: row ``id`` holds its vector, rows without an
    id stay zero (a user or item MLlib never saw).

    Example:
        >>> item_vectors = factor_matrix(model.itemFactors, index.n_items)  # doctest: +SKIP
    """
    rows = checks.positive_int(rows, "rows", "rows of the matrix (users or items)")
    collected = factors.select("id", "features").toPandas()
    if collected.empty:
        raise ValueError("factors has no rows: fit the model before collecting its factors")
    ids = collected["id"].to_numpy(dtype=np.int64)
    if ids.min() < 0 or ids.max() >= rows:
        raise ValueError(
            f"factor ids run from {ids.min()} to {ids.max()}, but rows={rows} "
            "(ids must be 0..rows-1)"
        )
    if np.unique(ids).size != ids.size:
        raise ValueError("factors has an id twice: expected one vector per user or item")
    vectors = np.stack(collected["features"].to_numpy()).astype(np.float32)
    matrix = np.zeros((rows, vectors.shape[1]), dtype=np.float32)
    matrix[ids] = vectors
    return matrix


# --------------------------------------------------------------------------------------------
# Model inference: top-k from factors, metrics, text encoding
# --------------------------------------------------------------------------------------------


#: Scores held at once by one worker in :func:`top_k_from_factors` (users x items, float32).
SCORES_PER_CHUNK = 4_000_000


def _top_k_batches(
    batches: Iterator[pd.DataFrame], item_factors: Any, k: int
) -> Iterator[pd.DataFrame]:
    """Score chunks of a batch's users against every item, leave out seen items, keep ``k``."""
    from threadpoolctl import threadpool_limits

    from recutils.ranking import top_k_items

    items = item_factors.value
    chunk = max(1, SCORES_PER_CHUNK // max(len(items), 1))
    with threadpool_limits(limits=1, user_api="blas"):
        for batch in batches:
            for start in range(0, len(batch), chunk):
                part = batch.iloc[start : start + chunk]
                users = np.stack(part["features"].to_numpy()).astype(np.float32)
                scores = users @ items.T
                for row, seen in enumerate(part["seen"].to_numpy()):
                    if seen is not None and len(seen):
                        scores[row, np.asarray(seen, dtype=np.int64)] = -np.inf
                ranked = top_k_items(scores, k)
                picked = np.take_along_axis(scores, ranked.clip(0), axis=1)
                picked[ranked < 0] = np.nan  # a slot left empty has no score
                yield pd.DataFrame(
                    {
                        "user": part["id"].to_numpy(dtype=np.int32),
                        "items": list(ranked.astype(np.int32)),
                        "scores": list(picked.astype(np.float32)),
                    }
                )


def top_k_from_factors(
    spark: SparkSession,
    user_factors: DataFrame,
    item_factors: np.ndarray,
    seen: DataFrame | None,
    k: int = 10,
) -> DataFrame:
    """Each user's ``k`` best items by ``x_u . y_i``, leaving out the items in ``seen``.

    MLlib's ``recommendForAllUsers`` cannot leave out what a user already has; this does it in
    pandas batches (``mapInPandas``): the item factors are broadcast once to every worker, each
    chunk of users is one matrix product (at most :data:`SCORES_PER_CHUNK` scores, 16 MB, at
    a time), seen items get ``-inf``, and :func:`recutils.ranking.top_k_items` picks the ``k``
    best (the course's tie rule: equal scores by lower column). Memory per Python worker: one
    copy of ``item_factors`` (a million items x 64 factors is 256 MB) plus one chunk. The
    broadcast lives as long as the session (the result is lazy and needs it).

    Args:
        spark: the session (to broadcast ``item_factors``).
        user_factors: ``id`` (the row number) and ``features`` (array of floats), as MLlib's
            ``ALSModel.userFactors``.
        item_factors: (n_items, f) array; row ``i`` is the item of column ``i``.
        seen: ``user`` and ``item`` numbers to leave out (the training pairs), or ``None``.
        k: items per user (at most the number of items).

    Returns:
        A DataFrame of ``user`` (int), ``items`` (array of ``k`` ints, best first; ``-1`` where
        fewer than ``k`` items are left) and ``scores`` (array of ``k`` floats, NaN in empty
        slots).

    Example:
        >>> lists = top_k_from_factors(spark, model.userFactors, item_factors,
        ...                            pairs.select("user", "item"), k=10)  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    if item_factors.ndim != 2:
        raise ValueError(f"item_factors must be (n_items, f), got shape {item_factors.shape}")
    k = checks.integer(k, "k", "items per user", minimum=1, maximum=item_factors.shape[0])
    broadcast = spark.sparkContext.broadcast(item_factors)
    users = user_factors.select(F.col("id").cast("int").alias("id"), "features")
    if seen is None:
        users = users.withColumn("seen", F.lit(None).cast("array<int>"))
    else:
        lists = seen.groupBy(F.col("user").cast("int").alias("id")).agg(
            F.collect_list(F.col("item").cast("int")).alias("seen")
        )
        users = users.join(lists, "id", "left")
    schema = "user int, items array<int>, scores array<float>"
    return users.mapInPandas(lambda batches: _top_k_batches(batches, broadcast, k), schema)


def lists_array(lists: DataFrame | pd.DataFrame, n_users: int, k: int) -> np.ndarray:
    """Collect ``user``/``items`` lists into the (n_users, k) int array of
    :func:`recutils.metrics.ranking_metrics` (``-1`` rows for users without a list).

    Example:
        >>> lists_array(pd.DataFrame({"user": [1], "items": [[4, 2, 7]]}), n_users=2, k=2)
        array([[-1, -1],
               [ 4,  2]])
    """
    frame = lists if isinstance(lists, pd.DataFrame) else lists.select("user", "items").toPandas()
    array = np.full((n_users, k), -1, dtype=np.int64)
    if len(frame):
        rows = frame["user"].to_numpy(dtype=np.int64)
        if rows.min() < 0 or rows.max() >= n_users:
            raise ValueError(f"user numbers must be in 0..{n_users - 1}")
        array[rows] = np.stack([np.asarray(items)[:k] for items in frame["items"]])
    return array


#: MLlib's names of the metrics :func:`ranking_metrics` computes by default.
RANKING_METRICS = ("precisionAtK", "recallAtK", "ndcgAtK", "meanAveragePrecisionAtK")


def ranking_metrics(
    lists: DataFrame,
    relevant: DataFrame,
    k: int = 10,
    metrics: Sequence[str] = RANKING_METRICS,
) -> pd.Series:
    """MLlib's ``RankingEvaluator`` on ``lists`` against ``relevant``, for users in both.

    Args:
        lists: ``user`` and ``items`` (array, best first), as :func:`top_k_from_factors`.
        relevant: ``user`` and ``item`` pairs (the test period's).
        k: the cut-off.
        metrics: some of :data:`RANKING_METRICS` (each is one Spark job).

    Returns:
        The ``metrics`` in their order, then ``users`` (how many were evaluated). Precision,
        recall and nDCG are those of :func:`recutils.metrics.ranking_metrics`; MLlib's MAP@k
        divides by ``min(k, |R_u|)`` where the course divides by ``|R_u|``.

    Example:
        >>> ranking_metrics(lists, test_pairs.select("user", "item"), k=10)  # doctest: +SKIP
    """
    from pyspark.ml.evaluation import RankingEvaluator
    from pyspark.sql import functions as F

    k = checks.positive_int(k, "k", "the cut-off")
    labels = relevant.groupBy(F.col("user").cast("int").alias("user")).agg(
        F.collect_set(F.col("item").cast("double")).alias("label")
    )
    predictions = lists.select(
        F.col("user").cast("int").alias("user"),
        F.expr("filter(items, x -> x >= 0)").cast("array<double>").alias("prediction"),
    )
    if isinstance(metrics, str) or not metrics:
        raise ValueError(f"metrics must be a non-empty list of {RANKING_METRICS}, got {metrics!r}")
    unknown = [metric for metric in metrics if metric not in RANKING_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {RANKING_METRICS}")
    frame = predictions.join(labels, "user").cache()
    values: dict[str, float] = {}
    for metric in metrics:
        evaluator = RankingEvaluator(
            metricName=metric, k=k, predictionCol="prediction", labelCol="label"
        )
        values[metric] = float(evaluator.evaluate(frame))
    values["users"] = float(frame.count())
    frame.unpersist()
    return pd.Series(values, name=f"MLlib RankingEvaluator, k={k}")


#: The steps :func:`scaling_curve` times: each is a column of seconds.
SCALING_STEPS = ("split + pairs", "ALS", "top-k", "evaluation")


def scaling_curve(
    spark: SparkSession,
    events: DataFrame,
    index: IdIndex,
    scales: Sequence[int],
    *,
    valid_start: Any,
    test_start: Any,
    als: Any,
    event_weights: Mapping[str, float],
    k: int = 10,
    single_machine: Any = None,
    train: Any = None,
) -> pd.DataFrame:
    """Each step of the course's Spark pipeline, timed once on the log made ``s`` times larger
    (:func:`scaled_events`) for every ``s`` in ``scales``: the cost curve that notebook 15's
    projection to a cluster is fitted to.

    For each scale: **split + pairs** (:func:`split_by_periods`, :func:`user_item_pairs` of the
    periods before ``test_start``, :func:`with_positions`; cached and counted), **ALS** (``als``
    fitted on those pairs, its user factors counted), **top-k** (:func:`top_k_from_factors`,
    training pairs left out; cached and counted) and **evaluation** (nDCG@k by
    :func:`ranking_metrics` on the test period's pairs the user did not have). Each step is
    timed once with :func:`time.perf_counter` (a point can be a second off: read the curve from
    its first point to its last).

    Args:
        spark: the session.
        events: the log (:func:`events_frame`), best cached.
        index: the log's :class:`~recutils.interactions.IdIndex` (scaled with
            :func:`scaled_index`).
        scales: sizes, in times the log (positive integers, e.g. ``(1, 4, 16)``).
        valid_start, test_start: the periods' boundaries (:func:`temporal_periods`).
        als: an MLlib estimator (``pyspark.ml.recommendation.ALS``) reading ``user``,
            ``item`` and ``weight``; its ``maxIter`` is the sweeps timed.
        event_weights: the weight of each event type (formula 15.1).
        k: list length of the top-k lists and of nDCG.
        single_machine: optional ``fit(matrix)`` callable, timed on ``train`` stacked ``s``
            times (the same copies in one process), e.g. ``recutils.models.ALS(...).fit_uncached``.
        train: the (n_users, n_items) training matrix ``single_machine`` is stacked from.

    Returns:
        One row per scale (index ``scale``): ``events``, ``users``, ``training pairs``, the
        seconds of each of :data:`SCALING_STEPS`, ``ALS sweeps`` (the estimator's
        ``maxIter``), ``nDCG@k (Spark)`` and, with ``single_machine``, its seconds in
        ``single machine``.

    Example:
        >>> curve = scaling_curve(spark, events, d.index, (1, 4), valid_start=valid_start,
        ...                       test_start=test_start, als=estimator,
        ...                       event_weights={"view": 1.0})  # doctest: +SKIP
    """
    import time

    import scipy.sparse as sp

    if isinstance(scales, (str, bytes)) or not len(scales):
        raise ValueError(f"scales must be a non-empty list of positive integers, got {scales!r}")
    scales = [checks.positive_int(s, "scales", "times the log") for s in scales]
    k = checks.positive_int(k, "k", "list length")
    if single_machine is not None:
        if not sp.issparse(train):
            raise ValueError("single_machine needs train, the sparse matrix it is stacked from")
        if train.shape != (index.n_users, index.n_items):
            raise ValueError(
                f"train is {train.shape}, but index has {index.n_users} users and "
                f"{index.n_items} items: pass the training matrix of this index"
            )
    rows = []
    for factor in scales:
        scaled = scaled_events(spark, events, factor).cache()
        scaled_ids = scaled_index(index, factor)
        row: dict[str, float] = {
            "scale": factor,
            "events": scaled.count(),
            "users": scaled_ids.n_users,
        }
        started = time.perf_counter()
        periods = split_by_periods(scaled, valid_start, test_start)
        pairs = with_positions(
            spark, user_item_pairs(periods["train_and_valid"], event_weights), scaled_ids
        ).cache()
        row["training pairs"] = pairs.count()
        row["split + pairs"] = time.perf_counter() - started
        started = time.perf_counter()
        model = als.fit(pairs)
        model.userFactors.count()
        row["ALS"] = time.perf_counter() - started
        row["ALS sweeps"] = als.getMaxIter()
        started = time.perf_counter()
        items = factor_matrix(model.itemFactors, scaled_ids.n_items)
        lists = top_k_from_factors(
            spark, model.userFactors, items, pairs.select("user", "item"), k
        ).cache()
        lists.count()
        row["top-k"] = time.perf_counter() - started
        started = time.perf_counter()
        test = with_positions(spark, user_item_pairs(periods["test"], event_weights), scaled_ids)
        relevant = test.join(pairs, ["user", "item"], "left_anti").select("user", "item")
        row[f"nDCG@{k} (Spark)"] = ranking_metrics(lists, relevant, k, ["ndcgAtK"])["ndcgAtK"]
        row["evaluation"] = time.perf_counter() - started
        if single_machine is not None:
            matrix = sp.vstack([train] * factor, format="csr")  # the same copies
            started = time.perf_counter()
            single_machine(matrix)
            row["single machine"] = time.perf_counter() - started
        rows.append(row)
        for frame in (lists, pairs, scaled):
            frame.unpersist()
    curve = pd.DataFrame(rows).set_index("scale")
    counts = ["events", "users", "training pairs", "ALS sweeps"]
    return curve.astype(dict.fromkeys(counts, "int64"))


def _encode_batches(
    batches: Iterator[pd.DataFrame], key: str, text: str, batch_size: int
) -> Iterator[pd.DataFrame]:
    from recutils.text import encode_texts as encode

    for batch in batches:
        if batch.empty:
            continue
        vectors = encode(batch[text].tolist(), batch_size=batch_size, cache=False, threads=1)
        yield pd.DataFrame({key: batch[key].to_numpy(), "vector": list(vectors)})


def encode_texts(
    frame: DataFrame, key: str = ITEM, text: str = "text", batch_size: int | None = None
) -> DataFrame:
    """MiniLM vectors of the ``text`` column, computed where the data lies.

    ``mapInPandas`` hands each Python worker its partitions as pandas batches; the worker
    calls :func:`recutils.text.encode_texts` (no disk cache, one torch thread: the cores are
    shared between the tasks). The model is loaded on a worker's first batch and kept, since
    Spark reuses its Python workers: one load per worker, not per row or batch. Each vector
    is the one :func:`recutils.text.encode_texts` gives in a single process, to float32
    rounding (``tests/test_spark.py``).

    Returns:
        A DataFrame of ``key`` and ``vector`` (array of 384 floats, L2 norm 1).

    Example:
        >>> frame = pd.DataFrame({"item_id": ["P1"], "text": ["red wool scarf"]})
        >>> encode_texts(spark.createDataFrame(frame)).first()["vector"][:2]  # doctest: +SKIP
    """
    from recutils.text import DEFAULT_BATCH_SIZE

    for column in (key, text):
        if column not in frame.columns:
            raise ValueError(f"frame has no column {column!r}; its columns are {frame.columns}")
    size = (
        DEFAULT_BATCH_SIZE if batch_size is None else checks.positive_int(batch_size, "batch_size")
    )
    key_type = dict(frame.dtypes)[key]
    schema = f"`{key}` {key_type}, vector array<float>"
    return frame.select(key, text).mapInPandas(
        lambda batches: _encode_batches(batches, key, text, size), schema
    )
