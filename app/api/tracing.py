"""Request ids, the access log and the request metrics: what every request costs a few
microseconds for (docs/deployment.md, Logs).

Each request gets an id: the caller's `X-Request-ID` when it is a short token of safe
characters (a proxy or a client sets one to follow a request through several services),
else a new one. It goes back in `X-Request-ID` and into every log line written while the
request runs: it is kept in a context variable that the log handler's filter reads
(app/logs.py), so no code has to pass it on. When the request ends, one access-log line says
who did what and how it went, and the request metrics count it (metrics.py).

The app writes the access log, not gunicorn (gunicorn_config.py turns gunicorn's off): only
the app knows the route (the URL rule, not the raw path with its uuids), the account that
authenticated (not the user name a request merely claims) and the request id. Nothing of the
request's headers or body is logged, so credentials never are.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from contextvars import ContextVar

from flask import Flask, Response, request

from .auth import authenticated_name
from .metrics import Metrics

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from a caller: at most 128 letters, digits and `-_.:@/+=` (uuids, trace ids,
# base64). Anything else (spaces, quotes, control characters: log forging) gets a new id.
_ACCEPTED = re.compile(r"[A-Za-z0-9_.:@/+=-]{1,128}")
NO_REQUEST = ("-", 0.0)
UNMATCHED = "(unmatched)"  # the route of a request no URL rule matched (a 404)
# (request id, start time) of the request this thread runs; NO_REQUEST outside requests
_CURRENT: ContextVar[tuple[str, float]] = ContextVar("orchestrator_request", default=NO_REQUEST)
access_log = logging.getLogger("orchestrator.access")


def current_request_id() -> str:
    """The id of the request being served, `-` outside a request (app/logs.py reads it)."""
    return _CURRENT.get()[0]


def new_request_id() -> str:
    return os.urandom(16).hex()


def init_tracing(app: Flask, metrics: Metrics, timer: Callable[[], float]) -> None:
    """Register the hooks; call it before any other before_request hook, so that requests
    refused by another one (401, 503) are timed, logged and counted too."""

    @app.before_request
    def begin() -> None:
        given = request.environ.get("HTTP_X_REQUEST_ID")
        accepted = given if given is not None and _ACCEPTED.fullmatch(given) else None
        _CURRENT.set((accepted or new_request_id(), timer()))

    @app.after_request
    def finish(response: Response) -> Response:
        request_id, started = _CURRENT.get()
        if not started:
            return response  # a request context made by hand (tests), not a request
        seconds = timer() - started
        response.headers.add(REQUEST_ID_HEADER, request_id)  # no one else sets it
        served = request._get_current_object()  # type: ignore[attr-defined]  # once, not per use
        rule, method, status = served.url_rule, served.method, response.status_code
        route = rule.rule if rule is not None else UNMATCHED
        metrics.count_request(method, route, status, seconds)
        if access_log.isEnabledFor(logging.INFO):
            _log_access(method, served.path, route, status, seconds)
        return response

    @app.teardown_request
    def forget(error: BaseException | None) -> None:
        # the thread may log outside requests next (gunicorn's worker, on exit)
        _CURRENT.set(NO_REQUEST)


def _log_access(method: str, path: str, route: str, status: int, seconds: float) -> None:
    account, milliseconds = authenticated_name(), round(seconds * 1000, 3)
    method, path = _printable(method), _printable(path)
    access_log.info("%s %s %s %d %.1fms route=%s", account or "-", method, path, status,
                    milliseconds, route,
                    extra={"account": account, "method": method, "route": route, "path": path,
                           "status": status, "duration_ms": milliseconds})


def _printable(text: str) -> str:
    """`text`, with control characters escaped: a path (decoded from %0A...) must not start
    a forged line of its own in the text log."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
