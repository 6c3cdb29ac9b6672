"""Index declarations: every query the API makes has one (tests/test_indexes.py checks it).

A document's `_id` is its uuid, so a lookup by uuid needs no index of its own (and a unique
`uuid` index would only cost a second index write per document). Lists are paged in `seq`
order, so every list filter has an index ending in `seq`.

Indexes on list-valued fields (ARRAY_FIELDS) are declared for MongoDB only. There they are
multikey indexes: one entry per element of the list, so a long list costs more entries, never
a bigger one. FerretDB v1 builds no multikey index: it indexes the whole value of the field,
and over PostgreSQL an index entry may not exceed about 2,700 bytes, so a learnuplet whose
`train_data` holds more than about 67 uuids could not be written, and its committed event
could never be applied. FerretDB (measured on v1.24) uses no index but `_id`'s to answer
these queries anyway, so leaving those indexes out costs it nothing.
"""
from __future__ import annotations

ASC, DESC = 1, -1
Index = list[tuple[str, int]]


def _filters(*fields: str) -> list[Index]:
    return [[(name, ASC), ("seq", ASC)] for name in fields]


INDEXES: dict[str, list[Index]] = {
    "problem": [[("seq", ASC)], *_filters("workflow", "test_dataset", "size_train_dataset",
                                          "timestamp_upload")],
    "algo": [[("seq", ASC)], *_filters("problem", "name", "timestamp_upload")],
    # data_before: a problem's data in upload order
    "data": [[("seq", ASC)], *_filters("problems", "timestamp_upload")],
    "learnuplet": [[("seq", ASC)], *_filters(
        "problem", "workflow", "algo", "status", "worker", "rank", "model_start", "model_end",
        "train_data", "test_data", "timestamp_creation", "timestamp_done", "perf")],
    "preduplet": [[("seq", ASC)], *_filters(
        "problem", "workflow", "data", "model", "status", "worker", "prediction_storage_uuid",
        "timestamp_request", "timestamp_done"),
        [("status", ASC), ("lease_expires", ASC)]],
    # chains_of; chain_running; stale_running (a learnuplet's lease, kept on its chain)
    "chain": [[("problem", ASC)], [("running", ASC)],
              [("running_status", ASC), ("running_lease_expires", ASC)]],
    "outbox": [[("state", ASC), ("next_attempt", ASC)]],  # due_deliveries
    "stream_events": [[("minute", ASC), ("ms", ASC)]],  # events_in_minute (sweep, sealer)
    "events": [[("minute", ASC), ("ms", ASC)]],  # events_in_minute (the sealer)
    # the audit chain (ledger/audit.py): its order (the number is `_id`, `seq` pages it), what
    # GET /events and the history filter on, and the sealer's reads by minute
    "audit": [[("seq", ASC)], *_filters("kind", "collections", "uuids", "documents"),
              [("minute", ASC), ("ms", ASC)]],
}

# Unique indexes: an event is sealed once (with `_id`, the number, the sealer's commit point).
UNIQUE: dict[str, list[Index]] = {"audit": [[("source", ASC), ("key", ASC)]]}

# The fields that hold lists of uuids, by collection.
ARRAY_FIELDS: dict[str, set[str]] = {
    "problem": {"test_dataset"},
    "data": {"problems"},
    "learnuplet": {"train_data", "test_data"},
    "audit": {"collections", "uuids", "documents"},
}


def indexes_for(multikey: bool) -> dict[str, list[Index]]:
    """The indexes to create: all of INDEXES on a server with multikey indexes (MongoDB),
    else (FerretDB) all but those on a list-valued field."""
    if multikey:
        return INDEXES
    return {name: [keys for keys in indexes if not on_array_field(name, keys)]
            for name, indexes in INDEXES.items()}


def on_array_field(collection: str, keys: Index) -> bool:
    return any(field in ARRAY_FIELDS.get(collection, set()) for field, _ in keys)
