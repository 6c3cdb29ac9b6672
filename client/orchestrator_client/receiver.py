"""A small HTTP receiver for the tasks the Orchestrator pushes to COMPUTE_URL.

The Orchestrator POSTs each task that becomes runnable to COMPUTE_URL/learn (learnuplets)
or COMPUTE_URL/pred (preduplets) and retries until it gets a 2xx (docs/compute.md). The
receiver answers 200 at once and queues the task; a Worker takes it from the queue. Delivery
is at least once: a task already queued is not queued twice, and a duplicate that arrives
later simply loses its claim (409) and is skipped.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .documents import TaskKind

log = logging.getLogger(__name__)
PATHS: dict[str, TaskKind] = {"/learn": "learnuplet", "/pred": "preduplet"}
MAX_BODY = 64 * 1024 * 1024  # a learnuplet holds at most 150,000 data uuids (about 6 MB)


class PushReceiver:
    """Listens on `host:port` (port 0: any free one; see `url`) for pushed tasks.

    Give `url` to the Orchestrator as COMPUTE_URL, and the receiver to a Worker as its source.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._queue: OrderedDict[str, tuple[TaskKind, dict[str, Any]]] = OrderedDict()
        self._arrived = threading.Condition()
        self.received = 0  # pushes accepted, duplicates included
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-receiver",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> PushReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PushReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def push(self, kind: TaskKind, task: dict[str, Any]) -> None:
        """Queue a task (what a push does; also usable to hand a worker a task directly)."""
        with self._arrived:
            self.received += 1
            self._queue.setdefault(task["uuid"], (kind, task))
            self._arrived.notify_all()

    # --- the Worker's task source ----------------------------------------------------------
    def candidates(self) -> Iterator[tuple[TaskKind, dict[str, Any]]]:
        """The queued tasks, oldest first, each taken off the queue as it is handed out."""
        while True:
            with self._arrived:
                if not self._queue:
                    return
                _, item = self._queue.popitem(last=False)
            yield item

    def wait(self, stop: threading.Event, seconds: float = 0.2) -> None:
        """Until a task is queued or `stop` is set."""
        while not stop.is_set():
            with self._arrived:
                if self._queue or self._arrived.wait(seconds) and self._queue:
                    return

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                kind = PATHS.get(self.path.rstrip("/"))
                if kind is None:
                    return self._answer(404, {"detail": "POST /learn or /pred"})
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._answer(413, {"detail": "body too large"})
                try:
                    task = json.loads(self.rfile.read(length))
                    if not isinstance(task, dict) or not isinstance(task.get("uuid"), str):
                        raise ValueError("not a task document")
                except ValueError as error:
                    return self._answer(400, {"detail": str(error)})
                receiver.push(kind, task)
                self._answer(200, {"queued": task["uuid"]})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("push %s", format % args)

        return Handler
