"""The ledger: the commit primitive, the event kinds and the sweeper."""
from .commit import Ledger, seq_of
from .kinds import EventKind, registry

__all__ = ["EventKind", "Ledger", "registry", "seq_of"]
