"""A proxy in front of a live server that loses answers or answers 503, on demand: what a
client meets when the network drops an answer or the Orchestrator's database is down."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


class LossyProxy:
    """Forwards every request to `target`. `lose(n, path)`: the next n requests whose path
    starts with `path` reach the server, but their answer is held for `hold` seconds (longer
    than the client's timeout) and then dropped. `unavailable(n)`: the next n requests get a
    503 problem with `Retry-After: 0` and never reach the server."""

    def __init__(self, target: str, hold: float = 2.0):
        self.target, self.hold = target, hold
        self.forwarded: list[tuple[str, str]] = []  # (method, path) that reached the server
        self.lost: list[tuple[str, str]] = []
        self._to_lose: list[str] = []
        self._to_refuse = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def lose(self, count: int, path: str) -> None:
        with self._lock:
            self._to_lose += [path] * count

    def unavailable(self, count: int) -> None:
        with self._lock:
            self._to_refuse += count

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, path: str) -> str:
        with self._lock:
            if self._to_refuse:
                self._to_refuse -= 1
                return "503"
            for index, prefix in enumerate(self._to_lose):
                if path.startswith(prefix):
                    del self._to_lose[index]
                    return "lose"
        return "forward"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy._decide(self.path)
                if action == "503":
                    problem = {"type": "urn:morpheo:orchestrator:problem:database-unavailable",
                               "title": "Service Unavailable", "status": 503,
                               "detail": "The database is unreachable or failing; retry shortly."}
                    return self._answer(503, json.dumps(problem).encode(),
                                        {"Content-Type": "application/problem+json",
                                         "Retry-After": "0"})
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() not in HOP_HEADERS | {"host"}}
                answer = requests.request(self.command, proxy.target + self.path, data=body or None,
                                          headers=headers, timeout=30)
                with proxy._lock:
                    proxy.forwarded.append((self.command, self.path))
                if action == "lose":
                    with proxy._lock:
                        proxy.lost.append((self.command, self.path))
                    time.sleep(proxy.hold)
                    self.close_connection = True
                    return  # no answer: the client timed out waiting for it
                self._answer(answer.status_code, answer.content,
                             {name: value for name, value in answer.headers.items()
                              if name.lower() not in HOP_HEADERS})

            def _answer(self, status: int, content: bytes, headers: dict[str, Any]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
