"""Streams: the commit primitive for changes that concern one aggregate.

A stream orders the events of one aggregate: a problem (`problem:<uuid>`), a preduplet
(`preduplet:<uuid>`), or an algo's chain of learnuplets with its chain document
(`chain:<algo>`). Its events are numbered 1, 2, 3 … and keyed `<stream>/<number>`; the
documents of the aggregate carry `version`, the number of the last event that wrote them.

A decision reads the aggregate's documents (a `Reading` records them and their versions);
its position is the highest version it saw. It commits by INSERTING the event numbered
position + 1: the unique key is the commit point, so of any number of racing writers in any
number of processes exactly one commits each number. Every event of a stream writes at
least one document a later decision of that stream reads (the chain document, or the
learnuplet that is running), and an event is only inserted after the one before it was
applied, so a stream has at most one unapplied event: the one right after the position.
A writer that meets it waits for its writer to apply it (or, after SETTLE_SECONDS, applies
it itself, and every later event of the stream again) and decides again. So losing a race costs one failed
insert and one re-read, and nothing waits on a global counter: claims and reports of
different tasks never contend.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import Busy, Refusal
from ..storage import Duplicate, Store, Writes
from .audit import written
from .commit import Observe, unobserved
from .kinds import EventKind

log = logging.getLogger(__name__)
EVENTS = "stream_events"
CHECKPOINT = "streams"  # the ledger document holding the sweep checkpoint
# How long an event may stay unapplied before another writer presumes its writer dead and
# applies it itself. Far longer than an application takes: on FerretDB an update is a read
# then a write, so two processes applying one event at the same time can let the older
# event's write land over a newer one (docs/design.md, known limits).
SETTLE_SECONDS = 5.0
SWEEP_SKEW_MS = 10_000  # servers' clocks may differ by this much; the sweep looks back as far
SWEEP_BATCH, SWEEP_BATCHES = 1000, 20  # events checked per read, reads per sweep
# The sweep finds recent events by their commit minute (`minute`, an equality): a server that
# answers only equalities without a scan of its own (FerretDB) then sends it the recent events
# alone, not every event ever committed. A database never swept is swept from 10 minutes back
# (its servers sweep as they start). A sweep far behind (all servers were down) catches up
# SWEEP_BATCHES minutes a sweep at least.
MINUTE_MS, FIRST_SWEEP_MS = 60_000, 600_000


def event_id(stream: str, number: int) -> str:
    return f"{stream}/{number:012d}"


@dataclass
class Reading:
    """The documents a decision read on its stream, and so its position."""

    stream: str | None = None
    documents: list[tuple[str, str]] = field(default_factory=list)
    position: int = 0
    chain: Mapping[str, Any] | None = None  # the chain document, if one was read
    tasks: list[Mapping[str, Any]] = field(default_factory=list)  # the learnuplets read

    def observe(self, stream: str, collection: str, uuid: str,
                document: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Record a document read for the decision (None: it does not exist yet)."""
        assert self.stream in (None, stream), "a decision reads one stream"
        self.stream = stream
        self.documents.append((collection, uuid))
        self.position = max(self.position, (document or {}).get("version", 0))
        if collection == "chain":
            self.chain = document or {}
        elif collection == "learnuplet" and document:
            self.tasks.append(document)
        return document

    @property
    def complete(self) -> bool:
        """False when an event of a chain's stream was read half applied: a learnuplet read
        newer than the chain document (written last, running.py), or older than the version
        the chain document says the event gave it (`wrote`: a late write undid it)."""
        if self.chain is None:
            return True
        version, wrote = self.chain.get("version", 0), self.chain.get("wrote") or {}
        return all(wrote.get(task["uuid"], 0) <= task.get("version", 0) <= version
                   for task in self.tasks)

    def suspect(self) -> int:
        """The number of the event read half applied."""
        return max([self.chain.get("version", 0) if self.chain else 0,
                    *(task.get("version", 0) for task in self.tasks)])


Decide = Callable[[Reading], dict[str, Any] | None]
Lost = Callable[[dict[str, Any]], Refusal | None]


class StreamLedger:
    def __init__(self, store: Store, kinds: Mapping[str, EventKind], clock: Any,
                 attempts: int = 200, stamp: dict[str, Any] | None = None,
                 after_expand: Callable[[dict[str, Any], Writes], None] | None = None,
                 settle_seconds: float = SETTLE_SECONDS, observe: Observe = unobserved):
        self.store = store
        self.observe = observe  # told of each contention (commit.CONTENTION)
        self.settle_seconds = settle_seconds
        self.kinds = kinds
        self.clock = clock
        self.attempts = attempts
        self.stamp = stamp or {}
        self.after_expand = after_expand

    def now(self) -> int:
        return int(self.clock.now())

    # -- committing ---------------------------------------------------------------------------
    def commit(self, decide: Decide, lost: Lost | None = None
               ) -> tuple[dict[str, Any], Writes] | None:
        """Decide and commit one event; returns it with what it wrote, or None if nothing to do.

        `decide` reads the aggregate (recording what it read in the Reading it is given) and
        returns the event's content, None when the request changes nothing, or raises a
        Refusal. A refusal is re-checked once, after the event following what it read (if
        there is one) is applied. `lost`, given the event that took the number a decision
        wanted, may return the Refusal that event makes certain (a rival's claim of the same
        task): it is raised at once, without waiting for that event to be applied.
        """
        rechecked = False
        for _ in range(self.attempts):
            reading = Reading()
            try:
                content = decide(reading)
            except Refusal:
                if not reading.complete:
                    self.observe("half_applied")
                    self._await_complete(reading)
                    continue
                if rechecked or reading.stream is None or not self._settle(reading):
                    raise
                rechecked = True
                self.observe("recheck")
                continue
            if not reading.complete:  # decided on a half-applied event: wait, decide again
                self.observe("half_applied")
                self._await_complete(reading)
                continue
            if content is None:
                return None
            event, writes = self.prepare(reading, content)
            try:
                self.store.insert_event(EVENTS, event)
            except Duplicate:
                following = self._following(reading)
                refusal = lost(following) if lost and following else None
                if refusal is not None:
                    self.observe("refused")
                    if self._stale(following):  # its writer may be dead: apply it first
                        self.take_over(following)
                    raise refusal from None
                self.observe("conflict")
                self._settle(reading, following)
                continue
            self.write(event, writes)
            return event, writes
        self.observe("busy")
        raise Busy("Too many concurrent changes; retry the request.")

    def commit_all(self, decides: list[Decide], known: Mapping[tuple[str, Any], Any] | None = None
                   ) -> list[tuple[dict[str, Any], Writes]]:
        """Commit one event on each of several streams with a constant number of round trips
        (a data upload extends every chain of its problems): the decisions are made, their
        events inserted together and applied together (`known`: events already read). A
        stream whose number was taken meanwhile is committed on its own, as commit() does."""
        prepared, unchanging, alone = [], Unchanging(self.store, known), []
        for decide in decides:
            reading = Reading()
            content = decide(reading)
            if not reading.complete:
                alone.append(decide)  # read a half-applied event: commit() waits for it
            elif content is not None:
                prepared.append((decide, *self.prepare(reading, content, unchanging)))
        taken = self.store.insert_events(EVENTS, [event for _, event, _ in prepared]) \
            if prepared else set()
        done = [(event, writes) for _, event, writes in prepared if event["_id"] not in taken]
        self.store.write_many([(writes, event["n"]) for event, writes in done], "version")
        alone += [decide for decide, event, _ in prepared if event["_id"] in taken]
        for _ in taken:
            self.observe("conflict")  # committed on its own below: decided again
        done += [committed for decide in alone if (committed := self.commit(decide)) is not None]
        return done

    def prepare(self, reading: Reading, content: dict[str, Any],
                store: Store | None = None) -> tuple[dict[str, Any], Writes]:
        """The event at the position after `reading`, and what applying it writes. The event
        names its seal: the document written last, whose version shows it applied."""
        assert reading.stream is not None, "the decision read nothing of its stream"
        kind = self.kinds[content["kind"]]
        number, now = reading.position + 1, self.clock.now()
        event = {**self.stamp, **content, "_id": event_id(reading.stream, number),
                 "stream": reading.stream, "n": number, "at": int(now), "ms": int(now * 1000),
                 "minute": int(now * 1000) // MINUTE_MS,
                 "reads": kind.reads(content), "writes": kind.writes(content)}
        writes = self.expand(event, store)
        event["seal"] = _last_written(writes)
        event["documents"] = written(writes.inserts, writes.updates)  # for the audit (audit.py)
        return event, writes

    def expand(self, event: dict[str, Any], store: Store | None = None) -> Writes:
        """What applying `event` writes, with `seq` (list order) and `version` stamped."""
        writes = self.kinds[event["kind"]].expand(store or self.store, event)
        if self.after_expand:
            self.after_expand(event, writes)
        return Writes(
            inserts={name: [{"seq": f"{event['ms']:015d}.{event['_id']}.{index:06d}", **document,
                             "version": event["n"]} for index, document in enumerate(documents)]
                     for name, documents in writes.inserts.items()},
            updates=writes.updates)

    def apply(self, event: dict[str, Any]) -> Writes:
        """Write what the event says; safe to repeat and to run concurrently with itself."""
        writes = self.expand(event)
        self.write(event, writes)
        return writes

    def write(self, event: dict[str, Any], writes: Writes) -> None:
        self.store.write(writes, event["n"], "version")

    # -- waiting, rolling forward ---------------------------------------------------------------
    def _stale(self, event: dict[str, Any]) -> bool:
        """Committed longer than `settle_seconds` ago (by this server's clock)."""
        return event["ms"] < (self.clock.now() - self.settle_seconds) * 1000

    def _following(self, reading: Reading) -> dict[str, Any] | None:
        """The event after the reading's position, if one was committed."""
        return self.store.event(EVENTS, event_id(reading.stream, reading.position + 1))

    def _settle(self, reading: Reading, following: dict[str, Any] | None = None) -> bool:
        """Wait until the event after the reading's position, if there is one, is applied: its
        writer is normally applying it now. After `settle_seconds` it is presumed dead, and
        the event is applied here. Returns whether there was such an event."""
        following = following or self._following(reading)
        if following is None:
            return False
        if not self._wait(lambda: self._read_again(reading).position > reading.position):
            log.warning("event %s stayed unapplied for %ss: its writer is presumed dead; "
                        "applying it", following["_id"], self.settle_seconds)
            self.take_over(following)
        return True

    def _await_complete(self, reading: Reading) -> None:
        """Wait until the documents read show the event read half applied whole; after
        `settle_seconds` its writer is presumed dead and the event is applied here."""
        if self._wait(lambda: self._read_again(reading).complete):
            return
        event = self.store.event(EVENTS, event_id(reading.stream, reading.suspect()))
        log.warning("event %s stayed half applied for %ss: its writer is presumed dead; "
                    "applying it", event and event["_id"], self.settle_seconds)
        if event is not None:
            self.take_over(event)

    def _wait(self, done: Callable[[], bool]) -> bool:
        """Poll `done` after short, growing pauses for up to `settle_seconds`; whether it came."""
        deadline, pause = self.clock.monotonic() + self.settle_seconds, 0.002
        while self.clock.monotonic() < deadline:
            self.clock.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.05)
            if done():
                return True
        return False

    def _read_again(self, reading: Reading) -> Reading:
        """The documents the reading saw, as they are now."""
        again = Reading()
        for collection, uuid in reading.documents:
            again.observe(reading.stream, collection, uuid, self.store.get(collection, uuid))
        return again

    def take_over(self, event: dict[str, Any]) -> None:
        """Apply an event its writer left behind, then again every later event of its stream:
        should the writer have been alive after all, its late writes are overwritten by the
        newer events' (on FerretDB a late write can pass the version guard)."""
        self.apply(event)
        number = event["n"]
        while (later := self.store.event(EVENTS, event_id(event["stream"], number + 1))) is not None:
            self.apply(later)
            number += 1

    def catch_up(self, reading: Reading) -> bool:
        """Apply the event after the reading's position if there is one; whether there was.
        For streams whose events only create documents (a problem's), where applying twice
        at once is harmless."""
        event = self._following(reading)
        if event is None:
            return False
        self.apply(event)
        return True

    def sweep(self) -> int:
        """Apply the recent events whose writer died before applying them; returns how many.

        Looks at the events committed since the checkpoint (less the clock skew allowed
        between servers), except those younger than `settle_seconds` (their writer is applying
        them), minute by minute and a batch at a time (at most SWEEP_BATCHES reads: a sweep
        far behind catches up over several ticks), moving the checkpoint past what it read.
        """
        settled = int((self.clock.now() - self.settle_seconds) * 1000)
        checkpoint = self.store.checkpoint(CHECKPOINT)
        since = max(0, checkpoint - SWEEP_SKEW_MS) if checkpoint else settled - FIRST_SWEEP_MS
        applied = 0
        for _ in range(SWEEP_BATCHES):
            if since > settled:
                break
            minute = since // MINUTE_MS
            found = self.store.events_in_minute(EVENTS, minute, since, SWEEP_BATCH)
            batch = [event for event in found if event["ms"] <= settled]
            for event in self.unapplied_among(batch):
                self.take_over(event)
                applied += 1
            if len(batch) == SWEEP_BATCH:  # more of this minute; (over 1,000 events in one
                since = batch[-1]["ms"] + (batch[-1]["ms"] == since)  # ms: left to their streams)
            else:
                since = min(settled + 1, (minute + 1) * MINUTE_MS)
            self.store.move_checkpoint(CHECKPOINT, since)
        if applied:
            log.info("rolled forward %d stream event(s)", applied)
        return applied

    def unapplied_among(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of `events` whose seal does not show them applied (one read per collection)."""
        seals: dict[str, set[str]] = {}
        for event in events:
            seals.setdefault(event["seal"][0], set()).add(event["seal"][1])
        versions = {(collection, document["uuid"]): document.get("version", 0)
                    for collection, uuids in seals.items()
                    for document in self.store.get_many(collection, sorted(uuids))}
        return [event for event in events
                if versions.get(tuple(event["seal"]), 0) < event["n"]]

    def is_applied(self, event: dict[str, Any]) -> bool:
        return not self.unapplied_among([event])


class Unchanging:
    """A store whose problems and events, which never change, are read once per batch."""

    def __init__(self, store: Store, known: Mapping[tuple[str, Any], Any] | None = None):
        self._store = store
        self._read: dict[tuple[str, Any], Any] = dict(known or {})  # (events, key): event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        if collection != "problem":
            return self._store.get(collection, uuid)
        return self._once((collection, uuid), lambda: self._store.get(collection, uuid))

    def event(self, events: str, number: int | str) -> dict[str, Any] | None:
        return self._once((events, number), lambda: self._store.event(events, number))

    def _once(self, key: tuple[str, Any], read: Callable[[], Any]) -> Any:
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]


def _last_written(writes: Writes) -> list[str]:
    """The document applying these writes writes last (the store writes inserts, then updates,
    collection by collection in the order they first appear)."""
    if writes.updates:
        order = list(dict.fromkeys(name for name, _, _ in writes.updates))
        name = order[-1]
        uuid = [uuid for collection, uuid, _ in writes.updates if collection == name][-1]
        return [name, uuid]
    name = [name for name, documents in writes.inserts.items() if documents][-1]
    return [name, writes.inserts[name][-1]["uuid"]]
