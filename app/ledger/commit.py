"""The commit primitive: every state change is one event in a ledger (see docs/design.md).

A change is decided from the current state, then committed by INSERTING the event
`{_id: head + 1, ...}`: the unique `_id` is the commit point, so of any number of racing
writers in any number of processes exactly one commits each number. The event is then
applied: its documents are written, each update guarded by the version it expects, and the
head moves on. A writer that meets newer events either commits after them (when they commute
with its decision, see keys.py) or waits for them to be applied and decides again; an event
whose writer died is rolled forward (applying is idempotent) by the next writer or by the
periodic sweep. Nothing here needs transactions or atomic conditional updates, which
FerretDB does not provide.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from ..domain.errors import Busy, Refusal
from ..storage import Duplicate, Store, Writes
from .kinds import EventKind

log = logging.getLogger(__name__)
SETTLE_SECONDS = 0.5  # how long a committed event may stay unapplied before others apply it
NEWER_EVENTS = 100  # events read in one round trip after losing the race for a number
MINUTE_MS = 60_000

Decide = Callable[[], dict[str, Any] | None]

# What a commit meets besides a clear run, told to the ledger's `observe` hook (the wiring
# counts them for GET /metrics; the ledger imports no metrics library):
# - conflict: the event number was taken by a conflicting event; the decision is made again
# - commuted: it was taken by events that commute with the decision: committed after them
# - refused: it was taken by an event that settles the request (a rival's claim): 409
# - recheck: a refusal is checked again after a committed but unapplied event is applied
# - half_applied: the decision read an event half applied; it waits, then decides again
# - busy: COMMIT_ATTEMPTS used up, the request answers 503
CONTENTION = ("conflict", "commuted", "refused", "recheck", "half_applied", "busy")
Observe = Callable[[str], None]


def unobserved(what: str) -> None:
    """The hook of a ledger nobody watches."""


def seq_of(version: int, index: int = 0) -> str:
    """The ledger order of the index-th document an event creates (lists are paged by it)."""
    return f"{version:012d}.{index:06d}"


def _conflicts(depends_on: set[str], other: Mapping[str, Any]) -> bool:
    """An event that names no writes, or a decision that names no keys, conflicts with all."""
    writes = other.get("writes")
    return not depends_on or not writes or not depends_on.isdisjoint(writes)


class Ledger:
    def __init__(self, store: Store, kinds: Mapping[str, EventKind], clock: Any,
                 attempts: int = 200, stamp: dict[str, Any] | None = None, name: str = "head",
                 events: str = "events", version_field: str = "version",
                 after_expand: Callable[[dict[str, Any], Writes], None] | None = None,
                 after_apply: Callable[[dict[str, Any]], Writes] | None = None,
                 observe: Observe = unobserved):
        self.store = store
        self.kinds = kinds
        self.clock = clock
        self.attempts = attempts
        self.stamp = stamp or {}  # fields every event of this server carries (e.g. deliver)
        # A second ledger (delivery bookkeeping) keeps its own head, events and version
        # field, so its writes never contend with, nor guard against, this one's.
        self.name = name
        self.events = events
        self.version_field = version_field
        self.after_expand = after_expand
        self.after_apply = after_apply  # follow-up writes of an applied event (its chains)
        self.observe = observe  # told of each contention (CONTENTION)

    def now(self) -> int:
        """Integer Unix seconds, as every timestamp of the API."""
        return int(self.clock.now())

    def ensure_head(self) -> None:
        self.store.create_head(self.name)

    def head(self) -> int:
        """The number of the last applied event."""
        version = self.store.head(self.name)
        if version is None:  # a new database: without a head document the head could never move
            self.ensure_head()
            return 0
        return version

    def commit(self, decide: Decide) -> tuple[dict[str, Any], Writes] | None:
        """Decide and commit one event; returns it with what it wrote, or None if nothing to do.

        `decide` reads the current state and returns the event's content (with its `kind`),
        None when the request changes nothing (an identical retry), or raises a Refusal.
        A decision whose reads no event committed meanwhile wrote still holds, and is
        committed at the next free number without deciding again. A refusal is re-checked
        once after the events committed meanwhile are applied, so a committed but unapplied
        event never causes a wrong 404 or 409.
        """
        rechecked = False
        for _ in range(self.attempts):
            version = self.head()
            try:
                content = decide()
            except Refusal:
                if rechecked or not self.settle(version):
                    raise
                rechecked = True
                self.observe("recheck")
                continue
            if content is None:
                return None
            event = self._insert(version, self._declared(content))
            if event is not None:
                # committed past commuting events: those may still be being applied
                return event, self.apply(event, behind=event["_id"] > version + 1)
            self.observe("conflict")
            self.settle(version)  # a conflicting event was committed meanwhile: decide again
        self.observe("busy")
        raise Busy("Too many concurrent changes; retry the request.")

    def _declared(self, content: dict[str, Any]) -> dict[str, Any]:
        kind = self.kinds[content["kind"]]
        return {**self.stamp, **content, "reads": kind.reads(content),
                "writes": kind.writes(content)}

    def _insert(self, version: int, content: dict[str, Any]) -> dict[str, Any] | None:
        """Insert the event after `version`, or after newer events that commute with it; None
        on a conflict. Losing the race costs one read of the newer events, however many."""
        depends_on = set(content["reads"]) | set(content["writes"])  # it depends on its writes too
        number = version + 1
        for _ in range(self.attempts):
            # `at` is the commit time: leases and timestamps run from it; `minute` lets the
            # sealer find recent events (sealing.py)
            ms = int(self.clock.now() * 1000)
            event = {"_id": number, **content, "at": ms // 1000, "ms": ms,
                     "minute": ms // MINUTE_MS}
            try:
                self.store.insert_event(self.events, event)
                return event
            except Duplicate:
                newer = self.store.events_after(self.events, number - 1, NEWER_EVENTS)
                if any(_conflicts(depends_on, other) for other in newer):
                    return None
                self.observe("commuted")
                number = (newer[-1]["_id"] if newer else number) + 1
        return None

    def next_event(self, version: int) -> dict[str, Any] | None:
        """The event committed after `version`, if any (a lookup by key)."""
        return self.store.event(self.events, version + 1)

    def settle(self, version: int) -> bool:
        """Wait until the events committed after `version` are applied; False if there are none.

        Their writer is normally applying them right now, so waiting is cheaper than applying
        them again from every losing process (SQLite-backed servers take one writer at a time).
        A writer that does not finish within SETTLE_SECONDS is presumed dead: roll forward.
        """
        if self.next_event(version) is None:
            return False
        self._wait_for_head(version + 1)
        return True

    def _wait_for_head(self, version: int) -> None:
        deadline, pause = self.clock.monotonic() + SETTLE_SECONDS, 0.001
        while self.clock.monotonic() < deadline:
            if self.head() >= version:
                return
            self.clock.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.05)
        self.roll_forward()

    def roll_forward(self) -> int:
        """Apply every committed event the head has not reached; returns how many."""
        applied, version = 0, self.head()
        while (event := self.next_event(version)) is not None:
            self.apply(event, behind=False)  # in order, from the head
            version, applied = version + 1, applied + 1
        if applied:
            log.info("rolled forward %d committed event(s) up to version %d", applied, version)
        return applied

    def expand(self, event: dict[str, Any]) -> Writes:
        """What applying `event` writes (deterministic: the same every time)."""
        writes = self.kinds[event["kind"]].expand(self.store, event)
        if self.after_expand:
            self.after_expand(event, writes)
        return writes

    def stamped(self, event: dict[str, Any], writes: Writes) -> Writes:
        """The writes with `seq` (list order) and the version stamped on new documents."""
        version = event["_id"]
        return Writes(
            inserts={name: [{"seq": seq_of(version, index), **document, self.version_field: version}
                            for index, document in enumerate(documents)]
                     for name, documents in writes.inserts.items()},
            updates=writes.updates)

    def apply(self, event: dict[str, Any], behind: bool = True) -> Writes:
        """Write what the event says; safe to repeat and to run concurrently with itself.

        `behind=False` tells that every earlier event is known to be applied (so the head
        need not be read before moving it).
        """
        version = event["_id"]
        stored = self.stamped(event, self.expand(event))
        self.store.write(stored, version, self.version_field)
        if self.after_apply:
            follow_up = self.after_apply(event).inserts
            stored = Writes(inserts={**stored.inserts, **{
                name: stored.inserts.get(name, []) + documents
                for name, documents in follow_up.items()}}, updates=stored.updates)
        # The head means "every event up to here is applied": an event committed past
        # commuting ones moves it only once they are applied (normally at once, by their
        # writers; after SETTLE_SECONDS by us).
        if behind and self.head() < version - 1:
            self._wait_for_head(version - 1)
        self.store.move_head(self.name, version)
        return stored
