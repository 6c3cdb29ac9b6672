"""Registering problems, algos and data: decide from the current state, commit to the ledger.

A create that finds its uuid already stored returns the stored document when the client
sent the same fields (a retry after a timeout: 200, nothing created) and refuses otherwise.
"""
from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from . import keys
from .errors import Conflict, ValidationFailed
from .ledger import Ledger
from .planning import best_model_after
from .schemas import AlgoCreate, DataCreate, ProblemCreate
from .states import ACTIVE, DONE
from .store import HIDDEN


@dataclass
class Registered:
    """The outcome of a create: the documents, whether they are new, the learnuplets made."""

    documents: list[dict[str, Any]]
    created: bool
    new_learnuplets: int = 0


def now() -> int:
    return int(time.time())


def stored_documents(event: dict[str, Any], documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents as a GET returns them after this event."""
    return [{**document, "version": event["_id"]} for document in documents]


def _same_or_conflict(kind: str, stored: dict[str, Any], sent: dict[str, Any]) -> None:
    different = sorted(name for name, value in sent.items() if stored.get(name) != value)
    if different:
        raise Conflict(f"{kind} {stored['uuid']} already exists with different "
                       f"{', '.join(different)}")


def require_problems(db: Database, uuids: list[str], field_name: str) -> list[dict[str, Any]]:
    problems = list(db.problem.find({"_id": {"$in": uuids}}, HIDDEN))
    missing = sorted(set(uuids) - {problem["uuid"] for problem in problems})
    if missing:
        raise ValidationFailed(f"unknown problem: {', '.join(missing)}",
                               errors=[{"field": field_name, "message": f"no problem {uuid}"}
                                       for uuid in missing])
    return problems


def create_once(ledger: Ledger, collection: str, uuid: str, sent: dict[str, Any],
                new_event: Callable[[], dict[str, Any]]) -> Registered:
    """Commit the event that creates document `uuid`, unless it exists already.

    `sent` holds the client's fields: an existing document with the same ones is returned
    as is (a retry), one with different ones is a conflict. `new_event` may refuse (raise).
    """
    existing: dict[str, Any] = {}

    def decide() -> dict[str, Any] | None:
        stored = ledger.db[collection].find_one({"_id": uuid}, HIDDEN)
        if stored:
            _same_or_conflict(collection, stored, sent)
            existing["doc"] = stored
            return None
        return new_event()

    committed = ledger.commit(decide)
    if committed is None:
        return Registered([existing["doc"]], created=False)
    event, writes = committed
    return Registered(stored_documents(event, writes.inserts[collection]), created=True,
                      new_learnuplets=len(writes.inserts.get("learnuplet", [])))


def register_problem(ledger: Ledger, body: ProblemCreate, by: str) -> Registered:
    sent = body.model_dump()
    return create_once(ledger, "problem", body.uuid, sent, lambda: {
        "kind": "problem_registered", "at": now(), "by": by,
        "reads": [keys.problem(body.uuid)], "writes": [keys.problem(body.uuid)],
        "problem": {**sent, "timestamp_upload": now()}})


def register_algo(ledger: Ledger, body: AlgoCreate, by: str) -> Registered:
    sent = body.model_dump()

    def new_event() -> dict[str, Any]:
        require_problems(ledger.db, [body.problem], "problem")
        return {"kind": "algo_registered", "at": now(), "by": by, "seed": str(uuidlib.uuid4()),
                # the chain is planned over the problem's data when the event is applied
                "reads": [keys.algo(body.uuid), keys.problem(body.problem), keys.data_of(body.problem)],
                "writes": [keys.algo(body.uuid), keys.algos_of(body.problem), keys.chain(body.uuid)],
                "algo": {**sent, "timestamp_upload": now()}}

    return create_once(ledger, "algo", body.uuid, sent, new_event)


def register_data(ledger: Ledger, body: DataCreate, by: str) -> Registered:
    uuids, problem_uuids = body.uuids(), body.problem_uuids()
    existing: dict[str, Any] = {}

    def decide() -> dict[str, Any] | None:
        db = ledger.db
        stored = list(db.data.find({"_id": {"$in": uuids}}, HIDDEN))
        if stored:
            existing["docs"] = _identical_data_or_conflict(stored, uuids, problem_uuids)
            return None
        require_problems(db, problem_uuids, "problems")
        chains = chain_heads(db, problem_uuids)
        chain_keys = [keys.chain(head["algo"]) for head in chains]
        return {"kind": "data_registered", "at": now(), "by": by, "seed": str(uuidlib.uuid4()),
                "reads": [keys.DATA, *map(keys.problem, problem_uuids),
                          *map(keys.algos_of, problem_uuids), *chain_keys],
                "writes": [keys.DATA, *map(keys.data_of, problem_uuids), *chain_keys],
                "data": uuids, "problems": problem_uuids, "chains": chains}

    committed = ledger.commit(decide)
    if committed is None:
        return Registered(existing["docs"], created=False)
    event, writes = committed
    return Registered(stored_documents(event, writes.inserts["data"]), created=True,
                      new_learnuplets=len(writes.inserts["learnuplet"]))


def _identical_data_or_conflict(stored: list[dict[str, Any]], uuids: list[str],
                                problems: list[str]) -> list[dict[str, Any]]:
    # A batch is all or nothing: a retry must name exactly the stored uuids and problems.
    if len(stored) != len(uuids):
        known = sorted(doc["uuid"] for doc in stored)
        raise Conflict(f"{len(known)} of the {len(uuids)} data uuids already exist "
                       f"({', '.join(known[:10])}{'…' if len(known) > 10 else ''}); "
                       "a batch is registered whole or not at all, nothing was stored")
    for doc in stored:
        if sorted(doc["problems"]) != sorted(problems):
            raise Conflict(f"data {doc['uuid']} already exists with different problems")
    order = {uuid: index for index, uuid in enumerate(uuids)}
    return sorted(stored, key=lambda doc: order[doc["uuid"]])


def chain_heads(db: Database, problems: list[str]) -> list[dict[str, Any]]:
    """For every algo of these problems: where new learnuplets continue its chain.

    A chain with nothing waiting, todo or pending restarts at once from its best model;
    a running one gets new learnuplets that wait for their turn.
    """
    algos = list(db.algo.find({"problem": {"$in": problems}}, {"_id": 0, "uuid": 1, "problem": 1}))
    if not algos:
        return []
    running = set(db.learnuplet.distinct("algo", {"problem": {"$in": problems},
                                                  "status": {"$in": list(ACTIVE)}}))
    lengths = {row["_id"]: row["length"] for row in db.learnuplet.aggregate([
        {"$match": {"problem": {"$in": problems}}},
        {"$group": {"_id": "$algo", "length": {"$sum": 1}}}])}
    return [{"algo": algo["uuid"], "problem": algo["problem"],
             "first_rank": lengths.get(algo["uuid"], 0),
             "start_model": None if algo["uuid"] in running else best_model_of(db, algo["uuid"])}
            for algo in algos]


def best_model_of(db: Database, algo: str) -> str:
    """The model_end of the algo's best done learnuplet, or the algo itself."""
    return best_model_after(algo, best_done_of(db, algo))


def best_done_of(db: Database, algo: str) -> dict[str, Any] | None:
    return db.learnuplet.find_one({"algo": algo, "status": DONE},
                                  {"_id": 0, "model_end": 1, "perf": 1, "rank": 1},
                                  sort=[("perf", -1), ("rank", 1)])
