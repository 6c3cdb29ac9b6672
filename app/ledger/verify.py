"""Verify: recompute the audit chain, and re-derive every document from the events.

Three checks, each reading in batches (memory holds one stream's documents at a time):
1. the chain: entries numbered 1, 2, 3 … without a gap, each `prev` the hash before it and
   each `hash` = SHA-256(prev + event_hash) (from a kept checkpoint, if one is given);
2. the events: each sealed event is stored, unchanged (its entry is what sealing it gives
   now), and each stored event is sealed, except those committed after the sealer's
   checkpoint (not sealed yet); a stream's events are numbered 1, 2, 3 … without a gap;
3. the documents: applying the events again (deterministic: ledger/events.py) gives exactly
   the stored problems, algos, data, chains, learnuplets and preduplets, no more, no fewer.
The delivery ledger is not covered (docs/audit.md says why), nor are outbox entries.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ..storage import Store
from ..storage.embedded import EmbeddedStore
from . import Ledgers
from .audit import AUDIT, GENESIS, REGISTRY, SOURCES, STREAMS, chained, entry_for
from .sealing import CHECKPOINT, SKEW_MS

DERIVED = ("problem", "algo", "data", "chain", "learnuplet", "preduplet")
PROGRESS_EVERY = 10_000


MISSING = "(missing)"


def _shown(document: dict[str, Any], field: str) -> str:
    text = repr(document.get(field, MISSING))
    return f"{field}={text[:80]}{'...' if len(text) > 80 else ''}"


class Tampered(Exception):
    """The first thing found that the events do not account for."""


@dataclass
class Report:
    head: int = 0
    hash: str = GENESIS
    sealed: int = 0  # entries checked in the chain
    events: int = 0
    documents: int = 0
    unsealed: int = 0  # events committed after the sealer's checkpoint

    def summary(self) -> str:
        return (f"intact: audit chain head {self.head} ({self.hash}); {self.sealed} entries "
                f"chained, {self.events} events checked, {self.documents} documents re-derived"
                + (f"; {self.unsealed} recent events not sealed yet" if self.unsealed else ""))


class Verifier:
    def __init__(self, ledgers: Ledgers, progress: Callable[[str], None] | None = None,
                 store: Store | None = None):
        self.ledgers = ledgers
        self.store: Store = store or ledgers.store
        self.progress = progress or (lambda line: None)
        self.report = Report()
        self.derived = dict.fromkeys(DERIVED, 0)

    def run(self, start: int | None = None, start_hash: str | None = None) -> Report:
        self.check_chain(start, start_hash)
        # an event committed since the sealer's checkpoint (less the clock skew) may be unsealed
        self.sealed_before = self.store.checkpoint(CHECKPOINT) - SKEW_MS
        self.check_registry()
        self.check_streams()
        self.check_counts()
        return self.report

    # -- 1. the chain ------------------------------------------------------------------------
    def check_chain(self, start: int | None, start_hash: str | None) -> None:
        number, prev = (start - 1, None) if start else (0, GENESIS)
        for entry in self.store.scan(AUDIT, {}, "_id", start):
            number += 1
            if entry["_id"] != number:
                raise Tampered(f"audit entry {number} is missing (found {entry['_id']} next)")
            if prev is None:  # the kept checkpoint: this entry's hash
                if entry["hash"] != start_hash:
                    raise Tampered(f"audit entry {number} has hash {entry['hash']}, not the "
                                   f"checkpoint's {start_hash}: the chain was rewritten")
            elif entry["prev"] != prev or entry["hash"] != chained(prev, entry["event_hash"]):
                raise Tampered(f"audit entry {number} does not chain to entry {number - 1}")
            prev = entry["hash"]
            self.report.sealed += 1
            self._tick(self.report.sealed, "audit entries chained")
        if start and number < start:
            raise Tampered(f"no audit entry {start}: the checkpoint is not in this ledger")
        self.report.head, self.report.hash = number, prev or GENESIS

    # -- 2 and 3, the registry: algos and data -------------------------------------------------
    def check_registry(self) -> None:
        registry = self.ledgers.registry
        for event in self._sealed_events(REGISTRY):
            scratch = EmbeddedStore(None)
            scratch.write(registry.stamped(event, registry.expand(event)), event["_id"], "version")
            for name in ("algo", "data"):
                self._compare(scratch, name, {}, f"registry event {event['_id']}")

    # -- 2 and 3, the streams: problems, chains and their learnuplets, preduplets -------------
    def check_streams(self) -> None:
        events = self._sealed_events(STREAMS)
        for stream, grouped in groupby(events, key=lambda event: event["stream"]):
            scratch = EmbeddedStore(None)
            for number, event in enumerate(grouped, start=1):
                if event["n"] != number:
                    raise Tampered(f"stream {stream}: event {number} is missing "
                                   f"(found {event['_id']})")
                # expansions read only what never changes (problems, data, registry events),
                # from the store, which the checks before this one vouch for
                writes = self.ledgers.streams.expand(event, self.store)
                scratch.write(writes, event["n"], "version")
            kind, uuid = stream.split(":", 1)
            if kind == "chain":
                self._compare(scratch, "chain", {}, f"stream {stream}")
                self._compare(scratch, "learnuplet", {"algo": uuid}, f"stream {stream}")
            else:
                self._compare(scratch, kind, {}, f"stream {stream}")

    def _sealed_events(self, source: str) -> Iterator[dict[str, Any]]:
        """The source's events in key order, each checked against its audit entry."""
        entries = self.store.scan(AUDIT, {"source": source}, "key")
        entry = next(entries, None)
        for event in self.store.scan(source, {}, "_id"):
            if entry is not None and entry["key"] < event["_id"]:
                raise Tampered(f"event {source}/{entry['key']} (audit entry {entry['_id']}) "
                               "is not in the ledger: deleted")
            if entry is not None and entry["key"] == event["_id"]:
                if entry_for(entry["_id"], entry["prev"], source, event) != entry:
                    raise Tampered(f"event {source}/{event['_id']} differs from what audit "
                                   f"entry {entry['_id']} sealed")
                entry = next(entries, None)
            elif event.get("ms", 0) >= self.sealed_before:
                self.report.unsealed += 1
            else:
                raise Tampered(f"event {source}/{event['_id']} is not in the audit chain")
            self.report.events += 1
            self._tick(self.report.events, "events checked")
            yield event
        if entry is not None:
            raise Tampered(f"event {source}/{entry['key']} (audit entry {entry['_id']}) "
                           "is not in the ledger: deleted")

    # -- 3. documents ---------------------------------------------------------------------------
    def _compare(self, scratch: EmbeddedStore, collection: str, filters: dict[str, Any],
                 where: str) -> None:
        derived = {doc["uuid"]: doc for doc in scratch.page(collection, filters, None, 0)}
        if filters:
            stored = {doc["uuid"]: doc for doc in self.store.page(collection, filters, None, 0)}
        else:
            stored = {doc["uuid"]: {**doc, "seq": ""} for doc in
                      self.store.get_many(collection, sorted(derived))}
            derived = {uuid: {**doc, "seq": ""} for uuid, doc in derived.items()}
        for uuid, doc in derived.items():
            if uuid not in stored:
                raise Tampered(f"{collection} {uuid} ({where} creates it) is missing")
            if stored[uuid] != doc:
                fields = sorted(name for name in {*doc, *stored[uuid]}
                                if doc.get(name, MISSING) != stored[uuid].get(name, MISSING))
                raise Tampered(f"{collection} {uuid} differs from what {where} wrote: "
                               f"{', '.join(fields)} (stored {_shown(stored[uuid], fields[0])}, "
                               f"the events give {_shown(doc, fields[0])})")
        extra = sorted(set(stored) - set(derived))
        if extra:
            raise Tampered(f"{collection} {extra[0]} is not written by any event ({where})")
        self.derived[collection] += len(derived)
        self.report.documents += len(derived)

    def check_counts(self) -> None:
        """A document no event wrote, in no aggregate the checks above read."""
        for collection, count in self.derived.items():
            stored = self.store.count(collection)
            if stored != count:
                raise Tampered(f"{collection}: {stored} documents stored, {count} written by "
                               f"the events ({stored - count:+d})")

    def _tick(self, count: int, what: str) -> None:
        if count % PROGRESS_EVERY == 0:
            self.progress(f"{count} {what}")

