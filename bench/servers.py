"""What the benchmarks start and stop: FerretDB (tools/ferretdb.sh) and apps under gunicorn.

Shared by bench/run.py and bench/contention.py; pymongo and the standard library (no app import).
"""
from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from .load import Http, basic, have_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
USER, PASSWORD = "bench", "bench-pass"
AUTH = basic(USER, PASSWORD)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ferret:
    """FerretDB through tools/ferretdb.sh, with a state file nobody else uses."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-ferretdb-"))
        self.env = {**os.environ, "FERRETDB_STATE": str(self.dir / "state")}
        self.uri = ""

    @property
    def backend(self) -> str:
        return self.env.get("FERRETDB_BACKEND") or "postgresql"  # tools/ferretdb.sh's default

    def start(self) -> str:
        # SQLite files go in our directory; PostgreSQL (the default backend) gets a temporary
        # data directory from tools/postgres.sh, which its unprivileged server user can reach.
        where = [str(self.dir / "data")] if self.backend == "sqlite" else []
        out = subprocess.run(["bash", str(ROOT / "tools" / "ferretdb.sh"), "start", *where],
                             env=self.env, capture_output=True, text=True, check=False)
        if out.returncode:
            raise RuntimeError(f"FerretDB did not start: {out.stderr}")
        self.uri = out.stdout.strip().splitlines()[-1]
        return self.uri

    def pids(self) -> dict[str, int]:
        """The root processes of FerretDB and of the PostgreSQL under it (tools' state files)."""
        out = {}
        for name, state in (("ferretdb", self.dir / "state"), ("postgres", self.dir / "state.postgres")):
            if state.exists():
                values = dict(line.split("=", 1) for line in state.read_text().splitlines() if "=" in line)
                if values.get("PID", "").isdigit():
                    out[name] = int(values["PID"])
        return out

    def postgres_state(self) -> dict[str, str]:
        """tools/postgres.sh's state (URL, BIN, LOG, DATA...) of the PostgreSQL under FerretDB;
        empty on the SQLite backend or when FERRETDB_POSTGRESQL_URL named a server."""
        state = self.dir / "state.postgres"
        if not state.exists():
            return {}
        return dict(line.split("=", 1) for line in state.read_text().splitlines() if "=" in line)

    def stop(self) -> None:
        subprocess.run(["bash", str(ROOT / "tools" / "ferretdb.sh"), "stop"], env=self.env,
                       capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)


# Not the app's work: connection handshake, server monitoring, sessions, our own counters.
NOT_COUNTED = {"hello", "ismaster", "ping", "endsessions", "buildinfo", "serverstatus",
               "saslstart", "saslcontinue", "getnonce", "authenticate"}


class Counters:
    """FerretDB's (or MongoDB's) own command counters: serverStatus → metrics.commands."""

    def __init__(self, uri: str):
        self.client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10000)

    def read(self) -> tuple[Counter[str], Counter[str]]:
        commands = self.client.admin.command("serverStatus").get("metrics", {}).get("commands")
        if not isinstance(commands, dict):
            raise RuntimeError("the server's serverStatus has no metrics.commands to count with")
        total, failed = Counter(), Counter()
        for name, value in commands.items():
            if isinstance(value, dict) and name.lower() not in NOT_COUNTED:
                total[name] = int(value.get("total", 0))
                failed[name] = int(value.get("failed", 0))
        return total, failed

    def wait_quiet(self, quiet: float = 1.0, limit: float = 60.0) -> float:
        """Wait until no command has reached the server for `quiet` seconds (requests that
        clients gave up on still run on the server); returns the seconds waited, at most `limit`."""
        started = time.monotonic()
        last, since = self.read()[0], time.monotonic()
        while time.monotonic() - started < limit:
            time.sleep(0.25)
            now = self.read()[0]
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return round(time.monotonic() - started, 1)

    def close(self) -> None:
        self.client.close()


# The bench overloads FerretDB's SQLite backend on purpose (8 racing workers on 2 cores), where
# one operation can wait longer than the default 3 s for SQLite's single writer: a 503 then is
# the bound doing its job (tests/test_stalls_and_bounds.py holds it), not what the bench
# measures. Its servers get the tolerance the previous socket timeout gave (about 12 s).
DB_TIMEOUT_SECONDS = "12"
# `python -m bench` at 100,000 learnuplets: FerretDB uses no index (docs/performance.md), so one
# loaded paging request runs about 10 s, and POST /data's existing-data check (`_id: {$in:
# uuids}`, which FerretDB v1.24 does not push down) over 30 s for 10,000 uuids. The baseline
# waits for its queries unbounded; the Orchestrator gets a bound far above any of them, so that
# both are timed. bench/roundtrips.py reports which commands outlast the default 3 s.
SCAN_DB_TIMEOUT_SECONDS = "60"


class Server:
    """An app under gunicorn with the repository's gunicorn_config.py."""

    def __init__(self, name: str, target: str, uri: str, workers: int, threads: int, logdir: Path,
                 env: dict[str, str] | None = None):
        self.name, self.port = name, free_port()
        self.concurrency = (workers, threads)
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MONGO_URI": uri, "USER_AUTH": USER, "PWD_AUTH": PASSWORD,
               "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
               "GUNICORN_THREADS": str(threads), "PYTHONPATH": str(ROOT),
               "DB_TIMEOUT_SECONDS": DB_TIMEOUT_SECONDS, **(env or {})}
        self.log = open(logdir / f"{name}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn_config.py", "--no-control-socket",
             "--bind", f"127.0.0.1:{self.port}", target],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _, _ = Http(self.base, AUTH, timeout=timeout).request("GET", path)
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def machine() -> dict[str, Any]:
    memory = next((line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")), "?")
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "mem_kib": int(memory), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": [round(x, 2) for x in load],
            "wrk": have_wrk()}
