"""The store of the quick start (MONGO_URI unset): documents in memory, durable in a directory.

It answers every `Store` call as `MongoStore` does on MongoDB (tests/storage/ runs one contract
suite against both), in pure Python: a dict per collection, with the documents' `seq` order
(lists are paged in it) and the events' numbers kept sorted by `bisect`. Every call holds one
lock, so each is atomic as one MongoDB operation is; calls from another process than the one
that opened the store are refused (gunicorn forks): it would silently hold other data there.

With a directory (created if missing; the app's default is ./orchestrator-data), every
mutating call is durable before it returns: it appends what it changed to a journal, fsync-ed,
and opening replays it. Files (journal.py says more): `lock` (flock-ed by the process using
the directory), `snapshot.json` (the state when journal generation G began; written at a
compaction, when the journal grows past `compact_bytes`), `journal.G.jsonl` (one JSON record
per call since: `{"i": {collection: [document, ...]}, "u": [[collection, key, {field: value}]]}`,
the documents inserted and fields set; a call that changes nothing writes nothing).
Documents are JSON values; each is stored as it reads back from the journal, with or without
a directory, so that both behave alike and never alias a caller's dicts.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import threading
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .base import Duplicate, Store, Writes, copied_from, filled_in
from .journal import CHUNK, Journal, encode
from .memory import EMPTY, Collection, check_filters, copy, matches, numbers, shown

log = logging.getLogger(__name__)
HEADS = "ledger"  # the heads' collection, as in MongoStore
COMPACT_BYTES = 64 * 1024 * 1024
FOREIGN_PROCESS = ("the embedded store (MONGO_URI unset) was opened by process {owner} and "
                   "cannot be used from process {pid}: it serves one process only; set MONGO_URI "
                   "to run several server processes (e.g. gunicorn workers)")


class EmbeddedStore(Store):
    """The Store in this process's memory, durable in `path` (a directory) unless None."""

    def __init__(self, path: str | None = None, compact_bytes: int = COMPACT_BYTES):
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._collections: dict[str, Collection] = {}
        self._compact_bytes = compact_bytes
        self._journal: Journal | None = None
        if path is not None:
            self._open(Journal(path))

    def _open(self, journal: Journal) -> None:
        """Load the snapshot, replay the journal, and compact it if it grew too large."""
        try:
            with _collector_paused():
                for name, documents in journal.snapshot():
                    collection = self._collection(name)
                    for document in documents:
                        collection.insert(document, sort=False)
                for collection in self._collections.values():
                    collection.sort()
                for record in journal.records():
                    self._apply(record)
        except BaseException:
            journal.close()
            raise
        self._journal = journal
        self._compact_if_large()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock, in the process that opened the store only (checked before taking the
        lock: a child forked while another thread held it would wait forever)."""
        if os.getpid() != self._pid:
            raise RuntimeError(FOREIGN_PROCESS.format(owner=self._pid, pid=os.getpid()))
        with self._lock:
            if self._closed:
                raise RuntimeError("the embedded store is closed")
            yield

    def _collection(self, name: str) -> Collection:
        if name not in self._collections:
            self._collections[name] = Collection()
        return self._collections[name]

    # -- documents ---------------------------------------------------------------------------
    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        with self._locked():
            document = self._collections.get(collection, EMPTY).documents.get(uuid)
            return None if document is None else shown(document)

    def get_many(self, collection: str, uuids: list[str]) -> list[dict[str, Any]]:
        with self._locked():
            documents = self._collections.get(collection, EMPTY).documents
            return [shown(documents[uuid]) for uuid in dict.fromkeys(uuids) if uuid in documents]

    def page(self, collection: str, filters: Mapping[str, Any], after: str | None,
             limit: int) -> list[dict[str, Any]]:
        check_filters(filters)
        found: list[dict[str, Any]] = []
        with self._locked():
            for document in self._collections.get(collection, EMPTY).in_seq_order(after):
                if all(matches(document, field, wanted) for field, wanted in filters.items()):
                    found.append(shown(document, ("_id",)))
                    if len(found) == limit:  # like MongoDB, a limit of 0 is no limit
                        break
        return found

    def count(self, collection: str) -> int:
        with self._locked():
            return len(self._collections.get(collection, EMPTY).documents)

    def count_by(self, collection: str, field: str, values: list[Any]) -> dict[Any, int]:
        counts = dict.fromkeys(values, 0)
        with self._locked():
            for document in self._collections.get(collection, EMPTY).documents.values():
                value = document.get(field)
                if isinstance(value, str | int | float) and value in counts:  # lists: unhashable
                    counts[value] += 1
        return counts

    # -- named queries -----------------------------------------------------------------------
    def chains_of(self, problems: list[str]) -> list[dict[str, Any]]:
        with self._locked():
            return [shown(chain) for chain in self._collections.get("chain", EMPTY).documents.values()
                    if any(matches(chain, "problem", problem) for problem in problems)]

    def data_before(self, problem: str, seq: str) -> list[str]:
        with self._locked():
            return [data["_id"] for data in self._collections.get("data", EMPTY).before(seq)
                    if matches(data, "problems", problem)]

    def stale_leases(self, collection: str, now: float, limit: int) -> list[str]:
        return self._lapsed(collection, "", "_id", now, limit)

    def stale_running(self, now: float, limit: int) -> list[str]:
        return self._lapsed("chain", "running_", "running", now, limit)

    def _lapsed(self, collection: str, prefix: str, key: str, now: float, limit: int) -> list[str]:
        """`key` of the documents whose `<prefix>status` is pending and `<prefix>lease_expires`
        is before `now`."""
        found: list[str] = []
        with self._locked():
            for document in self._collections.get(collection, EMPTY).documents.values():
                if matches(document, prefix + "status", "pending") and \
                        any(expiry < now for expiry in numbers(document.get(prefix + "lease_expires"))):
                    found.append(document[key])
                    if len(found) == limit:
                        break
        return found

    def chain_running(self, learnuplet: str) -> dict[str, Any] | None:
        # By keys: a learnuplet names its algo, whose chain has its uuid (writes are atomic here)
        with self._locked():
            task = self._collections.get("learnuplet", EMPTY).documents.get(learnuplet)
            chain = task and self._collections.get("chain", EMPTY).documents.get(task.get("algo"))
            return shown(chain) if chain and chain.get("running") == learnuplet else None

    def running_chains(self, status: str, limit: int) -> list[dict[str, Any]]:
        with self._locked():
            found = [chain for chain in self._collections.get("chain", EMPTY).documents.values()
                     if matches(chain, "running_status", status)]
            found.sort(key=lambda chain: _ascending(chain.get("running_lease_expires")))
            return [shown(chain) for chain in (found[:limit] if limit else found)]

    def due_deliveries(self, states: list[str], now: float, limit: int) -> list[dict[str, Any]]:
        with self._locked():
            due = [entry for entry in self._collections.get("outbox", EMPTY).documents.values()
                   if any(matches(entry, "state", state) for state in states)
                   and any(attempt <= now for attempt in numbers(entry.get("next_attempt")))]
            due.sort(key=lambda entry: min(numbers(entry["next_attempt"])))  # as MongoDB sorts
            return [shown(entry) for entry in (due[:limit] if limit else due)]

    # -- the ledger --------------------------------------------------------------------------
    def insert_event(self, events: str, event: dict[str, Any]) -> None:
        with self._locked():
            if event["_id"] in self._collections.get(events, EMPTY).documents:
                raise Duplicate(event["_id"])
            self._commit({"i": {events: [event]}})

    def event(self, events: str, number: int | str) -> dict[str, Any] | None:
        with self._locked():
            event = self._collections.get(events, EMPTY).documents.get(number)
            return None if event is None else copy(event)

    def events_by_key(self, events: str, keys: list[Any]) -> list[dict[str, Any]]:
        with self._locked():
            stored = self._collections.get(events, EMPTY).documents
            return [copy(stored[key]) for key in dict.fromkeys(keys) if key in stored]

    def events_after(self, events: str, number: int, limit: int) -> list[dict[str, Any]]:
        with self._locked():
            collection = self._collections.get(events, EMPTY)
            start = bisect_right(collection.numbered, number)
            keys = collection.numbered[start:start + limit] if limit else collection.numbered[start:]
            return [copy(collection.documents[key]) for key in keys]

    def count_events_after(self, events: str, number: int, limit: int) -> int:
        with self._locked():
            numbered = self._collections.get(events, EMPTY).numbered
            return min(limit, len(numbered) - bisect_right(numbered, number))

    def insert_events(self, events: str, batch: list[dict[str, Any]]) -> set[Any]:
        with self._locked():
            stored = self._collections.get(events, EMPTY).documents
            taken = {event["_id"] for event in batch if event["_id"] in stored}
            fresh = [event for event in batch if event["_id"] not in taken]  # keys differ
            if fresh:
                self._commit({"i": {events: fresh}})
            return taken

    def events_in_minute(self, events: str, minute: int, ms: int, limit: int
                         ) -> list[dict[str, Any]]:
        with self._locked():
            found = [event for event in self._collections.get(events, EMPTY).documents.values()
                     if matches(event, "minute", minute)
                     and any(at >= ms for at in numbers(event.get("ms")))]
            found.sort(key=lambda event: event["ms"])
            return [copy(event) for event in (found[:limit] if limit else found)]

    def latest_events(self, events: str, minute: int, limit: int) -> list[dict[str, Any]]:
        with self._locked():
            found = [event for event in self._collections.get(events, EMPTY).documents.values()
                     if matches(event, "minute", minute)]
            found.sort(key=lambda event: event["ms"], reverse=True)
            return [copy(event) for event in (found[:limit] if limit else found)]
    def append(self, collection: str, entries: list[dict[str, Any]]) -> int:
        with self._locked():
            stored = self._collections.get(collection, EMPTY).documents
            taken = {(entry.get("source"), entry.get("key")) for entry in stored.values()}
            fresh = []
            for entry in entries:  # unique: `_id`, and (source, key) as MongoStore's index
                if entry["_id"] in stored or (entry.get("source"), entry.get("key")) in taken:
                    break
                taken.add((entry.get("source"), entry.get("key")))
                fresh.append(entry)
            if fresh:
                self._commit({"i": {collection: fresh}})
            return len(fresh)

    def last(self, collection: str) -> dict[str, Any] | None:
        with self._locked():
            found = self._collections.get(collection, EMPTY)
            return copy(found.documents[found.numbered[-1]]) if found.numbered else None

    def scan(self, collection: str, filters: Mapping[str, Any], order: str,
             start: Any = None) -> Iterator[dict[str, Any]]:
        check_filters(filters)
        with self._locked():
            found = [document for document in self._collections.get(collection, EMPTY).documents.values()
                     if all(matches(document, field, wanted) for field, wanted in filters.items())
                     and (start is None or document[order] >= start)]
        found.sort(key=lambda document: document[order])
        for index in range(0, len(found), 1000):  # copies a batch at a time, as a cursor reads
            with self._locked():
                batch = [copy(document) for document in found[index:index + 1000]]
            yield from batch

    def first_minute_after(self, events: str, minute: int) -> int | None:
        with self._locked():
            return min((found for event in self._collections.get(events, EMPTY).documents.values()
                        for found in numbers(event.get("minute")) if found > minute), default=None)

    def checkpoint(self, name: str) -> int:
        with self._locked():
            found = self._collections.get(HEADS, EMPTY).documents.get(name)
            return 0 if found is None else found["ms"]

    def move_checkpoint(self, name: str, ms: int) -> None:
        with self._locked():
            found = self._collections.get(HEADS, EMPTY).documents.get(name)
            if found is None:
                self._commit({"i": {HEADS: [{"_id": name, "ms": ms}]}})
            elif found["ms"] < ms:
                self._commit({"u": [[HEADS, name, {"ms": ms}]]})

    def head(self, name: str) -> int | None:
        with self._locked():
            head = self._collections.get(HEADS, EMPTY).documents.get(name)
            return None if head is None else head["version"]

    def create_head(self, name: str) -> None:
        with self._locked():
            if name not in self._collections.get(HEADS, EMPTY).documents:
                self._commit({"i": {HEADS: [{"_id": name, "version": 0}]}})

    def move_head(self, name: str, version: int) -> None:
        with self._locked():
            head = self._collections.get(HEADS, EMPTY).documents.get(name)
            if head is not None and any(at < version for at in numbers(head.get("version"))):
                self._commit({"u": [[HEADS, name, {"version": version}]]})

    def write(self, writes: Writes, version: int, version_field: str) -> None:
        with self._locked(), _collector_paused():
            self._commit(self._changes(writes, version, version_field))

    def write_many(self, batch: list[tuple[Writes, int]], version_field: str) -> None:
        """One journal record for the whole batch (the events touch different documents)."""
        with self._locked(), _collector_paused():
            merged: dict[str, Any] = {"i": {}, "u": []}
            for writes, version in batch:
                changes = self._changes(writes, version, version_field)
                for name, documents in changes["i"].items():
                    merged["i"].setdefault(name, []).extend(documents)
                merged["u"] += changes.get("u", [])
            self._commit(merged)

    def _changes(self, writes: Writes, version: int, version_field: str) -> dict[str, Any]:
        """What `writes` changes, decided in order as MongoStore's commands apply it: a stored
        uuid is not inserted again, and an update passes its version guard or changes nothing
        (a second update of one document in one write never does: the first set the version)."""
        inserted: dict[tuple[str, Any], dict[str, Any]] = {}
        for name, documents in writes.inserts.items():
            stored = self._collections.get(name, EMPTY).documents
            for document in documents:
                document = {"_id": document["uuid"], **document}
                if document["_id"] not in stored:
                    inserted.setdefault((name, document["_id"]), document)  # first one wins
        updates: list[list[Any]] = []
        updated: set[tuple[str, Any]] = set()
        copied = {key: inserted.get(key) or self._collections.get(key[0], EMPTY).documents.get(key[1])
                  or {} for key in copied_from(writes)}  # fields that never change
        for name, uuid, fields in writes.updates:
            document = inserted.get((name, uuid)) or self._collections.get(name, EMPTY).documents.get(uuid)
            if document is None or (name, uuid) in updated or \
                    any(at >= version for at in numbers(document.get(version_field))):
                continue
            check_filters(fields)  # top-level field names only, as filters
            updated.add((name, uuid))
            updates.append([name, uuid, {**filled_in(fields, copied), version_field: version}])
        changes: dict[str, Any] = {"i": {}, "u": updates} if updates else {"i": {}}
        for (name, _), document in inserted.items():
            changes["i"].setdefault(name, []).append(document)
        return changes

    # -- applying a change: to the journal first, then to memory ---------------------------------
    def _commit(self, changes: dict[str, Any]) -> None:
        if not changes.get("i") and not changes.get("u"):
            return
        line = encode(changes)  # also the copy: stored documents never alias the caller's
        if self._journal is not None:
            self._journal.append(line)
        self._apply(json.loads(line))
        self._compact_if_large()

    def _apply(self, changes: dict[str, Any]) -> None:
        for name, documents in changes.get("i", {}).items():
            collection = self._collection(name)
            for document in documents:
                collection.insert(document)
        for name, key, fields in changes.get("u", ()):
            self._collection(name).update(key, fields)

    def _compact_if_large(self) -> None:
        if self._journal is None or self._journal.size <= self._compact_bytes:
            return
        try:
            self._journal.compact(self._chunks())
        except Exception:  # the call's own record is durable: it succeeded; the journal grows
            log.exception("compacting the embedded store's journal in %s failed",
                          self._journal.directory)

    def _chunks(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for name, collection in self._collections.items():
            documents = list(collection.documents.values())
            for start in range(0, len(documents), CHUNK):
                yield name, documents[start:start + CHUNK]

    # -- life cycle ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Nothing to prepare: opening made the files; the queries need no indexes."""

    def ping(self) -> None:
        """Answers unless closed or used from another process."""
        with self._locked():
            pass

    def close(self) -> None:
        if os.getpid() != self._pid:  # a forked child: its copies of the files are closed
            self._closed = True
            return
        with self._lock:
            if self._journal is not None:
                self._journal.close()
            self._closed = True

    def dump(self, collection: str) -> list[dict[str, Any]]:
        with self._locked():
            documents = self._collections.get(collection, EMPTY).documents
            return [copy(documents[key]) for key in sorted(documents, key=_key_order)]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while making many documents: JSON holds no cycles, and its
    passes over a heap growing meanwhile make a large write or an open slower than linear."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _key_order(key: Any) -> tuple[int, Any]:
    """MongoDB's order of `_id` values of different types: numbers, then strings."""
    return (0, key) if type(key) in (int, float) else (1, str(key))


def _ascending(value: Any) -> tuple[int, Any]:
    """MongoDB's ascending order for a number or null: null (or missing) first."""
    return (0, 0) if value is None else (1, value)
