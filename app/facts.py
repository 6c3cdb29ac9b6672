"""The events of the ledger and what applying each one writes.

An event records a decision compactly (uuids, outcomes, the chain heads it found); the
documents it creates are derived here, deterministically, from the event and from documents
that never change (problems, data), so that applying it again writes exactly the same.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.database import Database

from .ledger import Writes
from .planning import chain_segment
from .states import PENDING, TODO

TASKS = ("learnuplet", "preduplet")
# Delivery states of an outbox entry (and of the task's `delivery` field); see delivery.py.
PENDING_DELIVERY, SENDING, DELIVERED = "pending", "sending", "delivered"


def expand(db: Database, event: dict[str, Any]) -> Writes:
    """What applying `event` writes."""
    writes = EXPANDERS[event["kind"]](db, event)
    if event.get("deliver"):
        schedule_deliveries(event, writes)
    return writes


def _problem_registered(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(inserts={"problem": [event["problem"]]})


def _algo_registered(db: Database, event: dict[str, Any]) -> Writes:
    algo = event["algo"]
    problem = db.problem.find_one({"_id": algo["problem"]})
    # The chain covers the data registered before this event (ledger order = upload order).
    earlier = db.data.find({"problems": algo["problem"], "seq": {"$lt": f"{event['_id']:012d}"}},
                           {"uuid": 1}, sort=[("seq", 1)])
    learnuplets = chain_segment(problem=problem, algo=algo["uuid"],
                                data=[doc["uuid"] for doc in earlier], first_rank=0,
                                start_model=algo["uuid"], seed=event["seed"], now=event["at"])
    return Writes(inserts={"algo": [algo], "learnuplet": learnuplets})


def _data_registered(db: Database, event: dict[str, Any]) -> Writes:
    data = [{"uuid": uuid, "problems": event["problems"], "timestamp_upload": event["at"]}
            for uuid in event["data"]]
    problems = {doc["uuid"]: doc for doc in db.problem.find({"_id": {"$in": event["problems"]}})}
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
        "status": PENDING, "worker": event["worker"], "timestamp_claimed": event["at"],
        "lease_expires": event.get("lease_expires")})])


def _lease_extended(db: Database, event: dict[str, Any]) -> Writes:
    return Writes(updates=[(event["collection"], event["uuid"],
                            {"lease_expires": event["lease_expires"]})])


def _promotion(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    promoted = event.get("promote")
    if not promoted:
        return []
    return [(event["collection"], promoted["uuid"],
             {"status": TODO, "model_start": promoted["model_start"]})]


def _task_reported(db: Database, event: dict[str, Any]) -> Writes:
    finished = {**event["outcome"], "timestamp_done": event["at"], "lease_expires": None}
    return Writes(updates=[(event["collection"], event["uuid"], finished), *_promotion(event)])


def _lease_expired(db: Database, event: dict[str, Any]) -> Writes:
    if event["status"] == TODO:  # runs again, for whoever claims it next
        fields = {"status": TODO, "worker": None, "timestamp_claimed": None}
    else:
        fields = {"status": event["status"], "timestamp_done": event["at"]}
    fields.update(attempts=event["attempts"], lease_expires=None,
                  lapsed_workers=event["lapsed_workers"])
    return Writes(updates=[(event["collection"], event["uuid"], fields), *_promotion(event)])


def schedule_deliveries(event: dict[str, Any], writes: Writes) -> None:
    """Every task this event makes todo gets an outbox entry, written with the change itself."""
    runnable = [(name, doc["uuid"], doc) for name in TASKS for doc in writes.inserts.get(name, [])
                if doc["status"] == TODO]
    runnable += [(name, uuid, fields) for name, uuid, fields in writes.updates
                 if name in TASKS and fields.get("status") == TODO]
    entries = writes.inserts.setdefault("outbox", [])
    for name, task, fields in runnable:
        fields.update(delivery=PENDING_DELIVERY, delivery_attempts=0, delivery_error=None)
        entries.append({"uuid": f"{event['_id']}:{task}", "collection": name, "task": task,
                        "state": PENDING_DELIVERY, "attempts": 0, "next_attempt": event["at"],
                        "error": None, "worker": None, "created": event["at"]})


EXPANDERS: dict[str, Callable[[Database, dict[str, Any]], Writes]] = {
    "problem_registered": _problem_registered,
    "algo_registered": _algo_registered,
    "data_registered": _data_registered,
    "prediction_requested": _prediction_requested,
    "task_claimed": _task_claimed,
    "lease_extended": _lease_extended,
    "task_reported": _task_reported,
    "lease_expired": _lease_expired,
}
