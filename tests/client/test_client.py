"""The client package (client/orchestrator_client) against a live server: every route,
paging, problem JSON as exceptions, and retries that are safe after a lost answer."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from client_helpers import FAST_RETRY, perfs, setup_chain
from conftest import AUTH, new_uuid
from lossy_proxy import LossyProxy
from orchestrator_client import (
    BadRequest,
    Client,
    Conflict,
    NotFound,
    RetryPolicy,
    StateConflict,
    Unauthorized,
    Unavailable,
    Unreachable,
)

from app import __version__ as app_version
from app.ledger.sealing import Sealer

PREFIX = "urn:morpheo:orchestrator:problem:"

# Every route the client has a method for, as /openapi.json names it (and /docs, a page for
# people; /metrics, Prometheus's). A route the server adds fails
# test_the_client_covers_every_route_the_server_describes.
NOT_FOR_THE_CLIENT = {("get", "/metrics")}
CLIENT_ROUTES = {
    ("get", "/health"), ("get", "/ready"), ("get", "/version"), ("get", "/openapi.json"),
    ("get", "/docs"),
    *((method, path) for collection in ("problem", "algo", "data", "learnuplet", "preduplet")
      for method, path in (("get", f"/{collection}"), ("get", f"/{collection}/{{uuid}}"))),
    ("post", "/problem"), ("post", "/algo"), ("post", "/data"), ("post", "/prediction"),
    *(("post", f"/worker/{kind}/{{uuid}}{tail}") for kind in ("learnuplet", "preduplet")
      for tail in ("", "/heartbeat")),
    ("post", "/learndone/{uuid}"), ("post", "/preddone/{uuid}"),
    ("get", "/events"), ("get", "/ledger"),  # Client.events, Client.ledger()
    *(("get", f"/{collection}/{{uuid}}/history")  # Listing.history
      for collection in ("problem", "algo", "data", "learnuplet", "preduplet")),
}


@pytest.fixture
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server, AUTH, retry=FAST_RETRY) as client:
        yield client


@pytest.fixture
def proxy(live_server: str) -> Iterator[LossyProxy]:
    lossy = LossyProxy(live_server)
    yield lossy
    lossy.close()


def test_the_client_covers_every_route_the_server_describes(api):
    described = {(method, path) for path, methods in api.openapi()["paths"].items()
                 for method in methods}
    assert described - CLIENT_ROUTES - NOT_FOR_THE_CLIENT == set(), "routes the client has no method for"


def test_every_route_through_the_client(api):
    assert api.health() == {"status": "ok"}
    assert api.ready() == {"status": "ready"}
    assert api.version() == app_version
    test_data, train_data = new_uuid(), new_uuid()
    problem = api.create_problem(workflow=new_uuid(), test_dataset=[test_data], size_train_dataset=1)
    assert problem.created and problem.document["size_train_dataset"] == 1
    problem_uuid = problem.document["uuid"]
    data = api.create_data(uuids=[test_data, train_data], problems=[problem_uuid])
    assert data.created and [doc["uuid"] for doc in data.documents] == [test_data, train_data]
    algo = api.create_algo(problem=problem_uuid, name="svm")
    assert algo.created and algo.new_learnuplets == 1
    algo_uuid = algo.document["uuid"]

    assert api.problems.get(problem_uuid)["workflow"] == problem.document["workflow"]
    assert api.algos.get(algo_uuid)["name"] == "svm"
    assert api.data.get(train_data)["problems"] == [problem_uuid]
    assert [doc["uuid"] for doc in api.problems.all(uuid=problem_uuid)] == [problem_uuid]
    assert [doc["uuid"] for doc in api.algos.all(problem=problem_uuid)] == [algo_uuid]
    assert len(api.data.all(problems=problem_uuid)) == 2

    [learnuplet] = api.learnuplets.all(algo=algo_uuid, status="todo")
    worker = new_uuid()
    api.claim("learnuplet", learnuplet["uuid"], worker)
    assert api.heartbeat("learnuplet", learnuplet["uuid"], worker) >= time.time()
    api.learn_done(learnuplet["uuid"], perf=0.8, train_perf={train_data: 0.9},
                   test_perf={test_data: 0.8}, worker=worker)
    trained = api.learnuplets.get(learnuplet["uuid"])
    assert (trained["status"], trained["worker"], trained["perf"]) == ("done", worker, 0.8)

    prediction = api.request_prediction(data=new_uuid(), problem=problem_uuid)
    preduplet = prediction.document
    assert prediction.created and preduplet["model"] == trained["model_end"]
    assert api.preduplets.all(problem=problem_uuid, worker=None) == [preduplet]
    api.claim("preduplet", preduplet["uuid"], worker)
    assert api.heartbeat("preduplet", preduplet["uuid"], worker) >= time.time()
    stored = new_uuid()
    api.pred_done(preduplet["uuid"], prediction_storage_uuid=stored, worker=worker)
    assert api.preduplets.get(preduplet["uuid"])["prediction_storage_uuid"] == stored

    failing = api.request_prediction(data=new_uuid(), problem=problem_uuid).document
    api.pred_failed(failing["uuid"], worker=worker)  # from todo: a task the worker could not start
    assert api.preduplets.get(failing["uuid"])["status"] == "failed"
    api.create_data(uuids=new_uuid(), problems=problem_uuid)  # the chain goes on: rank 1, todo
    [rank1] = api.learnuplets.all(algo=algo_uuid, rank=1)
    api.claim("learnuplet", rank1["uuid"], worker)
    api.learn_failed(rank1["uuid"], worker=worker)
    assert api.learnuplets.get(rank1["uuid"])["status"] == "failed"


def test_the_audit_trail_through_the_client(api, ledgers):
    problem = api.create_problem(workflow=new_uuid(), test_dataset=[], size_train_dataset=1)
    uuid = problem.document["uuid"]
    assert api.ledger()["version"] == 0
    Sealer(ledgers.streams, settle_seconds=0).seal()  # the sweeper's step, at once
    head = api.ledger()
    assert head["version"] == head["applied_version"] == 1
    [event] = api.events.all(kind="problem_registered")
    assert event["hash"] == head["hash"] and event["event"]["problem"]["uuid"] == uuid
    assert [e["version"] for e in api.problems.history(uuid)] == [1]
    assert api.events.page(after=1).documents == []


def test_iteration_follows_the_pages_in_order(api, proxy):
    problem = api.create_problem(workflow=new_uuid(), test_dataset=[], size_train_dataset=1)
    uuids = [new_uuid() for _ in range(7)]
    for uuid in uuids:  # one by one: upload order is the list order
        api.create_data(uuids=uuid, problems=problem.document["uuid"])
    first = api.data.page(limit=3, problems=problem.document["uuid"])
    assert [doc["uuid"] for doc in first.documents] == uuids[:3] and first.next_page_token

    counted = Client(proxy.url, AUTH, retry=FAST_RETRY)
    listed = [doc["uuid"] for doc in counted.data.iterate(limit=3, problems=problem.document["uuid"])]
    assert listed == uuids
    assert len(proxy.forwarded) == 3  # pages of 3, 3 and 1
    assert all("page_token=" in path for _, path in proxy.forwarded[1:])
    last = api.data.page(limit=3, page_token=first.next_page_token, problems=problem.document["uuid"])
    assert [doc["uuid"] for doc in last.documents] == uuids[3:6]


def test_a_400_is_a_bad_request_naming_each_field(api):
    with pytest.raises(BadRequest) as raised:
        api.create_problem(workflow="not-a-uuid", test_dataset=[], size_train_dataset=0)
    error = raised.value
    assert (error.status, error.type, error.kind) == (400, PREFIX + "validation-error",
                                                      "validation-error")
    assert set(error.fields) == {"workflow", "size_train_dataset"}
    assert error.detail and error.title and error.method == "POST" and error.url.endswith("/problem")
    with pytest.raises(BadRequest) as raised:
        api.learnuplets.all(rank="first")
    assert raised.value.fields.keys() == {"rank"}


def test_a_409_is_a_conflict_with_the_servers_detail(api):
    problem = api.create_problem(workflow=new_uuid(), test_dataset=[], size_train_dataset=1).document
    with pytest.raises(Conflict) as raised:
        api.create_problem(uuid=problem["uuid"], workflow=new_uuid(), test_dataset=[],
                           size_train_dataset=1)
    assert (raised.value.status, raised.value.kind) == (409, "conflict")
    assert not isinstance(raised.value, StateConflict) and "workflow" in raised.value.detail

    _, algo, _ = setup_chain(api)
    [learnuplet] = api.learnuplets.all(algo=algo)
    winner, loser = new_uuid(), new_uuid()
    api.claim("learnuplet", learnuplet["uuid"], winner)
    with pytest.raises(StateConflict) as raised:
        api.claim("learnuplet", learnuplet["uuid"], loser)
    assert (raised.value.status, raised.value.kind) == (409, "state-conflict")
    assert "pending" in raised.value.detail and raised.value.tries == 1


def test_404_and_401_are_their_own_exceptions(api, live_server):
    with pytest.raises(NotFound) as raised:
        api.algos.get(new_uuid())
    assert raised.value.status == 404 and raised.value.kind == "not-found"
    with pytest.raises(Unauthorized) as raised:
        Client(live_server, ("operator", "wrong"), retry=FAST_RETRY).problems.all()
    assert raised.value.status == 401


def test_a_create_retried_after_a_timeout_finds_what_the_first_try_stored(api, proxy):
    client = Client(proxy.url, AUTH, timeout=(2, 0.5), retry=FAST_RETRY)
    proxy.lose(1, "/problem")
    problem = client.create_problem(workflow=new_uuid(), test_dataset=[], size_train_dataset=3)
    assert proxy.lost and len(proxy.forwarded) == 2  # the first try was stored, its answer lost
    assert not problem.created  # the retry found it: 200, nothing created again
    assert api.problems.all(uuid=problem.document["uuid"]) == [problem.document]

    proxy.lose(1, "/prediction")
    _, algo, _ = setup_chain(api)
    [learnuplet] = api.learnuplets.all(algo=algo)
    api.claim("learnuplet", learnuplet["uuid"], worker := new_uuid())
    proxy.lose(1, "/learndone/")
    client.learn_done(learnuplet["uuid"], **perfs(learnuplet, 0.7), worker=worker)
    assert [path for _, path in proxy.lost][-1].startswith("/learndone/")
    assert api.learnuplets.get(learnuplet["uuid"])["perf"] == 0.7
    prediction = client.request_prediction(data=new_uuid(), problem=learnuplet["problem"])
    assert not prediction.created and len(api.preduplets.all(problem=learnuplet["problem"])) == 1


def test_a_claim_retried_after_a_timeout_is_still_ours(api, proxy):
    client = Client(proxy.url, AUTH, timeout=(2, 0.5), retry=FAST_RETRY)
    _, algo, _ = setup_chain(api)
    [learnuplet] = api.learnuplets.all(algo=algo)
    proxy.lose(1, "/worker/")
    worker = new_uuid()
    client.claim("learnuplet", learnuplet["uuid"], worker)  # the retry meets its own claim: 409
    assert len(proxy.lost) == 1
    assert api.learnuplets.get(learnuplet["uuid"])["worker"] == worker
    proxy.lose(1, "/worker/")
    with pytest.raises(StateConflict) as raised:  # another worker's retried claim still loses
        client.claim("learnuplet", learnuplet["uuid"], new_uuid())
    assert raised.value.tries == 2


def test_503_is_retried_until_the_server_answers(api, proxy):
    client = Client(proxy.url, AUTH, retry=FAST_RETRY)
    proxy.unavailable(FAST_RETRY.attempts - 1)
    assert client.problems.page(limit=1).documents is not None
    proxy.unavailable(FAST_RETRY.attempts)
    with pytest.raises(Unavailable) as raised:
        client.problems.page(limit=1)
    assert (raised.value.status, raised.value.kind, raised.value.tries) == (
        503, "database-unavailable", FAST_RETRY.attempts)


def test_no_server_is_unreachable_after_the_retries():
    client = Client("http://127.0.0.1:9", AUTH, retry=RetryPolicy(attempts=2, first_delay=0.01))
    started = time.monotonic()
    with pytest.raises(Unreachable, match="2 tries"):
        client.health()
    assert time.monotonic() - started < 5
