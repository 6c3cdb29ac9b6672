"""The audit trail (issue 11): the hash-chained ledger, GET /events, GET /ledger, each
document's history, and verify, which must catch every kind of tampering."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import AUTH, USER, ApiClient, new_uuid
from helpers import chain, claim, done_body
from realserver import run_verify

from app.ledger.audit import GENESIS, canonical, chained
from app.ledger.sealing import Sealer
from app.ledger.verify import Tampered, Verifier


def seal(ledgers: Any) -> int:
    """Seal everything committed so far (no settling time: the test's writers are done)."""
    return Sealer(ledgers.streams, settle_seconds=0).seal()


def verify(ledgers: Any, **start: Any) -> Any:
    return Verifier(ledgers).run(**start)


def build(client: Any) -> dict[str, Any]:
    """A problem with data, an algo whose first learnuplet is done, a prediction."""
    problem = client.problem(size=1)
    client.post("/data", {"uuid": [new_uuid(), new_uuid()], "problems": problem["uuid"]})
    algo = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"],
                                 "name": "algo"}).get_json()["new_algo"]
    first = chain(client, algo["uuid"])[0]
    assert claim(client, first["uuid"]).status_code == 200
    assert client.post(f"/learndone/{first['uuid']}", done_body(first, 0.7)).status_code == 200
    prediction = client.post("/prediction", {"data": new_uuid(), "problem": problem["uuid"]})
    assert prediction.status_code == 201, prediction.get_json()
    return {"problem": problem, "algo": algo, "first": first,
            "preduplet": prediction.get_json()["uuid"]}


def test_every_committed_event_is_sealed_once_and_chained(client, ledgers):
    build(client)
    sealed = seal(ledgers)
    assert sealed == 7  # problem, data, algo, chain planned, claim, report, prediction
    assert seal(ledgers) == 0  # a second round finds nothing new
    events = client.get("/events?limit=1000").get_json()["events"]
    assert [event["version"] for event in events] == list(range(1, sealed + 1))
    prev = GENESIS
    for event in events:  # anyone can recompute the chain from the answers
        digest = hashlib.sha256(json.dumps(event["event"], sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode()).hexdigest()
        assert digest == event["event_hash"] == hashlib.sha256(canonical(
            {("_id" if k == "key" else k): v for k, v in event["event"].items()})).hexdigest()
        assert event["prev_hash"] == prev and event["hash"] == chained(prev, digest)
        prev = event["hash"]
    keys = [event["event"]["key"] for event in events]
    assert len(set(map(str, keys))) == len(keys)
    head = client.get("/ledger").get_json()
    assert head == {"version": sealed, "hash": prev, "applied_version": sealed}
    report = verify(ledgers)
    assert (report.head, report.hash, report.unsealed) == (sealed, prev, 0)
    assert report.documents >= 8  # problem, 2 data, algo, chain, 2 learnuplets, preduplet


def test_events_filters_and_pages(client, ledgers):
    built = build(client)
    seal(ledgers)
    claims = client.get("/events?kind=task_claimed").get_json()["events"]
    assert [event["event"]["uuid"] for event in claims] == [built["first"]["uuid"]]
    assert claims[0]["by"] == USER
    data = client.get("/events?collection=data").get_json()["events"]
    assert [event["kind"] for event in data] == ["data_registered"]
    everything = client.get("/events?limit=1000").get_json()["events"]
    after = client.get(f"/events?after={everything[2]['version']}&limit=1000").get_json()["events"]
    assert after == everything[3:]
    first_page = client.get("/events?limit=2")
    assert len(first_page.get_json()["events"]) == 2 and "Link" in first_page.headers
    token = first_page.get_json()["next_page_token"]
    second = client.get(f"/events?limit=2&page_token={token}").get_json()["events"]
    assert second == everything[2:4]
    for bad in ("after=-1", "kind=nope", "collection=chain", "uuid=x", "limit=0", "colour=red"):
        response = client.get(f"/events?{bad}")
        assert response.status_code == 400, bad
        assert response.mimetype == "application/problem+json"


def test_history_of_a_learnuplet_and_of_data(client, ledgers):
    built = build(client)
    seal(ledgers)
    first = built["first"]["uuid"]
    history = client.get(f"/learnuplet/{first}/history").get_json()["events"]
    assert [event["kind"] for event in history] == ["chain_planned", "task_claimed",
                                                    "task_reported"]
    assert history == sorted(history, key=lambda event: event["version"])
    second = chain(client, built["algo"]["uuid"])[1]["uuid"]  # promoted by the report
    kinds = [event["kind"] for event in client.get(f"/learnuplet/{second}/history").get_json()["events"]]
    assert kinds == ["chain_planned", "task_reported"]
    problem = built["problem"]["uuid"]
    assert [event["kind"] for event in client.get(f"/problem/{problem}/history").get_json()["events"]] \
        == ["problem_registered"]
    assert client.get(f"/learnuplet/{new_uuid()}/history").status_code == 404
    assert client.get("/learnuplet/not-a-uuid/history").status_code == 400


def test_events_wait_to_be_sealed_and_need_credentials(client, ledgers, app):
    client.problem(size=1)
    assert client.get("/events").get_json() == {"events": []}  # nothing sealed yet
    assert client.get("/ledger").get_json() == {"version": 0, "hash": GENESIS,
                                               "applied_version": 0}
    anonymous = app.test_client()
    for url in ("/events", "/ledger", f"/problem/{new_uuid()}/history"):
        assert anonymous.get(url).status_code == 401


def test_verify_from_a_kept_checkpoint(client, ledgers):
    build(client)
    seal(ledgers)
    head = client.get("/ledger").get_json()
    client.problem(size=1)
    seal(ledgers)
    assert verify(ledgers, start=head["version"], start_hash=head["hash"]).head > head["version"]
    with pytest.raises(Tampered, match="checkpoint"):
        verify(ledgers, start=head["version"], start_hash="f" * 64)


# --- tampering: edit the database directly, expect verify to name what changed ----------------

class Tamper:
    """Direct edits of the database, past the Orchestrator: pymongo on a real server, the
    embedded store's memory otherwise."""

    def __init__(self, store: Any):
        self.store = store
        self.db = getattr(store, "db", None)

    def edit(self, collection: str, key: Any, **fields: Any) -> None:
        if self.db is not None:
            assert self.db[collection].update_one({"_id": key}, {"$set": fields}).matched_count
        else:
            self._memory(collection).documents[key].update(fields)

    def delete(self, collection: str, key: Any) -> None:
        if self.db is not None:
            assert self.db[collection].delete_one({"_id": key}).deleted_count
            return
        memory = self._memory(collection)
        document = memory.documents.pop(key)
        if key in memory.numbered:
            memory.numbered.remove(key)
        if "seq" in document:
            memory.by_seq = [item for item in memory.by_seq if item[2] != key]

    def insert(self, collection: str, document: dict[str, Any]) -> None:
        if self.db is not None:
            self.db[collection].insert_one(dict(document))
        else:
            self._memory(collection).insert(dict(document))

    def swap(self, collection: str, first: Any, second: Any) -> None:
        a, b = (self.raw(collection, key) for key in (first, second))
        self.delete(collection, first)
        self.delete(collection, second)
        self.insert(collection, {**b, "_id": first})
        self.insert(collection, {**a, "_id": second})

    def raw(self, collection: str, key: Any) -> dict[str, Any]:
        if self.db is not None:
            return self.db[collection].find_one({"_id": key})
        return dict(self._memory(collection).documents[key])

    def _memory(self, collection: str) -> Any:
        return self.store._collections[collection]


def stream_event(store: Any, kind: str) -> dict[str, Any]:
    return next(event for event in store.scan("stream_events", {}, "_id") if event["kind"] == kind)


@pytest.fixture
def tampered(client, ledgers, store):
    """A database built through the API, sealed and verified intact: tamper with it."""
    built = build(client)
    seal(ledgers)
    verify(ledgers)
    return built, Tamper(store)


def test_verify_catches_an_edited_event(tampered, store, ledgers):
    _, tamper = tampered
    report = stream_event(store, "task_reported")
    tamper.edit("stream_events", report["_id"], outcome={**report["outcome"], "perf": 0.99})
    with pytest.raises(Tampered, match=f"event stream_events/{report['_id']} differs"):
        verify(ledgers)


def test_verify_catches_a_deleted_event(tampered, store, ledgers):
    _, tamper = tampered
    claimed = stream_event(store, "task_claimed")
    tamper.delete("stream_events", claimed["_id"])
    with pytest.raises(Tampered, match=f"stream_events/{claimed['_id']} .*deleted"):
        verify(ledgers)


def test_verify_catches_two_swapped_events(tampered, store, ledgers):
    _, tamper = tampered
    claimed, reported = stream_event(store, "task_claimed"), stream_event(store, "task_reported")
    tamper.swap("stream_events", claimed["_id"], reported["_id"])
    with pytest.raises(Tampered, match="differs from what audit entry"):
        verify(ledgers)


def test_verify_catches_swapped_audit_entries(tampered, store, ledgers):
    _, tamper = tampered
    tamper.swap("audit", 3, 4)
    with pytest.raises(Tampered, match="audit entry 3 does not chain"):
        verify(ledgers)


def test_verify_catches_an_inserted_event(tampered, store, ledgers):
    built, tamper = tampered
    claimed, algo = stream_event(store, "task_claimed"), new_uuid()
    forged = {**claimed, "_id": f"chain:{algo}/000000000001", "stream": f"chain:{algo}", "n": 1,
              "ms": claimed["ms"] - 600_000}  # older than the sealer's checkpoint
    tamper.insert("stream_events", forged)
    with pytest.raises(Tampered, match=f"event stream_events/{forged['_id']} is not in the audit"):
        verify(ledgers)


def test_verify_catches_an_inserted_or_removed_audit_entry(tampered, store, ledgers):
    _, tamper = tampered
    last = store.last("audit")
    tamper.insert("audit", {**last, "_id": last["_id"] + 1, "seq": f"{last['_id'] + 1:012d}",
                            "key": "chain:x/000000000001"})
    with pytest.raises(Tampered, match="does not chain"):
        verify(ledgers)
    tamper.delete("audit", last["_id"] + 1)
    tamper.delete("audit", 2)
    with pytest.raises(Tampered, match="audit entry 2 is missing"):
        verify(ledgers)


def test_verify_catches_an_edited_document(tampered, store, ledgers):
    built, tamper = tampered
    first = built["first"]["uuid"]
    tamper.edit("learnuplet", first, perf=0.99)
    with pytest.raises(Tampered, match=f"learnuplet {first} differs .*: perf"):
        verify(ledgers)


def test_verify_catches_a_deleted_document(tampered, store, ledgers):
    built, tamper = tampered
    data = built["first"]["train_data"][0]
    tamper.delete("data", data)
    with pytest.raises(Tampered, match=f"data {data} .* is missing"):
        verify(ledgers)


def test_verify_catches_an_extra_document(tampered, store, ledgers):
    built, tamper = tampered
    extra = {**store.get("learnuplet", built["first"]["uuid"]), "rank": 9}
    extra["uuid"] = extra["_id"] = new_uuid()
    tamper.insert("learnuplet", {**extra, "seq": "9"})
    with pytest.raises(Tampered, match=f"learnuplet {extra['uuid']} is not written by any event"):
        verify(ledgers)
    tamper.delete("learnuplet", extra["uuid"])
    orphan = {**extra, "algo": new_uuid(), "uuid": new_uuid()}
    orphan["_id"] = orphan["uuid"]
    tamper.insert("learnuplet", {**orphan, "seq": "9"})
    with pytest.raises(Tampered, match=f"learnuplet {orphan['uuid']} is not written by any event"):
        verify(ledgers)


def test_racing_sealers_seal_each_event_once(client, ledgers, store):
    """One sealer per server process: racing, they still seal every event exactly once."""
    for _ in range(3):
        build(client)
    sealers = [Sealer(ledgers.streams, settle_seconds=0) for _ in range(4)]
    barrier = threading.Barrier(len(sealers))

    def seal_round(sealer: Sealer) -> int:
        barrier.wait(timeout=30)
        return sealer.seal()

    with ThreadPoolExecutor(len(sealers)) as pool:
        sealed = sum(pool.map(seal_round, sealers))
    sealed += sum(sealer.seal() for sealer in sealers)  # rounds cut short by a rival go on
    events = len(store.dump("events")) + len(store.dump("stream_events"))
    assert sealed == events == len(store.dump("audit")) == 21
    assert verify(ledgers).events == events


def test_the_verify_command(make_app, config, tmp_path):
    """`python -m app verify` on the server's settings: intact, then not, with exit codes."""
    settings = {"MONGO_URI": config["MONGO_URI"]} if "MONGO_URI" in config else \
        {"DATA_DIR": str(tmp_path / "data")}
    app = make_app(**settings)
    client = ApiClient(app.test_client())
    build(client)
    ledgers = app.extensions["orchestrator.ledger"]
    seal(ledgers)
    head = client.get("/ledger").get_json()
    store = app.extensions["orchestrator.store"]
    first = store.get("learnuplet", client.get("/learnuplet").get_json()["learnuplets"][0]["uuid"])
    if "DATA_DIR" in settings:
        store.close()  # the embedded store serves one process: verify's, now
    done = run_verify(**settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"intact: audit chain head {head['version']} ({head['hash']})")
    done = run_verify("--from", "2", "--hash", "0" * 64, **settings)
    assert done.returncode == 1 and "NOT INTACT: audit entry 2 has hash" in done.stdout
    assert run_verify("--from", "2", **settings).returncode == 2
    if "MONGO_URI" in settings:  # and a document edited behind the Orchestrator's back
        Tamper(store).edit("learnuplet", first["uuid"], perf=0.123)
        done = run_verify(**settings)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"learnuplet {first['uuid']} differs" in done.stdout and "perf=0.123" in done.stdout


def test_the_recomputation_in_docs_audit_md_runs_as_written(client, ledgers, live_server):
    for _ in range(2):
        build(client)
    seal(ledgers)
    text = (Path(__file__).resolve().parent.parent / "docs" / "audit.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    code = code.replace('"http://localhost:5000"', repr(live_server)).replace(
        '("admin", "change-me")', repr(AUTH)).replace('{"limit": 1000}', '{"limit": 5}')
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "docs/audit.md", "exec"), {})  # pages of 5: it follows the tokens
    assert output.getvalue() == f"chain intact, head {client.get('/ledger').get_json()['hash']}\n"
