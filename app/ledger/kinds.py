"""How an event kind is declared: once, with what its decision reads, what it writes, and
what applying it writes."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..storage import Store, Writes

Event = Mapping[str, Any]


@dataclass(frozen=True)
class EventKind:
    """One kind of event.

    `reads(event)` and `writes(event)` give its conflict keys (ledger/keys.py) from the
    event's content; `expand(store, event)` gives what applying it writes, deterministically:
    from the event and from documents that never change.
    """

    name: str
    reads: Callable[[Event], list[str]]
    writes: Callable[[Event], list[str]]
    expand: Callable[[Store, Event], Writes]


def registry(*kinds: EventKind) -> dict[str, EventKind]:
    return {kind.name: kind for kind in kinds}
