"""Every query shape the API can send has an index whose prefix serves it.

The shapes come from the code where they can (every filter of app/api/listing.FILTERS, with
the `seq` sort that document_list pages by) and are listed by hand where they cannot (the
named queries of app/storage/mongo.py). Each shape is checked against
app/storage/indexes.INDEXES plus the `_id` index, and against the indexes a MongoDB-protocol
server really has after MongoStore.prepare() (index_information(): the test's server, or
mongomock when the suite runs on the embedded store).

Rule: a shape with equality (or $in) fields E and sort S is served by an index whose first
len(E) keys are exactly E (in any order) and whose next keys are S (or S reversed). A shape
that names `uuid` is served by the `_id` index (one document at most). A filter
combination (several query parameters) is served when one of its fields is: the index
gives the `seq` order and MongoDB checks the other fields on the documents it reads.
A document's `_id` is its uuid, so lookups by uuid are `_id` lookups.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from app.api.listing import FILTERS
from app.storage.indexes import ARRAY_FIELDS, INDEXES, UNIQUE, indexes_for, on_array_field
from app.storage.mongo import MongoStore

Key = tuple[str, int]
LISTED = {c: names for c, names in FILTERS.items() if c != "event"}  # GET /events: DOMAIN
SEQ_SORT: tuple[Key, ...] = (("seq", 1),)


@dataclass(frozen=True)
class Shape:
    collection: str
    fields: frozenset[str]
    sort: tuple[Key, ...]
    origin: str


def _shape(collection: str, fields: set[str] | list[str], sort: tuple[Key, ...], origin: str) -> Shape:
    return Shape(collection, frozenset(fields), sort, origin)


# Named queries: what the store sends besides the listing (app/storage/mongo.py).
DOMAIN: list[Shape] = [
    # get, get_many, the ledger's guarded updates: by _id (= uuid), served by the _id index
    *[_shape(c, {"_id"}, (), "MongoStore.get / get_many / write") for c in INDEXES],
    _shape("chain", {"problem"}, (), "MongoStore.chains_of"),
    _shape("data", {"problems"}, SEQ_SORT, "MongoStore.data_before"),
    _shape("chain", {"running"}, (), "MongoStore.chain_running"),
    _shape("chain", {"running_status"}, (("running_lease_expires", 1),), "MongoStore.stale_running"),
    _shape("chain", {"running_status"}, (("running_lease_expires", 1),),
           "MongoStore.running_chains"),
    _shape("preduplet", {"status"}, (("lease_expires", 1),), "MongoStore.stale_leases"),
    _shape("outbox", {"state"}, (("next_attempt", 1),), "MongoStore.due_deliveries"),
    _shape("stream_events", {"minute"}, (("ms", 1),), "MongoStore.events_in_minute"),
    _shape("stream_events", {"minute"}, (("ms", -1),), "MongoStore.latest_events"),
    # the audit chain: the sealer's reads by minute, its last entry (_id), verify's scans
    *[_shape(c, {"minute"}, (("ms", 1),), "Sealer: events_in_minute")
      for c in ("events", "stream_events", "audit")],
    _shape("audit", set(), (("_id", -1),), "MongoStore.last"),
    *[_shape(c, set(), (("minute", 1),), "Sealer: first_minute_after (catching up)")
      for c in ("events", "stream_events")],
    _shape("audit", {"source"}, (("key", 1),), "Verifier: scan of a source's entries"),
    # GET /events (filters: kind, collection -> collections, uuid -> uuids; after: a seq range)
    # and GET /<collection>/<uuid>/history (documents), in chain order (`seq`)
    *[_shape("audit", fields, SEQ_SORT, "GET /events, /<collection>/<uuid>/history")
      for fields in ({"kind"}, {"collections"}, {"uuids"}, {"documents"}, set())],
    # document_list with no filter: everything in ledger order
    *[_shape(c, set(), SEQ_SORT, f"GET /{c}") for c in LISTED],
]


def listing_shapes() -> list[Shape]:
    """document_list: every filter of FILTERS, alone, sorted by `seq` for paging."""
    return [_shape(c, {name}, SEQ_SORT, f"GET /{c}?{name}=")
            for c, names in LISTED.items() for name in names]


def combination_shapes() -> list[Shape]:
    """document_list with two filters (every pair); larger combinations follow from these."""
    return [_shape(c, set(pair), SEQ_SORT, f"GET /{c}?{pair[0]}=&{pair[1]}=")
            for c, names in LISTED.items() for pair in itertools.combinations(sorted(names), 2)]


def _normal(keys) -> tuple[Key, ...]:
    return tuple((name, int(direction)) for name, direction in keys)


def declared_indexes() -> dict[str, list[tuple[Key, ...]]]:
    return {c: [(("_id", 1),)] + [_normal(keys) for keys in [*indexes, *UNIQUE.get(c, [])]]
            for c, indexes in INDEXES.items()}


def serves(index: tuple[Key, ...], fields: frozenset[str], sort: tuple[Key, ...]) -> bool:
    if index[0][0] == "_id" and fields & {"_id", "uuid"}:
        return True  # unique: at most one document
    n = len(fields)
    if len(index) < n + len(sort) or {name for name, _ in index[:n]} != fields:
        return False
    rest = index[n:n + len(sort)]
    reverse = tuple((name, -direction) for name, direction in sort)
    return not sort or rest == sort or rest == reverse


def served(indexes: list[tuple[Key, ...]], shape: Shape, any_field: bool = False) -> bool:
    candidates = [frozenset({name}) for name in shape.fields] if any_field else [shape.fields]
    return any(serves(index, fields, shape.sort) for index in indexes for fields in candidates)


def unserved_shapes(indexes: dict[str, list[tuple[Key, ...]]]) -> list[Shape]:
    missing = [s for s in DOMAIN + listing_shapes() if not served(indexes.get(s.collection, []), s)]
    missing += [s for s in combination_shapes()
                if not served(indexes.get(s.collection, []), s, any_field=True)]
    return missing


def unserved(indexes: dict[str, list[tuple[Key, ...]]]) -> list[str]:
    return [f"{s.collection}: {sorted(s.fields)} sort {list(s.sort)} ({s.origin})"
            for s in unserved_shapes(indexes)]


def test_the_enumeration_covers_every_filter_and_collection():
    shapes = listing_shapes()
    assert {s.collection for s in shapes} == set(LISTED) == set(FILTERS) - {"event"}
    assert set(LISTED) <= set(INDEXES)
    assert {s.collection for s in DOMAIN} <= set(INDEXES)
    assert len(shapes) == sum(len(names) for names in LISTED.values())


def test_declared_indexes_serve_every_query_shape():
    assert unserved(declared_indexes()) == []


def test_the_rule_rejects_an_index_that_does_not_serve():
    # The checker itself: a missing (field, seq) index and a wrong sort are caught.
    indexes = {"learnuplet": [(("_id", 1),), (("status", 1), ("rank", 1))]}
    assert not served(indexes["learnuplet"], _shape("learnuplet", {"status"}, SEQ_SORT, "t"))
    assert served(indexes["learnuplet"], _shape("learnuplet", {"status"}, (("rank", -1),), "t"))
    assert not served(indexes["learnuplet"], _shape("learnuplet", {"algo", "status"}, (), "t"))


def _mongo_db(store):
    if isinstance(store, MongoStore):
        return store.db
    mongomock = pytest.importorskip("mongomock")  # the embedded store has no indexes to read
    other = MongoStore(mongomock.MongoClient()["indexes"], bulk_updates=False)
    other.prepare()
    return other.db


def _real_indexes(db) -> dict[str, list[tuple[Key, ...]]]:
    return {c: [_normal(info["key"]) for info in db[c].index_information().values()] for c in INDEXES}


def test_the_store_really_has_the_indexes(store):
    # create_app prepared the database; read back what a MongoDB-protocol server holds.
    db = _mongo_db(store)
    real = _real_indexes(db)
    if all(len(indexes) <= 1 for indexes in real.values()):
        pytest.fail(f"the store reports no index beyond _id: {real}")
    if MongoStore(db).has_multikey_indexes():  # MongoDB (or mongomock): every declared index
        assert unserved(real) == []
        return
    # FerretDB: every index but those on a list field, which it cannot take (indexes.py)
    assert [shape for shape in unserved_shapes(real)
            if not shape.fields & ARRAY_FIELDS.get(shape.collection, set())] == []
    assert not [(c, keys) for c, indexes in real.items() for keys in indexes
                if on_array_field(c, list(keys))]


def test_indexes_on_list_fields_are_left_out_for_ferretdb_only():
    assert indexes_for(multikey=True) == INDEXES
    kept = indexes_for(multikey=False)
    left_out = [(c, keys) for c, indexes in INDEXES.items() for keys in indexes
                if keys not in kept[c]]
    assert left_out and all(on_array_field(c, keys) for c, keys in left_out)
    assert {field for c, keys in left_out for field, _ in keys if field != "seq"} == \
        set().union(*ARRAY_FIELDS.values())


def test_array_fields_names_every_list_field_that_is_indexed(client, store):
    """ARRAY_FIELDS must not drift from the documents: every indexed field that holds a list in
    a stored document is in it, and every field in it holds a list."""
    problem = client.problem(size=1)["uuid"]
    client.data(problem, count=2)
    client.algo(problem)
    for collection in ("problem", "data", "learnuplet"):
        indexed = {name for keys in INDEXES[collection] for name, _ in keys}
        for document in store.dump(collection):
            lists = {name for name in indexed if isinstance(document.get(name), list)}
            assert lists == ARRAY_FIELDS[collection], (collection, document)


def test_on_ferretdb_prepare_drops_list_field_indexes_an_earlier_version_made(monkeypatch):
    mongomock = pytest.importorskip("mongomock")
    db = mongomock.MongoClient()["earlier"]
    db.learnuplet.create_index([("train_data", 1), ("seq", 1)])
    db.problem.create_index([("test_dataset", 1), ("seq", 1)])
    store = MongoStore(db, bulk_updates=False)
    monkeypatch.setattr(store, "has_multikey_indexes", lambda: False)

    store.prepare()

    real = _real_indexes(db)
    assert not [(c, keys) for c, indexes in real.items() for keys in indexes
                if on_array_field(c, list(keys))]
    assert (("status", 1), ("seq", 1)) in real["learnuplet"]


def test_no_uuid_index_beside_the_id_one(store):
    # `_id` is the uuid: a unique uuid index would only cost one more index write per document
    db = _mongo_db(store)
    for c in INDEXES:
        assert all(_normal(info["key"])[0][0] != "uuid" for info in db[c].index_information().values())
