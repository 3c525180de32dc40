"""A recommendation service: a saved model behind HTTP (FastAPI on uvicorn), and its load test.

Three layers, so each can be used and measured alone:

1. :class:`RecommendationService`: the model and its id numbering, with the checks a service
   needs and no web framework: ``recommend(user_id, k)`` and ``similar(item_id, k)`` take the
   shop's own ids (strings, as they arrive in a URL), answer with ids and scores, and raise
   :class:`UnknownIdError` for an id the model was not trained with and :class:`BadRequestError`
   for a bad ``k``. Calling it in-process is what the HTTP layer costs are measured against.
2. :func:`create_app`: a FastAPI application over a service: ``GET /health``,
   ``GET /recommend?user=...&k=...``, ``GET /similar?item=...&k=...``. FastAPI validates the
   query (``k`` a whole number in ``1..max_k``) and answers a bad one with ``422``; an unknown
   id is a ``404``, a model without item similarities answers ``/similar`` with ``404``: a
   client's mistake is never a ``500``.
3. :class:`ServiceProcess`: uvicorn serving a saved service directory in a child process on
   ``127.0.0.1`` (a context manager: started, waited for, and stopped at the end of the
   ``with`` block, also when the block fails; the child also stops by itself when its parent
   process ends, so a crashed notebook leaves nothing running). :func:`load_test` sends a
   fixed list of requests at a fixed concurrency from threads and reports throughput, latency
   percentiles and errors (:class:`LoadTestResult`).

A service directory (:func:`save_service`) holds the model saved by
:func:`recutils.persistence.save_model` (``model/``) and the id numbering (``ids.npz``, written
atomically with checksums by :mod:`recutils.cache`). No pickle: a service loads only arrays,
JSON and safetensors.

Example::

    save_service("shop-service", als, index, trained_on=training_fingerprint(train))
    with ServiceProcess("shop-service") as server:
        result = load_test(server.url, ["/recommend?user=u00001&k=10"] * 200, concurrency=4)
    print(result.as_row())

From a shell: ``python -m recutils.service serve shop-service --port 8000`` (``make serve``
builds a demo directory first: ALS on the course's shop).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils import checks
from recutils.cache import read_arrays, write_arrays

if TYPE_CHECKING:
    from fastapi import FastAPI

    from recutils.interactions import IdIndex
    from recutils.models.base import Recommender

#: The largest ``k`` a service answers unless told otherwise.
DEFAULT_MAX_K = 100
#: Key of the ids file of a service directory (format version of the file).
IDS_KEY = "recutils-service-ids-v1"
#: Where a server listens: this machine only (a course never opens a port to the network).
LOCALHOST = "127.0.0.1"


class UnknownIdError(KeyError):
    """A user or item id the service's model was not trained with (HTTP 404)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class BadRequestError(ValueError):
    """A request the service cannot answer as asked, e.g. ``k`` out of range (HTTP 422)."""


@dataclass(frozen=True)
class RankedItem:
    """One answer line: an item id and the model's score for it."""

    item: str
    score: float


class RecommendationService:
    """A fitted model with its id numbering, answering in the shop's ids.

    Args:
        model: a fitted :class:`recutils.models.Recommender`.
        user_ids: the user id of each row of the model's training matrix (``index.users``).
        item_ids: the item id of each column (``index.items``).
        max_k: the largest list a caller may ask for.
        trained_on: what the model was trained on, reported by ``health``
            (:func:`recutils.persistence.training_fingerprint`).

    Ids are compared as strings (a URL carries strings): ``user_ids`` of 17 and "17" are the
    same user, and two ids with the same string form are an error.
    """

    def __init__(
        self,
        model: Recommender,
        user_ids: Sequence[Any] | pd.Index | np.ndarray,
        item_ids: Sequence[Any] | pd.Index | np.ndarray,
        *,
        max_k: int = DEFAULT_MAX_K,
        trained_on: str | None = None,
    ) -> None:
        if not hasattr(model, "train_"):
            raise ValueError(f"model {type(model).__name__} is not fitted: call fit first")
        self.model = model
        self.user_ids = _id_strings(user_ids, "user_ids", model.n_users_, "users (rows)")
        self.item_ids = _id_strings(item_ids, "item_ids", model.n_items_, "items (columns)")
        self._user_row = {user: row for row, user in enumerate(self.user_ids)}
        self._item_column = {item: column for column, item in enumerate(self.item_ids)}
        self.max_k = checks.positive_int(max_k, "max_k", "the longest list a caller may ask for")
        self.trained_on = trained_on
        self.has_similar_items = defines_similar_items(model)

    def _k(self, k: Any) -> int:
        if not checks.is_integer(k) or not 1 <= int(k) <= self.max_k:
            raise BadRequestError(f"k must be a whole number from 1 to {self.max_k}, got {k!r}")
        return int(k)

    def user_row(self, user: Any) -> int:
        """The model's row of ``user`` (an id, compared as a string); :class:`UnknownIdError`
        if the model was not trained with it."""
        row = self._user_row.get(str(user))
        if row is None:
            raise UnknownIdError(
                f"unknown user {str(user)!r}: the model knows {len(self.user_ids):,} users "
                f"(e.g. {self.user_ids[0]!r}); a new user needs a cold-start answer (notebook 07)"
            )
        return row

    def item_column(self, item: Any) -> int:
        """The model's column of ``item``; :class:`UnknownIdError` if it is not in the catalog."""
        column = self._item_column.get(str(item))
        if column is None:
            raise UnknownIdError(
                f"unknown item {str(item)!r}: the catalog has {len(self.item_ids):,} items "
                f"(e.g. {self.item_ids[0]!r})"
            )
        return column

    def _answer(self, items: np.ndarray, scores: np.ndarray) -> list[RankedItem]:
        return [
            RankedItem(self.item_ids[item], float(score))
            for item, score in zip(items, scores, strict=True)
            if item >= 0
        ]

    def recommend(self, user: Any, k: Any = 10) -> list[RankedItem]:
        """The ``k`` best items for ``user`` (items already in training left out), best first."""
        k = self._k(k)
        items, scores = self.model.recommend(np.array([self.user_row(user)]), k=k)
        return self._answer(items[0], scores[0])

    def similar(self, item: Any, k: Any = 10) -> list[RankedItem]:
        """The ``k`` items most similar to ``item``, where the model defines item similarity."""
        k = self._k(k)
        if not self.has_similar_items:
            raise UnknownIdError(
                f"model {self.model.name!r} defines no item-item similarity; /similar needs one "
                "(e.g. ItemKNN, ALS, ContentBased)"
            )
        items, scores = self.model.similar_items(np.array([self.item_column(item)]), k=k)
        return self._answer(items[0], scores[0])

    def health(self) -> dict[str, Any]:
        """What is served: the model's name, its numbers of users and items, ``trained_on``."""
        return {
            "status": "ok",
            "model": self.model.name,
            "users": len(self.user_ids),
            "items": len(self.item_ids),
            "max_k": self.max_k,
            "similar_items": self.has_similar_items,
            "trained_on": self.trained_on,
        }


def defines_similar_items(model: Recommender) -> bool:
    """Whether ``model`` has an item-item similarity (overrides ``_similar_items``); for a
    model that wraps another (e.g. ``Switching``), its own answer."""
    from recutils.models.base import Recommender

    return type(model)._similar_items is not Recommender._similar_items


def _id_strings(ids: Any, name: str, expected: int, what: str) -> list[str]:
    values = [str(value) for value in np.asarray(ids, dtype=object).ravel()]
    if len(values) != expected:
        raise ValueError(
            f"{name} has {len(values):,} ids but the model has {expected:,} {what}; pass the "
            "IdIndex the model's training matrix was built with"
        )
    if len(set(values)) != len(values):
        duplicated = pd.Series(values)[pd.Series(values).duplicated()].iloc[0]
        raise ValueError(f"{name} must be unique as strings; {duplicated!r} appears twice")
    return values


# -- saving and loading a service directory --------------------------------------------------


def save_service(
    directory: str | os.PathLike[str],
    model: Recommender,
    index: IdIndex,
    *,
    trained_on: str | None = None,
) -> Path:
    """Save ``model`` and its ids as a service directory (``model/`` + ``ids.npz``).

    Args:
        directory: created (or replaced: the model part atomically, see
            :func:`recutils.persistence.save_model`).
        model: a fitted model.
        index: the :class:`recutils.interactions.IdIndex` its training matrix was built with.
        trained_on: what it was trained on, stored with the model and checked by nothing here
            (pass it to :func:`recutils.persistence.load_model` to insist on it).
    """
    from recutils.persistence import save_model

    RecommendationService(model, index.users, index.items)  # checks the ids fit the model
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, directory / "model", trained_on=trained_on)
    write_arrays(
        directory / "ids.npz",
        IDS_KEY,
        {
            "user_ids": np.array([str(u) for u in index.users], dtype=str),
            "item_ids": np.array([str(i) for i in index.items], dtype=str),
        },
    )
    return directory


def load_service(
    directory: str | os.PathLike[str],
    *,
    trained_on: str | None = None,
    max_k: int = DEFAULT_MAX_K,
) -> RecommendationService:
    """The :class:`RecommendationService` of a directory written by :func:`save_service`.

    Args:
        directory: the service directory.
        trained_on: the training data you expect (refused if the model was trained on other
            data, see :func:`recutils.persistence.load_model`).
        max_k: the longest list a caller may ask for.
    """
    from recutils.persistence import DESCRIPTION, load_model

    directory = Path(directory)
    if not (directory / "ids.npz").is_file():
        raise FileNotFoundError(
            f"{directory} is not a service directory (no ids.npz); write one with "
            "recutils.service.save_service"
        )
    ids = read_arrays(directory / "ids.npz", IDS_KEY)
    model = load_model(directory / "model", trained_on=trained_on)  # checks every file first
    description = json.loads((directory / "model" / DESCRIPTION).read_text(encoding="utf-8"))
    return RecommendationService(
        model,
        ids["user_ids"],
        ids["item_ids"],
        max_k=max_k,
        trained_on=description.get("trained_on"),
    )


# -- the HTTP layer ----------------------------------------------------------------------------


def create_app(service: RecommendationService) -> FastAPI:
    """A FastAPI application answering for ``service``.

    ``GET /health`` -> :meth:`RecommendationService.health`;
    ``GET /recommend?user=ID&k=10`` and ``GET /similar?item=ID&k=10`` ->
    ``{"user"|"item": ID, "k": k, "model": name, "items": [{"item": ID, "score": s}, ...]}``.
    A missing or malformed query parameter, or ``k`` outside ``1..max_k``: ``422`` with
    FastAPI's description of what is wrong; an unknown id: ``404`` with the service's message.

    The endpoints are plain functions (``def``, not ``async def``): FastAPI runs them in a
    thread pool, so one slow model call does not hold up the server's event loop.
    """
    from fastapi import FastAPI, HTTPException, Query

    app = FastAPI(
        title="recutils recommendation service",
        description="A saved recutils model behind HTTP (notebook 13).",
        version="1",
    )
    max_k = service.max_k

    def answer(key: str, value: str, k: int, ranked: Callable[[], list[RankedItem]]) -> dict:
        try:
            items = ranked()
        except UnknownIdError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        except BadRequestError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return {
            key: value,
            "k": k,
            "model": service.model.name,
            "items": [{"item": line.item, "score": line.score} for line in items],
        }

    @app.get("/health")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/recommend")
    def recommend(
        user: str = Query(..., min_length=1, description="a user id the model knows"),
        k: int = Query(10, ge=1, le=max_k, description="how many items"),
    ) -> dict[str, Any]:
        return answer("user", user, k, lambda: service.recommend(user, k))

    @app.get("/similar")
    def similar(
        item: str = Query(..., min_length=1, description="an item id of the catalog"),
        k: int = Query(10, ge=1, le=max_k, description="how many items"),
    ) -> dict[str, Any]:
        return answer("item", item, k, lambda: service.similar(item, k))

    return app


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on at ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """``python -m recutils.service serve DIRECTORY`` in a child process, as a context manager.

    Args:
        directory: a service directory (:func:`save_service`).
        port: where to listen on ``127.0.0.1``; ``None`` (default): a free port.
        startup_timeout: seconds to wait for ``/health`` to answer before giving up (the child
            imports torch and loads the model first).
        threads: BLAS and torch threads of the child (1: the load test's client threads need
            the other core).

    ``with ServiceProcess(d) as server:`` starts the child, waits until it answers, and on
    leaving the block (normally or by an exception) asks it to stop, waits, and kills it if it
    does not. The child also exits by itself when this process ends (it watches its parent), so
    a notebook whose kernel dies leaves no server behind.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        port: int | None = None,
        startup_timeout: float = 120.0,
        threads: int = 1,
    ) -> None:
        self.directory = Path(directory)
        if not (self.directory / "ids.npz").is_file():
            raise FileNotFoundError(
                f"{self.directory} is not a service directory (no ids.npz); write one with "
                "recutils.service.save_service"
            )
        self.port = free_port() if port is None else checks.positive_int(port, "port")
        self.startup_timeout = checks.positive_number(startup_timeout, "startup_timeout")
        self.threads = checks.positive_int(threads, "threads")
        self.url = f"http://{LOCALHOST}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> ServiceProcess:
        """Start the child and wait until ``/health`` answers; raise with its errors if not."""
        import httpx

        command = [
            sys.executable, "-m", "recutils.service", "serve", str(self.directory),
            "--port", str(self.port), "--threads", str(self.threads),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        # the child's messages go to a file, not a pipe: a pipe nobody reads fills up and
        # blocks the child as soon as it has written a few kilobytes
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"the service stopped while starting:\n{self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the service did not answer within {self.startup_timeout:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to stop (SIGTERM: uvicorn finishes open requests), kill it if needed."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self) -> str:
        """What the child printed so far (its errors, if it failed)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadTestResult:
    """What a load test measured.

    Attributes:
        requests: requests sent (the first ``requests`` of the list, fewer if the time ran out).
        concurrency: requests in flight at once (one client thread each).
        seconds: wall time from the first request sent to the last answer.
        latencies_ms: the time of each request, in milliseconds, in the order they finished.
        statuses: how many answers had each HTTP status (``0``: no answer, e.g. a time-out).
        expected_status: the status a request should get; any other counts as an error.
    """

    requests: int
    concurrency: int
    seconds: float
    latencies_ms: np.ndarray
    statuses: dict[int, int]
    expected_status: int = 200

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != self.expected_status)

    @property
    def throughput(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds if self.seconds > 0 else float("nan")

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else np.nan

    def as_row(self) -> dict[str, Any]:
        """One row of a results table: throughput, p50/p95/p99 latency, errors."""
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "requests/s": round(self.throughput, 1),
            "p50 ms": round(self.percentile_ms(50), 2),
            "p95 ms": round(self.percentile_ms(95), 2),
            "p99 ms": round(self.percentile_ms(99), 2),
            "errors": self.errors,
        }


def _run_concurrently(
    call: Callable[[str], int],
    jobs: Sequence[str],
    concurrency: int,
    time_limit: float,
    expected_status: int,
) -> LoadTestResult:
    concurrency = checks.positive_int(concurrency, "concurrency", "requests in flight at once")
    time_limit = checks.positive_number(time_limit, "time_limit", "seconds")
    if len(jobs) == 0:
        raise ValueError("the load test needs at least one request")
    latencies = np.full(len(jobs), np.nan)
    statuses = np.zeros(len(jobs), dtype=np.int64)
    next_job = iter(range(len(jobs)))
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + time_limit

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                position = next(next_job, None)
            if position is None:
                return
            began = time.perf_counter()
            statuses[position] = call(jobs[position])
            latencies[position] = (time.perf_counter() - began) * 1000

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    seconds = time.perf_counter() - start
    done = ~np.isnan(latencies)
    return LoadTestResult(
        requests=int(done.sum()),
        concurrency=concurrency,
        seconds=seconds,
        latencies_ms=latencies[done],
        statuses=dict(sorted(Counter(statuses[done].tolist()).items())),
        expected_status=expected_status,
    )


def load_test(
    url: str,
    paths: Sequence[str],
    *,
    concurrency: int = 1,
    time_limit: float = 30.0,
    timeout: float = 10.0,
    expected_status: int = 200,
) -> LoadTestResult:
    """Send ``GET url+path`` for each of ``paths`` with ``concurrency`` requests in flight.

    Bounded twice: at most ``len(paths)`` requests, and no new request after ``time_limit``
    seconds. Each client thread sends its next request when its last one is answered (a
    *closed* loop: the load adapts to the server, so a slow server is seen as lower throughput
    and, past saturation, as higher latency). The client shares one ``httpx.Client``
    (connections kept alive, as a real caller would). A request without an answer within
    ``timeout`` seconds counts with status ``0``.

    Only for a server you run on this machine (``127.0.0.1``): a load test elsewhere is an attack.
    """
    import httpx

    if not url.startswith((f"http://{LOCALHOST}", "http://localhost")):
        raise ValueError(f"load_test only targets a server on this machine (127.0.0.1), got {url}")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, timeout=timeout, limits=limits) as client:

        def call(path: str) -> int:
            try:
                return client.get(path).status_code
            except httpx.HTTPError:
                return 0

        return _run_concurrently(call, paths, concurrency, time_limit, expected_status)


def time_in_process(
    call: Callable[[str], Any],
    arguments: Sequence[str],
    *,
    concurrency: int = 1,
    time_limit: float = 30.0,
) -> LoadTestResult:
    """The same measurement as :func:`load_test` for a Python call (no HTTP), e.g.
    ``lambda user: service.recommend(user, 10)``; an exception counts as status ``500``."""

    def timed(argument: str) -> int:
        try:
            call(argument)
        except Exception:  # counted as an error, like an HTTP 500
            return 500
        return 200

    return _run_concurrently(timed, arguments, concurrency, time_limit, 200)


# -- command line --------------------------------------------------------------------------------


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def demo_directory(directory: str | os.PathLike[str] | None = None) -> Path:
    """A service directory with ALS fitted on the course's shop (made once, then reused)."""
    from recutils import environment, settings
    from recutils.datasets import load
    from recutils.interactions import IdIndex, user_item_pairs
    from recutils.models import ALS
    from recutils.persistence import training_fingerprint

    directory = Path(directory) if directory else environment.cache_dir() / "service-demo"
    if (directory / "ids.npz").is_file():
        return directory
    dataset = load("shop")
    index = IdIndex.from_dataset(dataset)
    pairs = user_item_pairs(dataset.interactions, dict(settings.EVENT_WEIGHTS))
    train = index.matrix(pairs)
    model = ALS(seed=environment.DEFAULT_SEED).fit(train)
    return save_service(directory, model, index, trained_on=training_fingerprint(train))


def main(argv: Iterable[str] | None = None) -> None:
    """``serve DIRECTORY [--port P]`` or ``demo [--port P]`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m recutils.service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a service directory (save_service)")
    serve.add_argument("directory")
    demo = commands.add_parser("demo", help="ALS on the course's shop, made once, then served")
    demo.add_argument("--directory", default=None)
    for command in (serve, demo):
        command.add_argument("--port", type=int, default=8000)
        command.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
        command.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    if arguments.parent_pid is not None:
        _exit_with_parent(arguments.parent_pid)

    import uvicorn

    from recutils import environment

    environment.set_threads(arguments.threads, arguments.threads)
    if arguments.command == "demo":
        directory = demo_directory(arguments.directory)
    else:
        directory = Path(arguments.directory)
    service = load_service(directory)
    app = create_app(service)
    url = f"http://{LOCALHOST}:{arguments.port}"
    print(f"serving {directory} on {url} (Ctrl+C stops); try", flush=True)
    print(f"  {url}/recommend?user={service.user_ids[0]}&k=10", flush=True)
    print(f"  {url}/similar?item={service.item_ids[0]}&k=10", flush=True)
    print(f"  {url}/docs  (every endpoint, with a form to try it)", flush=True)
    uvicorn.run(app, host=LOCALHOST, port=arguments.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
