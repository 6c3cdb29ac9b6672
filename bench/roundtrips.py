"""POST /data round trips and time, with the app in-process and a PyMongo command listener.

Run as `python -m bench.roundtrips MONGO_URI SIZE [SIZE ...]`; prints one JSON object.

pymongo.monitoring.register() adds a listener to every MongoClient created AFTER it, so it
is registered here before create_app() builds the app's client: every command the app
sends (one command = one round trip; a getMore is one more) is counted.
For each size: a fresh problem (batch 100) with 10 algos, then ONE POST /data of SIZE new
uuids, counted and timed alone, and its slowest command (the app runs with
SCAN_DB_TIMEOUT_SECONDS, bench/servers.py, so that it is timed even where the default 3 s bound
would answer 503). With BENCH_POSTGRES_STATE (tools/postgres.sh's state file of
the server under FerretDB), also the rows PostgreSQL's sequential scans read for it, per
collection (bench/meter.py; its own client is created before the listener, so not counted).
"""
from __future__ import annotations

import base64
import json
import sys
import time
import uuid as uuidlib

from pymongo import monitoring

from .costs import ByCollection
from .meter import from_environment
from .servers import SCAN_DB_TIMEOUT_SECONDS

ALGOS, BATCH = 10, 100


def new() -> str:
    return str(uuidlib.uuid4())


def main(uri: str, sizes: list[int]) -> dict:
    meter = from_environment(uri)  # before the listener: its client's commands are not the app's
    counter = ByCollection()
    monitoring.register(counter)  # global: before create_app creates its MongoClient
    from app import create_app

    app = create_app({"MONGO_URI": uri, "USER_AUTH": "bench", "PWD_AUTH": "bench",
                      "SWEEP_SECONDS": 0, "DB_TIMEOUT_SECONDS": float(SCAN_DB_TIMEOUT_SECONDS)})
    client = app.test_client()
    headers = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
    errors: list[str] = []

    def post(path: str, body: dict, expect: int = 201) -> dict:
        response = client.post(path, json=body, headers=headers)
        if response.status_code != expect:
            errors.append(f"POST {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response.get_json() or {}

    results = []
    for size in sizes:
        problem = new()
        post("/problem", {"uuid": problem, "workflow": new(), "test_dataset": [new(), new()],
                          "size_train_dataset": BATCH})
        for number in range(ALGOS):
            post("/algo", {"uuid": new(), "problem": problem, "name": f"bench-{number}"})
        uuids = [new() for _ in range(size)]
        before = meter.read() if meter else None
        counter.take()
        started = time.perf_counter()
        body = post("/data", {"uuid": uuids, "problems": problem})
        seconds = time.perf_counter() - started
        slowest = counter.slowest
        commands = counter.take()
        scanned = meter.cost(before, meter.read(), 1) if meter else None
        expected = ALGOS * -(-size // BATCH)
        if body.get("new_learnuplets") != expected:
            errors.append(f"POST /data {size}: new_learnuplets {body.get('new_learnuplets')} != {expected}")
        results.append({"uuids": size, "seconds": round(seconds, 3),
                        "round_trips": sum(commands.values()), "commands": dict(commands),
                        "new_learnuplets": body.get("new_learnuplets"),
                        # over the default DB_TIMEOUT_SECONDS (3 s), a server would answer 503
                        "slowest_command": {"name": slowest[1], "seconds": round(slowest[0], 3)},
                        **({"rows_scanned": scanned["rows_scanned"], "seq_scans": scanned["seq_scans"]}
                           if scanned else {})})
    return {"results": results, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], [int(size) for size in sys.argv[2:]])))
