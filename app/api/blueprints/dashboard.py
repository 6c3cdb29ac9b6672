"""The read-only dashboard under /ui: HTML pages rendered on the server with Jinja.

GET only (every other method gets 405 from routing), behind the API's basic auth with the
READ permission, like GET /problem. The pages read through app/dashboard's read models, never
write, and load nothing but this server's stylesheet: charts are SVG written into the page
(docs/dashboard.md says why). Lists are paged with the API's own page tokens where they follow
the ledger order (problems, an algo's ranks, pending preduplets), the leaderboard (sorted by
the best-model rule) by position.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from ...dashboard import problems as problem_pages
from ...dashboard import workers as worker_pages
from ...dashboard.algo import chain_summary
from ...dashboard.counts import COLUMNS
from ...dashboard.recent import REGISTRATIONS, WINDOW_MINUTES, recent_changes
from ...dashboard.text import duration_text, perf_text, utc_text
from ...domain.errors import Invalid, NotFound
from ...domain.permissions import READ
from ...domain.states import PENDING
from ..listing import BadQuery, make_token, parse_limit, read_token
from ..views import bad_query, check_uuid, documented, ledger, shown, store

FILES = Path(__file__).resolve().parent.parent / "dashboard"
bp = Blueprint("dashboard", __name__, url_prefix="/ui", template_folder=str(FILES))
# This server's stylesheet; inline SVG needs nothing more. No script at all.
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
          "form-action 'none'; base-uri 'none'")
RANKS_PER_PAGE = 50
# Rows of a page unless `limit` says otherwise (at most PAGE_LIMIT_MAX, as the API's lists): a
# page meant for reading, where the API's default (PAGE_LIMIT_DEFAULT) suits programs.
ROWS_PER_PAGE = 50


def _page(template: str, **context: Any) -> Response:
    response = make_response(render_template(f"{template}.html", columns=COLUMNS,
                                             now=ledger().now(), **context))
    response.headers["Content-Security-Policy"] = POLICY
    return response


def _limit() -> int:
    config = current_app.config
    return _query(lambda args: parse_limit(args, min(ROWS_PER_PAGE, config["PAGE_LIMIT_MAX"]),
                                           config["PAGE_LIMIT_MAX"]))


def _query(read: Any) -> Any:
    """A query parameter read by `read`; a 400 problem when it is not acceptable."""
    try:
        return read(request.args.to_dict(flat=False))
    except BadQuery as error:
        raise bad_query(error) from None


def _number(name: str) -> int:
    """A non-negative integer parameter (`offset`, `from_rank`), 0 when absent."""
    raw = request.args.get(name, "0")
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid(f"query parameter {name}: must be a non-negative integer",
                      errors=[{"field": name, "message": "must be a non-negative integer"}])
    return int(raw)


def _paged(collection: str, filters: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
    """One page of the API's list of `collection` and the URL of the next (None: last)."""
    after = _query(lambda args: read_token(filters, args))
    found = store().page(collection, filters, after, limit + 1)
    if len(found) <= limit:
        return found, None
    args = {**request.args.to_dict(), "page_token": make_token(filters, found[limit - 1]["seq"])}
    return found[:limit], url_for(request.endpoint, **request.view_args, **args)


@bp.get("/")
@documented(summary="Dashboard: the problems", permission=READ, hidden=True)
def problems() -> Response:
    found, next_page = _paged("problem", {}, _limit())
    return _page("problems", rows=problem_pages.problem_rows(store(), found),
                 next_page=next_page)


@bp.get("/problem/<uuid>")
@documented(summary="Dashboard: one problem", permission=READ, hidden=True)
def problem(uuid: str) -> Response:
    found = _document("problem", uuid)
    limit, offset = _limit(), _number("offset")
    return _page("problem", problem=found,
                 view=problem_pages.problem_view(store(), found, offset, limit))


@bp.get("/algo/<uuid>")
@documented(summary="Dashboard: one algo's chain", permission=READ, hidden=True)
def algo(uuid: str) -> Response:
    found = _document("algo", uuid)
    ranks, next_page = _paged("learnuplet", {"algo": found["uuid"]}, RANKS_PER_PAGE)
    return _page("algo", algo=found, chain=chain_summary(store().get("chain", found["uuid"])),
                 ranks=shown("learnuplet", sorted(ranks, key=lambda task: task["rank"])),
                 next_page=next_page, paging="page_token" in request.args,
                 delivery=bool(current_app.config["COMPUTE_URL"]))


@bp.get("/workers")
@documented(summary="Dashboard: workers and what they hold", permission=READ, hidden=True)
def workers() -> Response:
    limit, now = _limit(), ledger().now()
    preduplets, next_page = _paged("preduplet", {"status": PENDING}, limit)
    held = worker_pages.held_learnuplets(store(), now, limit) + \
        worker_pages.held_preduplets(preduplets, now)
    return _page("workers", workers=worker_pages.by_worker(held), held=len(held), limit=limit,
                 reports=worker_pages.recent_reports(store(), now, limit), next_page=next_page,
                 window=WINDOW_MINUTES)


@bp.get("/changes")
@documented(summary="Dashboard: recent changes", permission=READ, hidden=True)
def changes() -> Response:
    registry = ledger().registry
    found = recent_changes(store(), ledger().now(), _limit(), registry.events, registry.head())
    return _page("changes", changes=found, window=WINDOW_MINUTES, registrations=REGISTRATIONS)


@bp.get("/dashboard.css")
@documented(summary="The dashboard's stylesheet", permission=READ, hidden=True)
def stylesheet() -> Response:
    response = send_from_directory(FILES, "dashboard.css", mimetype="text/css")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"  # like every answer (headers.py)
    return response


def _document(collection: str, uuid: str) -> dict[str, Any]:
    found = store().get(collection, check_uuid(uuid))
    if found is None:
        raise NotFound(f"no {collection} {uuid}")
    return found


for name, format_value in (("when", utc_text), ("left", duration_text), ("perf", perf_text)):
    bp.add_app_template_filter(format_value, name)
