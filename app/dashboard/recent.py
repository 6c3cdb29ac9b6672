"""Recent changes: ONE function, `recent_changes`, that the page calls.

A change is an event of the ledger, described for a reader, as soon as it is committed (the
audit chain, GET /events, lists the same events once sealed, with their hashes, seconds later;
docs/audit.md): the streams' events of the last WINDOW_MINUTES minutes (problems, chains,
claims, reports, lapsed leases, predictions), found by their commit minute, and the newest
registry events (algos and data), by number. Both are equalities: an index on MongoDB, and on
FerretDB a filter its database applies. The newest *documents* by a timestamp were the first
idea, but FerretDB sorts in its own process after decoding the whole collection: 1.8-2.1 s for
the learnuplets at 10,000 (docs/dashboard.md).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..ledger.streams import EVENTS, MINUTE_MS
from ..storage import Store

WINDOW_MINUTES = 10  # how far back the streams' events are read
REGISTRATIONS = 10  # registry events shown (the newest, whatever their age)
PER_MINUTE = 500  # events read per minute at most (a busy minute shows its newest)
REPORTS = ("task_reported", "lease_expired")


def recent_changes(store: Store, now: int, limit: int, registry: str, registry_head: int
                   ) -> list[dict[str, Any]]:
    """The `limit` newest changes, newest first (see describe() for their fields)."""
    numbers = range(registry_head, max(registry_head - REGISTRATIONS, 0), -1)
    registered = [store.event(registry, number) for number in numbers]
    events = [*recent_events(store, now, limit), *(event for event in registered if event)]
    events.sort(key=_ms, reverse=True)
    return [describe(event) for event in events[:limit]]


def recent_events(store: Store, now: int, limit: int, kinds: Iterable[str] | None = None
                  ) -> list[dict[str, Any]]:
    """Up to `limit` stream events of the last WINDOW_MINUTES minutes (of `kinds` only, if
    given), newest first: a minute at a time, back from now, until there are enough."""
    wanted = set(kinds) if kinds else None
    found: list[dict[str, Any]] = []
    minute = now * 1000 // MINUTE_MS
    for back in range(WINDOW_MINUTES):
        for event in store.latest_events(EVENTS, minute - back, PER_MINUTE):
            if wanted is None or event["kind"] in wanted:
                found.append(event)
        if len(found) >= limit:
            break
    return found[:limit]


def _ms(event: Mapping[str, Any]) -> int:
    return event.get("ms") or event["at"] * 1000  # registry events carry `at` only


def describe(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as a row: when, kind, what happened, by whom, and the documents it concerns."""
    row: dict[str, Any] = {"at": _ms(event) / 1000, "kind": event["kind"], "by": event.get("by"),
                           "problem": None, "algo": None, "name": None, "task": None,
                           "collection": event.get("collection"), "worker": event.get("worker"),
                           "status": None, "perf": None, "count": None, "what": None}
    row.update(DESCRIBE.get(event["kind"], lambda event: {})(event))
    return row


def _reported(event: Mapping[str, Any]) -> dict[str, Any]:
    outcome, chain = event.get("outcome") or {}, event.get("chain") or {}
    return {"task": event["uuid"], "algo": event.get("algo"), "problem": chain.get("problem"),
            "status": outcome.get("status"), "perf": outcome.get("perf"),
            # a report names its worker when it gives up a todo task; else the holder reports
            "worker": outcome.get("worker") or chain.get("running_worker"),
            "what": outcome.get("status")}


def _lapsed(event: Mapping[str, Any]) -> dict[str, Any]:
    again = event.get("status") == "todo"
    return {"task": event["uuid"], "algo": event.get("algo"),
            "problem": (event.get("chain") or {}).get("problem"), "status": event.get("status"),
            "what": "lease lapsed, runs again" if again else "lease lapsed, out of attempts"}


DESCRIBE = {
    "problem_registered": lambda e: {"what": "problem registered", "problem": e["problem"]["uuid"]},
    "algo_registered": lambda e: {"what": "algo registered", "algo": e["algo"]["uuid"],
                                  "name": e["algo"].get("name"), "problem": e["algo"]["problem"]},
    "data_registered": lambda e: {"what": "data registered", "count": len(e["data"]),
                                  "problem": (e.get("problems") or [None])[0]},
    "chain_planned": lambda e: {"what": "chain planned", "algo": e["algo"],
                                "problem": e["problem"]},
    "chain_extended": lambda e: {"what": "chain extended", "algo": e["chain"]["uuid"],
                                 "problem": e["chain"]["problem"]},
    "prediction_requested": lambda e: {"what": "prediction requested",
                                       "task": e["preduplet"]["uuid"], "collection": "preduplet",
                                       "problem": e["preduplet"]["problem"]},
    "task_claimed": lambda e: {"what": "claimed", "task": e["uuid"], "algo": e.get("algo")},
    "lease_extended": lambda e: {"what": "lease extended", "task": e["uuid"],
                                 "algo": e.get("algo")},
    "task_reported": _reported,
    "lease_expired": _lapsed,
}
