"""The database work of one request, per app and scenario: `python -m bench.costs URI < SPEC`.

Both apps run in-process (Flask's test client), after the timed rounds, with the servers
stopped: the Orchestrator with SWEEP_SECONDS=0 and the baseline as it is, so nothing else
reaches the database. A pymongo CommandListener, registered before either app creates its
client, sees every command they send (by name and collection); with BENCH_POSTGRES_STATE
(tools/postgres.sh's state file) bench/meter.py also reads the rows PostgreSQL's sequential
scans read per table for the same requests.

Also one tick of the Orchestrator's sweeper (with the stream sweep), which each server process
runs every 5 s (the stream sweep every 30 s) whatever the load.

SPEC (JSON on stdin): {"gets": {scenario: {app: [path, ...]}},
                       "claims": {app: [{"uuid", "train_data", "test_data"}, ...]}}.
Prints one JSON object: {scenario: {app: per-request costs}}.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from typing import Any

from pymongo import monitoring

from .meter import from_environment
from .servers import SCAN_DB_TIMEOUT_SECONDS

APPS = ("orchestrator", "baseline")


class ByCollection(monitoring.CommandListener):
    """Commands started, as 'name collection' (e.g. 'find learnuplet'), and the slowest."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: Counter[str] = Counter()
        self.names: dict[int, str] = {}  # request id -> name, until it ends
        self.slowest: tuple[float, str] = (0.0, "")

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if event.command_name == "getMore":
            target = event.command.get("collection")
        name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
        with self.lock:
            self.commands[name] += 1
            self.names[event.request_id] = name

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.ended(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.ended(event)

    def ended(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> None:
        with self.lock:
            name = self.names.pop(event.request_id, event.command_name)
            self.slowest = max(self.slowest, (event.duration_micros / 1e6, name))

    def take(self) -> Counter[str]:
        """The commands since the last take (and `slowest` is reset: read it first)."""
        with self.lock:
            taken, self.commands, self.slowest = self.commands, Counter(), (0.0, "")
        return taken


def measure(listener: ByCollection, meter: Any, requests: list[Callable[[], int]]) -> dict[str, Any]:
    """Send `requests` one at a time; the commands and scanned rows per request."""
    before = meter.read() if meter else None
    listener.take()
    started = time.perf_counter()
    statuses = Counter(str(send()) for send in requests)
    seconds = time.perf_counter() - started
    commands = listener.take()
    count = len(requests) or 1
    out: dict[str, Any] = {"requests": len(requests), "statuses": dict(statuses),
                           "seconds_each": round(seconds / count, 3),
                           "commands": {name: round(n / count, 2) for name, n in sorted(commands.items())},
                           "commands_total": round(sum(commands.values()) / count, 2)}
    if meter:
        scanned = meter.cost(before, meter.read(), count)
        out.update(rows_scanned=scanned["rows_scanned"], rows_scanned_total=scanned["rows_scanned_total"],
                   seq_scans=scanned["seq_scans"])
    return out


def main(uri: str, spec: dict[str, Any]) -> dict[str, Any]:
    meter = from_environment(uri)  # before the listener: its client's commands are not the apps'
    listener = ByCollection()
    monitoring.register(listener)  # global: every client created from now on
    os.environ["MONGO_URI"] = uri  # the baseline reads it
    from app import create_app, stop_background
    from app.api.views import LEDGER
    from app.decisions.upkeep import Sweeper

    from .baseline import create_app as create_baseline

    orchestrator = create_app({"MONGO_URI": uri, "USER_AUTH": "bench", "PWD_AUTH": "bench",
                               "SWEEP_SECONDS": 0, "DB_TIMEOUT_SECONDS": float(SCAN_DB_TIMEOUT_SECONDS)})
    clients = {"orchestrator": orchestrator.test_client(), "baseline": create_baseline().test_client()}
    auth = {"orchestrator": {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()},
            "baseline": {}}

    def get(app: str, path: str) -> Callable[[], int]:
        return lambda: clients[app].get(path, headers=auth[app]).status_code

    def cycle(app: str, task: dict[str, Any]) -> Callable[[], int]:
        def send() -> int:
            worker = str(uuidlib.uuid4())
            claimed = clients[app].post(f"/worker/learnuplet/{task['uuid']}", json={"worker": worker},
                                        headers=auth[app])
            if claimed.status_code != 200:
                return claimed.status_code
            report = {"status": "done", "perf": 0.5, "worker": worker,
                      "train_perf": dict.fromkeys(task["train_data"], 0.5),
                      "test_perf": dict.fromkeys(task["test_data"], 0.5)}
            return clients[app].post(f"/learndone/{task['uuid']}", json=report, headers=auth[app]).status_code
        return send

    out: dict[str, Any] = {}
    try:
        for scenario, paths in spec.get("gets", {}).items():
            out[scenario] = {app: measure(listener, meter, [get(app, path) for path in paths[app]])
                             for app in APPS}
        # one tick of a server's sweeper, the stream sweep included (its first tick and every 6th)
        sweeper = Sweeper(orchestrator.extensions[LEDGER], 5.0, 3)
        out["sweep"] = {"orchestrator": measure(listener, meter, [lambda: sweeper.sweep() or 200])}
        if spec.get("claims"):
            out["claims"] = {app: measure(listener, meter, [cycle(app, task) for task in spec["claims"][app]])
                             for app in APPS}
    finally:
        stop_background(orchestrator)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], json.load(sys.stdin))))
