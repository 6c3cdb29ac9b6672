"""Helpers for the tests that need a real MongoDB-protocol server (tests/test_real_server.py).

`Gunicorn` runs the Orchestrator the way it is deployed (`gunicorn --config gunicorn_config.py
"app:create_app()"`) on a free loopback port; `ApiSession` is a `requests` session with the
operator's credentials. Whatever a test starts it stops: the fixtures call `stop()`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import PASSWORD, USER
from ferretdb_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
PROBLEM_JSON = "application/problem+json"


def _gunicorn_options() -> list[str]:
    # gunicorn >= 24 opens a control socket at one fixed path per user by default; servers
    # started side by side (tests, other checkouts) must not share it.
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(setting.name == "control_socket_disable"
                                          for setting in KNOWN_SETTINGS) else []


def requirement_missing(reason: str) -> None:
    """Skip the test, or fail it when REQUIRE_REAL_SERVER=1 (CI never skips these)."""
    if os.environ.get("REQUIRE_REAL_SERVER") == "1":
        pytest.fail(f"REQUIRE_REAL_SERVER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def run_verify(*arguments: str, **settings: str) -> subprocess.CompletedProcess:
    """`python -m app verify` as an operator runs it, with these settings (MONGO_URI or
    DATA_DIR) and no credentials."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("USER_AUTH", "PWD_AUTH", "ACCOUNTS_FILE", "MONGO_URI", "DATA_DIR")}
    return subprocess.run([sys.executable, "-m", "app", "verify", *arguments], cwd=REPO_ROOT,
                          env={**env, **settings}, capture_output=True, text=True, timeout=300)


def assert_verified(mongo_uri: str) -> None:
    """The database re-derives from its events (its recent events need not be sealed yet)."""
    done = run_verify(MONGO_URI=mongo_uri)
    assert done.returncode == 0 and done.stdout.startswith("intact:"), done.stdout + done.stderr


def wait_until(condition: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `condition()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s")
        time.sleep(interval)


class ApiSession(requests.Session):
    """A requests session on one Orchestrator, with the operator's credentials and a timeout."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        super().__init__()
        self.base_url = base_url
        self.auth = (USER, PASSWORD)
        self.default_timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, self.base_url + url, *args, **kwargs)

    def created(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST that must answer 201; returns the body."""
        response = self.post(url, json=body)
        assert response.status_code == 201, (url, response.status_code, response.text)
        return response.json()

    def ok(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request that must answer 200; returns the body."""
        response = self.request(method, url, json=body)
        assert response.status_code == 200, (method, url, response.status_code, response.text)
        return response.json()


class Gunicorn:
    """The Orchestrator under gunicorn on 127.0.0.1, its output in `log_path`."""

    def __init__(self, mongo_uri: str, log_path: Path, *, workers: int = 4,
                 env: dict[str, str] | None = None, port: int | None = None):
        self.mongo_uri = mongo_uri
        self.log_path = Path(log_path)
        self.workers = workers
        self.extra_env = env or {}
        self.port = port if port is not None else free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Gunicorn:
        """Start, and wait until every worker has booted and /health answers."""
        env = {**os.environ, "PORT": str(self.port), "MONGO_URI": self.mongo_uri,
               "USER_AUTH": USER, "PWD_AUTH": PASSWORD, "WEB_CONCURRENCY": str(self.workers),
               **self.extra_env}
        env.pop("REQUIRE_REAL_SERVER", None)
        with open(self.log_path, "ab") as log:
            # --bind on the command line overrides the config file's 0.0.0.0: loopback only.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn_config.py",
                 "--bind", f"127.0.0.1:{self.port}", *_gunicorn_options(), "app:create_app()"],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(self._ready, timeout, interval=0.1, what=f"gunicorn on port {self.port}")
        except AssertionError:
            self.stop()
            raise AssertionError(f"gunicorn did not come up; log tail:\n{self.log_tail()}") from None
        return self

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited during start-up; log tail:\n{self.log_tail()}")
        if len(self.worker_pids()) != self.workers:
            return False
        try:
            return requests.get(self.url + "/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def worker_pids(self) -> set[int]:
        """The master's live child processes (its workers)."""
        if not self.running:
            return set()
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return {int(pid) for pid in children.read_text().split()}
        except OSError:
            return set()

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM to the master); SIGKILL to its process group after `timeout`."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
