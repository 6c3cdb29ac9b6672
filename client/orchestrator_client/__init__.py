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
from .receiver import PushReceiver
from .transport import NO_RETRY, RetryPolicy
from .worker import Outcome, Poller, Training, Worker

__all__ = [
    "Client", "Registration", "new_uuid", "Listing", "Page", "RetryPolicy", "NO_RETRY",
    "Worker", "Training", "Outcome", "Poller", "PushReceiver",
    "Problem", "Algo", "Data", "Learnuplet", "Preduplet", "Collection", "Status", "TaskKind",
    "OrchestratorError", "Unreachable", "ApiError", "FieldError", "BadRequest", "Unauthorized",
    "Forbidden", "NotFound", "Conflict", "StateConflict", "TooLarge", "UnsupportedMediaType",
    "Unavailable",
]
