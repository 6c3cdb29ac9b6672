"""The workers page: who holds which pending task until when, and the newest reports.

Pending learnuplets come from their chain documents (the running learnuplet's state is kept
there, ledger/running.py), pending preduplets from the API's filtered page; the reports are the
newest report and lapsed-lease events (recent.py).
"""
from __future__ import annotations

from typing import Any

from ..domain.states import PENDING
from ..storage import Store
from .recent import REPORTS, describe, recent_events


def held_learnuplets(store: Store, now: float, limit: int) -> list[dict[str, Any]]:
    """The pending learnuplets, soonest lease expiry first, as their chains keep them."""
    return [{"kind": "learnuplet", "uuid": chain["running"], "worker": chain.get("running_worker"),
             "problem": chain["problem"], "algo": chain["uuid"], "rank": chain.get("active"),
             "lease_expires": chain.get("running_lease_expires"),
             "seconds_left": _left(chain.get("running_lease_expires"), now),
             "attempts": chain.get("running_attempts") or 0,
             "lapsed_workers": chain.get("running_lapsed_workers") or []}
            for chain in store.running_chains(PENDING, limit)]


def held_preduplets(tasks: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Pending preduplets (a page of GET /preduplet?status=pending) in the same shape."""
    return [{"kind": "preduplet", "uuid": task["uuid"], "worker": task.get("worker"),
             "problem": task["problem"], "algo": None, "rank": None,
             "lease_expires": task.get("lease_expires"),
             "seconds_left": _left(task.get("lease_expires"), now),
             "attempts": task.get("attempts") or 0,
             "lapsed_workers": task.get("lapsed_workers") or []} for task in tasks]


def by_worker(held: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Held tasks grouped by worker, workers in name order."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for task in held:
        groups.setdefault(task["worker"], []).append(task)
    return sorted(groups.items(), key=lambda item: item[0] or "")


def recent_reports(store: Store, now: int, limit: int) -> list[dict[str, Any]]:
    """The newest reports and lapsed leases of the last minutes, newest first."""
    return [describe(event) for event in recent_events(store, now, limit, REPORTS)]


def _left(expires: float | None, now: float) -> float | None:
    return None if expires is None else expires - now
