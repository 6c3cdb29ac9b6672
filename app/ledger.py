"""The commit primitive: every state change is one event in the ledger (see docs/design.md).

One ledger orders every change to problems, algos, data, learnuplets and preduplets. A
change is decided from the current state, then committed by INSERTING the event
`{_id: head + 1, ...}`: the unique `_id` is the commit point, so of any number of racing
writers in any number of processes exactly one commits each version. The event is then
applied: its documents are written, each update guarded by the version it expects, and the
head moves on. A writer that meets an existing event either commits after it (when the
two commute, see keys.py) or waits for it to be applied and decides again; an event whose
writer died is rolled forward (applying is idempotent) by the next writer or by the
periodic sweep. Nothing here needs transactions or atomic conditional updates, which
FerretDB does not provide.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from .errors import Unavailable

log = logging.getLogger(__name__)
HEAD = "head"
SETTLE_SECONDS = 0.5  # how long a committed event may stay unapplied before others apply it
DUPLICATE_KEY = 11000


@dataclass
class Writes:
    """What applying one event writes: new documents and field updates by uuid."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


Expander = Callable[[Database, dict[str, Any]], Writes]


class Ledger:
    def __init__(self, db: Database, expand: Expander, attempts: int = 200,
                 stamp: dict[str, Any] | None = None, name: str = HEAD, events: str = "events",
                 version_field: str = "version"):
        self.db = db
        self.expand = expand
        self.attempts = attempts
        self.stamp = stamp or {}  # fields every event of this server carries (e.g. deliver)
        # A second ledger (delivery bookkeeping) keeps its own head, events and version
        # field, so its writes never contend with, nor guard against, this one's.
        self.name = name
        self.events = db[events]
        self.version_field = version_field

    def ensure_head(self) -> None:
        """Create the head document once; idempotent."""
        try:
            self.db.ledger.insert_one({"_id": self.name, "version": 0})
        except DuplicateKeyError:
            pass

    def head(self) -> int:
        """The version of the last applied event."""
        doc = self.db.ledger.find_one({"_id": self.name})
        if doc is None:  # a new database: without a head document the head could never move
            self.ensure_head()
            return 0
        return doc["version"]

    def commit(self, decide: Callable[[], dict[str, Any] | None]) -> tuple[dict[str, Any], Writes] | None:
        """Decide and commit one event; returns it with what it wrote, or None if nothing to do.

        `decide` reads the current state and returns the event's content, None when the
        request changes nothing (an identical retry), or raises to refuse the request.
        The content names the keys the decision read (`reads`) and the event changes
        (`writes`, see facts.py): a decision whose reads no event committed meanwhile wrote
        still holds, and is committed at the next free number without deciding again.
        A refusal is re-checked once after the events committed meanwhile are applied, so a
        committed but unapplied event never causes a wrong 404 or 409.
        """
        rechecked = False
        for _ in range(self.attempts):
            version = self.head()
            try:
                content = decide()
            except PyMongoError:
                # Not a refusal: re-checking would wait for the unreachable database again,
                # doubling the time before the client gets its 503.
                raise
            except Exception:
                if rechecked or not self.settle(version):
                    raise
                rechecked = True
                continue
            if content is None:
                return None
            event = self._insert(version, {**self.stamp, **content})
            if event is not None:
                # committed past commuting events: those may still be being applied
                return event, self.apply(event, behind=event["_id"] > version + 1)
            self.settle(version)  # a conflicting event was committed meanwhile: decide again
        raise Unavailable("Too many concurrent changes; retry the request.",
                          headers={"Retry-After": "1"})

    def _insert(self, version: int, content: dict[str, Any]) -> dict[str, Any] | None:
        """Insert the event after `version`, or after events that commute with it; None on a
        conflict. A decision depends on everything it writes, too."""
        depends_on = set(content.get("reads", ())) | set(content.get("writes", ()))
        number = version + 1
        for _ in range(self.attempts):
            event = {"_id": number, **content}
            try:
                self.events.insert_one(event)
                return event
            except DuplicateKeyError:
                other = self.events.find_one({"_id": number}, {"writes": 1})
                # an event that names no writes (or a decision that names no reads) conflicts
                if not depends_on or other is None or "writes" not in other \
                        or not depends_on.isdisjoint(other["writes"]):
                    return None
                number += 1
        return None

    def settle(self, version: int) -> bool:
        """Wait until the events committed after `version` are applied; False if there are none.

        Their writer is normally applying them right now, so waiting is cheaper than applying
        them again from every losing process (SQLite-backed servers take one writer at a time).
        A writer that does not finish within SETTLE_SECONDS is presumed dead: roll forward.
        """
        if self.events.find_one({"_id": version + 1}, {"_id": 1}) is None:
            return False
        self._wait_for_head(version + 1)
        return True

    def _wait_for_head(self, version: int) -> None:
        deadline, pause = time.monotonic() + SETTLE_SECONDS, 0.001
        while time.monotonic() < deadline:
            if self.head() >= version:
                return
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.05)
        self.roll_forward()

    def roll_forward(self) -> int:
        """Apply every committed event the head has not reached; returns how many."""
        applied, version = 0, self.head()
        while (event := self.events.find_one({"_id": version + 1})) is not None:
            self.apply(event, behind=False)  # in order, from the head
            version, applied = version + 1, applied + 1
        if applied:
            log.info("rolled forward %d committed event(s) up to version %d", applied, version)
        return applied

    def apply(self, event: dict[str, Any], behind: bool = True) -> Writes:
        """Write what the event says; safe to repeat and to run concurrently with itself.

        `behind=False` tells that every earlier event is known to be applied (so the head
        need not be read before moving it).
        """
        version = event["_id"]
        writes = self.expand(self.db, event)
        for name, documents in writes.inserts.items():
            self._insert_missing(name, [
                {"_id": document["uuid"], "seq": f"{version:012d}.{index:06d}", **document,
                 self.version_field: version}
                for index, document in enumerate(documents)])
        by_collection: dict[str, list[UpdateOne]] = {}
        for name, uuid, fields in writes.updates:
            by_collection.setdefault(name, []).append(UpdateOne(
                # $not matches a document that has no version field yet, as well as older ones
                {"_id": uuid, self.version_field: {"$not": {"$gte": version}}},
                {"$set": {**fields, self.version_field: version}}))
        for name, requests in by_collection.items():
            self.db[name].bulk_write(requests, ordered=False)
        # The head means "every event up to here is applied": an event committed past
        # commuting ones moves it only once they are applied (normally at once, by their
        # writers; after SETTLE_SECONDS by us).
        if behind and self.head() < version - 1:
            self._wait_for_head(version - 1)
        self.db.ledger.update_one({"_id": self.name, "version": {"$lt": version}},
                                  {"$set": {"version": version}})
        return writes

    def _insert_missing(self, name: str, documents: list[dict[str, Any]]) -> None:
        # `_id` is the document's uuid, fixed by the event, so one already written by an earlier
        # (crashed or concurrent) application of the same event is a duplicate to skip.
        if not documents:
            return
        try:
            self.db[name].insert_many(documents, ordered=False)
        except BulkWriteError as error:
            others = [e for e in error.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others:
                raise
