"""The audit trail over HTTP: the sealed events (GET /events), the chain's head (GET /ledger)
and each document's history (GET /<collection>/<uuid>/history). See docs/audit.md."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from ...domain.errors import NotFound
from ...domain.permissions import READ
from ...ledger.audit import AUDIT, content, head
from ..answers import EventList, LedgerHead
from ..listing import PUBLIC, BadQuery, parse_filters, parse_limit, read_token
from ..views import bad_query, check_uuid, documented, page_answer, store

bp = Blueprint("audit", __name__)
FIELDS = {"kind": "kind", "collection": "collections", "uuid": "uuids"}  # filter -> entry field


@bp.get("/events")
@documented(summary="The audit trail: sealed events, in ledger order", collection="event",
            permission=READ, answer=EventList, paged=True,
            returns="one page of events, oldest first")
def events() -> Response:
    args = request.args.to_dict(flat=False)
    try:
        query = parse_filters("event", args)
    except BadQuery as error:
        raise bad_query(error) from None
    filters = {FIELDS[name]: value for name, value in query.items() if name != "after"}
    start = f"{query['after']:012d}" if "after" in query else None
    return _page(filters, start, query)


@bp.get("/ledger")
@documented(summary="The audit chain's head: a checkpoint to keep", permission=READ,
            answer=LedgerHead, returns="its number and hash")
def ledger_head() -> dict[str, Any]:
    last = head(store())
    return {**last, "applied_version": last["version"]}


def _history(collection: str):
    @documented(summary=f"The events that wrote one {collection}", permission=READ,
                answer=EventList, paged=True, returns="one page of events, oldest first")
    def history(uuid: str) -> Response:
        uuid = check_uuid(uuid)
        if store().get(collection, uuid) is None:
            raise NotFound(f"no {collection} {uuid}")
        return _page({"documents": f"{collection}/{uuid}"}, None, {"document": uuid})

    history.__name__ = f"{collection}_history"
    return history


for _collection in PUBLIC:
    bp.add_url_rule(f"/{_collection}/<uuid>/history", f"{_collection}_history",
                    _history(_collection), methods=["GET"])


def _page(filters: dict[str, Any], start: str | None, query: dict[str, Any]) -> Response:
    """One page of audit entries matching `filters` after `start`, with their events."""
    args = request.args.to_dict(flat=False)
    config = current_app.config
    try:
        limit = parse_limit(args, config["PAGE_LIMIT_DEFAULT"], config["PAGE_LIMIT_MAX"])
        token = read_token(query, args)
    except BadQuery as error:
        raise bad_query(error) from None
    after = max(filter(None, (start, token)), default=None)
    entries = store().page(AUDIT, filters, after, limit + 1)
    return page_answer("events", entries, limit, query, _with_events)


def _with_events(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries as answered, each with its event (one read per ledger for the page)."""
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    for source in {entry["source"] for entry in entries}:
        keys = [entry["key"] for entry in entries if entry["source"] == source]
        found.update(((source, event["_id"]), event)
                     for event in store().events_by_key(source, keys))
    return [{"version": int(entry["seq"]), "kind": entry["kind"], "at": entry["at"], "by": entry["by"],
             "documents": entry["documents"], "event_hash": entry["event_hash"],
             "prev_hash": entry["prev"], "hash": entry["hash"],
             "event": content(found.get((entry["source"], entry["key"])) or {})}
            for entry in entries]

