"""The OpenAPI 3 document, built from the routes and their pydantic body declarations."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from ..storage.errors import DatabaseError
from .errors import database_unavailable, problem_response
from .listing import FILTER_SCHEMAS, FILTERS
from .schemas import Body
from .views import LEDGER

bp = Blueprint("meta", __name__)
TITLE = "Morpheo Orchestrator"

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object", "properties": {
                       "field": {"type": "string"}, "message": {"type": "string"}}}}},
}


@bp.get("/health")
def health():
    """Liveness: answers without touching the database."""
    return {"status": "ok"}


# A committed event is normally applied within milliseconds by its writer; one its writer
# left behind is rolled forward by the next write or the sweeper.
READY_GRACE_SECONDS = 2.0
BACKGROUND = "orchestrator.background"


@bp.get("/ready")
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


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3 description."""
    return jsonify(build_document(current_app))


@bp.get("/docs")
def docs():
    """A plain page listing the routes; the full description is /openapi.json."""
    document = build_document(current_app)
    rows = "".join(
        f"<tr><td>{method.upper()}</td><td><code>{path}</code></td><td>{op['summary']}</td></tr>"
        for path, methods in document["paths"].items() for method, op in methods.items())
    return (f"<!doctype html><title>{TITLE} API</title><h1>{TITLE} API</h1>"
            f"<p>Machine-readable: <a href='openapi.json'>/openapi.json</a></p>"
            f"<table>{rows}</table>")


def _path_template(rule: str) -> str:
    return rule.replace("<", "{").replace(">", "}")


def _operation(view: Any, rule: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    spec = getattr(view, "openapi", {})
    summary = spec.get("summary") or (view.__doc__ or rule.endpoint).split("\n")[0]
    operation: dict[str, Any] = {"summary": summary,
                                 "operationId": rule.endpoint.replace(".", "_"),
                                 "security": [{"basic": []}], "parameters": []}
    for argument in sorted(rule.arguments):
        operation["parameters"].append({"name": argument, "in": "path", "required": True,
                                        "schema": {"type": "string", "format": "uuid"}})
    if spec.get("permission"):
        operation["x-permission"] = spec["permission"]  # docs/api.md, Roles and permissions
    collection = spec.get("collection")
    if collection and not rule.arguments:
        operation["parameters"] += [{"name": name, "in": "query", "schema": FILTER_SCHEMAS[convert]}
                                    for name, convert in FILTERS[collection].items()]
        operation["parameters"] += [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "page_token", "in": "query", "schema": {"type": "string"}}]
    body: type[Body] | None = spec.get("body")
    if body is not None:
        schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[body.__name__] = schema
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}
    success = str(spec.get("success", 200))
    operation["responses"] = {
        success: {"description": spec.get("returns", "the document(s)")},
        "default": {"description": "an error", "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
    return operation


def build_document(app: Flask) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(view, rule, schemas)
            if rule.endpoint.startswith("meta."):
                operation.pop("security")
            paths.setdefault(_path_template(rule.rule), {})[method.lower()] = operation
    return {"openapi": "3.1.0",
            "info": {"title": TITLE, "version": "1.0.0",
                     "license": {"name": "CeCILL 2.1",
                                 "url": "https://cecill.info/licences/Licence_CeCILL_V2.1-en.html"}},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}}}
