"""Verify: recompute the audit chain, and re-derive every document from the events.

Three checks, each reading in batches, so memory stays small (item 3 says what it holds):
1. the chain: entries numbered 1, 2, 3 … without a gap, each `prev` the hash before it and
   each `hash` = SHA-256(prev + event_hash) (from a kept checkpoint, if one is given);
2. the events: each sealed event is stored, unchanged (its entry is what sealing it gives
   now), and each stored event is sealed, except those committed after the sealer's
   checkpoint (not sealed yet); a stream's events are numbered 1, 2, 3 … without a gap;
3. the documents: applying the events again (deterministic: ledger/events.py) gives exactly
   the stored problems, algos, data, chains, learnuplets and preduplets, no more, no fewer.
   Memory holds one stream's documents at a time, and a digest of every derived document
   (about 100 bytes each), compared with one scan of each collection at the end.
The delivery ledger is not covered (docs/audit.md says why), nor are outbox entries.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ..storage import Store
from ..storage.embedded import EmbeddedStore
from . import Ledgers
from .audit import AUDIT, GENESIS, REGISTRY, STREAMS, chained, entry_for
from .sealing import CHECKPOINT, SKEW_MS

DERIVED = ("problem", "algo", "data", "chain", "learnuplet", "preduplet")
PROGRESS_EVERY = 10_000


MISSING = "(missing)"


def _shown(document: dict[str, Any], field: str) -> str:
    text = repr(document.get(field, MISSING))
    return f"{field}={text[:80]}{'...' if len(text) > 80 else ''}"


def _digest(document: dict[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).digest()


def _where(origin: tuple[str, Any]) -> str:
    source, key = origin
    return f"registry event {key}" if source == REGISTRY else f"stream {key}"


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


class Facts:
    """What the streams' expansions read, none of which ever changes: problems (read once
    each), the registry's data events, and the data registered before a registry event,
    answered from the registry events (check_registry reads them all first, and compares
    the data documents with them: the same answer as the store's, without a query per chain).
    """

    def __init__(self, store: Store):
        self.store = store
        self.problems: dict[str, Any] = {}
        self.uploads: dict[int, dict[str, Any]] = {}  # registry number -> data_registered event

    def registered(self, event: dict[str, Any]) -> None:
        if event["kind"] == "data_registered":
            self.uploads[event["_id"]] = {"data": event["data"], "problems": event["problems"]}

    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        assert collection == "problem", collection
        if uuid not in self.problems:
            self.problems[uuid] = self.store.get(collection, uuid)
        return self.problems[uuid]

    def event(self, events: str, number: int) -> dict[str, Any] | None:
        assert events == REGISTRY, events
        return self.uploads.get(number)

    def data_before(self, problem: str, seq: str) -> list[str]:
        before = int(seq.split(".")[0])  # ledger/commit.seq_of: the registry event's number
        return [uuid for number, upload in sorted(self.uploads.items()) if number < before
                and problem in upload["problems"] for uuid in upload["data"]]


class Verifier:
    def __init__(self, ledgers: Ledgers, progress: Callable[[str], None] | None = None,
                 store: Store | None = None):
        self.ledgers = ledgers
        self.store: Store = store or ledgers.store
        self.progress = progress or (lambda line: None)
        self.report = Report()
        # every derived document's digest, and what derived it (to say what differs)
        self.derived: dict[str, dict[str, tuple[bytes, tuple[str, Any]]]] = {
            name: {} for name in DERIVED}
        self.facts = Facts(self.store)

    def run(self, start: int | None = None, start_hash: str | None = None) -> Report:
        self.check_chain(start, start_hash)
        # an event committed since the sealer's checkpoint (less the clock skew) may be unsealed
        self.sealed_before = self.store.checkpoint(CHECKPOINT) - SKEW_MS
        self.check_registry()
        self.check_streams()
        self.check_documents()
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
        for event in self._sealed_events(REGISTRY):
            self._derived(self._registry_scratch(event), ("algo", "data"), (REGISTRY, event["_id"]))
            self.facts.registered(event)

    def _registry_scratch(self, event: dict[str, Any]) -> EmbeddedStore:
        registry, scratch = self.ledgers.registry, EmbeddedStore(None)
        scratch.write(registry.stamped(event, registry.expand(event)), event["_id"], "version")
        return scratch

    # -- 2 and 3, the streams: problems, chains and their learnuplets, preduplets -------------
    def check_streams(self) -> None:
        events = self._sealed_events(STREAMS)
        for stream, grouped in groupby(events, key=lambda event: event["stream"]):
            self._derived(self._stream_scratch(stream, grouped),
                          ("problem", "chain", "learnuplet", "preduplet"), (STREAMS, stream))

    def _stream_scratch(self, stream: str, events: Iterable[dict[str, Any]]) -> EmbeddedStore:
        scratch = EmbeddedStore(None)
        for number, event in enumerate(events, start=1):
            if event["n"] != number:
                raise Tampered(f"stream {stream}: event {number} is missing (found {event['_id']})")
            # expansions read only what never changes (problems, data, registry events)
            scratch.write(self.ledgers.streams.expand(event, self.facts), event["n"], "version")
        return scratch

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
    def _derived(self, scratch: EmbeddedStore, collections: tuple[str, ...],
                 origin: tuple[str, Any]) -> None:
        """Keep the digest of each document an aggregate's events derive (not the document:
        memory stays about 100 bytes a document)."""
        for collection in collections:
            for document in scratch.page(collection, {}, None, 0):
                self.derived[collection][document["uuid"]] = (_digest(document), origin)

    def check_documents(self) -> None:
        """One scan of each collection: every stored document is one the events derive,
        unchanged, and none they derive is missing."""
        for collection, derived in self.derived.items():
            for stored in self.store.scan(collection, {}, "_id"):
                uuid = stored.pop("_id")
                found = derived.pop(uuid, None)
                if found is None:
                    raise Tampered(f"{collection} {uuid} is not written by any event")
                if found[0] != _digest(stored):
                    raise Tampered(self._difference(collection, uuid, stored, found[1]))
                self.report.documents += 1
                self._tick(self.report.documents, "documents re-derived")
            for uuid, (_, origin) in derived.items():
                raise Tampered(f"{collection} {uuid} ({_where(origin)} creates it) is missing")

    def _difference(self, collection: str, uuid: str, stored: dict[str, Any],
                    origin: tuple[str, Any]) -> str:
        """What differs, from the aggregate derived again (a mismatch is rare: read it twice)."""
        source, key = origin
        if source == REGISTRY:
            scratch = self._registry_scratch(self.store.event(REGISTRY, key) or {})
        else:
            scratch = self._stream_scratch(key, self.store.scan(STREAMS, {"stream": key}, "_id"))
        [derived] = [doc for doc in scratch.page(collection, {}, None, 0) if doc["uuid"] == uuid]
        fields = sorted(name for name in {*derived, *stored}
                        if derived.get(name, MISSING) != stored.get(name, MISSING))
        return (f"{collection} {uuid} differs from what {_where(origin)} wrote: "
                f"{', '.join(fields)} (stored {_shown(stored, fields[0])}, "
                f"the events give {_shown(derived, fields[0])})")

    def _tick(self, count: int, what: str) -> None:
        if count % PROGRESS_EVERY == 0:
            self.progress(f"{count} {what}")

