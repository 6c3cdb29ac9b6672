"""The delivery outbox and the delivery ledger's events.

The event that makes a task todo also writes its outbox entry (schedule_deliveries), so the
intent to deliver is stored with the change itself. Starting and finishing an attempt are
events of a second ledger, the delivery ledger, so with any number of processes exactly one
sends a given attempt, and a compute outage (many retries) never contends with the API's
writes.
"""
from __future__ import annotations

from typing import Any

from ..ledger import EventKind, keys, registry
from ..ledger.kinds import Event
from ..storage import Store, Writes

TASKS = ("learnuplet", "preduplet")
PENDING_DELIVERY, SENDING, DELIVERED = "pending", "sending", "delivered"


def schedule_deliveries(event: dict[str, Any], writes: Writes) -> None:
    """Every task this event makes todo gets an outbox entry, written with the change itself."""
    if not event.get("deliver"):
        return
    runnable = [(name, doc["uuid"], doc) for name in TASKS for doc in writes.inserts.get(name, [])
                if doc["status"] == "todo"]
    runnable += [(name, uuid, fields) for name, uuid, fields in writes.updates
                 if name in TASKS and fields.get("status") == "todo"]
    entries = writes.inserts.setdefault("outbox", [])
    for name, task, fields in runnable:
        fields.update(delivery=PENDING_DELIVERY, delivery_attempts=0, delivery_error=None)
        entries.append({"uuid": f"{event['_id']}:{task}", "collection": name, "task": task,
                        "state": PENDING_DELIVERY, "attempts": 0, "next_attempt": event["at"],
                        "error": None, "worker": None, "created": event["at"]})


def _delivery_started(store: Store, event: Event) -> Writes:
    return Writes(updates=[
        ("outbox", event["entry"], {"state": SENDING, "attempts": event["attempt"],
                                    "next_attempt": event["until"], "worker": event["by"]}),
        (event["collection"], event["task"], {"delivery_attempts": event["attempt"]})])


def _delivery_finished(store: Store, event: Event) -> Writes:
    state = DELIVERED if event["error"] is None else PENDING_DELIVERY
    return Writes(updates=[
        ("outbox", event["entry"], {"state": state, "error": event["error"],
                                    "next_attempt": event.get("next_attempt")}),
        (event["collection"], event["task"], {"delivery": state, "delivery_error": event["error"]})])


def _entry(e: Event) -> list[str]:
    return [keys.entry(e["entry"])]


def _entry_and_task(e: Event) -> list[str]:
    # an attempt also records its delivery state on the task
    return [keys.entry(e["entry"]), keys.task(e["task"])]


DELIVERY_KINDS = registry(
    EventKind("delivery_started", reads=_entry, writes=_entry_and_task, expand=_delivery_started),
    EventKind("delivery_finished", reads=_entry, writes=_entry_and_task,
              expand=_delivery_finished))
