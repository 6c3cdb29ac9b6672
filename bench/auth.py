"""Authentication cost (issue 12): GET /problem as an ACCOUNTS_FILE account against the
administrator of USER_AUTH/PWD_AUTH, under gunicorn, in alternating rounds.

    python -m bench.auth            # 4 rounds of 10 s per account
    python -m bench.auth --small    # 2 rounds of 2 s (a check that it runs)

The file account's password is an scrypt hash (about 0.1 s to check); each process checks it
once and then finds the credentials in its cache, so the target is a throughput of at least
0.9 × the administrator's. Also measures the check itself in this process: the first one
(scrypt) and a cached one. Prints a JSON summary and writes it to bench/results/auth.json.
The embedded store (one gunicorn worker, 4 threads) keeps the database out of the picture.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .load import basic, run_threads
from .servers import RESULTS, ROOT, free_port

ADMIN = ("bench-admin", "bench-admin-pass")
ACCOUNT = ("bench-analyst", "bench analyst pass")
TARGET_RATIO = 0.9




def hash_password(password: str) -> str:
    done = subprocess.run([sys.executable, "-m", "app", "hash-password"], cwd=ROOT, input=password + "\n",
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Server:
    """gunicorn with the embedded store and an ACCOUNTS_FILE holding one analyst."""

    def __init__(self, folder: Path, threads: int):
        self.folder = folder
        self.port = free_port()
        accounts = folder / "accounts.toml"
        accounts.write_text(f'[[account]]\nname = "{ACCOUNT[0]}"\nrole = "analyst"\n'
                            f'password_hash = "{hash_password(ACCOUNT[1])}"\n')
        self.env = {**os.environ, "USER_AUTH": ADMIN[0], "PWD_AUTH": ADMIN[1],
                    "ACCOUNTS_FILE": str(accounts), "DATA_DIR": str(folder / "data"),
                    "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": str(threads), "MONGO_URI": ""}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn_config.py", "--bind",
             f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null", "--no-control-socket",
             "app:create_app()"], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "gunicorn.log", "wb"), start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/ready")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start: {(self.folder / 'gunicorn.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            body: Any = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers={
            **(headers or {}), **({"Content-Type": "application/json"} if payload else {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def seed(port: int, problems: int) -> None:
    admin = {"Authorization": basic(*ADMIN)}
    for _ in range(problems):
        status, _ = request(port, "POST", "/problem", admin, {
            "uuid": str(uuid.uuid4()), "workflow": str(uuid.uuid4()), "test_dataset": [],
            "size_train_dataset": 1})
        assert status == 201, status


def drive(port: int, credentials: tuple[str, str], seconds: float, clients: int) -> dict[str, Any]:
    """`clients` keep-alive connections sending GET /problem?limit=10 for `seconds`."""
    return run_threads(f"http://127.0.0.1:{port}", ["/problem?limit=10"], basic(*credentials),
                       seconds, clients)


def check_cost() -> dict[str, float]:
    """The check itself, in this process: the first (scrypt) and a cached one."""
    sys.path.insert(0, str(ROOT))
    from app.api.accounts import StoredAccount
    from app.api.auth import Authenticator
    from app.api.passwords import hash_password as make_hash
    from app.api.passwords import parse_hash
    from app.domain.permissions import ANALYST, Account

    stored = {ACCOUNT[0]: StoredAccount(Account(ACCOUNT[0], ANALYST), parse_hash(make_hash(ACCOUNT[1])))}
    authenticator = Authenticator(ADMIN, stored)
    started = time.perf_counter()
    authenticator.verify(*ACCOUNT)
    first = time.perf_counter() - started
    rounds = 100_000
    started = time.perf_counter()
    for _ in range(rounds):
        authenticator.verify(*ACCOUNT)
    cached = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        authenticator.verify(*ADMIN)
    admin = (time.perf_counter() - started) / rounds
    return {"first_check_ms": first * 1000, "cached_check_us": cached * 1e6,
            "cached_admin_check_us": admin * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="2 rounds of 2 s: a quick check")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads")
    options = parser.parse_args()
    rounds, seconds = (2, 2.0) if options.small else (4, 10.0)
    summary: dict[str, Any] = {"check": check_cost(), "rounds": []}
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as folder:
        server = Server(Path(folder), options.threads).start()
        try:
            seed(server.port, 20)
            drive(server.port, ADMIN, 1.0, options.clients)  # warm up both
            drive(server.port, ACCOUNT, 1.0, options.clients)
            for _ in range(rounds):
                for name, credentials in (("admin", ADMIN), ("file_account", ACCOUNT)):
                    summary["rounds"].append({"account": name, **drive(
                        server.port, credentials, seconds, options.clients)})
        finally:
            server.stop()
    admin = statistics.median(r["rps"] for r in summary["rounds"] if r["account"] == "admin")
    account = statistics.median(r["rps"] for r in summary["rounds"] if r["account"] == "file_account")
    summary.update(admin_rps=admin, file_account_rps=account, ratio=account / admin,
                   target_ratio=TARGET_RATIO, clients=options.clients, gunicorn_threads=options.threads,
                   seconds_per_round=seconds, cpus=os.cpu_count())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "auth.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    errors = sum(r["errors"] for r in summary["rounds"])
    print(f"admin {admin:.0f} req/s, file account {account:.0f} req/s: ratio {account / admin:.3f} "
          f"(target >= {TARGET_RATIO}); errors {errors}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
