"""Registering problems, algos and data.

A create that finds its uuid already stored returns the stored document when the client
sent the same fields (a retry after a timeout: 200, nothing created) and refuses otherwise.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.errors import Conflict, Invalid
from ..ledger import Ledger, Ledgers, Reading
from ..storage import HIDDEN_FIELDS
from .bounds import check_chain_plan, check_data_upload

LAST = "~"  # sorts after every seq


@dataclass
class Registered:
    """The outcome of a create: the documents, whether they are new, the learnuplets made."""

    documents: list[dict[str, Any]]
    created: bool
    new_learnuplets: int = 0


def shown(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents as a GET returns them."""
    return [{key: value for key, value in document.items() if key not in HIDDEN_FIELDS}
            for document in documents]


def _same_or_conflict(kind: str, stored: dict[str, Any], sent: dict[str, Any]) -> None:
    different = sorted(name for name, value in sent.items() if stored.get(name) != value)
    if different:
        raise Conflict(f"{kind} {stored['uuid']} already exists with different "
                       f"{', '.join(different)}")


def require_problems(ledgers: Ledgers, uuids: list[str], field_name: str) -> list[dict[str, Any]]:
    """The problems, in the order given; a missing one is an invalid request (400).

    A problem whose registration was committed but not applied yet is applied first.
    """
    found = {problem["uuid"]: problem for problem in ledgers.store.get_many("problem", uuids)}
    missing = [uuid for uuid in uuids if uuid not in found]
    if missing and any([ledgers.streams.catch_up(Reading(problem_stream(uuid)))
                        for uuid in missing]):
        return require_problems(ledgers, uuids, field_name)
    if missing:
        raise Invalid(f"unknown problem: {', '.join(missing)}",
                      errors=[{"field": field_name, "message": f"no problem {uuid}"}
                              for uuid in missing])
    return [found[uuid] for uuid in uuids]


def problem_stream(uuid: str) -> str:
    return f"problem:{uuid}"


def create_once(ledger: Ledger, collection: str, uuid: str, sent: dict[str, Any],
                new_event: Callable[[], dict[str, Any]]) -> Registered:
    """Commit the registry event that creates document `uuid`, unless it exists already.

    `sent` holds the client's fields: an existing document with the same ones is returned
    as is (a retry), one with different ones is a conflict. `new_event` may refuse (raise).
    """
    existing: dict[str, Any] = {}

    def decide() -> dict[str, Any] | None:
        stored = ledger.store.get(collection, uuid)
        if stored:
            _same_or_conflict(collection, stored, sent)
            existing["doc"] = stored
            return None
        return new_event()

    return _registered(ledger.commit(decide), collection, existing)


def create_on_stream(ledgers: Ledgers, stream: str, collection: str, uuid: str,
                     sent: dict[str, Any], new_event: Callable[[], dict[str, Any]]) -> Registered:
    """create_once for a document that starts a stream of its own (a problem, a preduplet)."""
    existing: dict[str, Any] = {}

    def decide(reading: Reading) -> dict[str, Any] | None:
        stored = reading.observe(stream, collection, uuid, ledgers.store.get(collection, uuid))
        if stored:
            _same_or_conflict(collection, dict(stored), sent)
            existing["doc"] = stored
            return None
        return new_event()

    return _registered(ledgers.streams.commit(decide), collection, existing)


def _registered(committed: Any, collection: str, existing: dict[str, Any]) -> Registered:
    if committed is None:
        return Registered([existing["doc"]], created=False)
    _, writes = committed
    return Registered(shown(writes.inserts[collection]), created=True,
                      new_learnuplets=len(writes.inserts.get("learnuplet", [])))


def register_problem(ledgers: Ledgers, problem: dict[str, Any], by: str) -> Registered:
    uuid = problem["uuid"]
    return create_on_stream(ledgers, problem_stream(uuid), "problem", uuid, problem, lambda: {
        "kind": "problem_registered", "by": by, "problem": problem})


def register_algo(ledgers: Ledgers, algo: dict[str, Any], by: str,
                  limits: dict[str, int]) -> Registered:
    def new_event() -> dict[str, Any]:
        problem = require_problems(ledgers, [algo["problem"]], "problem")[0]
        check_chain_plan(problem, ledgers.store.data_before(problem["uuid"], LAST), limits)
        return {"kind": "algo_registered", "by": by, "algo": algo}

    return create_once(ledgers.registry, "algo", algo["uuid"], algo, new_event)


def register_data(ledgers: Ledgers, uuids: list[str], problem_uuids: list[str], by: str,
                  limits: dict[str, int]) -> Registered:
    """Register a batch of data for some problems, all or nothing, extending every chain."""
    existing: dict[str, Any] = {}

    def decide() -> dict[str, Any] | None:
        store = ledgers.store
        stored = store.get_many("data", uuids)
        if stored:
            existing["docs"] = _identical_data_or_conflict(stored, uuids, problem_uuids)
            return None
        problems = require_problems(ledgers, problem_uuids, "problems")
        chains = store.chains_of(problem_uuids)
        check_data_upload(problems, chains, uuids, limits)
        return {"kind": "data_registered", "by": by, "data": uuids, "problems": problem_uuids,
                "algos": sorted(chain["uuid"] for chain in chains)}

    committed = ledgers.registry.commit(decide)
    if committed is None:
        return Registered(existing["docs"], created=False)
    _, writes = committed
    return Registered(shown(writes.inserts["data"]), created=True,
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
