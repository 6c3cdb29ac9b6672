"""The storage seam: what the ledger, the decisions and the HTTP reads ask of a database.

Two implementations stand behind it: `MongoStore` (MongoDB or any MongoDB-protocol server,
through pymongo) and `EmbeddedStore` (the quick start without MONGO_URI). Every document is
keyed by its `uuid`; `seq` (the ledger order lists are paged in) and the key never reach a
client. A storage contract suite (tests/storage/) runs the same checks against both.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

HIDDEN_FIELDS = ("_id", "seq")  # stored, never shown to a client
# Bookkeeping a client has no use for: the list order; the chain version earlier versions
# stamped on a learnuplet, and the delivery fields they wrote on tasks (still in databases they
# wrote); a task's newest outbox entry (its answer shows that entry's state instead).
NOT_SHOWN = ("seq", "chain_version", "delivery_version", "delivery_entry")


def public(document: dict[str, Any]) -> dict[str, Any]:
    """A document as a client sees it (the chain documents, with `wrote`, are never shown)."""
    return {key: value for key, value in document.items() if key not in NOT_SHOWN}


class Duplicate(Exception):
    """The key of an inserted record is taken (the ledger's commit point)."""


@dataclass
class Writes:
    """What applying one event writes: new documents, and field updates by uuid.

    An update's value may be a `FieldOf` another document an earlier update of the same
    write changes: the store fills it in from that document as it writes it."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class FieldOf:
    """The value of `field` of the document (`collection`, `uuid`), which an earlier update of
    the same write changes. For fields that never change: an event copies them without reading
    them first, and on a server (MongoStore) the earlier update returns them in its round trip.
    A write without that update (part of an event, applied again) reads them."""

    collection: str
    uuid: str
    field: str


def copied_from(writes: Writes) -> dict[tuple[str, str], set[str]]:
    """The documents whose fields later updates copy (FieldOf), with those fields."""
    sources: dict[tuple[str, str], set[str]] = {}
    for _, _, fields in writes.updates:
        for value in fields.values():
            if isinstance(value, FieldOf):
                sources.setdefault((value.collection, value.uuid), set()).add(value.field)
    return sources


def filled_in(fields: dict[str, Any], copied: Mapping[tuple[str, str], Mapping[str, Any]]
              ) -> dict[str, Any]:
    """`fields` with each FieldOf replaced by the value copied (None if its document is absent)."""
    return {name: copied.get((value.collection, value.uuid), {}).get(value.field)
            if isinstance(value, FieldOf) else value for name, value in fields.items()}


class Store(ABC):
    """A document database as the Orchestrator uses it. Each method is one operation
    (one round trip on a server); none of them reads the clock."""

    # -- documents ---------------------------------------------------------------------------
    @abstractmethod
    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        """One document by uuid, without hidden fields."""

    @abstractmethod
    def get_many(self, collection: str, uuids: list[str]) -> list[dict[str, Any]]:
        """The documents of these uuids that exist (any order), without hidden fields."""

    @abstractmethod
    def page(self, collection: str, filters: Mapping[str, Any], after: str | None,
             limit: int) -> list[dict[str, Any]]:
        """Up to `limit` documents matching `filters`, in `seq` order, after `seq` `after`.

        A filter is field = value (None also matches a missing field); on a list field it
        matches documents whose list holds the value. Documents keep `seq`, not the key.
        """

    @abstractmethod
    def count(self, collection: str) -> int:
        """How many documents a collection holds."""

    @abstractmethod
    def count_by(self, collection: str, field: str, values: list[Any]) -> dict[Any, int]:
        """How many documents have each of `values` in `field` (absent values: 0), counted by
        the database in one grouped count (GET /metrics: tasks by status, the push backlog)."""

    # -- named queries -----------------------------------------------------------------------
    @abstractmethod
    def chains_of(self, problems: list[str]) -> list[dict[str, Any]]:
        """The chain documents (one per algo) of these problems."""

    @abstractmethod
    def data_before(self, problem: str, seq: str) -> list[str]:
        """The uuids of the data registered for `problem` before `seq`, in upload order."""

    @abstractmethod
    def stale_leases(self, collection: str, now: float, limit: int) -> list[str]:
        """Uuids of pending tasks whose lease expired before `now` (preduplets)."""

    @abstractmethod
    def stale_running(self, now: float, limit: int) -> list[str]:
        """Uuids of the running learnuplets whose lease, as their chain documents keep it
        (`running`, `running_status`, `running_lease_expires`), expired before `now`."""

    @abstractmethod
    def chain_running(self, learnuplet: str) -> dict[str, Any] | None:
        """The chain document whose running learnuplet is this one, without hidden fields."""

    @abstractmethod
    def running_chains(self, status: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` chain documents whose running learnuplet has `status` (kept on the
        chain, ledger/running.py), soonest lease expiry first (the dashboard's workers page)."""

    @abstractmethod
    def due_deliveries(self, states: list[str], now: float, limit: int) -> list[dict[str, Any]]:
        """Outbox entries in one of `states` whose next attempt is due, oldest first."""

    # -- the ledger --------------------------------------------------------------------------
    @abstractmethod
    def insert_event(self, events: str, event: dict[str, Any]) -> None:
        """Insert an event keyed by its `_id`; raises Duplicate if that number is taken."""

    def insert_events(self, events: str, batch: list[dict[str, Any]]) -> set[Any]:
        """Insert several events; returns the keys that were taken (those not inserted)."""
        taken = set()
        for event in batch:
            try:
                self.insert_event(events, event)
            except Duplicate:
                taken.add(event["_id"])
        return taken

    @abstractmethod
    def event(self, events: str, number: int | str) -> dict[str, Any] | None:
        """The event with this key (a number, or `<stream>/<number>`), or None."""

    @abstractmethod
    def events_by_key(self, events: str, keys: list[Any]) -> list[dict[str, Any]]:
        """The events with these keys (those that exist), in no particular order."""

    @abstractmethod
    def events_after(self, events: str, number: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` events numbered after `number`, in order."""

    @abstractmethod
    def count_events_after(self, events: str, number: int, limit: int) -> int:
        """How many events are numbered after `number`, counting at most `limit` (GET /metrics:
        the events committed but not applied); reads their keys only."""

    @abstractmethod
    def events_in_minute(self, events: str, minute: int, ms: int, limit: int
                         ) -> list[dict[str, Any]]:
        """Up to `limit` events committed in `minute` (their field `minute`) whose commit time
        `ms` is at or after `ms`, oldest first."""

    # -- the audit chain (ledger/audit.py) --------------------------------------------------
    @abstractmethod
    def append(self, collection: str, entries: list[dict[str, Any]]) -> int:
        """Insert numbered entries in order, stopping at the first whose `_id` or whose
        (`source`, `key`) is taken; returns how many were inserted."""

    @abstractmethod
    def last(self, collection: str) -> dict[str, Any] | None:
        """The document with the highest numeric `_id`, or None."""

    @abstractmethod
    def scan(self, collection: str, filters: Mapping[str, Any], order: str,
             start: Any = None) -> Iterator[dict[str, Any]]:
        """Every document matching `filters` (top-level equalities), whole (`_id` included),
        by `order` ascending, from `start` on (inclusive) when given; read in batches, so
        memory stays bounded however many there are."""

    @abstractmethod
    def first_minute_after(self, events: str, minute: int) -> int | None:
        """The lowest `minute` of an event committed after `minute`, or None."""

    @abstractmethod
    def latest_events(self, events: str, minute: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` events committed in `minute` (their field `minute`), newest first (the
        dashboard's recent changes: an equality, which FerretDB hands to its database)."""

    @abstractmethod
    def checkpoint(self, name: str) -> int:
        """A sweep checkpoint (a commit time in ms); 0 before the first."""

    @abstractmethod
    def move_checkpoint(self, name: str, ms: int) -> None:
        """Move a sweep checkpoint forward to `ms` (never back)."""

    @abstractmethod
    def head(self, name: str) -> int | None:
        """The number of the last applied event of ledger `name`; None before the first."""

    @abstractmethod
    def create_head(self, name: str) -> None:
        """Create ledger `name`'s head at 0, unless it exists."""

    @abstractmethod
    def move_head(self, name: str, version: int) -> None:
        """Move the head to `version` unless it is there or further already."""

    @abstractmethod
    def write(self, writes: Writes, version: int, version_field: str) -> None:
        """Apply an event's writes; safe to repeat and to run concurrently with itself.

        Inserted documents already stored are skipped (their uuid is fixed by the event).
        An update sets its fields and `version_field` = `version` only on a document whose
        `version_field` is missing or lower, so an older event never overwrites a newer one.
        """

    def write_many(self, batch: list[tuple[Writes, int]], version_field: str) -> None:
        """Apply several events' writes (each with its version), as write() does for one."""
        for writes, version in batch:
            self.write(writes, version, version_field)

    # -- life cycle ----------------------------------------------------------------------------
    @abstractmethod
    def prepare(self) -> None:
        """Make the store ready (indexes, files); idempotent, run at start-up."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database does not answer (GET /ready)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    # -- for tests and tools -----------------------------------------------------------------
    @abstractmethod
    def dump(self, collection: str) -> list[dict[str, Any]]:
        """Every stored record of a collection, hidden fields included, by key."""
