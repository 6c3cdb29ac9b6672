"""The dispatcher: a thread in every server process that pushes due outbox entries to compute.

It never runs in an API request. An attempt whose sender died is retried once its deadline
has passed; retries back off exponentially, with jitter.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from ..ledger import Ledger
from ..ledger.commit import Observe, unobserved
from ..storage import Store, public
from .outbox import DELIVERY_KINDS, PENDING_DELIVERY, SENDING, delivery_fields

log = logging.getLogger(__name__)
PATHS = {"learnuplet": "/learn", "preduplet": "/pred"}
POLL_SECONDS = 0.5  # keeps the first retry within 2 s of a failure
SENDERS = 8  # attempts in flight per process, so one hanging compute call blocks nothing else


def delivery_ledger(main: Ledger, observe: Observe = unobserved) -> Ledger:
    """The ledger of delivery attempts, beside the main one (see outbox.py)."""
    return Ledger(main.store, DELIVERY_KINDS, main.clock, attempts=main.attempts, name="delivery",
                  events="delivery_events", version_field="delivery_version", observe=observe)


class Dispatcher:
    def __init__(self, ledger: Ledger, config: dict[str, Any], observe: Observe = unobserved):
        self.ledger = ledger
        self.observe = observe  # told "delivered" or "failed" after each push (GET /metrics)
        self.url = config["COMPUTE_URL"].rstrip("/")
        self.timeout = config["DELIVERY_TIMEOUT_SECONDS"]
        self.first_retry = config["DELIVERY_FIRST_RETRY_SECONDS"]
        self.max_backoff = config["DELIVERY_MAX_BACKOFF_SECONDS"]
        self.sender = f"{socket.gethostname()}:{os.getpid()}"
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.in_flight: set[str] = set()
        self.pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="delivery")
        self.session = requests.Session()

    @property
    def store(self) -> Store:
        """The ledger's store, read when used (tests wrap it)."""
        return self.ledger.store

    @property
    def clock(self) -> Any:
        return self.ledger.clock

    def backoff(self, attempt: int) -> float:
        """Exponential with jitter: about first_retry, 2x, 4x ... capped at max_backoff."""
        delay = min(self.max_backoff, self.first_retry * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()

    def start(self) -> Dispatcher:
        self.thread = threading.Thread(target=self.run_forever, name="delivery-dispatcher",
                                       daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float) -> None:
        """Wait for the thread to finish its round under way (after stop())."""
        self.thread.join(timeout)

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                self.dispatch_due()
            except Exception as error:  # database down: the entries wait in the outbox
                log.warning("delivery paused (%s)", error.__class__.__name__)
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def dispatch_due(self) -> None:
        due = self.store.due_deliveries([PENDING_DELIVERY, SENDING], self.clock.now(), SENDERS * 4)
        for entry in due:
            if entry["uuid"] not in self.in_flight and len(self.in_flight) < SENDERS:
                started = self.start_attempt(entry)
                if started:
                    self.in_flight.add(entry["uuid"])
                    self.pool.submit(self.send, started)

    def start_attempt(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Commit the start of the next attempt; None if another process got there first."""
        uuid = entry["uuid"]

        def decide() -> dict[str, Any] | None:
            current = self.store.get("outbox", uuid)
            if (current is None or current["state"] not in (PENDING_DELIVERY, SENDING)
                    or current["attempts"] != entry["attempts"]
                    or current["next_attempt"] > self.clock.now()):
                return None
            return {"kind": "delivery_started", "by": self.sender, "entry": uuid,
                    "collection": current["collection"], "task": current["task"],
                    "attempt": current["attempts"] + 1,
                    # past this deadline a dead sender's attempt is taken over
                    "until": self.clock.now() + self.timeout + 5}

        committed = self.ledger.commit(decide)
        return committed[0] if committed else None

    def send(self, started: dict[str, Any]) -> None:
        try:
            error = self.post(started)
            self.finish(started, error)
            self.observe("delivered" if error is None else "failed")  # once recorded
        except Exception:
            log.exception("delivery bookkeeping failed for %s; it will be retried", started["entry"])
        finally:
            self.in_flight.discard(started["entry"])

    def post(self, started: dict[str, Any]) -> str | None:
        """POST the task's current document; None on a 2xx answer, else what went wrong."""
        collection = started["collection"]
        # what a GET of the task answers (api/views.py shown)
        task = public(self.store.get(collection, started["task"]) or {})
        task |= delivery_fields(self.store.get("outbox", started["entry"]))
        url = self.url + PATHS[collection]
        try:
            response = self.session.post(url, json=task, timeout=self.timeout)
        except requests.RequestException as error:
            return f"{error.__class__.__name__} from {url}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code} from {url}"

    def finish(self, started: dict[str, Any], error: str | None) -> None:
        attempt = started["attempt"]
        retry_at = None if error is None else self.clock.now() + self.backoff(attempt)

        def decide() -> dict[str, Any] | None:
            current = self.store.get("outbox", started["entry"])
            if current["state"] != SENDING or current["attempts"] != attempt:
                return None  # taken over after our deadline; the newer attempt decides
            return {"kind": "delivery_finished", "by": self.sender, "entry": started["entry"],
                    "collection": started["collection"], "task": started["task"],
                    "attempt": attempt, "error": error, "next_attempt": retry_at}

        self.ledger.commit(decide)
        if error is None:
            log.info("delivered %s %s (attempt %d)", started["collection"], started["task"], attempt)
        else:
            log.warning("delivery of %s %s failed (attempt %d: %s); retrying in %.1fs",
                        started["collection"], started["task"], attempt, error,
                        max(0.0, retry_at - self.clock.now()))  # the commit may outlast the backoff
