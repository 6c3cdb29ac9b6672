"""The task state machine shared by learnuplets and preduplets (no Flask, no database).

waiting -> todo -> pending -> done | failed, and todo -> failed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WAITING, TODO, PENDING, DONE, FAILED = "waiting", "todo", "pending", "done", "failed"
STATUSES = (WAITING, TODO, PENDING, DONE, FAILED)
ACTIVE = (WAITING, TODO, PENDING)  # a chain with one of these is still running
FINISHED = (DONE, FAILED)
REPORTABLE_FROM = {DONE: (PENDING,), FAILED: (TODO, PENDING)}


class TransitionRefused(Exception):
    """The task's current state does not allow the request (HTTP 409)."""

    def __init__(self, detail: str, status: str):
        super().__init__(detail)
        self.detail = detail
        self.current_status = status


def check_claim(kind: str, task: Mapping[str, Any]) -> None:
    """A claim moves todo -> pending; anything else is refused."""
    status = task["status"]
    if status != TODO:
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
    if status not in REPORTABLE_FROM[wanted]:
        allowed = " or ".join(REPORTABLE_FROM[wanted])
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
    """A worker that names itself may report a pending task only if it holds the claim, and a
    todo task (one it could not start) only if its own claim on it did not lapse."""
    if task["status"] == TODO and worker not in task.get("lapsed_workers", []):
        return
    check_holder(kind, task, worker)


def after_expired_lease(attempts: int, max_attempts: int) -> str:
    """A task whose lease expired runs again, until it has used up its attempts."""
    return FAILED if attempts >= max_attempts else TODO
