"""One error format everywhere: RFC 9457 problem details (application/problem+json)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException

from .states import TransitionRefused

log = logging.getLogger(__name__)
PROBLEM_TYPE = "urn:morpheo:orchestrator:problem:"


class ApiError(Exception):
    """An error the client should see, with its HTTP status."""

    status = 400
    title = "Bad Request"
    kind = "bad-request"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class ValidationFailed(ApiError):
    title, kind = "Invalid request", "validation-error"


class NotFound(ApiError):
    status, title, kind = 404, "Not Found", "not-found"


class Conflict(ApiError):
    status, title, kind = 409, "Conflict", "conflict"


class UnsupportedMediaType(ApiError):
    status, title, kind = 415, "Unsupported Media Type", "unsupported-media-type"


class Unavailable(ApiError):
    status, title, kind = 503, "Service Unavailable", "unavailable"


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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return problem_response(error.status, error.title, error.detail, error.kind,
                                error.errors, error.headers)

    @app.errorhandler(TransitionRefused)
    def _refused(error: TransitionRefused) -> Response:
        return problem_response(409, "Conflict", error.detail, "state-conflict")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        headers = dict(error.get_response().headers)
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return problem_response(error.code or 500, error.name, error.description or error.name,
                                headers=headers)

    @app.errorhandler(PyMongoError)
    def _database_failed(error: PyMongoError) -> Response:
        # Unreachable, or failing while it shuts down or restarts (FerretDB answers with
        # errors then): the request may be retried. Anything committed is rolled forward.
        if isinstance(error, ConnectionFailure):
            log.warning("database unreachable: %s", error.__class__.__name__)
        else:
            log.exception("database error")
        return problem_response(503, "Service Unavailable",
                                "The database is unreachable or failing; retry shortly.",
                                "database-unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Details go to the log, never to the client.
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error",
                                "The server failed to handle the request; it has been logged.")
