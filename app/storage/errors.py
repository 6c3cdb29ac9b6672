"""What a store raises when the database fails (unreachable, stalled, erring)."""
from __future__ import annotations

from pymongo.errors import ConnectionFailure, PyMongoError

DatabaseError = PyMongoError  # the embedded store raises none of its own


def unreachable(error: BaseException) -> bool:
    """Whether the database could not be reached in time (as opposed to answering an error)."""
    return isinstance(error, ConnectionFailure) or bool(getattr(error, "timeout", False))
