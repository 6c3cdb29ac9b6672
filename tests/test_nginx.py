"""The production stack of docs/deployment.md: Debian's nginx with the committed config
(deploy/nginx/orchestrator.conf.template) in front of gunicorn.

Shows that 80 slow clients trickling their headers do not stop a normal client from getting
answers within 1 s through nginx (and that they do starve gunicorn alone: the test's
attack is real), that nginx's own error answers are problem JSON, and that gunicorn's own
are too. The nginx tests need nginx: skipped without it, except in CI (CI set), where
.ci/run installs it.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, new_uuid
from ferretdb_server import free_port
from nginx_server import Nginx, nginx_binary
from realserver import Gunicorn

from app.config import DEFAULTS

SLOW_CLIENTS = 80
ANSWER_WITHIN = 1.0  # seconds
MAX_BODY = DEFAULTS["MAX_CONTENT_LENGTH"]


@pytest.fixture(scope="module")
def nginx_installed() -> None:
    if nginx_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but nginx is not installed (.ci/run installs Debian's nginx)",
                        pytrace=False)
        pytest.skip("needs nginx (Debian: apt-get install nginx)")


@pytest.fixture
def gunicorn(tmp_path: Path, config: dict) -> Iterator[Gunicorn]:
    """The Orchestrator as deployed: gunicorn with gunicorn_config.py, 4 threads per worker
    (one worker on the embedded store, two on MONGO_URI)."""
    env = {"GUNICORN_THREADS": "4", "DATA_DIR": str(tmp_path / "data")}
    server = Gunicorn(config.get("MONGO_URI", ""), tmp_path / "gunicorn.log",
                      workers=2 if MONGO_URI else 1, env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nginx(nginx_installed: None, gunicorn: Gunicorn, tmp_path: Path) -> Iterator[Nginx]:
    proxy = Nginx(tmp_path / "nginx", free_port(), f"127.0.0.1:{gunicorn.port}", MAX_BODY)
    proxy.start()
    yield proxy
    proxy.stop()


class SlowClients:
    """Connections that send a request line, then one header byte every `pause` seconds."""

    def __init__(self, port: int, count: int = SLOW_CLIENTS, pause: float = 0.5):
        self.port, self.count, self.pause = port, count, pause
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            self.sockets.append(sock)
        self.thread.start()
        time.sleep(0.5)  # let every connection reach the server
        return self

    def _trickle(self) -> None:
        while not self.stopped.wait(self.pause):
            for sock in self.sockets:
                try:
                    sock.send(b"X")
                except OSError:
                    pass  # the server gave up on it: so much the better

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@contextlib.contextmanager
def _stopping(server: Gunicorn) -> Iterator[None]:
    try:
        yield
    finally:
        server.stop()


def one_round(url: str) -> list[tuple[str, float, int | None]]:
    """A health check, a list and a create, each with its duration and status (None: no answer)."""
    timeout = ANSWER_WITHIN * 3
    create = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    sends = {"GET /health": lambda: requests.get(url + "/health", timeout=timeout),
             "GET /problem": lambda: requests.get(url + "/problem?limit=5", auth=AUTH, timeout=timeout),
             "POST /problem": lambda: requests.post(url + "/problem", json=create, auth=AUTH,
                                                    timeout=timeout)}
    timings: list[tuple[str, float, int | None]] = []
    for what, send in sends.items():
        started = time.monotonic()
        try:
            status: int | None = send().status_code
        except requests.RequestException:
            status = None
        timings.append((what, time.monotonic() - started, status))
    return timings


def normal_client(url: str, seconds: float = 4.0) -> list[tuple[str, float, int | None]]:
    """A normal client for `seconds`, one round every 0.1 s."""
    timings: list[tuple[str, float, int | None]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        timings += one_round(url)
        time.sleep(0.1)
    return timings


def test_slow_clients_do_not_stop_a_normal_client_behind_nginx(nginx: Nginx):
    with SlowClients(nginx.port):
        timings = normal_client(nginx.url)
    print(f"{len(timings)} requests, slowest {max(t[1] for t in timings):.3f} s")
    slow = [timing for timing in timings if timing[1] > ANSWER_WITHIN or timing[2] not in (200, 201)]
    assert len(timings) >= 9 and not slow, slow


def test_the_same_slow_clients_starve_gunicorn_alone(tmp_path: Path, config: dict):
    """The attack of the test above is real: without nginx, /health does not answer in time.
    One worker: with two, the kernel may hand most slow connections to one of them, and the
    other then answers (seen once in a real-server run)."""
    gunicorn = Gunicorn(config.get("MONGO_URI", ""), tmp_path / "gunicorn.log", workers=1,
                        env={"GUNICORN_THREADS": "4", "DATA_DIR": str(tmp_path / "data")})
    gunicorn.start()
    with _stopping(gunicorn), SlowClients(gunicorn.port):
        started = time.monotonic()
        try:
            requests.get(gunicorn.url + "/health", timeout=ANSWER_WITHIN * 2)
            answered = time.monotonic() - started
        except requests.RequestException:
            answered = None
    print(f"gunicorn alone answered /health after {answered} s")
    assert answered is None or answered > ANSWER_WITHIN, f"gunicorn answered in {answered:.2f} s"


# --- nginx's own answers ---------------------------------------------------------------------

def problem_json(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/problem+json", response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_nginx_refusals_are_problem_json(nginx: Nginx):
    problem_json(requests.get(nginx.url + "/problem?x=" + "a" * 5000, auth=AUTH, timeout=10), 414)
    problem_json(requests.get(nginx.url + "/problem", headers={"X-Big": "b" * 5000}, auth=AUTH,
                              timeout=10), 400)
    too_big = b'{"uuid": "' + b"x" * MAX_BODY + b'"}'
    body = problem_json(requests.post(nginx.url + "/problem", data=too_big, auth=AUTH, timeout=30,
                                      headers={"Content-Type": "application/json"}), 413)
    assert str(MAX_BODY) in body["detail"]
    chunks = (too_big[start:start + 65536] for start in range(0, len(too_big), 65536))
    problem_json(requests.post(nginx.url + "/problem", data=chunks, auth=AUTH, timeout=30,
                               headers={"Content-Type": "application/json"}), 413)
    problem_json(requests.get(nginx.url + "/_nginx/400", timeout=10), 404)
    assert requests.get(nginx.url + "/health", timeout=10).headers["Server"] == "nginx"


def test_the_orchestrator_answers_pass_through_nginx(nginx: Nginx):
    unauthorized = requests.get(nginx.url + "/problem", timeout=10)
    assert unauthorized.status_code == 401 and unauthorized.headers["WWW-Authenticate"].startswith("Basic")
    problem_json(requests.get(nginx.url + "/no/such/route", auth=AUTH, timeout=10), 404)
    body = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    assert requests.post(nginx.url + "/problem", json=body, auth=AUTH, timeout=10).status_code == 201
    stored = requests.get(nginx.url + f"/problem/{body['uuid']}", auth=AUTH, timeout=10)
    assert stored.status_code == 200 and stored.json()["workflow"] == body["workflow"]
    listing = requests.get(nginx.url + "/problem?limit=1", auth=AUTH, timeout=10)
    assert listing.headers["Cache-Control"] == "no-store"
    # a body just within the limit gets through to the Orchestrator (which judges it: 400)
    within = b'{"uuid": "' + b"x" * (MAX_BODY - 20) + b'"}'
    assert len(within) <= MAX_BODY
    response = requests.post(nginx.url + "/problem", data=within, auth=AUTH, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "uuid" in response.text


def test_nginx_says_so_as_problem_json_when_the_orchestrator_is_down(nginx_installed: None, tmp_path: Path):
    closed = free_port()
    proxy = Nginx(tmp_path / "nginx-down", free_port(), f"127.0.0.1:{closed}", MAX_BODY)
    proxy.start()
    try:
        response = requests.get(proxy.url + "/problem", auth=AUTH, timeout=10)
        problem_json(response, 502)
        assert response.headers["Retry-After"] == "5"
    finally:
        proxy.stop()


# --- gunicorn's own answers ------------------------------------------------------------------

def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"NOT A REQUEST LINE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(120)) + b"\r\n", 431),
])
def test_gunicorn_own_errors_are_problem_json(gunicorn: Gunicorn, request_bytes: bytes, status: int):
    line, headers, body = raw_exchange(gunicorn.port, request_bytes)
    assert line.split()[1] == str(status), line
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]


def test_gunicorn_names_no_version(gunicorn: Gunicorn):
    response = requests.get(gunicorn.url + "/health", timeout=10)
    assert response.headers["Server"] == "gunicorn"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
