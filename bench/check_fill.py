"""Check that bench/fill.py writes what the Orchestrator would have written.

Run as `python -m bench.check_fill [MONGO_URI]` (without a URI it starts FerretDB itself);
prints one JSON object, exits 1 on any problem. run.py runs it after the suites. Two checks:

- consistency, on a database filled at the SMALL size: the registry head is the number of
  registry events; every stream event is applied (its seal carries its number); neither the
  registry's roll-forward nor the stream sweep finds anything to apply; then the app started
  on it (create_app with MONGO_URI) is ready, a claim + learndone of a todo learnuplet
  promotes the next rank from the best model, and new data extend the running chains;
- replay, at a tiny size: every request the filled history stands for (POST /problem, /data,
  /algo, claims and learndones, with the fill's uuids, workers and outcomes) sent through the
  API to an empty database, the app's clocks ticking as the fill's did, writes exactly the
  same events and documents (`seq`, `version`, seals, chain documents included).
"""
from __future__ import annotations

import base64
import json
import sys
import time
import uuid as uuidlib
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from app import create_app, stop_background
from app.api.views import LEDGER
from app.clock import SystemClock
from app.decisions.chains import follow_registry
from app.delivery.outbox import schedule_deliveries
from app.domain.planning import best_model, learnuplet_uuid
from app.ledger import Ledger, StreamLedger
from app.ledger.events import REGISTRY_KINDS, STREAM_KINDS
from app.ledger.streams import EVENTS
from app.storage.mongo import MongoStore

from . import fill as filling

PASSWORD = "bench-pass"
BATCH = 1000  # stream events whose seals are read together
REPLAY = filling.Sizes(problems=2, algos_per_problem=3, data_per_problem=25, learnuplets_per_algo=4,
                       test_data_per_problem=2, done_per_algo=3)
COMPARED = ("problem", "data", "algo", "chain", "learnuplet", "outbox", filling.REGISTRY_EVENTS, EVENTS)


def new() -> str:
    return str(uuidlib.uuid4())


class Api:
    """The app in-process on one database, through Flask's test client."""

    def __init__(self, uri: str):
        self.app = create_app({"MONGO_URI": uri, "USER_AUTH": filling.BY, "PWD_AUTH": PASSWORD,
                               "SWEEP_SECONDS": 0, "COMPUTE_URL": None,
                               "LEASE_SECONDS": filling.LEASE_SECONDS})
        self.client = self.app.test_client()
        token = base64.b64encode(f"{filling.BY}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.errors: list[str] = []

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> dict[str, Any]:
        # as a client sends it (requests: json.dumps, keys in the caller's order); the test
        # client's json= would use the app's JSON provider, which sorts keys
        response = self.client.open(path, method=method, data=json.dumps(body),
                                    content_type="application/json", headers=self.headers)
        if response.status_code != expect:
            self.errors.append(f"{method} {path}: {response.status_code} "
                               f"{response.get_data(as_text=True)[:300]}")
        return response.get_json(silent=True) or {}

    def close(self) -> None:
        stop_background(self.app)


def ledgers_on(db: Database) -> tuple[Ledger, StreamLedger]:
    """The registry and the streams on `db`, wired as app/__init__.py wires them."""
    store, clock = MongoStore(db), SystemClock()
    streams = StreamLedger(store, STREAM_KINDS, clock, stamp=filling.STAMP,
                           after_expand=schedule_deliveries)
    registry = Ledger(store, REGISTRY_KINDS, clock, stamp=filling.STAMP,
                      after_apply=lambda event: follow_registry(streams, event))
    return registry, streams


def applied_state(db: Database) -> tuple[dict[str, Any], list[str]]:
    """Head against events, applied stream events, and what a roll-forward and a sweep find."""
    registry, streams = ledgers_on(db)
    count = db[filling.REGISTRY_EVENTS].count_documents({})
    events = list(db[EVENTS].find({}))
    unapplied = [event["_id"] for start in range(0, len(events), BATCH)
                 for event in streams.unapplied_among(events[start:start + BATCH])]
    out = {"registry_head": registry.head(), "registry_events": count,
           "stream_events": len(events), "unapplied_stream_events": len(unapplied)}
    out["rolled_forward"] = registry.roll_forward()
    out["swept"] = streams.sweep()
    errors = []
    if out["registry_head"] != count:
        errors.append(f"registry head {out['registry_head']} != {count} registry events")
    if unapplied:
        errors.append(f"{len(unapplied)} stream events unapplied: {unapplied[:3]}")
    if out["rolled_forward"] or out["swept"]:
        errors.append(f"rolled forward {out['rolled_forward']} registry and swept "
                      f"{out['swept']} stream events on a filled database")
    return out, errors


def check(uri_base: str, client: MongoClient, sizes: filling.Sizes = filling.SMALL) -> dict[str, Any]:
    """Fill at `sizes`, check it is consistent, then work on it through the app."""
    dbname = "bench_check"
    client.drop_database(dbname)
    db = client[dbname]
    filled = filling.fill(db, sizes)
    out, errors = applied_state(db)
    out["fill_seconds"] = filled.seconds
    api = Api(f"{uri_base.rstrip('/')}/{dbname}")
    try:
        api.call("GET", "/ready")
        out["claim_and_report"] = claim_and_report(api, db, filled.algos[0]["uuid"])
        out["data_extends_chains"] = extend_chains(api, db, filled, sizes)
    finally:
        api.close()
    after, more = applied_state(db)
    out["after"] = after
    client.drop_database(dbname)
    out["errors"] = errors + api.errors + more
    return out


def claim_and_report(api: Api, db: Database, algo: str) -> dict[str, Any]:
    """Claim and report the chain's todo learnuplet; the next rank must become todo."""
    chain = db.chain.find_one({"_id": algo})
    rank = chain["active"]
    task = db.learnuplet.find_one({"_id": learnuplet_uuid(algo, rank)})
    if task["status"] != "todo":
        api.errors.append(f"chain {algo}: active rank {rank} is {task['status']}, not todo")
    worker = new()
    api.call("POST", f"/worker/learnuplet/{task['uuid']}", {"worker": worker})
    api.call("POST", f"/learndone/{task['uuid']}", {
        "status": "done", "perf": 1.0, "worker": worker,
        "train_perf": {data: 1.0 for data in task["train_data"]},
        "test_perf": {data: 1.0 for data in task["test_data"]}})
    done = api.call("GET", f"/learnuplet/{task['uuid']}")
    after = db.chain.find_one({"_id": algo})
    promoted = db.learnuplet.find_one({"_id": learnuplet_uuid(algo, rank + 1)})
    checks = {"reported_done": done.get("status") == "done" and done.get("worker") == worker,
              "chain_active_next": after["active"] == rank + 1,
              "next_todo": promoted["status"] == "todo",
              "next_from_best": promoted["model_start"] == best_model(after) == task["model_end"]}
    api.errors += [f"claim + learndone on rank {rank} of {algo}: {name} fails"
                   for name, passed in checks.items() if not passed]
    return {"rank": rank, **checks}


def extend_chains(api: Api, db: Database, filled: filling.Filled, sizes: filling.Sizes) -> dict[str, Any]:
    """One batch of new data for the first problem: one new (waiting) learnuplet per chain."""
    problem = filled.problems[0]
    before = {chain["_id"]: chain["length"] for chain in db.chain.find({"problem": problem})}
    body = api.call("POST", "/data", {"uuid": [new() for _ in range(sizes.batch)], "problems": problem},
                    expect=201)
    after = {chain["_id"]: chain["length"] for chain in db.chain.find({"problem": problem})}
    grown = all(after[algo] == length + 1 for algo, length in before.items())
    if body.get("new_learnuplets") != len(before) or not grown:
        api.errors.append(f"POST /data: new_learnuplets {body.get('new_learnuplets')}, chains "
                          f"{before} -> {after}")
    return {"new_learnuplets": body.get("new_learnuplets"), "chains_grown": grown}


# -- the replay ---------------------------------------------------------------------------------

def requests_of(db: Database) -> list[tuple[dict[str, Any], tuple[str, str, dict[str, Any], int]]]:
    """The API request each recorded decision stands for, in commit order (chain_planned
    events follow from their algo's registration)."""
    events = [*db[filling.REGISTRY_EVENTS].find({}),
              *db[EVENTS].find({"kind": {"$ne": "chain_planned"}})]
    events.sort(key=lambda event: event["at"])
    claimers: dict[str, str] = {}
    requests = []
    for event in events:
        kind = event["kind"]
        if kind == "problem_registered":
            request = ("POST", "/problem", event["problem"], 201)
        elif kind == "data_registered":
            request = ("POST", "/data", {"uuid": event["data"], "problems": event["problems"]}, 201)
        elif kind == "algo_registered":
            request = ("POST", "/algo", event["algo"], 201)
        elif kind == "task_claimed":
            claimers[event["uuid"]] = event["worker"]
            request = ("POST", f"/worker/learnuplet/{event['uuid']}", {"worker": event["worker"]}, 200)
        elif kind == "task_reported":
            request = ("POST", f"/learndone/{event['uuid']}",
                       {**event["outcome"], "worker": claimers[event["uuid"]]}, 200)
        else:
            raise ValueError(f"the fill wrote a {kind} event, which the replay does not know")
        requests.append((event, request))
    return requests


def replay(uri_base: str, client: MongoClient, sizes: filling.Sizes = REPLAY) -> dict[str, Any]:
    """Fill one database; send the same history through the API to another; compare them."""
    names = {"filled": "bench_replay_fill", "sent": "bench_replay_api"}
    for name in names.values():
        client.drop_database(name)
    filled_db, sent_db = client[names["filled"]], client[names["sent"]]
    filled = filling.fill(filled_db, sizes)
    requests = requests_of(filled_db)
    api = Api(f"{uri_base.rstrip('/')}/{names['sent']}")
    try:
        clock = filling.Ticking(requests[0][0]["at"] - 1)  # the fill's clock, from its start
        ledgers = api.app.extensions[LEDGER]
        ledgers.registry.clock = ledgers.streams.clock = clock
        for _, (method, path, body, expect) in requests:
            api.call(method, path, body, expect)
    finally:
        api.close()
    differences = compare(filled_db, sent_db)
    for name in names.values():
        client.drop_database(name)
    return {"sizes": filled.sizes, "requests": len(requests), "events": filled.events,
            "stream_events": filled.stream_events, "documents": filled.counts,
            "differences": differences, "errors": api.errors + differences}


def compare(filled: Database, sent: Database) -> list[str]:
    """Every difference between the two databases' events and documents, field order included,
    and between their registry heads."""
    found = []
    for name in COMPARED:
        ours = {doc["_id"]: doc for doc in filled[name].find({})}
        theirs = {doc["_id"]: doc for doc in sent[name].find({})}
        for key in sorted(ours.keys() ^ theirs.keys(), key=str)[:5]:
            found.append(f"{name} {key}: only {'filled' if key in ours else 'sent through the API'}")
        for key in sorted(ours.keys() & theirs.keys(), key=str):
            if _as_stored(ours[key]) != _as_stored(theirs[key]):
                fields = sorted(field for field in ours[key].keys() | theirs[key].keys()
                                if ours[key].get(field) != theirs[key].get(field))
                found.append(f"{name} {key}: " + ("; ".join(
                    f"{field} filled {ours[key].get(field)!r} != sent {theirs[key].get(field)!r}"
                    for field in fields)[:600] or "same fields in another order"))
    heads = [db.ledger.find_one({"_id": "head"}) for db in (filled, sent)]
    if heads[0] != heads[1]:
        found.append(f"registry head: filled {heads[0]} != sent {heads[1]}")
    return found


def _as_stored(document: dict[str, Any]) -> str:
    """The document with its field order, which a dict comparison ignores and BSON keeps."""
    return json.dumps(document, default=repr)


def main(uri_base: str) -> dict[str, Any]:
    client = MongoClient(uri_base, serverSelectionTimeoutMS=10000)
    started = time.monotonic()
    try:
        out = {"consistency": check(uri_base, client), "replay": replay(uri_base, client)}
    finally:
        client.close()
    out["errors"] = out["consistency"]["errors"] + out["replay"]["errors"]
    out["seconds"] = round(time.monotonic() - started, 2)
    return out


def run(argv: list[str]) -> int:
    if argv:
        out = main(argv[0])
    else:
        from .servers import Ferret

        ferret = Ferret()
        try:
            out = main(ferret.start())
        finally:
            ferret.stop()
    print(json.dumps(out))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
