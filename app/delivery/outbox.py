"""The delivery outbox and the delivery ledger's events.

The event that makes a task todo also writes its outbox entry (schedule_deliveries), so the
intent to deliver is stored with the change itself. Starting and finishing an attempt are
events of a second ledger, the delivery ledger, so with any number of processes exactly one
sends a given attempt, and a compute outage (many retries) never contends with the API's
writes.

The delivery ledger writes outbox entries only, never a task document: its writers run
beside the main ledger's, and a server that updates a whole document at a time (FerretDB:
read, then write) would let one write of a task undo the other's. A task's answer shows
the state of its newest entry (delivery_fields).
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
    # (task collection, uuid, the inserted document or the update that makes it todo)
    runnable = [(name, doc["uuid"], doc) for name in TASKS for doc in writes.inserts.get(name, [])
                if doc["status"] == "todo"]
    runnable += [(name, uuid, fields) for name, uuid, fields in writes.updates
                 if name in TASKS and fields.get("status") == "todo"]
    entries = writes.inserts.setdefault("outbox", [])
    for name, task, fields in runnable:
        entry = f"{event['_id']}:{task}"
        fields["delivery_entry"] = entry  # the task's newest entry, written with the task
        entries.append({"uuid": entry, "collection": name, "task": task,
                        "state": PENDING_DELIVERY, "attempts": 0, "next_attempt": event["at"],
                        "error": None, "worker": None, "created": event["at"]})


def delivery_fields(entry: dict[str, Any] | None) -> dict[str, Any]:
    """What a task's answer shows of its newest outbox entry (docs/compute.md)."""
    if entry is None:
        return {}
    # an attempt under way is still pending: compute has not accepted the task yet
    state = DELIVERED if entry["state"] == DELIVERED else PENDING_DELIVERY
    return {"delivery": state, "delivery_attempts": entry["attempts"],
            "delivery_error": entry["error"]}


def _delivery_started(store: Store, event: Event) -> Writes:
    return Writes(updates=[
        ("outbox", event["entry"], {"state": SENDING, "attempts": event["attempt"],
                                    "next_attempt": event["until"], "worker": event["by"]})])


def _delivery_finished(store: Store, event: Event) -> Writes:
    state = DELIVERED if event["error"] is None else PENDING_DELIVERY
    return Writes(updates=[
        ("outbox", event["entry"], {"state": state, "error": event["error"],
                                    "next_attempt": event.get("next_attempt")})])


def _entry(e: Event) -> list[str]:
    return [keys.entry(e["entry"])]


DELIVERY_KINDS = registry(
    EventKind("delivery_started", reads=_entry, writes=_entry, expand=_delivery_started),
    EventKind("delivery_finished", reads=_entry, writes=_entry, expand=_delivery_finished))
