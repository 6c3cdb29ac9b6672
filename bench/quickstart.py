"""The quick start's store (no MONGO_URI), as a new user meets it: `python -m bench.quickstart`.

Through the HTTP API (Flask's test client) on the embedded store in a temporary DATA_DIR:
one POST /data of 1,000, 5,000 and 10,000 uuids for a problem with 3 algos (each on a fresh
problem), then enough requests for 20,000 events, then the time a new app takes to open
that folder (the restart). Prints JSON.
"""
from __future__ import annotations

import base64
import json
import sys
import tempfile
import time
import uuid as uuidlib
from typing import Any

from app import create_app

AUTH = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
ALGOS, BATCH = 3, 10


def new() -> str:
    return str(uuidlib.uuid4())


def app_on(folder: str) -> Any:
    return create_app({"USER_AUTH": "bench", "PWD_AUTH": "bench", "DATA_DIR": folder,
                       "SWEEP_SECONDS": 0})


def post(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body, headers=AUTH)
    if response.status_code not in (200, 201):
        raise SystemExit(f"POST {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return response.get_json()


def problem_with_algos(client: Any) -> str:
    problem = new()
    post(client, "/problem", {"uuid": problem, "workflow": new(), "test_dataset": [new()],
                              "size_train_dataset": BATCH})
    for number in range(ALGOS):
        post(client, "/algo", {"uuid": new(), "problem": problem, "name": f"algo {number}"})
    return problem


def upload_times(client: Any) -> dict[str, float]:
    times = {}
    for size in (1000, 5000, 10000):
        problem = problem_with_algos(client)
        started = time.perf_counter()
        answer = post(client, "/data", {"uuid": [new() for _ in range(size)], "problems": problem})
        times[str(size)] = round(time.perf_counter() - started, 3)
        assert answer["new_learnuplets"] == ALGOS * -(-size // BATCH)
    return times


def fill_events(client: Any, app: Any, target: int) -> int:
    """Claims and reports of single-learnuplet chains until the ledgers hold `target` events."""
    store = app.extensions["orchestrator.store"]
    while store.count("events") + store.count("stream_events") < target:
        problem = new()
        post(client, "/problem", {"uuid": problem, "workflow": new(), "test_dataset": [],
                                  "size_train_dataset": 1})
        post(client, "/data", {"uuid": [new() for _ in range(20)], "problems": problem})
        algo = post(client, "/algo", {"uuid": new(), "problem": problem, "name": "a"})
        for _ in range(20):
            todo = client.get(f"/learnuplet?algo={algo['new_algo']['uuid']}&status=todo",
                              headers=AUTH).get_json()["learnuplets"]
            if not todo:
                break
            post(client, f"/worker/learnuplet/{todo[0]['uuid']}", {"worker": new()})
            post(client, f"/learndone/{todo[0]['uuid']}", {"status": "failed"})
    return store.count("events") + store.count("stream_events")


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = app_on(folder)
        client = app.test_client()
        times = upload_times(client)
        events = fill_events(client, app, 20000)
        app.extensions["orchestrator.store"].close()
        started = time.perf_counter()
        reopened = app_on(folder)
        restart = round(time.perf_counter() - started, 2)
        reopened.extensions["orchestrator.store"].close()
    return {"post_data_seconds": times,
            "ratio_10000_to_1000": round(times["10000"] / times["1000"], 1),
            "events": events, "restart_seconds": restart}


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    print()
