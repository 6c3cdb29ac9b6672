"""The ledger: the commit primitives (the registry's and the streams'), the event kinds."""
from __future__ import annotations

from dataclasses import dataclass

from ..storage import Store
from .commit import Ledger, seq_of
from .kinds import EventKind, registry
from .streams import Reading, StreamLedger


@dataclass
class Ledgers:
    """What the decisions commit through: the registry (algos, data) and the streams."""

    registry: Ledger
    streams: StreamLedger

    @property
    def store(self) -> Store:
        return self.streams.store

    def now(self) -> int:
        return self.streams.now()


__all__ = ["EventKind", "Ledger", "Ledgers", "Reading", "StreamLedger", "registry", "seq_of"]
