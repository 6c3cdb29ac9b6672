"""The events of the ledger and what applying each one writes.

An event records a decision compactly (uuids, outcomes, the chain heads it found); the
documents it creates are derived here, deterministically, from the event and from documents
that never change (problems, data), so that applying it again writes exactly the same.
"""
from __future__ import annotations

from typing import Any, Callable

from pymongo.database import Database

from .ledger import Writes
from .planning import chain_segment
from .states import PENDING, TODO


def expand(db: Database, event: dict[str, Any]) -> Writes:
    """What applying `event` writes."""
    return EXPANDERS[event["kind"]](db, event)


def _problem_registered(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(inserts={"problem": [event["problem"]]})


def _algo_registered(db: Database, event: dict[str, Any]) -> Writes:
    algo = event["algo"]
    problem = db.problem.find_one({"uuid": algo["problem"]})
    # The chain covers the data registered before this event (ledger order = upload order).
    earlier = db.data.find({"problems": algo["problem"], "_id": {"$lt": f"{event['_id']:012d}"}},
                           {"uuid": 1}, sort=[("_id", 1)])
    learnuplets = chain_segment(problem=problem, algo=algo["uuid"],
                                data=[doc["uuid"] for doc in earlier], first_rank=0,
                                start_model=algo["uuid"], seed=event["seed"], now=event["at"])
    return Writes(inserts={"algo": [algo], "learnuplet": learnuplets})


def _data_registered(db: Database, event: dict[str, Any]) -> Writes:
    data = [{"uuid": uuid, "problems": event["problems"], "timestamp_upload": event["at"]}
            for uuid in event["data"]]
    problems = {doc["uuid"]: doc for doc in db.problem.find({"uuid": {"$in": event["problems"]}})}
    learnuplets = []
    for chain in event["chains"]:
        learnuplets += chain_segment(problem=problems[chain["problem"]], algo=chain["algo"],
                                     data=event["data"], first_rank=chain["first_rank"],
                                     start_model=chain["start_model"], seed=event["seed"],
                                     now=event["at"])
    return Writes(inserts={"data": data, "learnuplet": learnuplets})


def _prediction_requested(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(inserts={"preduplet": [event["preduplet"]]})


def _task_claimed(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(updates=[(event["collection"], event["uuid"], {
        "status": PENDING, "worker": event["worker"], "timestamp_claimed": event["at"]})])


def _task_reported(db: Database, event: dict[str, Any]) -> Writes:
    updates = [(event["collection"], event["uuid"], {**event["outcome"], "timestamp_done": event["at"]})]
    if event.get("promote"):
        promoted = event["promote"]
        updates.append((event["collection"], promoted["uuid"],
                        {"status": TODO, "model_start": promoted["model_start"]}))
    return Writes(updates=updates)


EXPANDERS: dict[str, Callable[[Database, dict[str, Any]], Writes]] = {
    "problem_registered": _problem_registered,
    "algo_registered": _algo_registered,
    "data_registered": _data_registered,
    "prediction_requested": _prediction_requested,
    "task_claimed": _task_claimed,
    "task_reported": _task_reported,
}
