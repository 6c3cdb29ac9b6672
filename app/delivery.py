"""Push delivery of runnable tasks to compute, from a durable outbox.

The event that makes a task todo also writes its outbox entry (facts.schedule_deliveries),
so the intent to deliver is stored with the change itself. A dispatcher thread in every
server process sends due entries, never in an API request. Starting and finishing an
attempt are events of a second ledger, the delivery ledger, so with any number of processes
exactly one sends a given attempt, and a compute outage (many retries) never contends with
the API's writes; an attempt whose sender died is retried once its deadline has passed.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Flask
from pymongo.database import Database

from .facts import DELIVERED, PENDING_DELIVERY, SENDING
from .ledger import Ledger, Writes
from .store import HIDDEN

log = logging.getLogger(__name__)
PATHS = {"learnuplet": "/learn", "preduplet": "/pred"}
POLL_SECONDS = 0.5  # keeps the first retry within 2 s of a failure
SENDERS = 8  # attempts in flight per process, so one hanging compute call blocks nothing else


def _delivery_started(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(updates=[
        ("outbox", event["entry"], {"state": SENDING, "attempts": event["attempt"],
                                    "next_attempt": event["until"], "worker": event["by"]}),
        (event["collection"], event["task"], {"delivery_attempts": event["attempt"]})])


def _delivery_finished(db: Database, event: dict[str, Any]) -> Writes:
    state = DELIVERED if event["error"] is None else PENDING_DELIVERY
    return Writes(updates=[
        ("outbox", event["entry"], {"state": state, "error": event["error"],
                                    "next_attempt": event.get("next_attempt")}),
        (event["collection"], event["task"], {"delivery": state, "delivery_error": event["error"]})])


DELIVERY_EXPANDERS = {"delivery_started": _delivery_started, "delivery_finished": _delivery_finished}


def expand_delivery(db: Database, event: dict[str, Any]) -> Writes:
    return DELIVERY_EXPANDERS[event["kind"]](db, event)


def delivery_ledger(db: Database, attempts: int) -> Ledger:
    """The ledger of delivery attempts, beside the main one (see the module docstring)."""
    return Ledger(db, expand_delivery, attempts=attempts, name="delivery", events="delivery_events",
                  version_field="delivery_version")


class Dispatcher:
    def __init__(self, ledger: Ledger, config: dict[str, Any]):
        self.ledger = ledger
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

    def backoff(self, attempt: int) -> float:
        """Exponential with jitter: about first_retry, 2x, 4x ... capped at max_backoff."""
        delay = min(self.max_backoff, self.first_retry * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                self.dispatch_due()
            except Exception as error:  # database down: the entries wait in the outbox
                log.warning("delivery paused (%s)", error.__class__.__name__)
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def dispatch_due(self) -> None:
        due = self.ledger.db.outbox.find(
            {"state": {"$in": [PENDING_DELIVERY, SENDING]}, "next_attempt": {"$lte": time.time()}},
            HIDDEN, sort=[("next_attempt", 1)], limit=SENDERS * 4)
        for entry in list(due):
            if entry["uuid"] not in self.in_flight and len(self.in_flight) < SENDERS:
                started = self.start(entry)
                if started:
                    self.in_flight.add(entry["uuid"])
                    self.pool.submit(self.send, started)

    def start(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Commit the start of the next attempt; None if another process got there first."""
        uuid = entry["uuid"]

        def decide() -> dict[str, Any] | None:
            current = self.ledger.db.outbox.find_one({"_id": uuid}, HIDDEN)
            if (current is None or current["state"] not in (PENDING_DELIVERY, SENDING)
                    or current["attempts"] != entry["attempts"] or current["next_attempt"] > time.time()):
                return None
            return {"kind": "delivery_started", "at": int(time.time()), "by": self.sender,
                    "entry": uuid, "collection": current["collection"], "task": current["task"],
                    "attempt": current["attempts"] + 1,
                    # past this deadline a dead sender's attempt is taken over
                    "until": time.time() + self.timeout + 5}

        committed = self.ledger.commit(decide)
        return committed[0] if committed else None

    def send(self, started: dict[str, Any]) -> None:
        try:
            error = self.post(started)
            self.finish(started, error)
        except Exception:
            log.exception("delivery bookkeeping failed for %s; it will be retried", started["entry"])
        finally:
            self.in_flight.discard(started["entry"])

    def post(self, started: dict[str, Any]) -> str | None:
        """POST the task's current document; None on a 2xx answer, else what went wrong."""
        collection = started["collection"]
        task = self.ledger.db[collection].find_one({"_id": started["task"]}, HIDDEN)
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
        retry_at = None if error is None else time.time() + self.backoff(attempt)

        def decide() -> dict[str, Any] | None:
            current = self.ledger.db.outbox.find_one({"_id": started["entry"]}, HIDDEN)
            if current["state"] != SENDING or current["attempts"] != attempt:
                return None  # taken over after our deadline; the newer attempt decides
            return {"kind": "delivery_finished", "at": int(time.time()), "by": self.sender,
                    "entry": started["entry"], "collection": started["collection"],
                    "task": started["task"], "attempt": attempt, "error": error,
                    "next_attempt": retry_at}

        self.ledger.commit(decide)
        if error is None:
            log.info("delivered %s %s (attempt %d)", started["collection"], started["task"], attempt)
        else:
            log.warning("delivery of %s %s failed (attempt %d: %s); retrying in %.1fs",
                        started["collection"], started["task"], attempt, error,
                        max(0.0, retry_at - time.time()))  # the commit may outlast the backoff


def start_dispatcher(app: Flask, ledger: Ledger) -> Dispatcher | None:
    """One dispatcher thread per server process, when COMPUTE_URL is set."""
    if not app.config["COMPUTE_URL"]:
        return None
    dispatcher = Dispatcher(delivery_ledger(ledger.db, app.config["COMMIT_ATTEMPTS"]), app.config)
    threading.Thread(target=dispatcher.run_forever, name="delivery-dispatcher", daemon=True).start()
    return dispatcher
