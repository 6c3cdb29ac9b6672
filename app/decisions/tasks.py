"""Claiming, heartbeats, reports and expired leases of tasks.

Every change goes through the ledger; these functions decide it from the current state: the
task itself and, for a learnuplet that finishes, its chain document (both found by uuid).
"""
from __future__ import annotations

from typing import Any

from ..domain.errors import Invalid, NotFound
from ..domain.states import (
    PENDING,
    TODO,
    after_expired_lease,
    check_claim,
    check_holder,
    check_report,
    check_reporter,
)
from ..ledger import Ledger

LEARNUPLET, PREDUPLET = "learnuplet", "preduplet"
TASK_COLLECTIONS = (LEARNUPLET, PREDUPLET)
STALE_BATCH = 1000  # lapsed leases expired per sweep and collection


def _task(ledger: Ledger, collection: str, uuid: str) -> dict[str, Any]:
    task = ledger.store.get(collection, uuid)
    if task is None:
        raise NotFound(f"no {collection} {uuid}")
    return task


def claim(ledger: Ledger, collection: str, uuid: str, worker: str, by: str,
          lease_seconds: float) -> None:
    """todo -> pending for `worker`; exactly one of any number of racing claims wins."""

    def decide() -> dict[str, Any]:
        check_claim(collection, _task(ledger, collection, uuid))
        return {"kind": "task_claimed", "by": by, "collection": collection, "uuid": uuid,
                "worker": worker, "lease_seconds": lease_seconds}

    ledger.commit(decide)


def heartbeat(ledger: Ledger, collection: str, uuid: str, worker: str, by: str,
              lease_seconds: float) -> int:
    """Extend the claim of the worker that holds it; returns the new expiry (from the commit)."""

    def decide() -> dict[str, Any]:
        check_holder(collection, _task(ledger, collection, uuid), worker)
        return {"kind": "lease_extended", "by": by, "collection": collection, "uuid": uuid,
                "worker": worker, "lease_seconds": lease_seconds}

    committed = ledger.commit(decide)
    assert committed is not None  # a heartbeat always commits or refuses
    return committed[1].updates[0][2]["lease_expires"]


def report(ledger: Ledger, collection: str, uuid: str, outcome: dict[str, Any],
           worker: str | None, by: str, check_perf: bool = False) -> None:
    """Finish a task. A learnuplet's chain moves on: its lowest waiting rank becomes todo,
    starting from the algo's best model."""

    def decide() -> dict[str, Any] | None:
        task = _task(ledger, collection, uuid)
        stored = dict(outcome)
        if worker is not None:
            check_reporter(collection, task, worker)  # before the identical-retry answer
            if task["status"] == TODO:
                stored["worker"] = worker  # who gave it up
        if not check_report(collection, task, stored):
            return None
        if check_perf:
            _check_perf_keys(task, outcome)
        event = {"kind": "task_reported", "by": by, "collection": collection, "uuid": uuid,
                 "outcome": stored}
        if collection == LEARNUPLET:
            event.update(_chain_facts(ledger, task))
        return event

    ledger.commit(decide)


def _chain_facts(ledger: Ledger, task: dict[str, Any]) -> dict[str, Any]:
    """What a finishing learnuplet's event records to move its chain on (see ledger/events.py)."""
    chain = ledger.store.get("chain", task["algo"])
    if chain is None or chain["active"] != task["rank"]:
        return {"chain": None}  # not the chain's running learnuplet: nothing to move
    return {"chain": chain, "task": {name: task[name] for name in ("rank", "model_end")}}


def _check_perf_keys(task: dict[str, Any], outcome: dict[str, Any]) -> None:
    errors = [{"field": f"{name}.{key}", "message": f"{key} is not in this learnuplet's {data_field}"}
              for name, data_field in (("train_perf", "train_data"), ("test_perf", "test_data"))
              for key in (outcome.get(name) or {}) if key not in task[data_field]]
    if errors:
        raise Invalid("performance reported for data the learnuplet does not hold", errors=errors)


def expire_leases(ledger: Ledger, max_attempts: int) -> int:
    """Put pending tasks whose lease ran out back to todo (or failed when out of attempts).

    Every server process runs this; the ledger lets exactly one of them expire each lease.
    """
    expired = 0
    for collection in TASK_COLLECTIONS:
        for uuid in ledger.store.stale_leases(collection, ledger.now(), STALE_BATCH):
            expired += _expire_lease(ledger, collection, uuid, max_attempts)
    return expired


def _expire_lease(ledger: Ledger, collection: str, uuid: str, max_attempts: int) -> int:
    def decide() -> dict[str, Any] | None:
        task = _task(ledger, collection, uuid)
        if task["status"] != PENDING or (task.get("lease_expires") or 0) >= ledger.now():
            return None  # reported, extended or expired by someone else meanwhile
        attempts = task.get("attempts", 0) + 1
        status = after_expired_lease(attempts, max_attempts)
        event = {"kind": "lease_expired", "by": "orchestrator", "collection": collection,
                 "uuid": uuid, "worker": task.get("worker"), "attempts": attempts,
                 "status": status,
                 "lapsed_workers": [*task.get("lapsed_workers", []), task.get("worker")],
                 "chain": None}
        if status != TODO and collection == LEARNUPLET:
            event.update(_chain_facts(ledger, task))
        return event

    return 1 if ledger.commit(decide) else 0
