"""The database handle: MongoDB through Flask-PyMongo, or an in-process store for a quick start."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from flask import Flask, current_app
from flask_pymongo import PyMongo
from pymongo import ASCENDING, DESCENDING, UpdateOne, uri_parser
from pymongo.database import Database

log = logging.getLogger(__name__)
EXTENSION = "orchestrator.db"

# A document's `_id` is its uuid: FerretDB's SQLite backend uses no index but the `_id` one,
# so lookups by uuid (claims, reports, GETs) stay fast there too. `seq` is the ledger order
# (see ledger.py) that lists are paged in, hidden from clients like `_id`.
HIDDEN = {"_id": 0, "seq": 0}

# Every query the API makes has an index (docs/performance.md lists the query shapes).
# Lists are paged in `seq` order, so filters end with `seq`.
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "problem": [[("workflow", ASCENDING), ("seq", ASCENDING)],
                [("test_dataset", ASCENDING), ("seq", ASCENDING)],
                [("size_train_dataset", ASCENDING), ("seq", ASCENDING)],
                [("timestamp_upload", ASCENDING), ("seq", ASCENDING)]],
    "algo": [[("problem", ASCENDING), ("seq", ASCENDING)],
             [("name", ASCENDING), ("seq", ASCENDING)],
             [("timestamp_upload", ASCENDING), ("seq", ASCENDING)]],
    "data": [[("problems", ASCENDING), ("seq", ASCENDING)],
             [("timestamp_upload", ASCENDING), ("seq", ASCENDING)]],
    "learnuplet": [[("problem", ASCENDING), ("seq", ASCENDING)],
                   [("workflow", ASCENDING), ("seq", ASCENDING)],
                   [("algo", ASCENDING), ("seq", ASCENDING)],
                   [("status", ASCENDING), ("seq", ASCENDING)],
                   [("worker", ASCENDING), ("seq", ASCENDING)],
                   [("rank", ASCENDING), ("seq", ASCENDING)],
                   [("model_start", ASCENDING), ("seq", ASCENDING)],
                   [("model_end", ASCENDING), ("seq", ASCENDING)],
                   [("train_data", ASCENDING), ("seq", ASCENDING)],
                   [("test_data", ASCENDING), ("seq", ASCENDING)],
                   [("timestamp_creation", ASCENDING), ("seq", ASCENDING)],
                   [("timestamp_done", ASCENDING), ("seq", ASCENDING)],
                   [("perf", ASCENDING), ("seq", ASCENDING)],  # GET /learnuplet?perf= (listing.FILTERS)
                   # domain lookups: next waiting rank, best model of an algo and of a problem
                   [("algo", ASCENDING), ("status", ASCENDING), ("rank", ASCENDING)],
                   [("algo", ASCENDING), ("status", ASCENDING), ("perf", DESCENDING),
                    ("rank", ASCENDING)],
                   [("problem", ASCENDING), ("status", ASCENDING), ("perf", DESCENDING),
                    ("timestamp_done", ASCENDING)],
                   # leases past their expiry (tasks.expire_leases)
                   [("status", ASCENDING), ("lease_expires", ASCENDING)]],
    "preduplet": [[("problem", ASCENDING), ("seq", ASCENDING)],
                  [("workflow", ASCENDING), ("seq", ASCENDING)],
                  [("data", ASCENDING), ("seq", ASCENDING)],
                  [("model", ASCENDING), ("seq", ASCENDING)],
                  [("status", ASCENDING), ("seq", ASCENDING)],
                  [("worker", ASCENDING), ("seq", ASCENDING)],
                  [("prediction_storage_uuid", ASCENDING), ("seq", ASCENDING)],
                  [("timestamp_request", ASCENDING), ("seq", ASCENDING)],
                  [("timestamp_done", ASCENDING), ("seq", ASCENDING)],
                  [("status", ASCENDING), ("lease_expires", ASCENDING)]],
    # delivery to compute: entries due (delivery.py)
    "outbox": [[("state", ASCENDING), ("next_attempt", ASCENDING)]],
}


def init_store(app: Flask) -> None:
    """Attach the database to the app; connects lazily, so start-up survives a database outage."""
    uri = app.config["MONGO_URI"]
    if uri:
        timeout_ms = int(app.config["DB_TIMEOUT_SECONDS"] * 1000)
        mongo = PyMongo(app, uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                        socketTimeoutMS=max(timeout_ms * 4, 10000), retryWrites=False)
        name = uri_parser.parse_uri(uri)["database"] or app.config["MONGO_DBNAME"]
        app.extensions[EXTENSION] = mongo.cx[name]
    else:
        log.warning("MONGO_URI is not set: using the IN-PROCESS store. NOTHING IS PERSISTED, "
                    "and it must not be used by more than one server process.")
        app.extensions[EXTENSION] = InProcessDatabase()


def get_db() -> Database:
    return current_app.extensions[EXTENSION]


def ensure_indexes(db: Database) -> None:
    """Create every index; idempotent, run at start-up."""
    for name, indexes in INDEXES.items():
        db[name].create_index("uuid", unique=True)
        db[name].create_index("seq")
        for keys in indexes:
            db[name].create_index(keys)


class InProcessDatabase:
    """mongomock made safe for a threaded server: each operation runs under one lock.

    mongomock is not thread-safe; MongoDB makes each single operation atomic, and so does
    this. Cursors are read to the end under the lock. It refuses use from another process,
    where it would silently hold different data.
    """

    def __init__(self) -> None:
        import mongomock  # a test/quick-start dependency, imported only when used

        self._db = mongomock.MongoClient()["orchestrator"]
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._collections: dict[str, LockedCollection] = {}

    def __getitem__(self, name: str) -> LockedCollection:
        if name not in self._collections:
            self._collections[name] = LockedCollection(self, self._db[name])
        return self._collections[name]

    __getattr__ = __getitem__

    def guard(self) -> threading.RLock:
        if os.getpid() != self._pid:
            raise RuntimeError("the in-process store cannot be shared between processes; "
                               "set MONGO_URI to run several server processes")
        return self._lock


class LockedCollection:
    def __init__(self, database: InProcessDatabase, collection: Any):
        self._database = database
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._database.guard():
                result = method(*args, **kwargs)
                if hasattr(result, "__next__"):  # a cursor: read it while holding the lock
                    result = list(result)
                return result

        return locked

    def bulk_write(self, requests: list[UpdateOne], ordered: bool = True) -> None:
        # mongomock's bulk_write does not accept current pymongo operations; in-process,
        # one call per update costs nothing.
        with self._database.guard():
            for request in requests:
                self._collection.update_one(request._filter, request._doc)
