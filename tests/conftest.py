"""Shared fixtures. Every test gets its own app and its own database.

With MONGO_URI set the suite runs against that server (each test in a database of its own,
dropped afterwards); without it, against the embedded store in memory (DATA_DIR=:memory:).
"""
from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pymongo import MongoClient, uri_parser
from werkzeug.serving import make_server

from app import BACKGROUND, create_app, stop_background

# The client distribution (client/) is tested from its source tree, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))

USER, PASSWORD = "operator", "s3cret-pass"
MONGO_URI = os.environ.get("MONGO_URI")


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def database_uri(base: str, name: str) -> str:
    """`base` with its database name replaced by `name`."""
    uri_parser.parse_uri(base)  # fail early on a malformed MONGO_URI
    prefix, _, rest = base.partition("://")
    hosts, _, tail = rest.partition("/")
    options = tail.partition("?")[2]
    return f"{prefix}://{hosts}/{name}" + (f"?{options}" if options else "")


@pytest.fixture
def db_name() -> str:
    return f"test_{uuidlib.uuid4().hex[:16]}"


@pytest.fixture
def config(db_name: str) -> Iterator[dict[str, Any]]:
    settings: dict[str, Any] = {"USER_AUTH": USER, "PWD_AUTH": PASSWORD, "SWEEP_SECONDS": 0,
                                "DATA_DIR": ":memory:"}
    if MONGO_URI:
        settings["MONGO_URI"] = database_uri(MONGO_URI, db_name)
    yield settings
    if MONGO_URI:
        with MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000) as client:
            client.drop_database(db_name)


@pytest.fixture
def app(config: dict[str, Any]):
    return create_app(config)


@pytest.fixture
def ledgers(app):
    """The app's ledgers: the registry (algos, data) and the streams."""
    return app.extensions["orchestrator.ledger"]


@pytest.fixture
def store(app):
    """The app's store (MongoStore on MONGO_URI, else the embedded store in memory)."""
    return app.extensions["orchestrator.store"]


@pytest.fixture
def db(store):
    """Raw access for tests that read what is stored: the store's own dump and count."""
    return store


class ApiClient:
    """The Flask test client with the operator's credentials and JSON helpers."""

    def __init__(self, flask_client: Any):
        self.flask = flask_client
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get(self, url: str, **kwargs: Any):
        return self.flask.get(url, headers=self.headers, **kwargs)

    def post(self, url: str, body: Any = None, **kwargs: Any):
        return self.flask.post(url, json=body, headers=self.headers, **kwargs)

    # Builders for the common objects; each returns the created document.
    def problem(self, test_dataset: list[str] | None = None, size: int = 2) -> dict[str, Any]:
        body = {"uuid": new_uuid(), "workflow": new_uuid(),
                "test_dataset": test_dataset if test_dataset is not None else [new_uuid()],
                "size_train_dataset": size}
        response = self.post("/problem", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["new_problem"]

    def algo(self, problem: str) -> dict[str, Any]:
        response = self.post("/algo", {"uuid": new_uuid(), "problem": problem, "name": "algo"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def data(self, problem: str | list[str], count: int = 1,
             uuids: list[str] | None = None) -> dict[str, Any]:
        uuids = uuids if uuids is not None else [new_uuid() for _ in range(count)]
        response = self.post("/data", {"uuid": uuids, "problems": problem})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def learnuplets(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.get("/learnuplet", query_string=filters)
        assert response.status_code == 200, response.get_json()
        return sorted(response.get_json()["learnuplets"], key=lambda doc: (doc["algo"], doc["rank"]))


@pytest.fixture
def client(app) -> ApiClient:
    return ApiClient(app.test_client())


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP by a threaded server, for concurrency tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


AUTH = (USER, PASSWORD)


# --- Tests that need a real MongoDB-protocol server (marker `real_server`) -----------------
# Without MONGO_URI they are skipped with the reason shown in the summary (-ra). With
# REQUIRE_REAL_SERVER=1 (CI) nothing may be missing: a skip of such a test is a failure.
REQUIRE_REAL_SERVER = os.environ.get("REQUIRE_REAL_SERVER") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("real_server") and not MONGO_URI:
        reason = ("needs a real MongoDB-protocol server: set MONGO_URI, e.g. "
                  "MONGO_URI=$(bash tools/ferretdb.sh start) python -m pytest")
        if REQUIRE_REAL_SERVER:
            pytest.fail(f"REQUIRE_REAL_SERVER=1 but MONGO_URI is not set; this test {reason}",
                        pytrace=False)
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_REAL_SERVER and report.skipped and item.get_closest_marker("real_server"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"REQUIRE_REAL_SERVER=1 but this real-server test was skipped: {reason}"


@pytest.fixture
def ferretdb(tmp_path: Any) -> Iterator[Any]:
    """A FerretDB of the test's own (own data directory and port), stopped afterwards, and
    never left stopped (SIGSTOP) by a test that stalls it."""
    from ferretdb_server import FerretDBServer, ferretdb_binary  # they import this module
    from realserver import requirement_missing

    try:
        ferretdb_binary()
    except Exception as error:  # no Go, build failure: say so
        requirement_missing(f"cannot build FerretDB with tools/ferretdb.sh: {error}")
    server = FerretDBServer(tmp_path / "ferretdb-data")
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


# --- Apps with background threads, and a fake compute service --------------------------------
# (tests/test_delivery.py, tests/test_leases.py)

@pytest.fixture
def make_app(config: dict[str, Any], compute: FakeCompute) -> Iterator[Callable[..., Flask]]:
    """Create apps on this test's database (`config` plus any extra settings). At teardown every
    one has its sweeper and dispatcher stopped, and the pushes still in flight are let finish,
    before the database is dropped."""
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        created = create_app({**config, **settings})
        apps.append(created)
        return created

    yield make
    for created in apps:
        stop_background(created)
    compute.release()
    deadline = time.monotonic() + 15
    for created in apps:
        for dispatcher in created.extensions.get(BACKGROUND, [])[1:]:
            while dispatcher is not None and dispatcher.in_flight and time.monotonic() < deadline:
                time.sleep(0.05)


@dataclass
class ComputeRequest:
    path: str
    body: dict[str, Any]
    received: float  # time.monotonic()
    answer: str  # "accept", "fail" (HTTP 500) or "hang"
    answered: float | None = None


class FakeCompute:
    """Morpheo's compute service as the tests want it, on a loopback port: `mode` is "accept"
    (200), "fail" (500) or "hang" (answers after `hang_seconds`); `refuse()` closes the port and
    `accept()` opens it again. It records every request, and how many pushes of one task uuid
    it was serving at the same time."""

    def __init__(self) -> None:
        self.mode = "accept"
        self.hang_seconds = 30.0
        self.serve_seconds = 0.0  # how long an accepted or failed request takes
        self.requests: list[ComputeRequest] = []
        self.busy: Counter[str] = Counter()
        self.most_at_once: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.open()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        """Listen (again) on the same port."""
        if self.server is None:
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self.port = self.server.server_port
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()

    def refuse(self) -> None:
        """Close the port: every push is refused."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)
            self.server = None

    def accept(self) -> None:
        self.mode = "accept"
        self.open()

    def release(self) -> None:
        """Let hanging requests answer now."""
        self.released.set()

    def received(self, path: str | None = None, uuid: str | None = None) -> list[ComputeRequest]:
        with self.lock:
            return [request for request in self.requests
                    if path in (None, request.path) and uuid in (None, request.body.get("uuid"))]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        compute = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                uuid = body.get("uuid", "")
                request = ComputeRequest(self.path, body, time.monotonic(), compute.mode)
                with compute.lock:
                    compute.requests.append(request)
                    compute.busy[uuid] += 1
                    compute.most_at_once[uuid] = max(compute.most_at_once[uuid], compute.busy[uuid])
                try:
                    if request.answer == "hang":
                        compute.released.wait(compute.hang_seconds)
                    elif compute.serve_seconds:
                        time.sleep(compute.serve_seconds)
                    status = 500 if request.answer == "fail" else 200
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the Orchestrator gave up waiting and closed the connection
                finally:
                    request.answered = time.monotonic()
                    with compute.lock:
                        compute.busy[uuid] -= 1

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.release()
        self.refuse()


@pytest.fixture
def compute() -> Iterator[FakeCompute]:
    """A fake compute service on loopback, accepting until the test says otherwise."""
    fake = FakeCompute()
    yield fake
    fake.close()
