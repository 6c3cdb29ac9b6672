"""schemathesis hooks for tests/test_schemathesis.py: the rules no schema can state.

schemathesis expects every request its positive mode generates from /openapi.json to be
accepted. Three rules depend on what is stored, so no schema can describe them, and the
server refuses a request that breaks them with 400, as docs/api.md says:
- a `page_token` is one this server issued for the same filters (Pagination);
- a problem that a body refers to exists (POST /algo, /data, /prediction);
- a learnuplet's report gives performance only for its own data (POST /learndone).
So a positive case keeps its page_token only if the server's own listing code accepts it
for the case's filters, refers to the problem the test registered (ORCHESTRATOR_PROBLEM),
and reports no per-data performance. Links are applied after this hook: a uuid, worker or
page token that a link takes from an earlier answer replaces these values.
Negative cases are left alone: they must be refused whatever is stored.
"""
from __future__ import annotations

import os
from typing import Any

import schemathesis

from app.api.listing import BadQuery, parse_filters, read_token

PROBLEM = os.environ.get("ORCHESTRATOR_PROBLEM", "")
REFERS_TO_A_PROBLEM = {"/algo": "problem", "/prediction": "problem", "/data": "problems"}


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if case.method == "GET" and case.query and "page_token" in case.query:
        _keep_only_a_valid_token(case)
    body = case.body if isinstance(case.body, dict) else {}
    field = REFERS_TO_A_PROBLEM.get(case.path) if case.method == "POST" else None
    if field in body:
        body[field] = [PROBLEM] if isinstance(body[field], list) else PROBLEM
    if case.path == "/learndone/{uuid}":
        for name in ("train_perf", "test_perf"):
            if isinstance(body.get(name), dict):
                body[name] = {}
    return case


def _keep_only_a_valid_token(case: Any) -> None:
    args = {name: [str(value) for value in (values if isinstance(values, list) else [values])]
            for name, values in case.query.items()}
    if case.path.endswith("/history"):  # a history's tokens are only ever issued by the server
        del case.query["page_token"]
        return
    try:
        read_token(parse_filters("event" if case.path == "/events" else case.path.strip("/"),
                                 args), args)
    except BadQuery:
        del case.query["page_token"]
