"""Small helpers shared by the HTTP tests (the fixtures live in conftest.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from conftest import ApiClient, new_uuid

COLLECTIONS = ("problem", "algo", "data", "learnuplet", "preduplet")
EVENTS = ("events", "stream_events")  # the registry's, the streams'

PROBLEM_JSON = "application/problem+json"
ORDINARY_WRITE_SECONDS = 2.0  # an ordinary POST /problem, after whatever a test did before

# The original seed README's curl body: single quotes, so not JSON.
SEED_README_BODY = ('{"uuid": "2d0aa3a3-eb5f-42e6-9d34-c6e4db235816", '
                    '"workflow": "5d13b116-6dad-4311-94a6-784273cc0467",  '
                    "'test_dataset': ['7aca2765-996a-4175-8d46-7f32ba34d75e', "
                    "'ec619ded-5907-45e2-bf73-42b0873e807b'], 'size_train_dataset': 2}")


def problem_details(response: Any, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with `status`; returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM_JSON, response.headers
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def bad_fields(response: Any) -> set[str]:
    """The field names a 400 validation problem lists in `errors`."""
    body = problem_details(response, 400)
    assert isinstance(body.get("errors"), list) and body["errors"], body
    return {error["field"] for error in body["errors"]}


def snapshot(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Everything stored: every collection, the events and the ledger head."""
    return {name: db.dump(name) for name in (*COLLECTIONS, "chain", *EVENTS, "ledger")}


def counts(db: Any) -> dict[str, int]:
    return {name: db.count(name) for name in (*COLLECTIONS, *EVENTS)}


def assert_no_mongo_id(value: Any) -> None:
    """No `_id` anywhere in a response body."""
    if isinstance(value, dict):
        assert "_id" not in value, value
        for item in value.values():
            assert_no_mongo_id(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_mongo_id(item)


def chain(client: ApiClient, algo: str) -> list[dict[str, Any]]:
    """An algo's learnuplets by rank."""
    return sorted(client.learnuplets(algo=algo), key=lambda doc: doc["rank"])


def claim(client: ApiClient, uuid: str, kind: str = "learnuplet", worker: str | None = None) -> Any:
    return client.post(f"/worker/{kind}/{uuid}", {"worker": worker or new_uuid()})


def done_body(learnuplet: dict[str, Any], perf: float) -> dict[str, Any]:
    return {"status": "done", "perf": perf,
            "train_perf": {uuid: perf for uuid in learnuplet["train_data"]},
            "test_perf": {uuid: perf for uuid in learnuplet["test_data"]}}


def finish(client: ApiClient, learnuplet: dict[str, Any], perf: float) -> None:
    """Claim a todo learnuplet and report it done with `perf`."""
    assert claim(client, learnuplet["uuid"]).status_code == 200
    response = client.post(f"/learndone/{learnuplet['uuid']}", done_body(learnuplet, perf))
    assert response.status_code == 200, response.get_json()


def fail(client: ApiClient, learnuplet: dict[str, Any], claim_first: bool = True) -> None:
    if claim_first:
        assert claim(client, learnuplet["uuid"]).status_code == 200
    response = client.post(f"/learndone/{learnuplet['uuid']}", {"status": "failed"})
    assert response.status_code == 200, response.get_json()


def post_raw(client: ApiClient, url: str, data: Any, content_type: str | None = "application/json") -> Any:
    """POST bytes as they are, with the operator's credentials."""
    headers = dict(client.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.flask.post(url, data=data, headers=headers)


def use_store(monkeypatch: Any, ledgers: Any, store: Any) -> None:
    """Both ledgers use `store` (e.g. a StoreSpy) for the rest of the test."""
    monkeypatch.setattr(ledgers.registry, "store", store)
    monkeypatch.setattr(ledgers.streams, "store", store)


class StoreSpy:
    """Wraps a store (embedded or MongoDB) to record, and optionally fail, the calls made on it;
    works the same on both."""

    def __init__(self, store: Any):
        self._store = store
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail_once: dict[str, Exception] = {}

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._store, method)
        if method.startswith("_") or not callable(target):
            return target

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((method, args))
            error = self.fail_once.pop(method, None)
            if error is not None:
                raise error
            return target(*args, **kwargs)

        return recorded

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


def problem_body(test_dataset: list[str] | None = None, size: int = 1) -> dict[str, Any]:
    """A new problem: one test datum unless `test_dataset` is given, batches of `size`."""
    return {"uuid": new_uuid(), "workflow": new_uuid(),
            "test_dataset": test_dataset if test_dataset is not None else [new_uuid()],
            "size_train_dataset": size}


def ordinary_write_and_ready(client: ApiClient) -> None:
    """A POST /problem succeeds at ordinary speed and GET /ready is 200: nothing is wedged."""
    started = time.monotonic()
    response = client.post("/problem", problem_body())
    seconds = time.monotonic() - started
    assert response.status_code == 201, response.get_data(as_text=True)
    assert seconds <= ORDINARY_WRITE_SECONDS, f"an ordinary POST /problem took {seconds:.2f} s"
    ready = client.flask.get("/ready")
    assert ready.status_code == 200, ready.get_data(as_text=True)


def start_server(command: list[str], port: int, cwd: Path, **settings: str) -> subprocess.Popen:
    """A server process on `port` (MONGO_URI unset unless given), once GET /ready answers 200."""
    env = {key: value for key, value in os.environ.items() if key != "MONGO_URI"}
    env.update(PORT=str(port), **settings)
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"{' '.join(command)} did not come up: "
                         f"{server.stderr.read().decode()[-2000:]}")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
