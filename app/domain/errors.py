"""Business errors: why a request is refused, in domain words (the HTTP layer maps them)."""
from __future__ import annotations


class Refusal(Exception):
    """The request cannot be carried out as sent; `detail` says why, `errors` names fields."""

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Invalid(Refusal):
    """The request is malformed or names something that does not exist (HTTP 400)."""


class Forbidden(Refusal):
    """The account is known but its role, or its list of workers, does not allow this (403)."""


class NotFound(Refusal):
    """The document the request is about does not exist (404)."""


class Conflict(Refusal):
    """The current state does not allow the request (409)."""


class TransitionRefused(Conflict):
    """A task's state does not allow the transition (409, with its current status)."""

    def __init__(self, detail: str, status: str):
        super().__init__(detail)
        self.current_status = status


class TooLarge(Refusal):
    """Carrying out the request would exceed a documented bound (413)."""


class Busy(Exception):
    """Too many concurrent changes to commit this one now; retry (503)."""
