"""The task state machine shared by learnuplets and preduplets, as one transition table.

waiting -> todo -> pending -> done | failed, todo -> failed, pending -> todo (lease lapsed).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import TransitionRefused

WAITING, TODO, PENDING, DONE, FAILED = "waiting", "todo", "pending", "done", "failed"
STATUSES = (WAITING, TODO, PENDING, DONE, FAILED)
FINISHED = (DONE, FAILED)

# action -> {status it applies to: status it leads to}
TRANSITIONS: dict[str, dict[str, str]] = {
    "promote": {WAITING: TODO},  # the chain's turn comes (learnuplets only)
    "claim": {TODO: PENDING},
    "done": {PENDING: DONE},
    "failed": {TODO: FAILED, PENDING: FAILED},  # a worker may fail a task it could not start
    "lease_lapsed": {PENDING: TODO},
    "lease_lapsed_last": {PENDING: FAILED},  # out of attempts
}


def allowed_from(action: str) -> tuple[str, ...]:
    return tuple(TRANSITIONS[action])


def check_claim(kind: str, task: Mapping[str, Any]) -> None:
    """A claim moves todo -> pending; anything else is refused."""
    status = task["status"]
    if status not in TRANSITIONS["claim"]:
        holder = f" by worker {task['worker']}" if task.get("worker") else ""
        raise TransitionRefused(
            f"{kind} {task['uuid']} is {status}{holder}; only a todo {kind} can be claimed", status)


def check_report(kind: str, task: Mapping[str, Any], outcome: Mapping[str, Any]) -> bool:
    """Whether the report must be applied; False for an identical retry of a finished task.

    `outcome` holds the fields the report would store (status first).
    """
    status, wanted = task["status"], outcome["status"]
    if status in FINISHED:
        if all(task.get(field) == value for field, value in outcome.items()):
            return False
        raise TransitionRefused(
            f"{kind} {task['uuid']} is already {status}; a finished task cannot change", status)
    if status not in TRANSITIONS[wanted]:
        allowed = " or ".join(allowed_from(wanted))
        raise TransitionRefused(
            f"{kind} {task['uuid']} is {status}; it can become {wanted} only from {allowed}", status)
    return True


def check_holder(kind: str, task: Mapping[str, Any], worker: str) -> None:
    """Only the worker holding a pending task's claim may extend it."""
    if task["status"] != PENDING or task.get("worker") != worker:
        holder = f"claimed by worker {task['worker']}" if task.get("worker") else "not claimed"
        raise TransitionRefused(
            f"{kind} {task['uuid']} is {task['status']} and {holder}; worker {worker} "
            "does not hold its claim", task["status"])


def check_reporter(kind: str, task: Mapping[str, Any], worker: str) -> None:
    """A worker that names itself may report a pending task only if it holds the claim, a todo
    task (one it could not start) only if its own claim on it did not lapse, and repeat the
    report of a finished task only if it was the one that finished it."""
    status = task["status"]
    if status == TODO and worker not in task.get("lapsed_workers", []):
        return
    if status in FINISHED:
        if task.get("worker") != worker:
            raise TransitionRefused(
                f"{kind} {task['uuid']} is already {status}, reported by "
                f"{'worker ' + task['worker'] if task.get('worker') else 'another client'}; "
                f"worker {worker} did not hold it", status)
        return
    check_holder(kind, task, worker)


def after_expired_lease(attempts: int, max_attempts: int) -> str:
    """A task whose lease expired runs again, until it has used up its attempts."""
    action = "lease_lapsed_last" if attempts >= max_attempts else "lease_lapsed"
    return TRANSITIONS[action][PENDING]
