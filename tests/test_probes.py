"""The findings of the probes of issue 12, each with the test that would have caught it:
chunked bodies over the limit, UUIDs with a trailing newline, perf keys that differ only in
case, malformed page tokens, the headers every response carries, and the server's name."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, PASSWORD, USER, new_uuid
from helpers import bad_fields, claim, counts, done_body, problem_details
from test_ready_and_restart import free_port, start_quickstart, stop
from werkzeug.serving import make_server

from app import create_app
from app.api.headers import SECURITY_HEADERS

REPO = Path(__file__).resolve().parent.parent


# --- a chunked body over MAX_CONTENT_LENGTH ------------------------------------------------

@pytest.fixture
def small_limit_server(config) -> Iterator[tuple[str, object]]:
    """The app with MAX_CONTENT_LENGTH=1024 over real HTTP (chunked bodies need a real server)."""
    app = create_app({**config, "MAX_CONTENT_LENGTH": 1024})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app.extensions["orchestrator.store"]
    server.shutdown()
    thread.join(timeout=10)


def chunked(raw: bytes, size: int = 100) -> Iterator[bytes]:
    """A body sent with Transfer-Encoding: chunked (requests does so for a generator)."""
    for start in range(0, len(raw), size):
        yield raw[start:start + size]


def problem_body(padding: int) -> bytes:
    """A valid POST /problem body of at least `padding` bytes (spaces pad it)."""
    body = json.dumps({"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [],
                       "size_train_dataset": 1}).encode()
    return body[:-1] + b" " * max(0, padding - len(body)) + b"}"


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(small_limit_server):
    url, store = small_limit_server
    response = requests.post(f"{url}/problem", data=chunked(problem_body(3000)), auth=AUTH,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert store.count("problem") == 0 and store.count("stream_events") == 0


@pytest.mark.parametrize("size", [200, 1024])
def test_a_chunked_body_within_the_limit_is_accepted(small_limit_server, size):
    url, store = small_limit_server
    raw = problem_body(size)
    assert len(raw) == size
    response = requests.post(f"{url}/problem", data=chunked(raw), auth=AUTH,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 201, response.text


def test_a_chunked_body_one_byte_over_the_limit_is_413(small_limit_server):
    url, store = small_limit_server
    response = requests.post(f"{url}/problem", data=chunked(problem_body(1025)), auth=AUTH,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert store.count("problem") == 0


# --- UUIDs: the whole string ---------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%20", "%00"])
def test_a_uuid_with_a_trailing_character_in_the_path_is_400(client, suffix):
    problem = client.problem()["uuid"]
    for url in (f"/problem/{problem}{suffix}", f"/learnuplet/{problem}{suffix}"):
        body = problem_details(client.get(url), 400)
        assert body["errors"][0]["field"] == "uuid"
    problem_details(client.post(f"/worker/learnuplet/{problem}{suffix}", {"worker": new_uuid()}), 400)
    problem_details(client.post(f"/learndone/{problem}{suffix}", {"status": "failed"}), 400)


@pytest.mark.parametrize("query", ["uuid={uuid}%0A", "workflow={uuid}%0A", "uuid={uuid}%0D%0A"])
def test_a_uuid_with_a_trailing_newline_in_a_filter_is_400(client, query):
    problem = client.problem()
    response = client.get("/problem?" + query.format(uuid=problem["uuid"]))
    assert bad_fields(response) == {query.split("=")[0]}


@pytest.mark.parametrize("query", ["rank=0%0A", "perf=0.5%0A", "limit=5%0A"])
def test_a_number_with_a_trailing_newline_in_a_query_is_400(client, query):
    assert bad_fields(client.get("/learnuplet?" + query)) == {query.split("=")[0]}


def test_a_uuid_with_a_trailing_newline_in_a_body_is_400(client, db):
    body = {"uuid": new_uuid() + "\n", "workflow": new_uuid(), "test_dataset": [],
            "size_train_dataset": 1}
    assert bad_fields(client.post("/problem", body)) == {"uuid"}
    assert counts(db)["problem"] == 0


# --- perf keys that differ only in letter case -----------------------------------------------

@pytest.mark.parametrize("field", ["train_perf", "test_perf"])
def test_perf_keys_naming_one_data_twice_are_400(client, db, field):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=1)
    algo = client.algo(problem["uuid"])["new_algo"]["uuid"]
    task = client.learnuplets(algo=algo)[0]
    assert claim(client, task["uuid"]).status_code == 200
    body = done_body(task, 0.5)
    key = next(iter(body[field]))
    body[field][key.upper()] = 0.9  # the same data, in upper case
    response = client.post(f"/learndone/{task['uuid']}", body)
    assert field in bad_fields(response)
    assert client.get(f"/learnuplet/{task['uuid']}").get_json()["status"] == "pending"


# --- page tokens -----------------------------------------------------------------------------

def _token(raw: str | bytes) -> str:
    raw = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("token", [
    _token("[" * 100_000 + "]" * 100_000),
    _token('{"after": ' + "[" * 5000 + "]" * 5000 + ', "query": "x"}'),
    _token('{"after": {"a": ' * 3000 + "1" + "}" * 3000 + ', "query": "x"}'),
    _token("[1, 2]"), _token('"text"'), _token("null"), _token(b"\xff\xfe"),
    _token('{"after": 1, "query": "x"}'), "x" * 600, "é", "%%%", "",
])
def test_a_malformed_page_token_is_400(client, token):
    response = client.get("/problem", query_string={"page_token": token})
    assert bad_fields(response) == {"page_token"}


def test_a_real_page_token_still_works(client):
    for _ in range(3):
        client.problem()
    first = client.get("/problem?limit=2").get_json()
    second = client.get("/problem", query_string={"limit": 2, "page_token": first["next_page_token"]})
    assert second.status_code == 200 and len(second.get_json()["problems"]) == 1


# --- headers on every response ---------------------------------------------------------------

def test_every_response_carries_the_security_headers(app, client):
    problem = client.problem()
    responses = [client.get("/problem"), client.get(f"/problem/{problem['uuid']}"),
                 client.get(f"/problem/{new_uuid()}"), client.get("/no/such/route"),
                 client.post("/problem", {"uuid": "bad"}), client.flask.get("/problem"),
                 client.flask.get("/health"), client.flask.get("/ready"),
                 client.flask.get("/openapi.json"), client.flask.get("/docs"),
                 client.flask.delete("/problem", headers=client.headers)]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.status
        assert response.headers["Cache-Control"] == "no-store", response.status
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], response.status
    assert SECURITY_HEADERS["Cache-Control"] == "no-store"


def test_the_docs_page_has_a_content_security_policy(app):
    response = app.test_client().get("/docs")
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


# --- the development server: its name, its address -------------------------------------------

@pytest.mark.skipif(bool(MONGO_URI), reason="the quick start is the embedded store (no MONGO_URI)")
def test_the_development_server_names_no_version(tmp_path):
    port = free_port()
    server = start_quickstart(tmp_path / "data", port)
    try:
        for response in (requests.get(f"http://127.0.0.1:{port}/health", timeout=5),
                         requests.get(f"http://127.0.0.1:{port}/problem", timeout=5)):
            assert "/" not in response.headers.get("Server", ""), response.headers
            assert "werkzeug" not in response.headers.get("Server", "").lower()
    finally:
        stop(server)


def test_python_m_app_binds_host_default_loopback(monkeypatch, config):
    from flask import Flask

    import app.__main__ as entry

    seen = {}
    monkeypatch.setattr(Flask, "run", lambda self, **options: seen.update(options))
    monkeypatch.setattr(entry, "create_app", lambda: create_app(config))
    monkeypatch.setattr(entry, "configure_logging", lambda settings: None)  # keep pytest's
    monkeypatch.delenv("HOST", raising=False)
    assert entry.serve() == 0
    assert seen["host"] == "127.0.0.1"
    monkeypatch.setattr(entry, "create_app", lambda: create_app({**config, "HOST": "0.0.0.0"}))
    assert entry.serve() == 0
    assert seen["host"] == "0.0.0.0"


def test_host_comes_from_the_environment(monkeypatch):
    from app.config import load_config

    assert load_config({"USER_AUTH": USER, "PWD_AUTH": PASSWORD}, environ={})["HOST"] == "127.0.0.1"
    assert load_config({"USER_AUTH": USER, "PWD_AUTH": PASSWORD},
                       environ={"HOST": "::"})["HOST"] == "::"


@pytest.mark.skipif(bool(MONGO_URI), reason="the quick start is the embedded store (no MONGO_URI)")
def test_the_quick_start_listens_on_loopback_only(tmp_path):
    """Without HOST, `python -m app` listens on 127.0.0.1 only (read from /proc/net/tcp)."""
    port = free_port()
    server = start_quickstart(tmp_path / "data", port)
    try:
        rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        # columns: slot, local address (hex IP:port), remote address, state (0A: listening)
        listening = [row[1] for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A"]
        assert listening == ["0100007F" + f":{port:04X}"], listening  # 127.0.0.1, little-endian
    finally:
        stop(server)


def test_python_m_app_with_an_unknown_command_says_how_to_use_it():
    done = subprocess.run([sys.executable, "-m", "app", "serve-forever"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr
