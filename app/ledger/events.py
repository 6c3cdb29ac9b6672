"""Every event kind, declared once (see kinds.EventKind): the registry's and the streams'.

An event records a decision compactly (uuids, outcomes, the chain documents it found); the
documents it creates are derived here, deterministically, from the event and from what never
changes (problems, data, earlier events), so that applying it again writes exactly the same.
Every timestamp an event writes is its `at`, the commit time.
"""
from __future__ import annotations

from typing import Any

from ..domain.planning import advance_chain, extend_chain, learnuplet_uuid, new_chain
from ..domain.states import PENDING, TODO
from ..storage import Store, Writes
from . import keys, running
from .commit import seq_of
from .kinds import Event, EventKind, registry

LEARNUPLET, PREDUPLET = "learnuplet", "preduplet"


# --- the registry: algos and data (one ledger, see commit.py) ---------------------------------
# Their chains are planned or extended by chain events that the registry event's application
# commits on each chain's stream (decisions/chains.py).

def _algo_registered(store: Store, event: Event) -> Writes:
    return Writes(inserts={"algo": [{**event["algo"], "timestamp_upload": event["at"]}]})


ALGO_REGISTERED = EventKind(
    "algo_registered",
    # its chain covers the problem's data registered before it
    reads=lambda e: [keys.algo(e["algo"]["uuid"]), keys.problem(e["algo"]["problem"]),
                     keys.data_of(e["algo"]["problem"])],
    writes=lambda e: [keys.algo(e["algo"]["uuid"]), keys.algos_of(e["algo"]["problem"]),
                      keys.chain(e["algo"]["uuid"])],
    expand=_algo_registered)


def _data_registered(store: Store, event: Event) -> Writes:
    return Writes(inserts={"data": [
        {"uuid": uuid, "problems": event["problems"], "timestamp_upload": event["at"]}
        for uuid in event["data"]]})


DATA_REGISTERED = EventKind(
    "data_registered",
    # it extends the chain of every algo its problems had (`algos`)
    reads=lambda e: [keys.DATA, *map(keys.problem, e["problems"]),
                     *map(keys.algos_of, e["problems"]), *map(keys.chain, e["algos"])],
    writes=lambda e: [keys.DATA, *map(keys.data_of, e["problems"]), *map(keys.chain, e["algos"])],
    expand=_data_registered)


# --- streams: one aggregate each (streams.py) --------------------------------------------------

def _problem_registered(store: Store, event: Event) -> Writes:
    return Writes(inserts={"problem": [{**event["problem"], "timestamp_upload": event["at"]}]})


PROBLEM_REGISTERED = EventKind(
    "problem_registered",
    reads=lambda e: [keys.problem(e["problem"]["uuid"])],
    writes=lambda e: [keys.problem(e["problem"]["uuid"])],
    expand=_problem_registered)


def _prediction_requested(store: Store, event: Event) -> Writes:
    return Writes(inserts={PREDUPLET: [{**event["preduplet"], "timestamp_request": event["at"]}]})


PREDICTION_REQUESTED = EventKind(
    "prediction_requested",
    # the model is the best of the problem's chains, as the decision found them
    reads=lambda e: [keys.task(e["preduplet"]["uuid"]), keys.problem(e["preduplet"]["problem"]),
                     keys.algos_of(e["preduplet"]["problem"]), *map(keys.chain, e["chains"])],
    writes=lambda e: [keys.task(e["preduplet"]["uuid"])],
    expand=_prediction_requested)


def _registered_data(store: Store, event: Event) -> list[str]:
    """The data a chain event plans over: registered before its registry event."""
    registry = event["registry"]
    if event["kind"] == "chain_planned":
        return store.data_before(event["problem"], seq_of(registry))
    return store.event("events", registry)["data"]


def _started(learnuplets: list[dict[str, Any]], fields: dict[str, Any]) -> dict[str, Any]:
    """The running-learnuplet fields of a chain whose plan starts a learnuplet (running.py)."""
    if fields.get("active") is None:
        return {}
    return running.started(next(task for task in learnuplets if task["rank"] == fields["active"]))


def _chain_planned(store: Store, event: Event) -> Writes:
    chain = {**new_chain(event["algo"], event["problem"]), **running.stopped()}
    learnuplets, fields = extend_chain(chain, store.get("problem", event["problem"]),
                                       _registered_data(store, event), event["at"])
    # the learnuplets first, the chain document last (running.py)
    return Writes(inserts={LEARNUPLET: learnuplets, "chain": [
        {**chain, **fields, **_started(learnuplets, fields), "registry": event["registry"]}]})


CHAIN_PLANNED = EventKind(
    "chain_planned",
    reads=lambda e: [keys.chain(e["algo"]), keys.problem(e["problem"]), keys.data_of(e["problem"])],
    writes=lambda e: [keys.chain(e["algo"]), keys.algos_of(e["problem"])],
    expand=_chain_planned)


def _chain_extended(store: Store, event: Event) -> Writes:
    chain = event["chain"]  # as the decision found it
    learnuplets, fields = extend_chain(chain, store.get("problem", chain["problem"]),
                                       _registered_data(store, event), event["at"])
    return Writes(inserts={LEARNUPLET: learnuplets}, updates=[
        ("chain", chain["uuid"], {**fields, **_started(learnuplets, fields),
                                  "registry": event["registry"]})])


def _active(chain: Event) -> list[str]:
    """The running learnuplet of a chain, which a chain decision reads for its position."""
    rank = chain["active"]
    return [] if rank is None else [keys.task(learnuplet_uuid(chain["uuid"], rank))]


CHAIN_EXTENDED = EventKind(
    "chain_extended",
    reads=lambda e: [keys.chain(e["chain"]["uuid"]), *_active(e["chain"]),
                     keys.problem(e["chain"]["problem"])],
    writes=lambda e: [keys.chain(e["chain"]["uuid"])],
    expand=_chain_extended)


# --- tasks -------------------------------------------------------------------------------------

def _task(event: Event, fields: dict[str, Any], state: dict[str, Any]) -> Writes:
    """The task's new fields; a learnuplet's chain document keeps its `state` (running.py),
    written last."""
    updates = [(event["collection"], event["uuid"], fields)]
    if event["collection"] == LEARNUPLET:
        updates.append(("chain", event["algo"], running.fields(**state)))
    return Writes(updates=updates)


def _task_claimed(store: Store, event: Event) -> Writes:
    lease = int(event["at"] + event["lease_seconds"])
    return _task(event, {"status": PENDING, "worker": event["worker"],
                         "timestamp_claimed": event["at"], "lease_expires": lease},
                 {"status": PENDING, "worker": event["worker"], "lease_expires": lease})


def _lease_extended(store: Store, event: Event) -> Writes:
    lease = int(event["at"] + event["lease_seconds"])
    return _task(event, {"lease_expires": lease}, {"lease_expires": lease})


def _task_writes(e: Event) -> list[str]:
    """A task event writes the task, and a learnuplet's its chain document."""
    chain = [keys.chain(e["algo"])] if e["collection"] == LEARNUPLET else []
    return [keys.task(e["uuid"]), *chain]


TASK_CLAIMED = EventKind("task_claimed", reads=lambda e: _task_reads(e), writes=_task_writes,
                         expand=_task_claimed)
LEASE_EXTENDED = EventKind("lease_extended", reads=lambda e: _task_reads(e), writes=_task_writes,
                           expand=_lease_extended)


def _moves_chain(event: Event) -> bool:
    """A learnuplet that finishes (done, failed, out of attempts) moves its chain on."""
    return event.get("chain") is not None


def _promoted(event: Event) -> str | None:
    chain = event["chain"]
    if chain["next_waiting"] is None:
        return None
    return learnuplet_uuid(chain["uuid"], chain["next_waiting"])


def _task_reads(e: Event) -> list[str]:
    """A task decision reads the task, and a learnuplet's its chain document (its position)."""
    chain = [keys.chain(e["algo"])] if e["collection"] == LEARNUPLET else []
    return [keys.task(e["uuid"]), *chain]


def _finishing_writes(e: Event) -> list[str]:
    if not _moves_chain(e):
        return _task_writes(e)
    promoted = _promoted(e)
    return [keys.task(e["uuid"]), keys.chain(e["chain"]["uuid"]),
            *([keys.task(promoted)] if promoted else [])]


def _finishing(event: Event, fields: dict[str, Any], done: dict[str, Any] | None,
               state: dict[str, Any]) -> Writes:
    """A task finishes or runs again (`fields`, and `state` for its chain document); a
    learnuplet that finishes moves its chain on (`done`: it, if it is done).

    The learnuplets are written first, the chain document last: a decision that reads the
    chain document sees the event once it is applied whole. The chain document also names the
    learnuplets the event wrote (`wrote`): a decision that read one of them older than that
    sees the event half applied (streams.Reading.complete), should a late write have undone it.
    """
    if not _moves_chain(event):
        return _task(event, fields, state)
    promoted, chain_fields = advance_chain(event["chain"], done)
    moved = [(LEARNUPLET, event["uuid"], fields)]
    if promoted:
        moved.append((LEARNUPLET, promoted["uuid"], promoted["fields"]))
        chain_fields.update(running.promoted(promoted["uuid"]))
    else:
        chain_fields.update(running.stopped())
    chain_fields["wrote"] = {uuid: event["n"] for _, uuid, _ in moved}
    return Writes(updates=[*moved, ("chain", event["chain"]["uuid"], chain_fields)])


def _task_reported(store: Store, event: Event) -> Writes:
    finished = {**event["outcome"], "timestamp_done": event["at"], "lease_expires": None}
    done = ({**event["task"], **finished}
            if _moves_chain(event) and event["outcome"]["status"] == "done" else None)
    return _finishing(event, finished, done, {"status": event["outcome"]["status"],
                                              "lease_expires": None})


TASK_REPORTED = EventKind("task_reported", reads=lambda e: _task_reads(e), writes=_finishing_writes,
                          expand=_task_reported)


def _lease_expired(store: Store, event: Event) -> Writes:
    if event["status"] == TODO:  # runs again, for whoever claims it next
        fields = {"status": TODO, "worker": None, "timestamp_claimed": None}
    else:
        fields = {"status": event["status"], "timestamp_done": event["at"]}
    fields.update(attempts=event["attempts"], lease_expires=None,
                  lapsed_workers=event["lapsed_workers"])
    return _finishing(event, fields, None, {
        "status": fields["status"], "worker": fields.get("worker"), "lease_expires": None,
        "attempts": event["attempts"], "lapsed_workers": event["lapsed_workers"]})


LEASE_EXPIRED = EventKind("lease_expired", reads=lambda e: _task_reads(e), writes=_finishing_writes,
                          expand=_lease_expired)

REGISTRY_KINDS = registry(ALGO_REGISTERED, DATA_REGISTERED)
STREAM_KINDS = registry(PROBLEM_REGISTERED, PREDICTION_REQUESTED, CHAIN_PLANNED, CHAIN_EXTENDED,
                        TASK_CLAIMED, LEASE_EXTENDED, TASK_REPORTED, LEASE_EXPIRED)
