"""GET /metrics: Prometheus text of what the server did and of the state the database holds.

Counters are read before and after the requests a test makes (the counts of other apps in
this process may be there too only in multiprocess mode, which these tests do not use: each
app has a registry of its own). The gunicorn tests (multiprocess mode) are in
test_observability_gunicorn.py.
"""
from __future__ import annotations

from typing import Any

import pytest
from account_files import basic
from conftest import PASSWORD, USER, ApiClient, new_uuid
from helpers import claim, problem_details
from prometheus_client.parser import text_string_to_metric_families
from realserver import wait_until

from app.storage import Duplicate
from app.storage.errors import DatabaseError

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: ApiClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_need_credentials_by_default(app):
    plain = app.test_client()
    problem_details(plain.get("/metrics"), 401)
    assert plain.get("/metrics", headers=basic(USER, "wrong")).status_code == 401
    assert plain.get("/metrics", headers=basic(USER, PASSWORD)).status_code == 200


def test_metrics_may_be_public_by_setting(make_app):
    plain = make_app(METRICS_REQUIRE_AUTH=False).test_client()
    answer = plain.get("/metrics")
    assert answer.status_code == 200 and "orchestrator_database_up 1.0" in answer.get_data(True)
    problem_details(plain.get("/problem"), 401)  # nothing else opens


def test_requests_are_counted_by_url_rule_and_status(client):
    problem = client.problem()
    missing = new_uuid()
    before = scrape(client)
    for _ in range(3):
        assert client.get(f"/problem/{problem['uuid']}").status_code == 200
    assert client.get(f"/problem/{missing}").status_code == 404
    assert client.flask.get("/problem").status_code == 401
    assert client.get("/no/such/route").status_code == 404
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    route = {"method": "GET", "route": "/problem/<uuid>"}
    assert grew("orchestrator_http_requests_total", **route, status="200") == 3
    assert grew("orchestrator_http_requests_total", **route, status="404") == 1
    assert grew("orchestrator_http_requests_total", method="GET", route="/problem",
                status="401") == 1
    assert grew("orchestrator_http_requests_total", method="GET", route="(unmatched)",
                status="404") == 1
    assert grew("orchestrator_http_request_duration_seconds_count", **route, status="200") == 3
    assert grew("orchestrator_http_request_duration_seconds_bucket", **route, status="200",
                le="+Inf") == 3
    assert 0 < grew("orchestrator_http_request_duration_seconds_sum", **route, status="200") < 3
    text = client.get("/metrics").get_data(as_text=True)
    assert problem["uuid"] not in text and missing not in text  # one series per rule


def test_a_made_up_method_is_not_a_series_of_its_own(client):
    client.flask.open("/problem", method="BREW", headers=client.headers)
    assert value(scrape(client), "orchestrator_http_requests_total", method="other",
                 route="(unmatched)", status="405") == 1  # no rule matched the method either


def test_tasks_are_counted_by_kind_and_status(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=2)
    client.algo(problem["uuid"])  # two learnuplets: rank 0 todo, rank 1 waiting
    todo = client.learnuplets(status="todo")
    assert claim(client, todo[0]["uuid"]).status_code == 200
    prediction = client.post("/prediction", {"data": new_uuid(), "problem": problem["uuid"]})
    assert prediction.status_code in (400, 409)  # no trained model yet: no preduplet
    samples = scrape(client)
    expected = {status: len(client.learnuplets(status=status))
                for status in ("waiting", "todo", "pending", "done", "failed")}
    assert expected == {"waiting": 1, "todo": 0, "pending": 1, "done": 0, "failed": 0}
    for status, count in expected.items():
        assert value(samples, "orchestrator_tasks", kind="learnuplet", status=status) == count
        assert value(samples, "orchestrator_tasks", kind="preduplet", status=status) == 0


def test_the_registry_ledger_head_and_what_is_committed_past_it(client, store):
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    client.algo(problem["uuid"])  # two registry events, both applied
    samples = scrape(client)
    assert value(samples, "orchestrator_ledger_applied_version", ledger="registry") == 2
    assert value(samples, "orchestrator_ledger_newest_event", ledger="registry") == 2
    assert value(samples, "orchestrator_ledger_unapplied_events", ledger="registry") == 0
    # an event committed by a writer that died before applying it
    store.insert_event("events", {"_id": 3, "kind": "data_registered", "writes": [], "at": 0})
    samples = scrape(client)
    assert value(samples, "orchestrator_ledger_applied_version", ledger="registry") == 2
    assert value(samples, "orchestrator_ledger_newest_event", ledger="registry") == 3
    assert value(samples, "orchestrator_ledger_unapplied_events", ledger="registry") == 1
    assert value(samples, "orchestrator_ledger_applied_version", ledger="delivery") is None


def test_a_scrape_works_while_the_database_does_not(client, store, monkeypatch):
    def down(*args: Any) -> Any:
        raise DatabaseError("down")

    monkeypatch.setattr(store, "count_by", down)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    samples = parse(answer.get_data(as_text=True))
    assert value(samples, "orchestrator_database_up") == 0
    assert not any(name == "orchestrator_tasks" for name, _ in samples)
    monkeypatch.undo()
    assert value(scrape(client), "orchestrator_database_up") == 1


def test_database_gauges_are_read_when_scraped_not_per_request(client, store, monkeypatch):
    reads = []
    count_by = store.count_by
    monkeypatch.setattr(store, "count_by", lambda *args: reads.append(args) or count_by(*args))
    problem = client.problem()
    for _ in range(5):
        client.get(f"/problem/{problem['uuid']}")
    assert reads == []
    scrape(client)
    assert sorted(args[0] for args in reads) == ["learnuplet", "preduplet"]  # no push: no outbox


def test_commit_conflicts_are_counted(client, store, monkeypatch):
    """A rival writer takes the event number an algo's registration wanted: the decision is
    made again and committed, and the conflict counted."""
    problem = client.problem(size=1)
    insert_event, taken = store.insert_event, []

    def rival_first(events: str, event: dict[str, Any]) -> None:
        if events == "events" and not taken:
            taken.append(event["_id"])
            raise Duplicate(event["_id"])  # as if a conflicting event held the number
        insert_event(events, event)

    monkeypatch.setattr(store, "insert_event", rival_first)
    monkeypatch.setattr(store, "events_after", lambda *args: [{"_id": taken[0], "writes": []}])
    before = value(scrape(client), "orchestrator_commit_conflicts_total", ledger="registry",
                   outcome="retried")
    client.algo(problem["uuid"])
    assert taken
    after = value(scrape(client), "orchestrator_commit_conflicts_total", ledger="registry",
                  outcome="retried")
    assert (before, after) == (0, 1)


@pytest.mark.parametrize("mode, outcome", [("accept", "delivered"), ("fail", "failed")])
def test_pushes_and_the_backlog_are_counted(make_app, compute, mode, outcome):
    compute.mode = mode
    client = ApiClient(make_app(COMPUTE_URL=compute.url, DELIVERY_TIMEOUT_SECONDS=1.0,
                                DELIVERY_FIRST_RETRY_SECONDS=5.0).test_client())
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    client.algo(problem["uuid"])
    samples = wait_until(lambda: (found := scrape(client)) and value(
        found, "orchestrator_delivery_attempts_total", outcome=outcome) and found, 10,
        what=f"a push {outcome}")
    backlog = value(samples, "orchestrator_delivery_backlog", state="pending")
    assert backlog == (0 if outcome == "delivered" else 1)
    assert value(samples, "orchestrator_ledger_applied_version", ledger="delivery") >= 2
    assert value(samples, "orchestrator_ledger_unapplied_events", ledger="delivery") == 0


def test_the_api_document_follows_the_setting(app, make_app):
    def operation(created):
        return created.test_client().get("/openapi.json").get_json()["paths"]["/metrics"]["get"]

    protected, public = operation(app), operation(make_app(METRICS_REQUIRE_AUTH=False))
    assert protected["security"] == [{"basic": []}] and "401" in protected["responses"]
    assert public["security"] == [] and "401" not in public["responses"]
