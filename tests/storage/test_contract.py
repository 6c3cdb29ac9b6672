"""The storage contract: one suite, run against every Store the Orchestrator can use.

EmbeddedStore in memory, in a directory, and reopened from that directory before every call
(with a tiny compaction threshold, so replay and snapshots rebuild what the checks read);
MongoStore on mongomock, and on a real MongoDB-protocol server when MONGO_URI is set (a
database of each test's own, dropped afterwards). A check that passes on one store only is
a bug in that store or in the check. Self-contained: uses no fixture of tests/conftest.py.
"""
from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mongomock
import pytest
from pymongo import MongoClient

from app.storage.base import Duplicate, FieldOf, Store, Writes
from app.storage.embedded import EmbeddedStore
from app.storage.mongo import MongoStore


class ReopenedStore:
    """An EmbeddedStore closed and opened again from its directory before every call."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.store = EmbeddedStore(self.path, compact_bytes=2048)

    def __getattr__(self, name: str) -> Any:
        def reopened(*args: Any, **kwargs: Any) -> Any:
            self.store.close()
            self.store = EmbeddedStore(self.path, compact_bytes=2048)
            return getattr(self.store, name)(*args, **kwargs)
        return reopened


@pytest.fixture
def mongodb_store() -> Iterator[Store]:
    uri = os.environ.get("MONGO_URI")
    if not uri:
        pytest.skip("MONGO_URI is not set")
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    name = f"test_storage_{uuidlib.uuid4().hex[:16]}"
    try:
        yield MongoStore(client[name])
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture(params=["memory", "directory", "reopened", "mongomock", "mongodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    if kind == "mongodb":
        made: Any = request.getfixturevalue("mongodb_store")
    elif kind == "mongomock":
        made = MongoStore(mongomock.MongoClient()["t"], bulk_updates=False)
    elif kind == "reopened":
        made = ReopenedStore(tmp_path / "data")
    else:
        made = EmbeddedStore(None if kind == "memory" else str(tmp_path / "data"))
    made.prepare()
    yield made
    if kind.startswith(("memory", "directory", "reopened")):
        made.close()


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def insert(store: Store, collection: str, *documents: dict[str, Any], version: int = 1) -> None:
    store.write(Writes(inserts={collection: list(documents)}), version, "version")


def doc(seq: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": new_uuid(), "seq": seq, **fields}


def uuids(documents: list[dict[str, Any]]) -> list[str]:
    return [document["uuid"] for document in documents]


# --- documents -------------------------------------------------------------------------------

def test_get_hides_key_and_seq(store: Store) -> None:
    stored = doc("1", name="a", tags=["x"], nested={"k": [1, {"z": None}]})
    insert(store, "algo", stored)
    assert store.get("algo", stored["uuid"]) == {"uuid": stored["uuid"], "name": "a",
                                                 "tags": ["x"], "nested": {"k": [1, {"z": None}]}}
    assert store.get("algo", new_uuid()) is None
    assert store.get("nothing", stored["uuid"]) is None


def test_documents_are_copies_both_ways(store: Store) -> None:
    stored = doc("1", tags=["x"], nested={"k": [1]})
    insert(store, "algo", stored)
    stored["tags"].append("changed by the caller")
    stored["nested"]["k"].append(2)
    read = store.get("algo", stored["uuid"])
    assert read is not None and read["tags"] == ["x"] and read["nested"] == {"k": [1]}
    read["tags"].append("y")
    store.page("algo", {}, None, 10)[0]["nested"]["k"].append(3)
    store.dump("algo")[0]["tags"].append("z")
    again = store.get("algo", stored["uuid"])
    assert again is not None and again["tags"] == ["x"] and again["nested"] == {"k": [1]}


def test_get_many_returns_existing_documents_once(store: Store) -> None:
    first, second = doc("1", n=1), doc("2", n=2)
    insert(store, "data", first, second)
    found = store.get_many("data", [second["uuid"], new_uuid(), first["uuid"], second["uuid"]])
    assert sorted(found, key=lambda d: d["n"]) == [{"uuid": first["uuid"], "n": 1},
                                                   {"uuid": second["uuid"], "n": 2}]
    assert store.get_many("data", []) == []
    assert store.get_many("nothing", [first["uuid"]]) == []


def test_count(store: Store) -> None:
    assert store.count("data") == 0
    insert(store, "data", doc("1"), doc("2"))
    assert store.count("data") == 2


def test_dump_shows_every_record_by_key(store: Store) -> None:
    documents = [doc(str(n)) for n in range(5)]
    insert(store, "data", *documents)
    expected = [{"_id": d["uuid"], **d} for d in documents]
    assert store.dump("data") == sorted(expected, key=lambda d: d["_id"])
    assert store.dump("nothing") == []


# --- page ------------------------------------------------------------------------------------

def test_page_walks_seq_order_after_a_seq(store: Store) -> None:
    documents = {seq: doc(seq) for seq in ["000003", "000001", "000005", "000002", "000004"]}
    insert(store, "algo", *documents.values())
    page = store.page("algo", {}, None, 10)
    assert [d["seq"] for d in page] == ["000001", "000002", "000003", "000004", "000005"]
    assert page[0] == documents["000001"]  # with seq, without the key
    assert [d["seq"] for d in store.page("algo", {}, "000002", 2)] == ["000003", "000004"]
    assert [d["seq"] for d in store.page("algo", {}, "0000025", 10)] == ["000003", "000004", "000005"]
    assert store.page("algo", {}, "000005", 10) == []
    assert store.page("nothing", {}, None, 10) == []


def test_page_limit_zero_means_no_limit_like_mongodb(store: Store) -> None:
    insert(store, "algo", *(doc(f"{n:03d}") for n in range(7)))
    assert len(store.page("algo", {}, None, 0)) == 7


def test_page_filters_are_equalities_combined(store: Store) -> None:
    a, b, c = doc("1", problem="p", status="todo"), doc("2", problem="p", status="done"), \
        doc("3", problem="q", status="todo")
    insert(store, "learnuplet", a, b, c)
    assert uuids(store.page("learnuplet", {"problem": "p"}, None, 10)) == [a["uuid"], b["uuid"]]
    assert uuids(store.page("learnuplet", {"problem": "p", "status": "todo"}, None, 10)) == [a["uuid"]]
    assert uuids(store.page("learnuplet", {"status": "todo"}, "1", 10)) == [c["uuid"]]
    assert store.page("learnuplet", {"problem": "r"}, None, 10) == []


def test_page_filter_none_matches_missing_and_null(store: Store) -> None:
    missing, null, set_ = doc("1"), doc("2", worker=None), doc("3", worker="w")
    insert(store, "learnuplet", missing, null, set_)
    assert uuids(store.page("learnuplet", {"worker": None}, None, 10)) == [missing["uuid"], null["uuid"]]
    assert uuids(store.page("learnuplet", {"worker": "w"}, None, 10)) == [set_["uuid"]]


def test_page_filter_on_a_list_matches_a_member(store: Store) -> None:
    both, one, none = doc("1", problems=["p", "q"]), doc("2", problems=["q"]), doc("3", problems=[])
    insert(store, "data", both, one, none)
    assert uuids(store.page("data", {"problems": "p"}, None, 10)) == [both["uuid"]]
    assert uuids(store.page("data", {"problems": "q"}, None, 10)) == [both["uuid"], one["uuid"]]
    assert uuids(store.page("data", {"problems": ["q"]}, None, 10)) == [one["uuid"]]  # whole list


def test_page_filter_numbers_compare_by_value_not_type(store: Store) -> None:
    # (not booleans: mongomock takes true for 1, MongoDB does not; no filter holds a boolean)
    zero, zero_float, one, text = doc("1", perf=0), doc("2", perf=0.0), doc("3", perf=1.0), \
        doc("4", perf="0")
    insert(store, "learnuplet", zero, zero_float, one, text)
    assert uuids(store.page("learnuplet", {"perf": 0}, None, 10)) == [zero["uuid"], zero_float["uuid"]]
    assert uuids(store.page("learnuplet", {"perf": 0.0}, None, 10)) == [zero["uuid"], zero_float["uuid"]]
    assert uuids(store.page("learnuplet", {"perf": 1}, None, 10)) == [one["uuid"]]
    assert uuids(store.page("learnuplet", {"perf": "0"}, None, 10)) == [text["uuid"]]


def test_page_follows_an_updated_seq(store: Store) -> None:
    first, second = doc("1"), doc("2")
    insert(store, "algo", first, second)
    store.write(Writes(updates=[("algo", first["uuid"], {"seq": "3"})]), 2, "version")
    assert uuids(store.page("algo", {}, None, 10)) == [second["uuid"], first["uuid"]]
    assert uuids(store.page("algo", {}, "2", 10)) == [first["uuid"]]


def test_page_puts_documents_without_seq_first_unless_after(store: Store) -> None:
    sequenced, unsequenced = doc("1"), {"uuid": new_uuid()}
    insert(store, "algo", sequenced, unsequenced)
    assert uuids(store.page("algo", {}, None, 10)) == [unsequenced["uuid"], sequenced["uuid"]]
    assert uuids(store.page("algo", {}, "0", 10)) == [sequenced["uuid"]]


# --- named queries ---------------------------------------------------------------------------

def test_chains_of(store: Store) -> None:
    p, q, r = doc("1", problem="p"), doc("2", problem="q"), doc("3", problem="r")
    insert(store, "chain", p, q, r)
    found = store.chains_of(["p", "q", "unknown"])
    assert sorted(uuids(found)) == sorted([p["uuid"], q["uuid"]])
    assert all("_id" not in c and "seq" not in c for c in found)
    assert store.chains_of([]) == []


def test_data_before(store: Store) -> None:
    early, other, late, last = doc("1", problems=["p", "q"]), doc("2", problems=["q"]), \
        doc("3", problems=["p"]), doc("4", problems=["p"])
    insert(store, "data", last, late, other, early)
    assert store.data_before("p", "4") == [early["uuid"], late["uuid"]]
    assert store.data_before("p", "3.5") == [early["uuid"], late["uuid"]]
    assert store.data_before("q", "9") == [early["uuid"], other["uuid"]]
    assert store.data_before("p", "1") == []
    assert store.data_before("unknown", "9") == []


def test_stale_leases(store: Store) -> None:
    stale, fresh, boundary = doc("1", status="pending", lease_expires=99), \
        doc("2", status="pending", lease_expires=101), doc("3", status="pending", lease_expires=100)
    done, released, unleased = doc("4", status="done", lease_expires=1), \
        doc("5", status="pending", lease_expires=None), doc("6", status="pending")
    stale_float = doc("7", status="pending", lease_expires=50.5)
    insert(store, "learnuplet", stale, fresh, boundary, done, released, unleased, stale_float)
    assert sorted(store.stale_leases("learnuplet", 100, 10)) == sorted([stale["uuid"], stale_float["uuid"]])
    assert len(store.stale_leases("learnuplet", 100, 1)) == 1
    assert store.stale_leases("preduplet", 100, 10) == []


def test_due_deliveries(store: Store) -> None:
    later, due_first, due_now, other_state, future = doc("1", state="new", next_attempt=5), \
        doc("2", state="retry", next_attempt=1.5), doc("3", state="new", next_attempt=10), \
        doc("4", state="sent", next_attempt=0), doc("5", state="new", next_attempt=11)
    insert(store, "outbox", later, due_first, due_now, other_state, future)
    found = store.due_deliveries(["new", "retry"], 10, 10)
    assert uuids(found) == [due_first["uuid"], later["uuid"], due_now["uuid"]]
    assert found[0] == {"uuid": due_first["uuid"], "state": "retry", "next_attempt": 1.5}
    assert uuids(store.due_deliveries(["new", "retry"], 10, 2)) == [due_first["uuid"], later["uuid"]]
    assert store.due_deliveries([], 10, 10) == []


# --- the ledger ------------------------------------------------------------------------------

def test_events_are_keyed_by_number(store: Store) -> None:
    assert store.event("events", 1) is None
    store.insert_event("events", {"_id": 1, "kind": "a", "writes": ["k"]})
    with pytest.raises(Duplicate):
        store.insert_event("events", {"_id": 1, "kind": "b"})
    assert store.event("events", 1) == {"_id": 1, "kind": "a", "writes": ["k"]}
    store.insert_event("other_events", {"_id": 1, "kind": "c"})  # ledgers do not share numbers
    assert store.event("events", 1) == {"_id": 1, "kind": "a", "writes": ["k"]}


def test_events_after_in_number_order(store: Store) -> None:
    for number in [3, 1, 10, 2, 20]:
        store.insert_event("events", {"_id": number, "at": number})
    assert [e["_id"] for e in store.events_after("events", 0, 10)] == [1, 2, 3, 10, 20]
    assert store.events_after("events", 2, 2) == [{"_id": 3, "at": 3}, {"_id": 10, "at": 10}]
    assert store.events_after("events", 20, 10) == []
    assert [e["_id"] for e in store.dump("events")] == [1, 2, 3, 10, 20]


def test_events_in_minute_oldest_first_from_a_time(store: Store) -> None:
    for key, minute, ms in [("a/1", 5, 300_500), ("b/1", 5, 300_100), ("c/1", 6, 360_000),
                            ("d/1", 5, 300_900), ("e/1", 4, 299_000)]:
        store.insert_event("stream_events", {"_id": key, "minute": minute, "ms": ms})
    assert [e["_id"] for e in store.events_in_minute("stream_events", 5, 0, 10)] == [
        "b/1", "a/1", "d/1"]
    assert [e["_id"] for e in store.events_in_minute("stream_events", 5, 300_500, 10)] == [
        "a/1", "d/1"]
    assert [e["_id"] for e in store.events_in_minute("stream_events", 5, 0, 2)] == ["b/1", "a/1"]
    assert store.events_in_minute("stream_events", 7, 0, 10) == []


def test_latest_events_of_a_minute_newest_first(store: Store) -> None:
    for key, minute, ms in [("a/1", 5, 300_500), ("b/1", 5, 300_100), ("c/1", 6, 360_000),
                            ("d/1", 5, 300_900), ("e/1", 4, 299_000)]:
        store.insert_event("stream_events", {"_id": key, "minute": minute, "ms": ms})
    assert [e["_id"] for e in store.latest_events("stream_events", 5, 10)] == ["d/1", "a/1", "b/1"]
    assert [e["_id"] for e in store.latest_events("stream_events", 5, 2)] == ["d/1", "a/1"]
    assert store.latest_events("stream_events", 7, 10) == []
def test_first_minute_after(store: Store) -> None:
    assert store.first_minute_after("stream_events", 0) is None
    for key, minute in [("a/1", 5), ("b/1", 9), ("c/1", 7)]:
        store.insert_event("stream_events", {"_id": key, "minute": minute, "ms": minute * 60_000})
    assert store.first_minute_after("stream_events", 0) == 5
    assert store.first_minute_after("stream_events", 5) == 7
    assert store.first_minute_after("stream_events", 9) is None


def test_event_is_a_copy(store: Store) -> None:
    event = {"_id": 1, "writes": ["k"]}
    store.insert_event("events", event)
    event["writes"].append("changed")
    read = store.event("events", 1)
    assert read == {"_id": 1, "writes": ["k"]}
    read["writes"].append("changed")  # type: ignore[index]
    assert store.events_after("events", 0, 1) == [{"_id": 1, "writes": ["k"]}]


def test_events_by_key(store: Store) -> None:
    for key in ("a/1", "a/2", "b/1"):
        store.insert_event("stream_events", {"_id": key, "n": 1})
    found = store.events_by_key("stream_events", ["b/1", "a/1", "x/9", "a/1"])
    assert sorted(event["_id"] for event in found) == ["a/1", "b/1"]
    assert store.events_by_key("stream_events", []) == []


# --- the audit chain -------------------------------------------------------------------------

def entry(number: int, key: Any, source: str = "stream_events") -> dict[str, Any]:
    return {"_id": number, "seq": f"{number:012d}", "source": source, "key": key}


def test_append_stops_at_a_taken_number_or_event(store: Store) -> None:
    assert store.last("audit") is None
    assert store.append("audit", [entry(1, "a/1"), entry(2, "a/2")]) == 2
    # a racing sealer took number 3: nothing after it is inserted
    assert store.append("audit", [entry(2, "b/1"), entry(3, "b/2")]) == 0
    assert store.append("audit", [entry(3, "b/1"), entry(4, "a/2"), entry(5, "b/2")]) == 1
    assert store.append("audit", [entry(4, 7, "events")]) == 1  # another source, its own keys
    assert [(e["_id"], e["key"]) for e in store.dump("audit")] == [
        (1, "a/1"), (2, "a/2"), (3, "b/1"), (4, 7)]
    assert store.last("audit") == entry(4, 7, "events")


def test_append_in_more_than_one_batch(store: Store) -> None:
    entries = [entry(number, f"s/{number}") for number in range(1, 251)]
    entries[180] = entry(181, "s/3")  # an event already sealed, in the second batch of 100
    assert store.append("audit", entries) == 180
    assert store.last("audit")["_id"] == 180
    assert len(store.dump("audit")) == 180


def test_scan_reads_everything_in_order_from_a_start(store: Store) -> None:
    store.append("audit", [entry(number, f"s/{2000 - number}") for number in range(1, 1501)])
    assert [e["_id"] for e in store.scan("audit", {}, "_id")] == list(range(1, 1501))
    assert [e["_id"] for e in store.scan("audit", {}, "_id", 1400)] == list(range(1400, 1501))
    by_key = [e["key"] for e in store.scan("audit", {"source": "stream_events"}, "key")]
    assert by_key == sorted(by_key) and len(by_key) == 1500
    assert list(store.scan("audit", {"source": "events"}, "key")) == []


def test_heads_move_forward_only(store: Store) -> None:
    assert store.head("head") is None
    store.move_head("head", 3)  # no head: nothing to move
    assert store.head("head") is None
    store.create_head("head")
    assert store.head("head") == 0
    store.move_head("head", 2)
    store.move_head("head", 1)
    store.create_head("head")
    assert store.head("head") == 2
    store.create_head("delivery")
    store.move_head("delivery", 5)
    assert (store.head("head"), store.head("delivery")) == (2, 5)
    assert store.dump("ledger") == [{"_id": "delivery", "version": 5}, {"_id": "head", "version": 2}]


# --- write -------------------------------------------------------------------------------------

def test_write_skips_stored_uuids(store: Store) -> None:
    first = doc("1", name="first")
    insert(store, "algo", first)
    again, new = {**first, "name": "again"}, doc("2", name="new")
    twice = {**new, "name": "twice"}
    insert(store, "algo", again, new, twice, version=2)
    assert store.get("algo", first["uuid"]) == {"uuid": first["uuid"], "name": "first"}
    assert store.get("algo", new["uuid"]) == {"uuid": new["uuid"], "name": "new"}  # the first wins
    assert store.count("algo") == 2


def test_write_inserts_many_and_into_several_collections(store: Store) -> None:
    learnuplets = [doc(f"{n:06d}", rank=n) for n in range(1200)]  # over MongoStore's chunk size
    store.write(Writes(inserts={"learnuplet": learnuplets, "chain": [doc("1", problem="p")]}),
                1, "version")
    assert store.count("learnuplet") == 1200 and store.count("chain") == 1
    assert store.page("learnuplet", {"rank": 1199}, None, 10)[0]["uuid"] == learnuplets[-1]["uuid"]


def test_stale_running(store: Store) -> None:
    # a learnuplet's lease as its chain document keeps it (app/ledger/running.py)
    stale, fresh = doc("1", running="a", running_status="pending", running_lease_expires=99), \
        doc("2", running="b", running_status="pending", running_lease_expires=100)
    todo, idle = doc("3", running="c", running_status="todo", running_lease_expires=1), \
        doc("4", running=None, running_status=None, running_lease_expires=None)
    insert(store, "chain", stale, fresh, todo, idle)
    assert store.stale_running(100, 10) == ["a"]
    assert store.stale_running(101, 1) in (["a"], ["b"])


def test_running_chains_by_status_soonest_lease_first(store: Store) -> None:
    late, soon = doc("1", running="a", running_status="pending", running_lease_expires=200), \
        doc("2", running="b", running_status="pending", running_lease_expires=100)
    todo, idle = doc("3", running="c", running_status="todo", running_lease_expires=None), \
        doc("4", running=None, running_status=None)
    insert(store, "chain", late, soon, todo, idle)
    assert [chain["running"] for chain in store.running_chains("pending", 10)] == ["b", "a"]
    assert [chain["running"] for chain in store.running_chains("pending", 1)] == ["b"]
    assert store.running_chains("todo", 10) == [{k: v for k, v in todo.items() if k != "seq"}]
    assert store.running_chains("failed", 10) == []


def test_chain_running_finds_the_chain_of_its_running_learnuplet(store: Store) -> None:
    task, waiting = doc("1", algo="algo-1"), doc("2", algo="algo-1")
    insert(store, "learnuplet", task, waiting)
    chain = {"uuid": "algo-1", "seq": "1", "running": task["uuid"], "running_status": "todo"}
    insert(store, "chain", chain)
    assert store.chain_running(task["uuid"]) == {"uuid": "algo-1", "running": task["uuid"],
                                                 "running_status": "todo"}
    assert store.chain_running(waiting["uuid"]) is None
    assert store.chain_running(new_uuid()) is None


def test_write_copies_a_field_of_a_document_it_updates_first(store: Store) -> None:
    task, chain = doc("1", data=["x", "y"], status="waiting"), doc("2")
    insert(store, "learnuplet", task)
    insert(store, "chain", chain)
    copy = FieldOf("learnuplet", task["uuid"], "data")
    writes = Writes(updates=[("learnuplet", task["uuid"], {"status": "todo"}),
                             ("chain", chain["uuid"], {"data": copy, "missing": FieldOf(
                                 "learnuplet", task["uuid"], "absent")})])
    store.write(writes, 2, "version")
    assert store.get("chain", chain["uuid"]) == {"uuid": chain["uuid"], "version": 2,
                                                 "data": ["x", "y"], "missing": None}
    assert store.get("learnuplet", task["uuid"])["status"] == "todo"  # type: ignore[index]


def test_write_copies_the_field_when_the_update_it_follows_was_applied_already(store: Store) -> None:
    # applying an event again (a writer died between the two updates): the first update's
    # guard refuses it, and the field is still copied
    task, chain = doc("1", data=["x"], status="todo", version=2), doc("2", version=1)
    insert(store, "learnuplet", task)
    insert(store, "chain", chain)
    store.write(Writes(updates=[("learnuplet", task["uuid"], {"status": "todo"}),
                                ("chain", chain["uuid"], {"data": FieldOf(
                                    "learnuplet", task["uuid"], "data")})]), 2, "version")
    assert store.get("chain", chain["uuid"]) == {"uuid": chain["uuid"], "version": 2, "data": ["x"]}


def test_write_copies_the_field_of_a_document_it_does_not_update(store: Store) -> None:
    # a write that re-applies part of an event (the chain document's update alone)
    task, chain = doc("1", data=["x"], status="todo", version=2), doc("2", version=1)
    insert(store, "learnuplet", task)
    insert(store, "chain", chain)
    store.write(Writes(updates=[("chain", chain["uuid"], {"data": FieldOf(
        "learnuplet", task["uuid"], "data")})]), 2, "version")
    assert store.get("chain", chain["uuid"]) == {"uuid": chain["uuid"], "version": 2, "data": ["x"]}


def test_write_updates_with_a_version_guard(store: Store) -> None:
    unversioned, older, same, newer, null = doc("1"), doc("2", version=4), doc("3", version=5), \
        doc("4", version=6), doc("5", version=None)
    insert(store, "learnuplet", unversioned, older, same, newer, null)
    store.write(Writes(updates=[("learnuplet", d["uuid"], {"status": "done"})
                                for d in (unversioned, older, same, newer, null)]), 5, "version")
    status = {d["uuid"]: (d.get("status"), d.get("version"))
              for d in store.page("learnuplet", {}, None, 10)}
    assert status == {unversioned["uuid"]: ("done", 5), older["uuid"]: ("done", 5),
                      same["uuid"]: (None, 5), newer["uuid"]: (None, 6), null["uuid"]: ("done", 5)}


def test_write_guards_with_the_given_version_field(store: Store) -> None:
    entry = doc("1", version=9)
    insert(store, "outbox", entry)
    store.write(Writes(updates=[("outbox", entry["uuid"], {"state": "sent"})]), 2, "delivery_version")
    assert store.get("outbox", entry["uuid"]) == {"uuid": entry["uuid"], "version": 9,
                                                  "state": "sent", "delivery_version": 2}


def test_write_never_creates_a_missing_document(store: Store) -> None:
    store.write(Writes(updates=[("learnuplet", new_uuid(), {"status": "done"})]), 1, "version")
    assert store.count("learnuplet") == 0


def test_write_inserts_before_it_updates(store: Store) -> None:
    versioned, unversioned = doc("1", version=3, status="todo"), doc("2", status="todo")
    store.write(Writes(inserts={"learnuplet": [versioned, unversioned]},
                       updates=[("learnuplet", versioned["uuid"], {"status": "pending"}),
                                ("learnuplet", unversioned["uuid"], {"status": "pending"})]),
                3, "version")
    assert store.get("learnuplet", versioned["uuid"])["status"] == "todo"  # type: ignore[index]
    assert store.get("learnuplet", unversioned["uuid"]) == {
        "uuid": unversioned["uuid"], "status": "pending", "version": 3}


def test_write_updates_one_document_once(store: Store) -> None:
    task = doc("1")
    insert(store, "learnuplet", task, version=0)
    store.write(Writes(updates=[("learnuplet", task["uuid"], {"a": 1}),
                                ("learnuplet", task["uuid"], {"b": 2})]), 2, "version")
    stored = store.get("learnuplet", task["uuid"])
    assert stored is not None and ("a" in stored) != ("b" in stored)  # whichever ran first


def test_write_is_safe_to_repeat(store: Store) -> None:
    task, new = doc("1"), doc("2")
    insert(store, "learnuplet", task)
    writes = Writes(inserts={"learnuplet": [new]}, updates=[("learnuplet", task["uuid"], {"n": 1})])
    store.write(writes, 2, "version")
    before = store.dump("learnuplet")
    store.write(writes, 2, "version")
    assert store.dump("learnuplet") == before


def test_prepare_and_ping(store: Store) -> None:
    store.prepare()
    store.ping()


# --- counts for GET /metrics ---------------------------------------------------------------------

def test_count_by_counts_each_value_asked_for(store: Store) -> None:
    insert(store, "learnuplet", doc("1", status="todo"), doc("2", status="done"),
           doc("3", status="todo"), doc("4", status="other"), doc("5", status=["todo"]), doc("6"))
    assert store.count_by("learnuplet", "status", ["todo", "done", "failed"]) == {
        "todo": 2, "done": 1, "failed": 0}
    assert store.count_by("nothing", "status", ["todo"]) == {"todo": 0}


def test_count_events_after_counts_up_to_a_limit(store: Store) -> None:
    assert store.count_events_after("events", 0, 10) == 0
    for number in [1, 2, 3, 10]:
        store.insert_event("events", {"_id": number, "big": "x" * 1000})
    assert store.count_events_after("events", 0, 10) == 4
    assert store.count_events_after("events", 2, 10) == 2
    assert store.count_events_after("events", 0, 3) == 3
    assert store.count_events_after("events", 10, 10) == 0
