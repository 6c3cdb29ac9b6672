"""One HTTP exchange with retries: connection failures, timeouts and 502/503/504 are retried
with exponential backoff (503's Retry-After is honoured); every other answer is final.

Retrying any route is safe because the API makes it so: creates are idempotent by uuid
(the same body again answers 200 with the stored document), a report identical to the one
recorded answers 200, a heartbeat just extends the lease again, and reads change nothing.
The one route where a retry can meet its own first attempt is the claim: see Client.claim.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import requests

from .errors import Unreachable, error_from_response

RETRY_STATUSES = frozenset({502, 503, 504})  # 502/504: a proxy in front (nginx) lost the server


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    `attempts` counts the first try; `first_delay` doubles after each failure up to
    `max_delay`, with jitter (each wait is 50-100 % of that), so many workers that lost the
    server together do not come back in step.
    """

    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts counts the first try: at least 1")

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure (1 for the first)."""
        backoff = min(self.max_delay, self.first_delay * 2.0 ** (failures - 1))
        backoff *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            return min(self.max_delay, max(backoff, retry_after))
        return backoff


NO_RETRY = RetryPolicy(attempts=1)


@dataclass
class Answer:
    """A success answer, and how many tries it took (more than one: an earlier try may have
    been carried out by the server although its answer was lost)."""

    response: requests.Response
    tries: int

    def json(self) -> Any:
        return self.response.json()


class Transport:
    """The base URL, the session (credentials, keep-alive), the timeouts and the retries."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None,
                 timeout: float | tuple[float, float], retry: RetryPolicy,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self.session = session or requests.Session()
        if auth is not None:
            self.session.auth = auth

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, str] | None = None, retry: RetryPolicy | None = None) -> Answer:
        """Send until a final answer; raise its ApiError, or Unreachable, if it is not a 2xx."""
        policy = retry or self.retry
        url = self.base_url + path
        for tries in range(1, policy.attempts + 1):
            last = tries == policy.attempts
            try:
                response = self.session.request(method, url, json=body, params=params,
                                                timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                if last:
                    raise Unreachable(f"{method} {url}: no answer after {tries} tries "
                                      f"({error.__class__.__name__}: {error})") from error
                time.sleep(policy.delay(tries))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                time.sleep(policy.delay(tries, _retry_after(response)))
                continue
            if response.status_code >= 400:
                refused = error_from_response(response)
                refused.tries = tries
                raise refused
            return Answer(response, tries)
        raise AssertionError("unreachable: the last try returns or raises")

    def close(self) -> None:
        self.session.close()


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
