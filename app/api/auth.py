"""HTTP basic auth on every route but the public ones, and the permission each route needs.

Who: the administrator of USER_AUTH/PWD_AUTH, and the accounts of ACCOUNTS_FILE (accounts.py).
A password hash costs about 0.1 s to check, so each process remembers the credentials it has
verified: a cache keyed by an HMAC of the user name and password under a key drawn at
random when the process starts. The password itself is never kept, and a repeated request
costs one HMAC and a dictionary lookup (microseconds). Fails closed: a route that declares
no permission cannot be registered.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

from flask import Flask, Response, g, request

from ..domain.permissions import ADMIN, PERMISSIONS, Account, check_acts_as, check_permission
from .accounts import StoredAccount
from .errors import problem_response
from .passwords import hash_password, parse_hash

# Liveness, readiness, the version and the API description need no credentials (API.md,
# Authentication).
PUBLIC_ENDPOINTS = {"meta.health", "meta.ready", "meta.version", "meta.openapi", "meta.docs",
                    "meta.docs_file"}
CACHE_SIZE = 10_000  # verified credentials kept per process; emptied when full


class Authenticator:
    """Checks credentials against the administrator and the file accounts, remembering the
    ones that passed."""

    def __init__(self, admin: tuple[str, str] | None, accounts: Mapping[str, StoredAccount]):
        self._admin = (admin[0].encode(), admin[1].encode()) if admin else None
        self._admin_account = Account(admin[0], ADMIN) if admin else None
        self._accounts = dict(accounts)
        self._key = os.urandom(32)  # per process: a cache entry means nothing elsewhere
        self._verified: dict[bytes, Account] = {}
        # Checked when the name is unknown, so a wrong name costs as much as a wrong password.
        self._decoy = parse_hash(hash_password(os.urandom(16).hex())) if accounts else None

    def verify(self, username: str, password: str) -> Account | None:
        """The account these credentials belong to, or None."""
        fingerprint = self._fingerprint(username, password)
        account = self._verified.get(fingerprint)
        if account is None:
            account = self._check(username, password)
            if account is not None:
                if len(self._verified) >= CACHE_SIZE:
                    self._verified.clear()
                self._verified[fingerprint] = account
        return account

    def _fingerprint(self, username: str, password: str) -> bytes:
        name = username.encode()
        message = len(name).to_bytes(8, "big") + name + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _check(self, username: str, password: str) -> Account | None:
        if self._admin is not None:
            same_user = hmac.compare_digest(username.encode(), self._admin[0])
            same_password = hmac.compare_digest(password.encode(), self._admin[1])
            if same_user and same_password:
                return self._admin_account
        stored = self._accounts.get(username)
        if stored is not None:
            return stored.account if stored.password.matches(password) else None
        if self._decoy is not None:
            self._decoy.matches(password)
        return None


def init_auth(app: Flask, authenticator: Authenticator) -> None:
    """Basic auth on every route but PUBLIC_ENDPOINTS and those a setting opens
    (public_by_setting).

    Werkzeug parses the header; the rest is done here rather than by Flask-HTTPAuth, whose
    layers cost about 10 µs a request (measured; the benchmark counts them)."""
    public_endpoints = PUBLIC_ENDPOINTS | public_by_setting(app)

    @app.before_request
    def require_login() -> Response | None:
        endpoint = request.endpoint
        if endpoint in public_endpoints or request.method == "OPTIONS":
            return None  # CORS preflights carry no credentials
        given = request.authorization
        account = None
        if given is not None and given.type.lower() == "basic":
            account = authenticator.verify(given.username or "", given.password or "")
        if account is None:
            return _unauthorized()
        g.orchestrator_account = account
        if endpoint is not None:  # else an unknown route: 404 next
            check_permission(account, permission_of(app, endpoint))
        return None


def _unauthorized() -> Response:
    return problem_response(401, "Unauthorized", "Valid HTTP basic credentials are required.",
                            "unauthorized",
                            headers={"WWW-Authenticate": 'Basic realm="orchestrator"'})


def public_by_setting(app: Flask) -> set[str]:
    """The routes whose `auth_setting` (views.documented) is off: GET /metrics with
    METRICS_REQUIRE_AUTH=false."""
    return {endpoint for endpoint, view in app.view_functions.items()
            if (setting := getattr(view, "openapi", {}).get("auth_setting"))
            and not app.config[setting]}


def permission_of(app: Flask, endpoint: str) -> str:
    """The permission a route declared (views.documented(permission=...))."""
    return getattr(app.view_functions[endpoint], "openapi", {}).get("permission", "")


def check_every_route_declares_a_permission(app: Flask) -> None:
    """Fail closed at start: a protected route without a known permission is a bug."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in PUBLIC_ENDPOINTS | {"static"}:
            if permission_of(app, rule.endpoint) not in PERMISSIONS:
                raise RuntimeError(f"route {rule.rule} ({rule.endpoint}) declares no permission")


def current_account() -> Account:
    """The account the request authenticated as."""
    return g.orchestrator_account


def authenticated_name() -> str | None:
    """The name of the account the request authenticated as; None if it did not (yet)."""
    account = g.get("orchestrator_account")
    return account.name if account is not None else None


def acting_as(worker: str | None) -> str | None:
    """`worker`, after checking that the account may act as it (403 otherwise)."""
    if worker is not None:
        check_acts_as(current_account(), worker)
    return worker
