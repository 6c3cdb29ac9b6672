"""Shared fixtures. Every test gets its own app and its own database.

With MONGO_URI set the suite runs against that server (each test in a database of its own,
dropped afterwards); without it, against the in-process store.
"""
from __future__ import annotations

import base64
import os
import threading
import uuid as uuidlib
from typing import Any, Iterator

import pytest
from pymongo import MongoClient, uri_parser
from werkzeug.serving import make_server

from app import create_app

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
    settings: dict[str, Any] = {"USER_AUTH": USER, "PWD_AUTH": PASSWORD, "SWEEP_SECONDS": 0}
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
def db(app):
    return app.extensions["orchestrator.db"]


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

    def data(self, problem: str | list[str], count: int = 1, uuids: list[str] | None = None) -> dict[str, Any]:
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
