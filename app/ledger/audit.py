"""The audit chain: every committed event, sealed in one hash-chained order (docs/audit.md).

Events are committed on many streams and on the registry at once, with no global counter
(docs/design.md), so they are sealed after the fact, off the request path: the sealer, a
step of every server's sweeper, appends the events committed and applied since its last
round to the `audit` collection, numbered 1, 2, 3 … Entry n holds the event's key, the
SHA-256 of the event's canonical JSON (`event_hash`), and `hash`, the SHA-256 of entry
n-1's hash followed by `event_hash`. Changing, removing, inserting or reordering a sealed
event changes every later hash, so whoever keeps a head (number and hash) can check that
the ledger up to it was not rewritten.

Sealing is exactly once without transactions, like committing: an entry's number is its
`_id`, and (source, key) has a unique index, so of racing sealers (one per server process)
exactly one seals each number, and an event is sealed once. A sealer that meets a taken
number stops its round; the next round starts from the new last entry.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from ..storage import Store

AUDIT = "audit"
HEAD = "audit"  # the ledger document with the last sealed number (head() says why a hint)
REGISTRY, STREAMS = "events", "stream_events"  # where the sealed events are kept
SOURCES = (REGISTRY, STREAMS)
GENESIS = "0" * 64  # the `prev` of entry 1
NOT_PUBLIC = {"chain", "outbox"}  # bookkeeping documents, never named in an entry


def content(event: dict[str, Any]) -> dict[str, Any]:
    """An event as GET /events shows it and as it is hashed: every stored field, its key
    (`_id` in the database) named `key`."""
    return {("key" if name == "_id" else name): value for name, value in event.items()}


def canonical(event: dict[str, Any]) -> bytes:
    """An event's canonical JSON: its content(), keys sorted, no insignificant whitespace,
    UTF-8 (non-ASCII characters as themselves)."""
    return json.dumps(content(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False
                      ).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def chained(prev: str, digest: str) -> str:
    """An entry's hash: its predecessor's hash, then its event's hash (hex, ASCII)."""
    return hashlib.sha256((prev + digest).encode("ascii")).hexdigest()


def documents_of(source: str, event: dict[str, Any]) -> list[str]:
    """The documents (`collection/uuid`) an event wrote: a registry event's from its content,
    a stream event's as its writer recorded them (`documents`, streams.py)."""
    if source == STREAMS:
        return list(event.get("documents", []))
    if event["kind"] == "algo_registered":
        return [f"algo/{event['algo']['uuid']}"]
    if event["kind"] == "data_registered":
        return [f"data/{uuid}" for uuid in event["data"]]
    return []


def written(inserts: dict[str, list[dict[str, Any]]],
            updates: Iterable[tuple[str, str, Any]]) -> list[str]:
    """`collection/uuid` of the public documents a write creates or changes, in order."""
    names = [f"{name}/{doc['uuid']}" for name, docs in inserts.items() for doc in docs]
    names += [f"{name}/{uuid}" for name, uuid, _ in updates]
    return [name for name in dict.fromkeys(names) if name.split("/", 1)[0] not in NOT_PUBLIC]


def entry_for(number: int, prev: str, source: str, event: dict[str, Any]) -> dict[str, Any]:
    """The audit entry sealing `event` at `number`. Besides the hashes it repeats what lists
    filter on (kind, documents, time); verify checks those against the event."""
    digest = event_hash(event)
    documents = documents_of(source, event)
    ms = event.get("ms", event["at"] * 1000)
    return {"_id": number, "seq": f"{number:012d}", "source": source, "key": event["_id"],
            "kind": event["kind"], "by": event.get("by"), "at": event["at"], "ms": ms,
            "minute": event.get("minute", ms // 60_000), "documents": documents,
            "collections": sorted({name.split("/", 1)[0] for name in documents}),
            "uuids": sorted({name.split("/", 1)[1] for name in documents}),
            "event_hash": digest, "prev": prev, "hash": chained(prev, digest)}


def head(store: Store) -> dict[str, Any]:
    """The last entry's number and hash (0 and GENESIS before anything is sealed).

    Found from the head document the sealers move (HEAD: a hint, which racing sealers may
    leave a little behind), then entry by entry by key: lookups by `_id` only, since a
    server without usable indexes (FerretDB) would sort the whole chain to find its last
    entry. A hint that names no entry (the chain was cut) falls back to that sort."""
    version = store.head(HEAD) or 0
    entry = store.event(AUDIT, version) if version else None
    if version and entry is None:
        entry = store.last(AUDIT)
        version = entry["_id"] if entry else 0
    while (following := store.event(AUDIT, version + 1)) is not None:
        version, entry = version + 1, following
    return {"version": version, "hash": entry["hash"] if entry else GENESIS}
