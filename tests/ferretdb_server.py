"""Start/stop a FerretDB (MongoDB-protocol) test server from Python tests.

Runs the binary built by ``bash tools/ferretdb.sh build`` directly, so a test
can stop a database and start it again on the same data dir and port (fault
tests)::

    srv = FerretDBServer(tmp_path / "db")
    uri = srv.start()          # waits until a pymongo ping succeeds
    ...
    srv.stop()                 # SIGTERM, wait (SIGKILL after a timeout)
    srv.start()                # same data dir, same port, same uri
    srv.kill()                 # SIGKILL, to simulate a crash

Standard library plus pymongo only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pymongo

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "tools" / "ferretdb.sh"

_binary_lock = threading.Lock()
_binary_path: str | None = None


def ferretdb_binary() -> str:
    """Path of the FerretDB binary, building it once if needed (cached)."""
    global _binary_path
    with _binary_lock:
        if _binary_path is None:
            env_bin = os.environ.get("FERRETDB_BIN")
            if env_bin:
                _binary_path = env_bin
            else:
                out = subprocess.run(
                    ["bash", str(BUILD_SCRIPT), "build"],
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                _binary_path = out.stdout.strip().splitlines()[-1]
        return _binary_path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FerretDBServer:
    """A FerretDB server on 127.0.0.1 with its SQLite data in ``data_dir``.

    The port is chosen once (free loopback port unless given) and kept across
    restarts, so clients holding ``.uri`` reconnect to the restarted server.
    """

    def __init__(
        self,
        data_dir,
        port: int | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        log_level: str = "warn",
    ):
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_level = log_level
        self.proc: subprocess.Popen | None = None
        fd, log_path = tempfile.mkstemp(prefix="orchestrator-ferretdb.", suffix=".log")
        os.close(fd)
        self.log_path = Path(log_path)

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> str:
        """Start the server (no-op if running); return the URI once ping succeeds."""
        if self.running:
            return self.uri
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = ferretdb_binary()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "-listen",
                    f"127.0.0.1:{self.port}",
                    "-data",
                    str(self.data_dir),
                    "-log-level",
                    self.log_level,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except Exception:
            self.kill()
            raise
        return self.uri

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"FerretDB exited with code {self.proc.returncode} during startup "
                    f"(port {self.port}, data {self.data_dir}); log tail:\n{self.log_tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
                try:
                    client.admin.command("ping")
                    return
                finally:
                    client.close()
            except Exception as e:  # not ready yet
                last = e
                time.sleep(0.1)
        raise TimeoutError(
            f"FerretDB not ready after {self.start_timeout}s on port {self.port} "
            f"(last error: {last!r}); log tail:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it has not exited after stop_timeout."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL (simulated crash) and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> str:
        self.stop()
        return self.start()

    def __enter__(self) -> FerretDBServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
