"""Load generators: wrk (with a Lua script for auth and rotating paths) or a threaded client.

Every runner returns the same dict: requests, seconds, rps, p50_ms, p99_ms, errors (non-2xx
answers, connection errors, timeouts), and `tool`.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any
from urllib.parse import urlsplit

WRK_LUA = r"""
local paths = {%(paths)s}
wrk.headers["Authorization"] = "%(auth)s"
local counter = 0
function setup(thread)
  thread:set("offset", math.random(1, #paths))
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[((counter + offset) %% #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(base: str, paths: list[str], auth: str, seconds: float, connections: int,
            threads: int = 1, timeout_s: int = 60) -> dict[str, Any]:
    script = WRK_LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "auth": auth}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             f"--timeout={timeout_s}s", "-s", handle.name, base],
            capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    finally:
        os.unlink(handle.name)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    raw = json.loads(line[len("WRKJSON "):])
    secs = raw["duration_us"] / 1e6
    errors = raw["status_errors"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {"tool": "wrk", "requests": raw["requests"], "seconds": round(secs, 3),
            "rps": round(raw["requests"] / secs, 2) if secs else 0.0,
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "max_ms": round(raw["max_us"] / 1000, 2), "errors": errors, "error_detail": raw}


class Http:
    """One keep-alive connection, with the auth header; returns (status, body, seconds)."""

    def __init__(self, base: str, auth: str | None, timeout: float = 300):
        parts = urlsplit(base)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.headers = {"Authorization": auth} if auth else {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - started
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            return response.status, parsed, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def run_threads(base: str, paths: list[str], auth: str, seconds: float, connections: int) -> dict[str, Any]:
    """The fallback load generator when wrk is not installed: `connections` keep-alive threads."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        client, mine, bad, index = Http(base, auth), [], 0, offset
        while time.perf_counter() < deadline:
            try:
                status, _, elapsed = client.request("GET", paths[index % len(paths)])
            except OSError:
                bad += 1
                continue
            index += 1
            mine.append(elapsed)
            if not 200 <= status < 300:
                bad += 1
        client.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i * 7,)) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"tool": "python-threads", "requests": len(latencies), "seconds": round(elapsed, 3),
            "rps": round(len(latencies) / elapsed, 2),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "max_ms": round(max(latencies, default=0) * 1000, 2), "errors": errors[0]}


def run_sampled(base: str, paths: list[str], auth: str, count: int) -> dict[str, Any]:
    """Sequential requests, for routes so slow (a FerretDB full scan) that a load test says nothing."""
    client, latencies, errors = Http(base, auth), [], 0
    started = time.perf_counter()
    for index in range(count):
        status, _, elapsed = client.request("GET", paths[index % len(paths)])
        latencies.append(elapsed)
        errors += not 200 <= status < 300
    client.close()
    elapsed = time.perf_counter() - started
    return {"tool": "sequential", "requests": count, "seconds": round(elapsed, 3),
            "rps": round(count / elapsed, 3), "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2), "errors": errors}


def load(base: str, paths: list[str], auth: str, seconds: float, connections: int) -> dict[str, Any]:
    if have_wrk():
        return run_wrk(base, paths, auth, seconds, connections)
    return run_threads(base, paths, auth, seconds, connections)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 50) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2) if values else float("nan")}
