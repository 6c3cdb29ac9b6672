"""Claiming, heartbeats, reports and expired leases of tasks.

Each is decided on the task's stream: a learnuplet's is its algo's chain (the decision reads
the learnuplet and the chain document, both by uuid), a preduplet's is its own.
"""
from __future__ import annotations

from typing import Any

from ..domain.errors import Invalid, NotFound, TransitionRefused
from ..domain.permissions import Account, check_task_holder
from ..domain.states import (
    FAILED,
    PENDING,
    TODO,
    after_expired_lease,
    check_claim,
    check_holder,
    check_report,
    check_reporter,
)
from ..ledger import Ledgers, Reading, running
from .chains import chain_stream

LEARNUPLET, PREDUPLET = "learnuplet", "preduplet"
TASK_COLLECTIONS = (LEARNUPLET, PREDUPLET)
STALE_BATCH = 1000  # lapsed leases expired per sweep and collection


def read_task(ledgers: Ledgers, reading: Reading, collection: str, uuid: str
              ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The task and, for a learnuplet, its chain document; 404 if the task does not exist.

    A running learnuplet is read from its chain document alone (ledger/running.py): one
    lookup in a small collection. Any other is read with its chain document, by uuid."""
    store = ledgers.store
    if collection == LEARNUPLET:
        chain = store.chain_running(uuid)
        task = running.task_of(chain) if chain is not None else None
        if task is not None:
            reading.observe(chain_stream(task["algo"]), "chain", task["algo"], chain)
            return task, chain
    task = store.get(collection, uuid)
    if task is None:
        raise NotFound(f"no {collection} {uuid}")
    if collection == PREDUPLET:
        reading.observe(f"preduplet:{uuid}", collection, uuid, task)
        return task, None
    stream = chain_stream(task["algo"])
    reading.observe(stream, collection, uuid, task)
    chain = reading.observe(stream, "chain", task["algo"], store.get("chain", task["algo"]))
    return task, chain


def _about(collection: str, task: dict[str, Any]) -> dict[str, Any]:
    """What every task event names: the task, and a learnuplet's algo (its stream)."""
    about = {"collection": collection, "uuid": task["uuid"]}
    if collection == LEARNUPLET:
        about["algo"] = task["algo"]
    return about


def claim(ledgers: Ledgers, collection: str, uuid: str, worker: str, by: str,
          lease_seconds: float) -> None:
    """todo -> pending for `worker`; exactly one of any number of racing claims wins."""

    def decide(reading: Reading) -> dict[str, Any]:
        task, _ = read_task(ledgers, reading, collection, uuid)
        check_claim(collection, task)
        return {"kind": "task_claimed", "by": by, **_about(collection, task), "worker": worker,
                "lease_seconds": lease_seconds}

    ledgers.streams.commit(decide, lost=lambda rival: _claimed_first(collection, uuid, rival))


# Events that, committed on a todo task, leave it unclaimable.
TAKES_A_TODO_TASK = {"task_claimed": PENDING, "task_reported": FAILED}


def _claimed_first(collection: str, uuid: str, rival: dict[str, Any]) -> TransitionRefused | None:
    """A claim that lost the race to a claim (or a failure report) of the same task is refused
    at once: that event is committed, so the task is no longer todo."""
    status = TAKES_A_TODO_TASK.get(rival["kind"])
    if rival.get("uuid") != uuid or status is None:
        return None
    holder = f" by worker {rival['worker']}" if rival.get("worker") else ""
    return TransitionRefused(f"{collection} {uuid} is {status}{holder}; only a todo {collection} "
                             "can be claimed", status)


def heartbeat(ledgers: Ledgers, collection: str, uuid: str, worker: str, by: str,
              lease_seconds: float) -> int:
    """Extend the claim of the worker that holds it; returns the new expiry (from the commit)."""

    def decide(reading: Reading) -> dict[str, Any]:
        task, _ = read_task(ledgers, reading, collection, uuid)
        check_holder(collection, task, worker)
        return {"kind": "lease_extended", "by": by, **_about(collection, task), "worker": worker,
                "lease_seconds": lease_seconds}

    committed = ledgers.streams.commit(decide)
    assert committed is not None  # a heartbeat always commits or refuses
    return committed[1].updates[0][2]["lease_expires"]


def report(ledgers: Ledgers, collection: str, uuid: str, outcome: dict[str, Any],
           worker: str | None, by: str, check_perf: bool = False,
           account: Account | None = None) -> None:
    """Finish a task. A learnuplet's chain moves on: its lowest waiting rank becomes todo,
    starting from the algo's best model.

    A report that names no `worker` acts as the task's holder: an `account` that lists its
    workers may send it only for a task one of them holds (403 otherwise).
    """

    def decide(reading: Reading) -> dict[str, Any] | None:
        task, chain = read_task(ledgers, reading, collection, uuid)
        if worker is None and account is not None:
            check_task_holder(account, task)
        stored = dict(outcome)
        if worker is not None:
            check_reporter(collection, task, worker)  # before the identical-retry answer
            if task["status"] == TODO:
                stored["worker"] = worker  # who gave it up
        if not check_report(collection, task, stored):
            return None
        if check_perf:
            _check_perf_keys(task, outcome)
        return {"kind": "task_reported", "by": by, **_about(collection, task), "outcome": stored,
                **_chain_facts(task, chain)}

    ledgers.streams.commit(decide)


def _chain_facts(task: dict[str, Any], chain: dict[str, Any] | None) -> dict[str, Any]:
    """What a finishing learnuplet's event records to move its chain on (see ledger/events.py)."""
    if chain is None or chain["active"] != task["rank"]:
        return {"chain": None}  # a preduplet, or not the chain's running learnuplet
    return {"chain": running.summary(chain),
            "task": {name: task[name] for name in ("rank", "model_end")}}


def _check_perf_keys(task: dict[str, Any], outcome: dict[str, Any]) -> None:
    errors = [{"field": f"{name}.{key}", "message": f"{key} is not in this learnuplet's {data_field}"}
              for name, data_field in (("train_perf", "train_data"), ("test_perf", "test_data"))
              for key in (outcome.get(name) or {}) if key not in task[data_field]]
    if errors:
        raise Invalid("performance reported for data the learnuplet does not hold", errors=errors)


def expire_leases(ledgers: Ledgers, max_attempts: int) -> int:
    """Put pending tasks whose lease ran out back to todo (or failed when out of attempts).

    Every server process runs this; the streams let exactly one of them expire each lease.
    """
    store, now = ledgers.store, ledgers.now()
    stale = {LEARNUPLET: store.stale_running(now, STALE_BATCH),  # on their chain documents
             PREDUPLET: store.stale_leases(PREDUPLET, now, STALE_BATCH)}
    return sum(_expire_lease(ledgers, collection, uuid, max_attempts)
               for collection, uuids in stale.items() for uuid in uuids)


def _expire_lease(ledgers: Ledgers, collection: str, uuid: str, max_attempts: int) -> int:
    def decide(reading: Reading) -> dict[str, Any] | None:
        task, chain = read_task(ledgers, reading, collection, uuid)
        if task["status"] != PENDING or (task.get("lease_expires") or 0) >= ledgers.now():
            return None  # reported, extended or expired by someone else meanwhile
        attempts = task.get("attempts", 0) + 1
        status = after_expired_lease(attempts, max_attempts)
        event = {"kind": "lease_expired", "by": "orchestrator", **_about(collection, task),
                 "worker": task.get("worker"), "attempts": attempts, "status": status,
                 "lapsed_workers": [*task.get("lapsed_workers", []), task.get("worker")],
                 "chain": None}
        if status != TODO:
            event.update(_chain_facts(task, chain))
        return event

    return 1 if ledgers.streams.commit(decide) else 0
