"""HTTP basic auth on every route but the public ones; fails closed."""
from __future__ import annotations

import hmac

from flask import Flask, request
from flask_httpauth import HTTPBasicAuth

from .errors import problem_response

# Liveness and the API description need no credentials (API.md, Authentication).
PUBLIC_ENDPOINTS = {"meta.health", "meta.ready", "meta.openapi", "meta.docs"}


def init_auth(app: Flask) -> None:
    auth = HTTPBasicAuth()
    # Encoded once; compare_digest then compares in constant time.
    user = app.config["USER_AUTH"].encode()
    password = app.config["PWD_AUTH"].encode()

    @auth.verify_password
    def verify(username: str, given: str) -> str | None:
        same_user = hmac.compare_digest(username.encode(), user)
        same_password = hmac.compare_digest(given.encode(), password)
        return username if same_user and same_password else None

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
        if request.endpoint not in PUBLIC_ENDPOINTS:
            return _authenticated()
        return None
