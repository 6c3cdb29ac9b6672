"""What describes and probes the server, without credentials: /health, /ready, /version,
/openapi.json and the /docs page (Swagger UI, served from installed packages: no CDN)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from ...storage.errors import DatabaseError
from ..answers import Health, Ready, Version
from ..errors import database_unavailable, problem_response
from ..openapi import build_document
from ..views import LEDGER, VERSION, documented

bp = Blueprint("meta", __name__)
# The routes that answer without preparing the database (app/__init__.py).
WITHOUT_DATABASE = {"meta.health", "meta.ready", "meta.version", "meta.openapi", "meta.docs",
                    "meta.docs_file"}


@bp.get("/health")
@documented(summary="Liveness: answers without touching the database", answer=Health,
            returns="the process answers", database=False)
def health():
    return {"status": "ok"}


# A committed event is normally applied within milliseconds by its writer; one its writer
# left behind is rolled forward by the next write or the sweeper.
READY_GRACE_SECONDS = 2.0
BACKGROUND = "orchestrator.background"


@bp.get("/ready")
@documented(summary="Readiness: the database answers and what was committed is applied",
            answer=Ready, returns="ready to serve",
            why={503: "not ready: the database is unreachable (`database-unavailable`), or "
                      "committed changes stay unapplied (`ledger-behind`)"})
def ready() -> Response | dict[str, str]:
    """Readiness: the database answers and what was committed is applied.

    The registry is checked here (its head against its next event: two lookups by key). Stream
    events left behind by a writer are applied by the sweeper within SETTLE_SECONDS and one
    sweep interval; a sweep that keeps failing is reported, since they may then stay unapplied.
    """
    ledgers = current_app.extensions[LEDGER]
    registry = ledgers.registry
    try:
        ledgers.store.ping()
        current_app.extensions["orchestrator.prepare"]()
        head = registry.head()
        behind = registry.next_event(head)
    except DatabaseError:
        return database_unavailable("not ready: the database is unreachable")
    waited = registry.clock.now() - behind["at"] if behind else 0.0
    if waited > READY_GRACE_SECONDS:
        return _not_ready(f"registry event {head + 1} and maybe later ones committed but "
                          f"unapplied for {waited:.0f} s (registry head {head})")
    sweeper = (current_app.extensions.get(BACKGROUND) or [None])[0]
    failing = sweeper.failing_for() if sweeper is not None else 0.0
    if failing > READY_GRACE_SECONDS:
        return _not_ready(f"the background sweep has been failing for {failing:.0f} s "
                          f"({sweeper.last_error}): committed changes may stay unapplied")
    return {"status": "ready"}


def _not_ready(detail: str) -> Response:
    return problem_response(503, "Service Unavailable", f"not ready: {detail}", "ledger-behind",
                            headers={"Retry-After": "5"})


@bp.get("/version")
@documented(summary="The server's version", answer=Version, returns="the package version",
            database=False)
def version():
    return {"version": current_app.extensions[VERSION]}


@bp.get("/openapi.json")
@documented(summary="This API's OpenAPI 3.1 description", returns="the OpenAPI document",
            schema={"type": "object"}, database=False)
def openapi():
    return jsonify(build_document(current_app, current_app.extensions[VERSION]))


# The page and its script are ours; Swagger UI's files come from the flask-swagger-ui package.
OWN_FILES = Path(__file__).resolve().parent.parent / "swagger"
SWAGGER_UI_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png",
                    "favicon-16x16.png")
# Swagger UI runs its own scripts and styles, shows data: images, and calls this API.
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'")


@bp.get("/docs")
@documented(summary="This API's reference in Swagger UI, with basic-auth try it out",
            returns="the page", media="text/html", schema={"type": "string"}, database=False)
def docs() -> Response:
    return _page_file(OWN_FILES, "index.html")


@bp.get("/docs/<name>")
@documented(summary="The files of the /docs page", hidden=True)
def docs_file(name: str) -> Response:
    if name in SWAGGER_UI_FILES:
        return _page_file(Path(str(resources.files("flask_swagger_ui") / "dist")), name)
    if name == "docs.js":
        return _page_file(OWN_FILES, name)
    raise NotFound()


def _page_file(folder: Path, name: str) -> Response:
    response = send_from_directory(folder, name)
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    response.headers["Cache-Control"] = "no-store"  # like every answer (headers.py)
    return response
