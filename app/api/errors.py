"""One error format everywhere: RFC 9457 problem details (application/problem+json).

Business errors (domain/errors.py) become their HTTP status here, and only here.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from ..domain.errors import (
    Busy,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Refusal,
    TooLarge,
    TransitionRefused,
)
from ..storage.errors import DatabaseError, unreachable

log = logging.getLogger(__name__)
PROBLEM_TYPE = "urn:morpheo:orchestrator:problem:"

# business error -> (HTTP status, title, problem type)
STATUSES: list[tuple[type[Refusal], int, str, str]] = [
    (TransitionRefused, 409, "Conflict", "state-conflict"),
    (Conflict, 409, "Conflict", "conflict"),
    (Forbidden, 403, "Forbidden", "forbidden"),
    (NotFound, 404, "Not Found", "not-found"),
    (TooLarge, 413, "Content Too Large", "too-large"),
    (Invalid, 400, "Invalid request", "validation-error"),
]


class UnsupportedMediaType(Refusal):
    """The body is not declared as JSON (415)."""


def problem_response(status: int, title: str, detail: str, kind: str | None = None,
                     errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + kind if kind else "about:blank",
                            "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def database_unavailable(detail: str = "The database is unreachable or failing; retry shortly."
                         ) -> Response:
    return problem_response(503, "Service Unavailable", detail, "database-unavailable",
                            headers={"Retry-After": "5"})


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(UnsupportedMediaType)
    def _media_type(error: UnsupportedMediaType) -> Response:
        return problem_response(415, "Unsupported Media Type", error.detail,
                                "unsupported-media-type")

    @app.errorhandler(Refusal)
    def _refused(error: Refusal) -> Response:
        for kind, status, title, name in STATUSES:
            if isinstance(error, kind):
                return problem_response(status, title, error.detail, name, error.errors)
        return problem_response(400, "Bad Request", error.detail, "bad-request", error.errors)

    @app.errorhandler(Busy)
    def _busy(error: Busy) -> Response:
        return problem_response(503, "Service Unavailable", str(error), "unavailable",
                                headers={"Retry-After": "1"})

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        headers = dict(error.get_response().headers)
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return problem_response(error.code or 500, error.name, error.description or error.name,
                                headers=headers)

    @app.errorhandler(DatabaseError)
    def _database_failed(error: DatabaseError) -> Response:
        # Unreachable, stalled, or failing while it shuts down or restarts (FerretDB answers
        # with errors then): the request may be retried. Anything committed is rolled forward.
        if unreachable(error):
            log.warning("database unreachable: %s", error.__class__.__name__)
        else:
            log.exception("database error")
        return database_unavailable()

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Details go to the log, never to the client.
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error",
                                "The server failed to handle the request; it has been logged.")
