"""The recommendation service: its checks, its HTTP answers, a real server process, load tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from recutils.interactions import IdIndex
from recutils.models import ItemKNN, MostPopular
from recutils.persistence import training_fingerprint
from recutils.service import (
    BadRequestError,
    LoadTestResult,
    RecommendationService,
    ServiceProcess,
    UnknownIdError,
    create_app,
    load_service,
    load_test,
    save_service,
    time_in_process,
)

N_USERS, N_ITEMS = 30, 12


@pytest.fixture(scope="module")
def index() -> IdIndex:
    return IdIndex(
        users=pd.Index([f"u{n:02d}" for n in range(N_USERS)], name="user"),
        items=pd.Index([f"p{n:02d}" for n in range(N_ITEMS)], name="item"),
    )


@pytest.fixture(scope="module")
def train() -> sp.csr_matrix:
    return sp.random(N_USERS, N_ITEMS, density=0.3, format="csr", random_state=3, dtype=np.float32)


@pytest.fixture(scope="module")
def knn(train: sp.csr_matrix) -> ItemKNN:
    return ItemKNN().fit(train)


@pytest.fixture(scope="module")
def service(knn: ItemKNN, index: IdIndex) -> RecommendationService:
    return RecommendationService(knn, index.users, index.items, max_k=5, trained_on="key")


@pytest.fixture(scope="module")
def client(service: RecommendationService) -> TestClient:
    return TestClient(create_app(service))


def test_the_service_answers_what_the_model_recommends(service, knn) -> None:
    expected_items, expected_scores = knn.recommend(np.array([7]), k=4)
    answer = service.recommend("u07", 4)
    assert [line.item for line in answer] == [f"p{i:02d}" for i in expected_items[0] if i >= 0]
    assert [line.score for line in answer] == pytest.approx(expected_scores[0][: len(answer)])
    similar_items, _ = knn.similar_items(np.array([3]), k=5)
    assert [line.item for line in service.similar("p03", 5)] == [
        f"p{i:02d}" for i in similar_items[0] if i >= 0
    ]


def test_the_service_refuses_unknown_ids_and_bad_k_by_name(service) -> None:
    with pytest.raises(UnknownIdError, match=r"unknown user 'nobody'.*30 users"):
        service.recommend("nobody", 3)
    with pytest.raises(UnknownIdError, match="unknown item 'p99'"):
        service.similar("p99", 3)
    for bad in (0, 6, 2.5, "3", None):
        with pytest.raises(BadRequestError, match="k must be a whole number from 1 to 5"):
            service.recommend("u01", bad)


def test_the_service_checks_its_ids_against_the_model(knn, index) -> None:
    with pytest.raises(ValueError, match="user_ids has 29 ids but the model has 30"):
        RecommendationService(knn, index.users[:-1], index.items)
    with pytest.raises(ValueError, match="item_ids must be unique as strings; '1' appears twice"):
        RecommendationService(knn, index.users, [1, "1", *range(2, N_ITEMS)])
    with pytest.raises(ValueError, match="not fitted"):
        RecommendationService(ItemKNN(), index.users, index.items)


def test_http_answers_match_the_service(client, service) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() | {"status": "ok", "users": N_USERS, "items": N_ITEMS} == health.json()
    answer = client.get("/recommend", params={"user": "u07", "k": 4})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["user"], body["k"], body["model"]) == ("u07", 4, service.model.name)
    assert [line["item"] for line in body["items"]] == [x.item for x in service.recommend("u07", 4)]
    similar = client.get("/similar", params={"item": "p03", "k": 2}).json()
    expected = [x.item for x in service.similar("p03", 2)]
    assert [line["item"] for line in similar["items"]] == expected


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/recommend?user=nobody&k=3", 404, "unknown user 'nobody'"),
        ("/similar?item=p99&k=3", 404, "unknown item 'p99'"),
        ("/recommend?user=u01&k=0", 422, "greater than or equal to 1"),
        ("/recommend?user=u01&k=6", 422, "less than or equal to 5"),
        ("/recommend?user=u01&k=ten", 422, "valid integer"),
        ("/recommend?k=3", 422, "user"),
        ("/recommend?user=&k=3", 422, "at least 1 character"),
        ("/nowhere", 404, "Not Found"),
    ],
)
def test_a_client_mistake_is_a_4xx_that_says_what_is_wrong(client, path, status, says) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert says in answer.text


def test_a_model_without_item_similarity_answers_similar_with_404(train, index) -> None:
    service = RecommendationService(MostPopular().fit(train), index.users, index.items)
    answer = TestClient(create_app(service)).get("/similar", params={"item": "p01"})
    assert answer.status_code == 404
    assert "defines no item-item similarity" in answer.json()["detail"]
    assert service.health()["similar_items"] is False


def test_a_served_directory_answers_over_http_and_stops(tmp_path, knn, index, train) -> None:
    directory = save_service(tmp_path / "svc", knn, index, trained_on=training_fingerprint(train))
    loaded = load_service(directory)
    assert loaded.trained_on == training_fingerprint(train)
    in_memory = RecommendationService(knn, index.users, index.items)
    assert loaded.recommend("u05", 5) == in_memory.recommend("u05", 5)
    with ServiceProcess(directory, startup_timeout=120) as server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        ok = load_test(server.url, ["/recommend?user=u05&k=5"] * 20, concurrency=2)
        bad = load_test(
            server.url, ["/recommend?user=u05&k=1000", "/recommend?user=x"], expected_status=200
        )
        body = httpx.get(f"{server.url}/recommend", params={"user": "u05", "k": 5}).json()
    assert not server.running
    assert [line["item"] for line in body["items"]] == [x.item for x in loaded.recommend("u05", 5)]
    assert (ok.requests, ok.errors, ok.statuses) == (20, 0, {200: 20})
    assert bad.statuses == {404: 1, 422: 1} and bad.errors == 2


def test_a_server_that_cannot_start_says_why(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a service directory"):
        ServiceProcess(tmp_path)
    (tmp_path / "ids.npz").write_bytes(b"not an npz file")
    with pytest.raises(RuntimeError, match="stopped while starting"):
        ServiceProcess(tmp_path, startup_timeout=60).start()


def test_load_tests_are_bounded_and_only_local(service) -> None:
    with pytest.raises(ValueError, match="only targets a server on this machine"):
        load_test("http://example.org", ["/health"])
    with pytest.raises(ValueError, match="at least one request"):
        time_in_process(print, [])
    users = [f"u{n:02d}" for n in range(N_USERS)] + ["nobody"]
    result = time_in_process(lambda user: service.recommend(user, 5), users, concurrency=3)
    assert isinstance(result, LoadTestResult)
    assert (result.requests, result.errors, result.statuses) == (31, 1, {200: 30, 500: 1})
    row = result.as_row()
    assert row["p50 ms"] <= row["p95 ms"] <= row["p99 ms"] and row["requests"] == 31
    stopped = time_in_process(lambda _: time.sleep(0.05), ["a"] * 100, time_limit=0.2)
    assert 1 <= stopped.requests < 100


def test_a_server_whose_parent_dies_stops_by_itself(tmp_path, knn, index) -> None:
    # a notebook kernel that dies inside the with-block never reaches stop(): the child
    # watches its parent and exits on its own
    directory = save_service(tmp_path / "svc", knn, index)
    parent = (
        "import sys, httpx\n"
        "from recutils.service import ServiceProcess\n"
        f"server = ServiceProcess({str(directory)!r}).start()\n"
        "print(server.port, server._process.pid, flush=True)\n"
        "import os; os._exit(1)  # dies without stopping the server\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=180
    )
    port, child_pid = (int(value) for value in result.stdout.split())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.2)
        raise AssertionError(f"the orphaned server (pid {child_pid}) still answers after 30 s")
    finally:
        with contextlib.suppress(OSError):  # gone already, as it should be
            os.kill(child_pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
