"""The OpenAPI 3.1 document, built from the routes, their request bodies (schemas.py) and their
answers (answers.py): the same pydantic declarations that validate requests describe them.

Each route says what it needs (views.documented); the statuses every route of a kind can
answer are added here, so that the document lists every status and media type it returns.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from pydantic import BaseModel

from ..domain.permissions import PERMISSION_TABLE
from .answers import Error
from .listing import FILTER_SCHEMAS, FILTERS, TOKEN_LENGTH_MAX
from .openapi_links import add_links
from .schemas import UUID_PATTERN

TITLE = "Morpheo Orchestrator"
JSON, PROBLEM_JSON = "application/json", "application/problem+json"
REF = "#/components/schemas/{model}"
UUID_SCHEMA = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}

# What each error status means, whatever the route (docs/api.md, Errors).
MEANING = {
    400: "invalid body, path or query parameter (`errors` names each field)",
    401: "missing or wrong credentials",
    403: "the account's role lacks the permission, or it acts as a worker it does not list",
    404: "no document with that uuid",
    409: "conflicts with what is stored (see the detail)",
    413: "the body, or what it would create, is too large",
    415: "the body is not declared as application/json",
    503: "the database is unreachable or stalled, or writes are congested: retry after Retry-After",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                               "description": 'Basic realm="orchestrator"'}},
    503: {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"},
                          "description": "seconds to wait before retrying"}},
}
LINK_HEADER = {"Link": {"schema": {"type": "string"},
                        "description": 'the next page: `<url>; rel="next"`, when more match'}}


class Components:
    """The document's schemas, each pydantic model once, by its class name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, str]:
        if model.__name__ not in self.schemas:
            schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
            self.schemas.update(schema.pop("$defs", {}))
            self.schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def build_document(app: Flask, version: str) -> dict[str, Any]:
    components = Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        spec = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if spec is None or spec.get("hidden"):
            continue  # not an API operation (the /docs page's files)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(spec, rule, components, app.config)
            paths.setdefault(rule.rule.replace("<", "{").replace(">", "}"), {})[method.lower()] = operation
    add_links(paths)
    return {"openapi": "3.1.0",
            "info": {"title": TITLE, "version": version,
                     "description": "The record of the Morpheo machine-learning platform. "
                                    "Reference: docs/api.md of the repository.",
                     "license": {"name": "CeCILL 2.1",
                                 "url": "https://cecill.info/licences/Licence_CeCILL_V2.1-en.html"}},
            "paths": paths,
            "components": {"schemas": components.schemas,
                           "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}}}


def _operation(spec: dict[str, Any], rule: Any, components: Components,
               config: Any) -> dict[str, Any]:
    if spec.get("auth_setting") and not config[spec["auth_setting"]]:
        spec = {**spec, "permission": None}  # opened by its setting: no credentials, no 401
    operation: dict[str, Any] = {"summary": spec["summary"],
                                 "operationId": rule.endpoint.replace(".", "_"),
                                 "tags": [rule.endpoint.split(".")[0]],
                                 "parameters": [{"name": argument, "in": "path", "required": True,
                                                 "schema": UUID_SCHEMA}
                                                for argument in sorted(rule.arguments)]}
    if spec.get("permission"):
        operation["security"] = [{"basic": []}]
        operation["x-permission"] = spec["permission"]  # docs/api.md, Roles and permissions
    else:
        operation["security"] = []
    collection = spec.get("collection")
    if collection and not rule.arguments:
        operation["parameters"] += _list_parameters(collection, config["PAGE_LIMIT_MAX"])
    body = spec.get("body")
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            JSON: {"schema": components.ref(body, mode="validation")}}}
    operation["responses"] = {**_successes(spec, components),
                              **_errors(spec, rule, components)}
    return operation


def _list_parameters(collection: str, limit_max: int) -> list[dict[str, Any]]:
    filters = [{"name": name, "in": "query", "schema": FILTER_SCHEMAS[convert]}
               for name, convert in FILTERS[collection].items()]
    return filters + [
        {"name": "limit", "in": "query", "description": "documents per page",
         "schema": {"type": "integer", "minimum": 1, "maximum": limit_max}},
        {"name": "page_token", "in": "query",
         "description": "the `next_page_token` of the previous page, sent with the same filters",
         "schema": {"type": "string", "minLength": 1, "maxLength": TOKEN_LENGTH_MAX,
                    "pattern": "^[A-Za-z0-9_-]+$"}}]


def _successes(spec: dict[str, Any], components: Components) -> dict[str, Any]:
    media = spec.get("media", JSON)
    answer = spec.get("answer")
    schema = components.ref(answer) if answer is not None else spec.get("schema", {})
    success = {"description": spec["returns"], "content": {media: {"schema": schema}}}
    if spec.get("paged"):
        success["headers"] = LINK_HEADER
    responses = {str(spec.get("success", 200)): success}
    if spec.get("retry"):
        responses["200"] = {"description": "an identical retry: the stored document(s), "
                                           "nothing created", "content": success["content"]}
    return responses


def _errors(spec: dict[str, Any], rule: Any, components: Components) -> dict[str, Any]:
    statuses = set(spec.get("errors", ()))
    permission = spec.get("permission")
    if permission:
        statuses.add(401)
        if any(permission not in granted for granted in PERMISSION_TABLE.values()):
            statuses.add(403)
    if spec.get("database", True):
        statuses.add(503)
    if spec.get("body") is not None:
        statuses |= {400, 413, 415}
    if rule.arguments:
        statuses |= {400, 404}
    if spec.get("collection"):
        statuses.add(400)
    error = {PROBLEM_JSON: {"schema": components.ref(Error)}}
    return {str(status): {"description": spec.get("why", {}).get(status, MEANING[status]),
                          "content": error, **({"headers": ERROR_HEADERS[status]}
                                               if status in ERROR_HEADERS else {})}
            for status in sorted(statuses)}
