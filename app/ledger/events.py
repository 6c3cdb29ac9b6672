"""The events of the main ledger: each kind declared once (see kinds.EventKind).

An event records a decision compactly (uuids, outcomes, the chain documents it found); the
documents it creates are derived here, deterministically, from the event and from documents
that never change (problems, data), so that applying it again writes exactly the same.
Every timestamp an event writes is its `at`, the commit time.
"""
from __future__ import annotations

from typing import Any

from ..domain.planning import advance_chain, extend_chain, learnuplet_uuid, new_chain
from ..domain.states import PENDING, TODO
from ..storage import Store, Writes
from . import keys
from .commit import seq_of
from .kinds import Event, EventKind, registry

LEARNUPLET, PREDUPLET = "learnuplet", "preduplet"


# --- registrations -----------------------------------------------------------------------------

def _problem_registered(store: Store, event: Event) -> Writes:
    return Writes(inserts={"problem": [{**event["problem"], "timestamp_upload": event["at"]}]})


PROBLEM_REGISTERED = EventKind(
    "problem_registered",
    reads=lambda e: [keys.problem(e["problem"]["uuid"])],
    writes=lambda e: [keys.problem(e["problem"]["uuid"])],
    expand=_problem_registered)


def _algo_registered(store: Store, event: Event) -> Writes:
    algo = event["algo"]
    problem = store.get("problem", algo["problem"])
    # The chain covers the data registered before this event (ledger order = upload order).
    data = store.data_before(algo["problem"], seq_of(event["_id"]))
    chain = new_chain(algo["uuid"], algo["problem"])
    learnuplets, fields = extend_chain(chain, problem, data, event["at"])
    return Writes(inserts={"algo": [{**algo, "timestamp_upload": event["at"]}],
                           "chain": [{**chain, **fields}], "learnuplet": learnuplets})


ALGO_REGISTERED = EventKind(
    "algo_registered",
    # the chain is planned over the problem's data when the event is applied
    reads=lambda e: [keys.algo(e["algo"]["uuid"]), keys.problem(e["algo"]["problem"]),
                     keys.data_of(e["algo"]["problem"])],
    writes=lambda e: [keys.algo(e["algo"]["uuid"]), keys.algos_of(e["algo"]["problem"]),
                      keys.chain(e["algo"]["uuid"])],
    expand=_algo_registered)


def _data_registered(store: Store, event: Event) -> Writes:
    at = event["at"]
    data = [{"uuid": uuid, "problems": event["problems"], "timestamp_upload": at}
            for uuid in event["data"]]
    problems = {doc["uuid"]: doc for doc in store.get_many("problem", event["problems"])}
    writes = Writes(inserts={"data": data, "learnuplet": []})
    for chain in event["chains"]:  # as the decision found them
        learnuplets, fields = extend_chain(chain, problems[chain["problem"]], event["data"], at)
        writes.inserts["learnuplet"] += learnuplets
        if fields:
            writes.updates.append(("chain", chain["uuid"], fields))
    return writes


DATA_REGISTERED = EventKind(
    "data_registered",
    reads=lambda e: [keys.DATA, *map(keys.problem, e["problems"]),
                     *map(keys.algos_of, e["problems"]),
                     *(keys.chain(chain["uuid"]) for chain in e["chains"])],
    writes=lambda e: [keys.DATA, *map(keys.data_of, e["problems"]),
                      *(keys.chain(chain["uuid"]) for chain in e["chains"])],
    expand=_data_registered)


def _prediction_requested(store: Store, event: Event) -> Writes:
    return Writes(inserts={PREDUPLET: [{**event["preduplet"], "timestamp_request": event["at"]}]})


PREDICTION_REQUESTED = EventKind(
    "prediction_requested",
    # the model is the best of the problem's chains, as the decision found them
    reads=lambda e: [keys.task(e["preduplet"]["uuid"]), keys.problem(e["preduplet"]["problem"]),
                     keys.algos_of(e["preduplet"]["problem"]), *map(keys.chain, e["chains"])],
    writes=lambda e: [keys.task(e["preduplet"]["uuid"])],
    expand=_prediction_requested)


# --- tasks -------------------------------------------------------------------------------------

def _task_claimed(store: Store, event: Event) -> Writes:
    return Writes(updates=[(event["collection"], event["uuid"], {
        "status": PENDING, "worker": event["worker"], "timestamp_claimed": event["at"],
        "lease_expires": int(event["at"] + event["lease_seconds"])})])


def _lease_extended(store: Store, event: Event) -> Writes:
    return Writes(updates=[(event["collection"], event["uuid"],
                            {"lease_expires": int(event["at"] + event["lease_seconds"])})])


def _one_task(e: Event) -> list[str]:
    return [keys.task(e["uuid"])]


TASK_CLAIMED = EventKind("task_claimed", reads=_one_task, writes=_one_task, expand=_task_claimed)
LEASE_EXTENDED = EventKind("lease_extended", reads=_one_task, writes=_one_task,
                           expand=_lease_extended)


def _moves_chain(event: Event) -> bool:
    """A learnuplet that finishes (done, failed, out of attempts) moves its chain on."""
    return event.get("chain") is not None


def _promoted(event: Event) -> str | None:
    chain = event["chain"]
    if chain["next_waiting"] is None:
        return None
    return learnuplet_uuid(chain["uuid"], chain["next_waiting"])


def _finishing_reads(e: Event) -> list[str]:
    return [keys.task(e["uuid"]), *([keys.chain(e["chain"]["uuid"])] if _moves_chain(e) else [])]


def _finishing_writes(e: Event) -> list[str]:
    if not _moves_chain(e):
        return [keys.task(e["uuid"])]
    promoted = _promoted(e)
    return [keys.task(e["uuid"]), keys.chain(e["chain"]["uuid"]),
            *([keys.task(promoted)] if promoted else [])]


def _chain_moves(event: Event, done: dict[str, Any] | None) -> list[tuple[str, str, dict[str, Any]]]:
    if not _moves_chain(event):
        return []
    promoted, fields = advance_chain(event["chain"], done)
    updates = [("chain", event["chain"]["uuid"], fields)]
    if promoted:
        updates.append((LEARNUPLET, promoted["uuid"], promoted["fields"]))
    return updates


def _task_reported(store: Store, event: Event) -> Writes:
    finished = {**event["outcome"], "timestamp_done": event["at"], "lease_expires": None}
    done = ({**event["task"], **finished}
            if _moves_chain(event) and event["outcome"]["status"] == "done" else None)
    return Writes(updates=[(event["collection"], event["uuid"], finished),
                           *_chain_moves(event, done)])


TASK_REPORTED = EventKind("task_reported", reads=_finishing_reads, writes=_finishing_writes,
                          expand=_task_reported)


def _lease_expired(store: Store, event: Event) -> Writes:
    if event["status"] == TODO:  # runs again, for whoever claims it next
        fields = {"status": TODO, "worker": None, "timestamp_claimed": None}
    else:
        fields = {"status": event["status"], "timestamp_done": event["at"]}
    fields.update(attempts=event["attempts"], lease_expires=None,
                  lapsed_workers=event["lapsed_workers"])
    return Writes(updates=[(event["collection"], event["uuid"], fields),
                           *_chain_moves(event, None)])


LEASE_EXPIRED = EventKind("lease_expired", reads=_finishing_reads, writes=_finishing_writes,
                          expand=_lease_expired)

KINDS = registry(PROBLEM_REGISTERED, ALGO_REGISTERED, DATA_REGISTERED, PREDICTION_REQUESTED,
                 TASK_CLAIMED, LEASE_EXTENDED, TASK_REPORTED, LEASE_EXPIRED)
