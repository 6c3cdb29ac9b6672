"""Python client and compute-worker kit for the Morpheo Orchestrator (see README.md)."""
from .client import Client, Registration, new_uuid
from .documents import Algo, Collection, Data, Learnuplet, Preduplet, Problem, Status, TaskKind
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    OrchestratorError,
    StateConflict,
    TooLarge,
    Unauthorized,
    Unavailable,
    Unreachable,
    UnsupportedMediaType,
)
from .listing import Listing, Page
from .transport import NO_RETRY, RetryPolicy

__all__ = [
    "Client", "Registration", "new_uuid", "Listing", "Page", "RetryPolicy", "NO_RETRY",
    "Problem", "Algo", "Data", "Learnuplet", "Preduplet", "Collection", "Status", "TaskKind",
    "OrchestratorError", "Unreachable", "ApiError", "FieldError", "BadRequest", "Unauthorized",
    "Forbidden", "NotFound", "Conflict", "StateConflict", "TooLarge", "UnsupportedMediaType",
    "Unavailable",
]
