"""Errors: every problem answer (RFC 9457) becomes an ApiError subclass chosen by its status."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

PROBLEM_PREFIX = "urn:morpheo:orchestrator:problem:"


class OrchestratorError(Exception):
    """Anything this client raises."""


class Unreachable(OrchestratorError):
    """No answer (connection refused or reset, timeout) after every retry."""


@dataclass(frozen=True)
class FieldError:
    """One entry of a problem's `errors` list: which field is wrong and why."""

    field: str
    message: str


class ApiError(OrchestratorError):
    """The Orchestrator answered with an error status; the problem's fields are attributes."""

    status_code: int = 0  # the status each subclass stands for
    # Tries the request took: more than 1 means an earlier try may have been carried out by
    # the server although its answer was lost (the transport sets it).
    tries: int = 1

    def __init__(self, status: int, problem_type: str, title: str, detail: str,
                 errors: list[FieldError], method: str = "", url: str = ""):
        super().__init__(f"{method} {url}: {status} {title}: {detail}".strip())
        self.status = status
        self.type = problem_type
        self.title = title
        self.detail = detail
        self.errors = errors
        self.method = method
        self.url = url

    @property
    def kind(self) -> str:
        """The problem type without the Orchestrator's URN prefix, e.g. `state-conflict`."""
        return self.type.removeprefix(PROBLEM_PREFIX)

    @property
    def fields(self) -> dict[str, str]:
        """The bad fields of a validation error, field -> message."""
        return {error.field: error.message for error in self.errors}


class BadRequest(ApiError):
    """400: a malformed or invalid body, path or query; sending it again will not help."""

    status_code = 400


class Unauthorized(ApiError):
    """401: missing or wrong credentials."""

    status_code = 401


class Forbidden(ApiError):
    """403: the account's role lacks the permission, or may not act as that worker."""

    status_code = 403


class NotFound(ApiError):
    """404: no document with that uuid (or no such route)."""

    status_code = 404


class Conflict(ApiError):
    """409: a create that differs from what is stored, or a prediction without a model."""

    status_code = 409


class StateConflict(Conflict):
    """409 `state-conflict`: the task's state refuses the request (claimed by another worker,
    already finished, lease lapsed)."""


class TooLarge(ApiError):
    """413: the body, or what it would create, is over a documented bound."""

    status_code = 413


class UnsupportedMediaType(ApiError):
    """415: the body was not sent as JSON."""

    status_code = 415


class Unavailable(ApiError):
    """503 after every retry: the database is down or writes are congested."""

    status_code = 503


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    error.status_code: error
    for error in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge,
                  UnsupportedMediaType, Unavailable)}


def error_from_response(response: requests.Response) -> ApiError:
    """The exception for an error answer, problem JSON or not (a proxy's HTML page)."""
    problem = _problem_body(response)
    status = response.status_code
    problem_type = str(problem.get("type") or "about:blank")
    errors = [FieldError(str(item.get("field", "")), str(item.get("message", "")))
              for item in problem.get("errors") or [] if isinstance(item, dict)]
    error_class = ERRORS_BY_STATUS.get(status, ApiError)
    if error_class is Conflict and problem_type == PROBLEM_PREFIX + "state-conflict":
        error_class = StateConflict
    return error_class(status, problem_type, str(problem.get("title") or response.reason or ""),
                       str(problem.get("detail") or response.text[:500]), errors,
                       response.request.method or "", response.url)


def _problem_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
