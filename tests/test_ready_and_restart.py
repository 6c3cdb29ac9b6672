"""GET /ready, and the quick start keeping its data across a restart."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, PASSWORD, USER, ApiClient, new_uuid
from helpers import claim, problem_details, start_server
from helpers import stop_server as stop

import app.api.blueprints.meta as meta
from app.decisions.upkeep import Sweeper
from app.storage.errors import DatabaseError

REPO = Path(__file__).resolve().parent.parent


def test_ready_when_the_database_answers_and_nothing_is_left_unapplied(client):
    response = client.flask.get("/ready")  # no credentials needed
    assert response.status_code == 200 and response.get_json() == {"status": "ready"}


def test_not_ready_while_the_background_sweep_keeps_failing(make_app, monkeypatch):
    app = make_app(SWEEP_SECONDS=0.05)
    client = app.test_client()
    streams = app.extensions["orchestrator.ledger"].streams
    healthy = streams.sweep

    def failing_sweep():
        raise DatabaseError("the database errs")

    monkeypatch.setattr(meta, "READY_GRACE_SECONDS", 0.2)
    monkeypatch.setattr(streams, "sweep", failing_sweep)
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    body = problem_details(client.get("/ready"), 503)
    assert "sweep has been failing" in body["detail"] and "PyMongoError" in body["detail"]
    monkeypatch.setattr(streams, "sweep", healthy)
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/ready").status_code == 200


def test_a_stream_event_left_unapplied_is_applied_by_the_sweeper(make_app, monkeypatch):
    app = make_app(SWEEP_SECONDS=0.05)
    client = ApiClient(app.test_client())
    streams = app.extensions["orchestrator.ledger"].streams
    monkeypatch.setattr(streams, "settle_seconds", 0.1)
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=1)
    task = client.learnuplets(algo=client.algo(problem["uuid"])["new_algo"]["uuid"])[0]
    original = streams.write

    def crash_once(event, writes):
        monkeypatch.setattr(streams, "write", original)
        raise RuntimeError("the writer died before applying")

    monkeypatch.setattr(streams, "write", crash_once)
    assert claim(client, task["uuid"]).status_code == 500
    deadline = time.monotonic() + 10
    while client.get(f"/learnuplet/{task['uuid']}").get_json()["status"] != "pending":
        assert time.monotonic() < deadline, "the sweeper did not apply the claim"
        time.sleep(0.05)


def test_not_ready_while_the_registry_is_behind(client, app, db, monkeypatch):
    registry = app.extensions["orchestrator.ledger"].registry
    problem = client.problem()["uuid"]
    algo = {"uuid": new_uuid(), "problem": problem, "name": "late"}
    db.insert_event("events", {"_id": registry.head() + 1, "kind": "algo_registered", "at": 0,
                               "by": "other", "reads": [], "writes": [], "algo": algo})
    monkeypatch.setattr(meta, "READY_GRACE_SECONDS", 0.0)
    body = problem_details(client.flask.get("/ready"), 503)
    assert "unapplied" in body["detail"] and "registry head" in body["detail"]
    registry.roll_forward()
    assert client.flask.get("/ready").status_code == 200
    assert client.get(f"/algo/{algo['uuid']}").status_code == 200


def test_the_sweeper_leaves_a_fresh_registry_event_to_its_writer(client, app, db):
    """A registry event committed since the last tick is normally being applied by its writer
    (applying it too would take its chain planning from under it: `new_learnuplets: 0`); one
    still pending a whole tick later is rolled forward."""
    ledgers = app.extensions["orchestrator.ledger"]
    problem = client.problem()["uuid"]
    algo = {"uuid": new_uuid(), "problem": problem, "name": "late"}
    db.insert_event("events", {"_id": ledgers.registry.head() + 1, "kind": "algo_registered",
                               "at": 0, "by": "other", "reads": [], "writes": [], "algo": algo})
    sweeper = Sweeper(ledgers, interval=1.0, max_attempts=3)
    sweeper.roll_registry_forward()
    assert client.get(f"/algo/{algo['uuid']}").status_code == 404  # its writer's, for now
    sweeper.roll_registry_forward()
    assert client.get(f"/algo/{algo['uuid']}").status_code == 200
    assert client.get(f"/learnuplet?algo={algo['uuid']}").status_code == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_quickstart(data_dir: Path, port: int) -> subprocess.Popen:
    """`python -m app` as the README's quick start runs it (no MONGO_URI)."""
    return start_server([sys.executable, "-m", "app"], port, REPO,
                        USER_AUTH=USER, PWD_AUTH=PASSWORD, DATA_DIR=str(data_dir))


@pytest.mark.skipif(bool(MONGO_URI), reason="the quick start is the embedded store (no MONGO_URI)")
def test_the_quick_start_keeps_its_data_across_a_restart(tmp_path):
    port, data_dir = free_port(), tmp_path / "orchestrator-data"
    url = f"http://127.0.0.1:{port}"
    body = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    server = start_quickstart(data_dir, port)
    try:
        assert requests.post(f"{url}/problem", json=body, auth=AUTH, timeout=10).status_code == 201
    finally:
        stop(server)
    assert (data_dir / "lock").exists()
    server = start_quickstart(data_dir, port)
    try:
        stored = requests.get(f"{url}/problem/{body['uuid']}", auth=AUTH, timeout=10)
        assert stored.status_code == 200 and stored.json()["workflow"] == body["workflow"]
        retry = requests.post(f"{url}/problem", json=body, auth=AUTH, timeout=10)
        assert retry.status_code == 200  # the same create again: nothing new
    finally:
        stop(server)


@pytest.mark.skipif(bool(MONGO_URI), reason="the quick start is the embedded store (no MONGO_URI)")
def test_a_second_server_on_the_same_data_directory_is_refused(tmp_path):
    data_dir = tmp_path / "orchestrator-data"
    server = start_quickstart(data_dir, free_port())
    try:
        env = {key: value for key, value in os.environ.items() if key != "MONGO_URI"}
        env.update(USER_AUTH=USER, PWD_AUTH=PASSWORD, PORT=str(free_port()), DATA_DIR=str(data_dir))
        second = subprocess.run([sys.executable, "-m", "app"], cwd=REPO, env=env, timeout=30,
                                capture_output=True, text=True)
        assert second.returncode != 0
        assert str(data_dir) in second.stderr and "another" in second.stderr.lower()
    finally:
        stop(server)
