"""Headers every response carries: no MIME sniffing, no caching, nothing to run or frame.

Answers hold task states and credentials-protected documents, which go stale at once and
must not stay in shared caches; no answer of this API is a page that loads anything, so the
content security policy allows nothing, except on the /docs page and its files, which set
their own (blueprints/meta.py: this server's own scripts, styles and API only).
"""
from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def add_security_headers(app: Flask) -> None:
    @app.after_request
    def secure(response: Response) -> Response:
        # what headers.setdefault does, at a third of its cost (it scans the headers each time)
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        headers.extend([(name, value) for name, value in SECURITY_HEADERS.items()
                        if name.lower() not in present])
        return response
