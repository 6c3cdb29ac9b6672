"""Metrics and logs under gunicorn, as deployed (gunicorn_config.py): every worker counts into
files of its own in PROMETHEUS_MULTIPROC_DIR and any worker's answer to /metrics adds them
all up; the app writes one JSON access line per request and gunicorn none."""
from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, database_uri, new_uuid
from pymongo import MongoClient
from realserver import Gunicorn, wait_until
from test_metrics import parse, value


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Gunicorn]]:
    started: list[Gunicorn] = []
    yield started
    for server in started:
        server.stop()


def requests_counted(url: str, route: str) -> float:
    samples = parse(requests.get(url + "/metrics", auth=AUTH, timeout=10).text)
    return value(samples, "orchestrator_http_requests_total", method="GET", route=route,
                 status="200") or 0


def test_one_worker_on_the_embedded_store_logs_json_and_counts(tmp_path, servers):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    server = Gunicorn("", tmp_path / "gunicorn.log", workers=1, env={
        "DATA_DIR": str(tmp_path / "data"), "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    servers.append(server.start())
    assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start
    for _ in range(5):
        answer = requests.get(server.url + "/problem", auth=AUTH, timeout=10,
                              headers={"X-Request-ID": "gunicorn-trace"})
        assert answer.headers["X-Request-ID"] == "gunicorn-trace"
    assert requests_counted(server.url, "/problem") == 5
    assert any(name.startswith("counter_") for name in os.listdir(metrics_dir))
    server.stop()
    entries = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    access = [entry for entry in entries if entry["logger"] == "orchestrator.access"]
    assert [entry["request_id"] for entry in access].count("gunicorn-trace") == 5
    assert {entry["route"] for entry in access} == {"/health", "/problem", "/metrics"}  # (start)
    assert any(entry["logger"] == "gunicorn.error" for entry in entries)  # gunicorn's own, as JSON
    assert not any(entry["logger"] == "gunicorn.access" for entry in entries)


@pytest.mark.real_server
def test_every_workers_counts_add_up_and_outlive_the_worker(tmp_path, servers):
    name = f"test_obs_{new_uuid().replace('-', '')[:16]}"
    metrics_dir = tmp_path / "metrics"
    server = Gunicorn(database_uri(MONGO_URI, name), tmp_path / "gunicorn.log", workers=2,
                      env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    servers.append(server.start())
    try:
        served = 0
        # one connection per request: the two workers both take some
        while len({n for n in os.listdir(metrics_dir) if n.startswith("counter_")}) < 2:
            assert served < 400, "one worker took every connection"
            with requests.Session() as fresh:
                assert fresh.get(server.url + "/version", timeout=10).status_code == 200
            served += 1
        for _ in range(3):  # whichever worker answers, the total is the same
            assert requests_counted(server.url, "/version") == served
        victim = sorted(server.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in server.worker_pids()
                   and len(server.worker_pids()) == 2, 30, what="gunicorn replaced the worker")
        assert requests_counted(server.url, "/version") == served  # its counts stay
    finally:
        with MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000) as client:
            client.drop_database(name)
