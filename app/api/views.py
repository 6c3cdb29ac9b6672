"""What every blueprint does the same way: read a body, reach the ledger, answer a list."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from ..delivery.outbox import TASKS, delivery_fields
from ..domain.errors import Invalid, NotFound
from ..domain.permissions import READ
from ..ledger import Ledgers
from ..storage import Store, public
from .answers import DOCUMENTS, list_answer
from .auth import current_account
from .errors import UnsupportedMediaType
from .listing import BadQuery, make_token, parse_filters, parse_limit, read_token
from .schemas import UUID_PATTERN, Body

BodyT = TypeVar("BodyT", bound=Body)
_UUID = re.compile(UUID_PATTERN)
LEDGER, STORE, VERSION = "orchestrator.ledger", "orchestrator.store", "orchestrator.version"
METRICS = "orchestrator.metrics"


def ledger() -> Ledgers:
    """The registry and the streams the decisions commit through."""
    return current_app.extensions[LEDGER]


def store() -> Store:
    return current_app.extensions[STORE]


def limits() -> dict[str, int]:
    """The bounds on one event's work (decisions/bounds.py)."""
    return {name: current_app.config[name] for name in ("MAX_EVENT_DOCUMENTS", "MAX_EVENT_UUIDS")}


def user() -> str:
    """The account name every event records (`by`)."""
    return current_account().name


def _field_name(location: tuple[Any, ...]) -> str:
    # pydantic names union branches in the location ("function-after[...]", "list[...]"): drop them
    parts = [str(part) for part in location
             if isinstance(part, int) or not any(mark in str(part) for mark in "[(")]
    return ".".join(parts) or "body"


def parse_body(model: type[BodyT]) -> BodyT:
    """The request body validated against `model`; 415 or 400 problem JSON otherwise."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (got {request.mimetype or 'none'})")
    try:
        body = model.model_validate_json(request_body() or b"")
    except ValidationError as error:
        errors = [{"field": _field_name(item["loc"]), "message": item["msg"]}
                  for item in error.errors(include_url=False, include_input=False)]
        kinds = {item["type"] for item in error.errors()}
        # invalid JSON includes a string that is not valid Unicode (an unpaired surrogate)
        detail = ("The body is not valid JSON; see errors." if "json_invalid" in kinds
                  else "The body must be a JSON object." if "model_type" in kinds
                  else "The body has invalid fields; see errors.")
        raise Invalid(detail, errors=errors) from None
    errors = [{"field": name, "message": message} for name, message in body.field_errors()]
    if errors:
        raise Invalid("The body has invalid fields; see errors.", errors=errors)
    return body


def request_body() -> bytes:
    """The body; 413 when it is larger than MAX_CONTENT_LENGTH.

    A chunked body has no Content-Length to check beforehand, and werkzeug stops reading it
    at the limit and hands on what it read, so it is read here up to one byte past the limit.
    """
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=False)
    limit, stream = current_app.config["MAX_CONTENT_LENGTH"], request.environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit and (chunk := stream.read(min(65536, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)


def check_uuid(value: str) -> str:
    """A UUID from the path, canonical lowercase; 400 otherwise."""
    if not _UUID.fullmatch(value):  # the whole string: `$` matches before a final newline
        raise Invalid(f"{value!r} is not a UUID",
                               errors=[{"field": "uuid", "message": "must be a UUID"}])
    return value.lower()


def one_document(collection: str, uuid: str) -> Response:
    uuid = check_uuid(uuid)
    document = store().get(collection, uuid)
    if document is None:
        raise NotFound(f"no {collection} {uuid}")
    return jsonify(shown(collection, [document])[0])


def document_list(collection: str) -> Response:
    """One page of a collection, filtered; `next_page_token` and a Link header when more match."""
    args = request.args.to_dict(flat=False)
    config = current_app.config
    try:
        query = parse_filters(collection, args)
        limit = parse_limit(args, config["PAGE_LIMIT_DEFAULT"], config["PAGE_LIMIT_MAX"])
        after = read_token(query, args)
    except BadQuery as error:
        raise bad_query(error) from None
    documents = store().page(collection, query, after, limit + 1)
    return page_answer(f"{collection}s", documents, limit, query,
                       lambda page: shown(collection, page))


def bad_query(error: BadQuery) -> Invalid:
    """A query parameter a listing refused, as 400 problem JSON."""
    return Invalid(f"query parameter {error.field}: {error.message}",
                   errors=[{"field": error.field, "message": error.message}])


def page_answer(key: str, rows: list[dict[str, Any]], limit: int, query: dict[str, Any],
                render: Callable[[list[dict[str, Any]]], list[Any]]) -> Response:
    """`{key: render(page)}` of up to `limit` rows (read as limit + 1, in `seq` order), with
    `next_page_token` and a Link header to the next page when there are more."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    token = make_token(query, rows[-1]["seq"]) if has_more else None
    body: dict[str, Any] = {key: render(rows)}
    if token:
        body["next_page_token"] = token
    response = jsonify(body)
    if token:
        args = request.args.to_dict(flat=False)
        next_args = {name: values for name, values in args.items() if name != "page_token"}
        link = url_for(request.endpoint, **(request.view_args or {}), **next_args,
                       page_token=token)
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


def shown(collection: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents as a client sees them; tasks with their delivery state when push
    delivery is on (one read of the outbox for all of them)."""
    if collection not in TASKS or not current_app.config["COMPUTE_URL"]:
        return [public(document) for document in documents]
    entries = {entry["uuid"]: entry for entry in store().get_many(
        "outbox", [doc["delivery_entry"] for doc in documents if doc.get("delivery_entry")])}
    return [public(document) | delivery_fields(entries.get(document.get("delivery_entry")))
            for document in documents]


def add_read_routes(bp: Blueprint, collection: str) -> None:
    """GET /<collection> (filtered, paged) and GET /<collection>/<uuid>, the same for all."""

    @documented(summary=f"List {collection}s", collection=collection, permission=READ,
                answer=list_answer(collection), paged=True,
                returns=f"one page of {collection}s, in commit order")
    def list_documents() -> Response:
        return document_list(collection)

    @documented(summary=f"One {collection}", collection=collection, permission=READ,
                answer=DOCUMENTS[collection], returns=f"the {collection}")
    def get_document(uuid: str) -> Response:
        return one_document(collection, uuid)

    bp.add_url_rule(f"/{collection}", "list", list_documents, methods=["GET"])
    bp.add_url_rule(f"/{collection}/<uuid>", "get", get_document, methods=["GET"])


def documented(**spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach OpenAPI facts to a view and the permission it needs (domain/permissions.py;
    auth.py checks it). openapi.py reads: summary; returns (what the success answer is);
    answer (its model, answers.py); success (its status, 200 by default); retry (an identical
    retry answers 200); paged (a Link header may give the next page); body (the request model,
    schemas.py); collection (query filters); errors (statuses besides those openapi.py adds
    for every route of the kind); why ({status: meaning} where it differs from the usual);
    database (False: answers without it); media and schema (an answer that is not JSON);
    hidden (not an API operation); auth_setting (a setting that, when false, opens the route
    to requests without credentials: auth.py)."""

    def attach(view: Callable[..., Any]) -> Callable[..., Any]:
        view.openapi = spec  # type: ignore[attr-defined]
        return view

    return attach
