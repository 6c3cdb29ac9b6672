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

from flask import Flask, current_app, request
from flask_httpauth import HTTPBasicAuth

from ..domain.permissions import ADMIN, PERMISSIONS, Account, check_acts_as, check_permission
from .accounts import StoredAccount
from .errors import problem_response
from .passwords import hash_password, parse_hash

# Liveness, readiness, the version and the API description need no credentials (API.md,
# Authentication).
PUBLIC_ENDPOINTS = {"meta.health", "meta.ready", "meta.version", "meta.openapi", "meta.docs",
                    "meta.docs_file"}
CACHE_SIZE = 10_000  # verified credentials kept per process; emptied when full
AUTH = "orchestrator.auth"


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
    auth = HTTPBasicAuth()
    app.extensions[AUTH] = auth

    @auth.verify_password
    def verify(username: str, given: str) -> Account | None:
        return authenticator.verify(username, given)

    @auth.error_handler
    def unauthorized(status: int):
        return problem_response(status, "Unauthorized",
                                "Valid HTTP basic credentials are required.", "unauthorized",
                                headers={"WWW-Authenticate": 'Basic realm="orchestrator"'})

    @auth.login_required
    def _authenticated() -> None:
        return None

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        refused = _authenticated()
        if refused is not None or request.method == "OPTIONS" or request.endpoint is None:
            return refused  # CORS preflights carry no credentials; unknown routes: 404 next
        check_permission(current_account(), permission_of(app, request.endpoint))
        return None


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
    return current_app.extensions[AUTH].current_user()


def acting_as(worker: str | None) -> str | None:
    """`worker`, after checking that the account may act as it (403 otherwise)."""
    if worker is not None:
        check_acts_as(current_account(), worker)
    return worker
