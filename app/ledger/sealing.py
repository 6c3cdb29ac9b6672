"""The sealer: appends committed, applied events to the audit chain (audit.py).

It reads events minute by minute, as the stream sweep does (an equality on the commit
minute, which a server without usable indexes, FerretDB, answers cheaply), from its
checkpoint less the clock skew allowed between servers (from the first event, on a database
never sealed), up to events settled for `settle_seconds` (their writers have applied them,
or the sweep will). Catching up, it skips the minutes without events (one range query per
source, never in the steady state: on FerretDB a range is a scan). An event is sealed
only once applied, so the audit chain never names a change the documents do not show yet;
the round stops before the first unapplied one, which a later round seals. Within a round
the events are sealed in commit-time order, each stream's in its own order.
"""
from __future__ import annotations

import logging
from typing import Any

from ..storage import Store
from .audit import AUDIT, HEAD, REGISTRY, SOURCES, STREAMS, entry_for, head
from .streams import MINUTE_MS, StreamLedger

log = logging.getLogger(__name__)
CHECKPOINT = "sealed"  # the ledger document holding the sealer's checkpoint (ms)
SKEW_MS = 10_000  # as the stream sweep's: servers' clocks may differ by this much
MINUTES_PER_ROUND = 20


class Sealer:
    def __init__(self, streams: StreamLedger, registry_head: str = "head",
                 settle_seconds: float | None = None):
        self.streams = streams
        self.registry_head = registry_head
        self.settle_seconds = streams.settle_seconds if settle_seconds is None else settle_seconds

    @property
    def store(self) -> Store:
        return self.streams.store

    def seal(self) -> int:
        """One round; returns how many events it sealed."""
        settled = int((self.streams.clock.now() - self.settle_seconds) * 1000)
        checkpoint = self.store.checkpoint(CHECKPOINT)
        since = max(0, checkpoint - SKEW_MS)
        last, sealed = head(self.store), 0
        for _ in range(MINUTES_PER_ROUND):
            if since > settled:
                break
            minute = since // MINUTE_MS
            fresh, complete, seen = self._unsealed(minute, since, settled)
            entries = chain_entries(fresh, last)
            if entries:
                appended = self.store.append(AUDIT, entries)
                if appended:
                    self._move_head(entries[appended - 1]["_id"])
                if appended < len(entries):
                    return sealed + appended  # another server sealed meanwhile: it goes on
                sealed += len(entries)
                last = {"version": entries[-1]["_id"], "hash": entries[-1]["hash"]}
            if not complete:  # an unapplied event: seal it (and what follows) next round
                break
            since = min(settled + 1, self._next_minute(minute, seen, settled) * MINUTE_MS)
            self.store.move_checkpoint(CHECKPOINT, since)
        if sealed:
            log.debug("sealed %d event(s), audit head %d", sealed, last["version"])
        return sealed

    def _move_head(self, version: int) -> None:
        if self.store.head(HEAD) is None:
            self.store.create_head(HEAD)
        self.store.move_head(HEAD, version)

    def _next_minute(self, minute: int, seen: bool, settled: int) -> int:
        """The next minute to read: the one after `minute`, or, catching up past a minute
        without events, the next one that has some."""
        if seen or minute >= settled // MINUTE_MS - 1:
            return minute + 1
        later = [found for source in SOURCES
                 if (found := self.store.first_minute_after(source, minute)) is not None]
        return min(later, default=settled // MINUTE_MS + 1)

    def _unsealed(self, minute: int, since: int, settled: int
                  ) -> tuple[list[tuple[str, dict[str, Any]]], bool, bool]:
        """The events of `minute` from `since` to `settled` not sealed yet, in the order to seal
        them, up to the first unapplied one; whether none was left out for that reason; and
        whether the minute had any event at all."""
        taken = {(entry["source"], entry["key"])
                 for entry in self.store.events_in_minute(AUDIT, minute, since, 0)}
        events = [(source, event) for source in SOURCES
                  for event in self.store.events_in_minute(source, minute, since, 0)]
        found = [(source, event) for source, event in events
                 if event["ms"] <= settled and (source, event["_id"]) not in taken]
        found.sort(key=lambda item: (item[1]["ms"], item[0], str(item[1]["_id"])))
        found = streams_in_order(found)
        applied = self._applied(found)
        for index, (source, event) in enumerate(found):
            if (source, event["_id"]) not in applied:
                return found[:index], False, True
        return found, True, bool(events)

    def _applied(self, found: list[tuple[str, dict[str, Any]]]) -> set[tuple[str, Any]]:
        registry_head = self.store.head(self.registry_head) or 0
        stream_events = [event for source, event in found if source == STREAMS]
        unapplied = {event["_id"] for event in self.streams.unapplied_among(stream_events)}
        return {(source, event["_id"]) for source, event in found
                if (event["_id"] <= registry_head if source == REGISTRY
                    else event["_id"] not in unapplied)}


def streams_in_order(found: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Keep the places `found` gives each stream's events, but put them in their stream's order
    (clocks of different servers may disagree on which of two came first; `n` does not)."""
    places: dict[Any, list[int]] = {}
    for index, (source, event) in enumerate(found):
        places.setdefault(event.get("stream", source), []).append(index)
    ordered = list(found)
    for indexes in places.values():
        events = sorted((found[index] for index in indexes),
                        key=lambda item: item[1].get("n", item[1]["_id"]))
        for index, item in zip(indexes, events, strict=True):
            ordered[index] = item
    return ordered


def chain_entries(found: list[tuple[str, dict[str, Any]]], last: dict[str, Any]
                  ) -> list[dict[str, Any]]:
    """The audit entries sealing `found`, in order, after the entry `last` (version, hash)."""
    entries, number, prev = [], last["version"], last["hash"]
    for source, event in found:
        number += 1
        entry = entry_for(number, prev, source, event)
        entries.append(entry)
        prev = entry["hash"]
    return entries
