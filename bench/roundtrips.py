"""POST /data round trips and time, with the app in-process and a PyMongo command listener.

Run as `python -m bench.roundtrips MONGO_URI SIZE [SIZE ...]`; prints one JSON object.

pymongo.monitoring.register() adds a listener to every MongoClient created AFTER it, so it
is registered here before create_app() builds the app's client: every command the app
sends (one command = one round trip; a getMore is one more) is counted.
For each size: a fresh problem (batch 100) with 10 algos, then ONE POST /data of SIZE new
uuids, counted and timed alone.
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter

from pymongo import monitoring

ALGOS, BATCH = 10, 100


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        with self.lock:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> Counter[str]:
        with self.lock:
            taken, self.commands = self.commands, Counter()
        return taken


def new() -> str:
    return str(uuidlib.uuid4())


def main(uri: str, sizes: list[int]) -> dict:
    counter = CommandCounter()
    monitoring.register(counter)  # global: before create_app creates its MongoClient
    from app import create_app

    app = create_app({"MONGO_URI": uri, "USER_AUTH": "bench", "PWD_AUTH": "bench",
                      "SWEEP_SECONDS": 0})
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
        counter.take()
        started = time.perf_counter()
        body = post("/data", {"uuid": uuids, "problems": problem})
        seconds = time.perf_counter() - started
        commands = counter.take()
        expected = ALGOS * -(-size // BATCH)
        if body.get("new_learnuplets") != expected:
            errors.append(f"POST /data {size}: new_learnuplets {body.get('new_learnuplets')} != {expected}")
        results.append({"uuids": size, "seconds": round(seconds, 3),
                        "round_trips": sum(commands.values()), "commands": dict(commands),
                        "new_learnuplets": body.get("new_learnuplets")})
    return {"results": results, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], [int(size) for size in sys.argv[2:]])))
