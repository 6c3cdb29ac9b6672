"""Roles and what each may do: the one permission table (docs/api.md shows the same table).

An account has one role. A worker account may also list the worker uuids it acts as; it may
then claim, extend and report tasks only as those workers.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import Forbidden

ADMIN, STORAGE, WORKER, ANALYST = "admin", "storage", "worker", "analyst"
ROLES = (ADMIN, STORAGE, WORKER, ANALYST)

READ = "read"  # every GET of the documents
REGISTER = "register"  # POST /problem, /algo, /data
PREDICT = "predict"  # POST /prediction
CLAIM = "claim"  # POST /worker/<kind>/<uuid>
HEARTBEAT = "heartbeat"  # POST /worker/<kind>/<uuid>/heartbeat
REPORT = "report"  # POST /learndone/<uuid>, /preddone/<uuid>
PERMISSIONS = (READ, REGISTER, PREDICT, CLAIM, HEARTBEAT, REPORT)

PERMISSION_TABLE: dict[str, frozenset[str]] = {
    ADMIN: frozenset(PERMISSIONS),
    STORAGE: frozenset({READ, REGISTER}),
    WORKER: frozenset({READ, CLAIM, HEARTBEAT, REPORT}),
    ANALYST: frozenset({READ, PREDICT}),
}


@dataclass(frozen=True)
class Account:
    """Who sends a request. `workers`: the worker uuids a worker account acts as (None: any)."""

    name: str
    role: str
    workers: frozenset[str] | None = None


def check_permission(account: Account, permission: str) -> None:
    """Refuse (403) a request the account's role does not allow."""
    if permission not in PERMISSION_TABLE[account.role]:
        raise Forbidden(f"account {account.name!r} has role {account.role}, which lacks the "
                        f"permission {permission!r}")


def check_acts_as(account: Account, worker: str | None) -> None:
    """Refuse (403) a worker account that lists its workers acting as another one (or as none:
    a report that names no worker, on a task that no worker holds)."""
    if account.workers is None or worker in account.workers:
        return
    listed = ", ".join(sorted(account.workers))
    who = f"worker {worker}" if worker else "no worker (name one in `worker`)"
    raise Forbidden(f"account {account.name!r} may act only as its workers ({listed}), "
                    f"not as {who}")


def check_task_holder(account: Account, task: Mapping[str, Any]) -> None:
    """A report that names no worker acts as the worker recorded on the task."""
    check_acts_as(account, task.get("worker"))
