"""Claiming, heartbeats, reports and expired leases of tasks, and prediction requests.

Every change goes through the ledger; these functions decide it from the current state.
"""
from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

from . import keys
from .errors import Conflict, NotFound, ValidationFailed
from .ledger import Ledger
from .planning import best_model_after
from .registration import Registered, best_done_of, create_once, now, require_problems
from .schemas import LearnDone, PredDone, PredictionCreate
from .states import (
    DONE,
    FAILED,
    PENDING,
    TODO,
    WAITING,
    after_expired_lease,
    check_claim,
    check_holder,
    check_report,
    check_reporter,
)
from .store import HIDDEN

LEARNUPLET, PREDUPLET = "learnuplet", "preduplet"
TASK_COLLECTIONS = (LEARNUPLET, PREDUPLET)


def _task(ledger: Ledger, collection: str, uuid: str) -> dict[str, Any]:
    task = ledger.db[collection].find_one({"_id": uuid}, HIDDEN)
    if task is None:
        raise NotFound(f"no {collection} {uuid}")
    return task


def claim(ledger: Ledger, collection: str, uuid: str, worker: str, by: str,
          lease_seconds: float) -> None:
    """todo -> pending for `worker`; exactly one of any number of racing claims wins."""

    def decide() -> dict[str, Any]:
        check_claim(collection, _task(ledger, collection, uuid))
        at = now()
        return {"kind": "task_claimed", "at": at, "by": by, "collection": collection,
                "reads": [keys.task(uuid)], "writes": [keys.task(uuid)],
                "uuid": uuid, "worker": worker, "lease_expires": int(at + lease_seconds)}

    ledger.commit(decide)


def heartbeat(ledger: Ledger, collection: str, uuid: str, worker: str, by: str,
              lease_seconds: float) -> int:
    """Extend the claim of the worker that holds it; returns the new expiry."""
    lease_expires = int(time.time() + lease_seconds)

    def decide() -> dict[str, Any]:
        check_holder(collection, _task(ledger, collection, uuid), worker)
        return {"kind": "lease_extended", "at": now(), "by": by, "collection": collection,
                "reads": [keys.task(uuid)], "writes": [keys.task(uuid)],
                "uuid": uuid, "lease_expires": lease_expires}

    ledger.commit(decide)
    return lease_expires


def report(ledger: Ledger, collection: str, uuid: str, body: LearnDone | PredDone, by: str) -> None:
    """Finish a task. A learnuplet's chain moves on: its lowest waiting rank becomes todo,
    starting from the algo's best model."""
    outcome = body.outcome()

    def decide() -> dict[str, Any] | None:
        task = _task(ledger, collection, uuid)
        if not check_report(collection, task, outcome):
            return None
        if body.worker is not None:
            check_reporter(collection, task, body.worker)
        event = {"kind": "task_reported", "at": now(), "by": by, "collection": collection,
                 "reads": [keys.task(uuid)], "writes": [keys.task(uuid)],
                 "uuid": uuid, "outcome": outcome}
        if isinstance(body, LearnDone):
            _check_perf_keys(task, body)
            event["promote"] = _next_in_chain(ledger, task, outcome)
            _chain_keys(event, task, done=outcome["status"] == DONE)
        return event

    ledger.commit(decide)


def _chain_keys(event: dict[str, Any], task: dict[str, Any], done: bool) -> None:
    """A learnuplet that finishes moves its chain on; one that is done may also change its
    problem's best model."""
    event["reads"].append(keys.chain(task["algo"]))
    event["writes"].append(keys.chain(task["algo"]))
    if done:
        event["writes"].append(keys.models_of(task["problem"]))
    if event.get("promote"):
        event["writes"].append(keys.task(event["promote"]["uuid"]))


def _check_perf_keys(task: dict[str, Any], body: LearnDone) -> None:
    errors = [{"field": f"{name}.{key}", "message": f"{key} is not in this learnuplet's {data_field}"}
              for name, data_field in (("train_perf", "train_data"), ("test_perf", "test_data"))
              for key in (getattr(body, name) or {}) if key not in task[data_field]]
    if errors:
        raise ValidationFailed("performance reported for data the learnuplet does not hold",
                               errors=errors)


def _next_in_chain(ledger: Ledger, task: dict[str, Any],
                   outcome: dict[str, Any]) -> dict[str, Any] | None:
    waiting = ledger.db.learnuplet.find_one({"algo": task["algo"], "status": WAITING},
                                            {"_id": 0, "uuid": 1}, sort=[("rank", 1)])
    if waiting is None:
        return None
    finished = {**task, **outcome} if outcome["status"] == DONE else None
    model = best_model_after(task["algo"], best_done_of(ledger.db, task["algo"]), finished)
    return {"uuid": waiting["uuid"], "model_start": model}


def expire_leases(ledger: Ledger, max_attempts: int) -> int:
    """Put pending tasks whose lease ran out back to todo (or failed when out of attempts).

    Every server process runs this; the ledger lets exactly one of them expire each lease.
    """
    expired = 0
    for collection in TASK_COLLECTIONS:
        stale = ledger.db[collection].find({"status": PENDING, "lease_expires": {"$lt": now()}},
                                           {"_id": 0, "uuid": 1}, limit=1000)
        for task in list(stale):
            expired += _expire_lease(ledger, collection, task["uuid"], max_attempts)
    return expired


def _expire_lease(ledger: Ledger, collection: str, uuid: str, max_attempts: int) -> int:
    def decide() -> dict[str, Any] | None:
        task = _task(ledger, collection, uuid)
        if task["status"] != PENDING or (task.get("lease_expires") or 0) >= now():
            return None  # reported, extended or expired by someone else meanwhile
        attempts = task.get("attempts", 0) + 1
        status = after_expired_lease(attempts, max_attempts)
        event = {"kind": "lease_expired", "at": now(), "by": "orchestrator",
                 "collection": collection, "reads": [keys.task(uuid)], "writes": [keys.task(uuid)],
                 "uuid": uuid, "worker": task.get("worker"), "attempts": attempts, "status": status,
                 "lapsed_workers": [*task.get("lapsed_workers", []), task.get("worker")],
                 "promote": None}
        if status == FAILED and collection == LEARNUPLET:
            event["promote"] = _next_in_chain(ledger, task, {"status": FAILED})
            _chain_keys(event, task, done=False)
        return event

    return 1 if ledger.commit(decide) else 0


def request_prediction(ledger: Ledger, body: PredictionCreate, by: str) -> Registered:
    """A todo preduplet for `data` with the problem's best model."""
    uuid = body.uuid or str(uuidlib.uuid4())

    def new_event() -> dict[str, Any]:
        problem = require_problems(ledger.db, [body.problem], "problem")[0]
        best = ledger.db.learnuplet.find_one({"problem": body.problem, "status": DONE},
                                             {"_id": 0, "model_end": 1},
                                             sort=[("perf", -1), ("timestamp_done", 1)])
        if best is None:
            raise Conflict(f"problem {body.problem} has no trained model yet: no learnuplet "
                           "of it is done, so there is nothing to predict with")
        return {"kind": "prediction_requested", "at": now(), "by": by,
                "reads": [keys.task(uuid), keys.problem(body.problem), keys.models_of(body.problem)],
                "writes": [keys.task(uuid)], "preduplet": {
            "uuid": uuid, "problem": body.problem, "workflow": problem["workflow"],
            "data": body.data, "model": best["model_end"], "status": TODO, "worker": None,
            "prediction_storage_uuid": None, "timestamp_request": now(),
            "timestamp_claimed": None, "timestamp_done": None, "lease_expires": None,
            "attempts": 0}}

    return create_once(ledger, PREDUPLET, uuid, {"data": body.data, "problem": body.problem},
                       new_event)
