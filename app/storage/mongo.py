"""The store on MongoDB (or any MongoDB-protocol server): the only code that speaks pymongo."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument, UpdateOne, uri_parser
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from .base import HIDDEN_FIELDS, Duplicate, FieldOf, Store, Writes, copied_from, filled_in
from .indexes import INDEXES, UNIQUE, indexes_for, on_array_field

HIDDEN = {name: 0 for name in HIDDEN_FIELDS}
DUPLICATE_KEY, INDEX_NOT_FOUND = 11000, 27
# Documents, and bytes (roughly), per insert or update command when applying an event: each
# command then finishes far inside the operation timeout, whatever the size of the event.
CHUNK_DOCUMENTS, CHUNK_BYTES = 500, 2 * 1024 * 1024
HEADS = "ledger"
# The sweeper's read of recent events runs in the background, and is a scan on FerretDB
# (which uses no index but _id's): it may take longer than a request's DB_TIMEOUT_SECONDS.
BACKGROUND_SCAN_SECONDS = 60
APPEND_BATCH, SCAN_BATCH = 100, 1000


def chunks(items: list[Any]) -> list[list[Any]]:
    """Consecutive groups of at most CHUNK_DOCUMENTS items and about CHUNK_BYTES each."""
    groups: list[list[Any]] = [[]]
    size = 0
    for item in items:
        weight = len(repr(item))  # a fast estimate of the BSON size
        if groups[-1] and (len(groups[-1]) >= CHUNK_DOCUMENTS or size + weight > CHUNK_BYTES):
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += weight
    return [group for group in groups if group]


def duplicates_only(error: BulkWriteError) -> list[dict[str, Any]]:
    """The write errors of a bulk insert, which must all be taken keys (else it is raised)."""
    errors: list[dict[str, Any]] = error.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise error
    return errors


class MongoStore(Store):
    def __init__(self, db: Database, bulk_updates: bool = True):
        self.db = db
        self._collections: dict[str, Collection] = {}
        # mongomock (the tests' in-memory MongoDB) cannot take pymongo's UpdateOne in bulk.
        self.bulk_updates = bulk_updates

    def collection(self, name: str) -> Collection:
        """A collection's handle, made once (pymongo builds a new one at each `db[name]`,
        which a GET of one document would pay every request)."""
        found = self._collections.get(name)
        if found is None:
            found = self._collections[name] = self.db[name]
        return found

    @classmethod
    def for_uri(cls, client: MongoClient, uri: str, default_name: str) -> MongoStore:
        """The store on the database the URI names (or `default_name` if it names none)."""
        return cls(client[uri_parser.parse_uri(uri)["database"] or default_name])

    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        return self.collection(collection).find_one({"_id": uuid}, HIDDEN)

    def get_many(self, collection: str, uuids: list[str]) -> list[dict[str, Any]]:
        return list(self.collection(collection).find({"_id": {"$in": uuids}}, HIDDEN))

    def page(self, collection: str, filters: Mapping[str, Any], after: str | None,
             limit: int) -> list[dict[str, Any]]:
        query = {**filters, "seq": {"$gt": after}} if after else dict(filters)
        return list(self.collection(collection).find(query, {"_id": 0}, sort=[("seq", ASCENDING)],
                                             limit=limit))

    def count(self, collection: str) -> int:
        return self.collection(collection).count_documents({})

    def count_by(self, collection: str, field: str, values: list[Any]) -> dict[Any, int]:
        # the $match lets MongoDB count from the index on `field`; FerretDB scans once
        groups = self.collection(collection).aggregate([
            {"$match": {field: {"$in": values}}},
            {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}])
        found = {group["_id"]: group["count"] for group in groups
                 if not isinstance(group["_id"], list)}  # a list holding a value: not counted
        return {value: found.get(value, 0) for value in values}

    def chains_of(self, problems: list[str]) -> list[dict[str, Any]]:
        # One problem (its dashboard page): an equality, which FerretDB hands to its database
        # (measured 2.5 ms against 30 ms for the $in it decodes itself, at 10,000 learnuplets).
        query = {"problem": problems[0]} if len(problems) == 1 else {"problem": {"$in": problems}}
        return list(self.db.chain.find(query, HIDDEN))

    def data_before(self, problem: str, seq: str) -> list[str]:
        found = self.db.data.find({"problems": problem, "seq": {"$lt": seq}}, {"_id": 1},
                                  sort=[("seq", ASCENDING)])
        return [doc["_id"] for doc in found]

    def stale_leases(self, collection: str, now: float, limit: int) -> list[str]:
        return self._lapsed(collection, "", "_id", now, limit)

    def stale_running(self, now: float, limit: int) -> list[str]:
        return self._lapsed("chain", "running_", "running", now, limit)

    def _lapsed(self, collection: str, prefix: str, key: str, now: float, limit: int) -> list[str]:
        """`key` of the documents whose `<prefix>status` is pending and `<prefix>lease_expires`
        is before `now` (as EmbeddedStore._lapsed)."""
        found = self.collection(collection).find({prefix + "status": "pending",
                                          prefix + "lease_expires": {"$lt": now}},
                                         {key: 1}, limit=limit)
        return [doc[key] for doc in found]

    def chain_running(self, learnuplet: str) -> dict[str, Any] | None:
        return self.db.chain.find_one({"running": learnuplet}, HIDDEN)

    def running_chains(self, status: str, limit: int) -> list[dict[str, Any]]:
        return list(self.db.chain.find({"running_status": status}, HIDDEN,
                                       sort=[("running_lease_expires", ASCENDING)], limit=limit))

    def due_deliveries(self, states: list[str], now: float, limit: int) -> list[dict[str, Any]]:
        return list(self.db.outbox.find({"state": {"$in": states}, "next_attempt": {"$lte": now}},
                                        HIDDEN, sort=[("next_attempt", ASCENDING)], limit=limit))

    def insert_event(self, events: str, event: dict[str, Any]) -> None:
        try:
            self.collection(events).insert_one(event)
        except DuplicateKeyError:
            raise Duplicate(event["_id"]) from None

    def insert_events(self, events: str, batch: list[dict[str, Any]]) -> set[Any]:
        try:
            self.collection(events).insert_many(batch, ordered=False)
        except BulkWriteError as error:
            return {batch[e["index"]]["_id"] for e in duplicates_only(error)}
        return set()

    def event(self, events: str, number: int | str) -> dict[str, Any] | None:
        return self.collection(events).find_one({"_id": number})

    def events_by_key(self, events: str, keys: list[Any]) -> list[dict[str, Any]]:
        return list(self.collection(events).find({"_id": {"$in": keys}}))

    def events_after(self, events: str, number: int, limit: int) -> list[dict[str, Any]]:
        return list(self.collection(events).find({"_id": {"$gt": number}}, sort=[("_id", ASCENDING)],
                                         limit=limit))

    def count_events_after(self, events: str, number: int, limit: int) -> int:
        return len(list(self.collection(events).find({"_id": {"$gt": number}}, {"_id": 1},
                                             sort=[("_id", ASCENDING)], limit=limit)))

    def events_in_minute(self, events: str, minute: int, ms: int, limit: int
                         ) -> list[dict[str, Any]]:
        with pymongo.timeout(BACKGROUND_SCAN_SECONDS):
            return list(self.collection(events).find({"minute": minute, "ms": {"$gte": ms}},
                                             sort=[("ms", ASCENDING)], limit=limit))

    def latest_events(self, events: str, minute: int, limit: int) -> list[dict[str, Any]]:
        return list(self.collection(events).find({"minute": minute}, sort=[("ms", DESCENDING)],
                                         limit=limit))

    def append(self, collection: str, entries: list[dict[str, Any]]) -> int:
        inserted = 0
        # FerretDB sends insert_many in batches of 100 and goes on after a failed batch: send
        # at most 100 at a time, so an ordered insert stops at the first taken entry
        for start in range(0, len(entries), APPEND_BATCH):
            batch = entries[start:start + APPEND_BATCH]
            try:
                self.collection(collection).insert_many(batch, ordered=True)
            except BulkWriteError as error:
                duplicates_only(error)
                return inserted + error.details.get("nInserted", 0)
            inserted += len(batch)
        return inserted

    def last(self, collection: str) -> dict[str, Any] | None:
        return self.collection(collection).find_one({}, sort=[("_id", DESCENDING)])

    def scan(self, collection: str, filters: Mapping[str, Any], order: str,
             start: Any = None) -> Iterator[dict[str, Any]]:
        query = {**filters, order: {"$gte": start}} if start is not None else dict(filters)
        # each batch is one round trip within DB_TIMEOUT_SECONDS (verify raises it)
        yield from self.collection(collection).find(query, sort=[(order, ASCENDING)],
                                            batch_size=SCAN_BATCH)

    def first_minute_after(self, events: str, minute: int) -> int | None:
        with pymongo.timeout(BACKGROUND_SCAN_SECONDS):
            found = self.collection(events).find_one({"minute": {"$gt": minute}}, {"minute": 1},
                                             sort=[("minute", ASCENDING)])
        return None if found is None else found["minute"]

    def checkpoint(self, name: str) -> int:
        doc = self.collection(HEADS).find_one({"_id": name})
        return 0 if doc is None else doc["ms"]

    def move_checkpoint(self, name: str, ms: int) -> None:
        try:
            self.collection(HEADS).update_one({"_id": name}, {"$max": {"ms": ms}}, upsert=True)
        except DuplicateKeyError:  # two first moves raced; the other one created it
            self.collection(HEADS).update_one({"_id": name}, {"$max": {"ms": ms}})

    def head(self, name: str) -> int | None:
        doc = self.collection(HEADS).find_one({"_id": name})
        return None if doc is None else doc["version"]

    def create_head(self, name: str) -> None:
        try:
            self.collection(HEADS).insert_one({"_id": name, "version": 0})
        except DuplicateKeyError:
            pass

    def move_head(self, name: str, version: int) -> None:
        self.collection(HEADS).update_one({"_id": name, "version": {"$lt": version}},
                                  {"$set": {"version": version}})

    def write(self, writes: Writes, version: int, version_field: str) -> None:
        self.write_many([(writes, version)], version_field)

    def write_many(self, batch: list[tuple[Writes, int]], version_field: str) -> None:
        inserts: dict[str, list[dict[str, Any]]] = {}
        updates: dict[str, list[tuple[str, dict[str, Any], int]]] = {}
        sources: dict[tuple[str, str], set[str]] = {}
        for writes, version in batch:
            for name, documents in writes.inserts.items():
                inserts.setdefault(name, []).extend({"_id": doc["uuid"], **doc} for doc in documents)
            for name, uuid, fields in writes.updates:
                updates.setdefault(name, []).append((uuid, fields, version))
            for key, names in copied_from(writes).items():
                sources.setdefault(key, set()).update(names)
        for name, documents in inserts.items():
            for chunk in chunks(documents):
                self._insert_missing(name, chunk)
        copied: dict[tuple[str, str], dict[str, Any]] = {}
        for name, changes in updates.items():
            plain = []
            for uuid, fields, version in changes:
                # $not matches a document with no version field yet, as well as older ones
                query = {"_id": uuid, version_field: {"$not": {"$gte": version}}}
                self._read_sources(fields, copied, sources)
                change = {"$set": {**filled_in(fields, copied), version_field: version}}
                if (name, uuid) in sources:
                    copied[(name, uuid)] = self._update_returning(name, query, change,
                                                                  sources[(name, uuid)])
                else:
                    plain.append((query, change))
            for chunk in chunks(plain):
                self._update(name, chunk)

    def _read_sources(self, fields: dict[str, Any], copied: dict[tuple[str, str], dict[str, Any]],
                      sources: dict[tuple[str, str], set[str]]) -> None:
        """Read the fields copied from a document this write does not update before (a write
        that re-applies part of an event): they never change, so reading them is the same."""
        for value in fields.values():
            key = (value.collection, value.uuid) if isinstance(value, FieldOf) else None
            if key is not None and key not in copied:
                found = self.collection(key[0]).find_one({"_id": key[1]}, dict.fromkeys(sources[key], 1))
                copied[key] = {name: found.get(name) for name in sources[key]} if found else {}

    def _update_returning(self, name: str, query: dict[str, Any], change: dict[str, Any],
                          fields: set[str]) -> dict[str, Any]:
        """Update one document and return `fields` of it, in one round trip when it applies.
        (FerretDB v1 takes no projection in findAndModify: the whole document comes back.)"""
        found = self.collection(name).find_one_and_update(query, change,
                                                  return_document=ReturnDocument.AFTER)
        if found is None:  # written before (its guard refused this update): read the fields
            found = self.collection(name).find_one({"_id": query["_id"]}, dict.fromkeys(fields, 1))
        return {field: found.get(field) for field in fields} if found else {}

    def _insert_missing(self, name: str, documents: list[dict[str, Any]]) -> None:
        try:
            self.collection(name).insert_many(documents, ordered=False)
        except BulkWriteError as error:
            duplicates_only(error)

    def _update(self, name: str, updates: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        if self.bulk_updates:
            self.collection(name).bulk_write([UpdateOne(query, change) for query, change in updates],
                                     ordered=False)
        else:
            for query, change in updates:
                self.collection(name).update_one(query, change)

    def prepare(self) -> None:
        multikey = self.has_multikey_indexes()
        for name, indexes in indexes_for(multikey).items():
            for keys in indexes:
                self.collection(name).create_index(keys)
        for name, indexes in UNIQUE.items():
            for keys in indexes:
                self.collection(name).create_index(keys, unique=True)
        if not multikey:
            self._drop_array_indexes()

    def has_multikey_indexes(self) -> bool:
        """False on FerretDB (its buildInfo names its version), which indexes a list field as
        one whole value (app/storage/indexes.py); True on MongoDB."""
        return "ferretdbVersion" not in self.db.client.server_info()

    def _drop_array_indexes(self) -> None:
        # Created by an earlier version: on FerretDB over PostgreSQL such an index refuses a
        # long list, which would keep a committed event from being applied.
        for name in INDEXES:
            for index, info in self.collection(name).index_information().items():
                if on_array_field(name, list(info["key"])):
                    try:
                        self.collection(name).drop_index(index)
                    except OperationFailure as error:
                        if error.code != INDEX_NOT_FOUND:  # else another process dropped it
                            raise

    def ping(self) -> None:
        self.db.command("ping")

    def close(self) -> None:
        self.db.client.close()

    def dump(self, collection: str) -> list[dict[str, Any]]:
        return list(self.collection(collection).find({}, sort=[("_id", ASCENDING)]))
