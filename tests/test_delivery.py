"""Push delivery of runnable tasks to compute (COMPUTE_URL), against a fake compute on loopback.

The fake compute (conftest.FakeCompute) refuses, answers 500, hangs or accepts as the test
says. These tests prove at-least-once delivery of every todo learnuplet and every new
preduplet, the delivery fields of the task document, prompt retries, that no API request
waits for compute, durability across a restart and that two dispatchers never push the same
entry at the same time (the last two need a real MongoDB-protocol server).
"""
from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from conftest import MONGO_URI, ApiClient, new_uuid
from helpers import chain, claim, done_body
from realserver import wait_until

from app import stop_background

FAST = 0.5  # an API request must take well under the compute timeout
TIMEOUT = 1.0  # DELIVERY_TIMEOUT_SECONDS in these tests
BACKLOG = 12  # runnable tasks waiting for compute in the outage tests
DELIVERY_WAIT = 10.0  # bound on waiting for the dispatcher (polls every 0.5 s)


@pytest.fixture
def config(config: dict[str, Any], compute) -> dict[str, Any]:
    config.update(COMPUTE_URL=compute.url, DELIVERY_TIMEOUT_SECONDS=TIMEOUT)
    return config


@pytest.fixture
def app(make_app):
    return make_app()


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


def task(client: ApiClient, collection: str, uuid: str) -> dict[str, Any]:
    response = client.get(f"/{collection}/{uuid}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def delivered(client: ApiClient, collection: str, uuid: str) -> dict[str, Any]:
    """Wait until the task's document says delivered; returns it."""
    def check() -> dict[str, Any] | None:
        doc = task(client, collection, uuid)
        return doc if doc.get("delivery") == "delivered" else None
    return wait_until(check, DELIVERY_WAIT, what=f"{collection} {uuid} delivered")


def wait_for_error(client: ApiClient, uuid: str, words: str) -> dict[str, Any]:
    """Wait until the learnuplet's delivery_error mentions `words`; returns the document."""
    def check() -> dict[str, Any] | None:
        doc = task(client, "learnuplet", uuid)
        return doc if words in (doc.get("delivery_error") or "") else None
    return wait_until(check, DELIVERY_WAIT, what=f"delivery_error with {words!r}")


def new_algo(client: ApiClient, problem: dict[str, Any], fast: bool = True) -> dict[str, Any]:
    """POST /algo, timed (with `fast`: it must not wait for compute). Returns the chain's first
    learnuplet."""
    response, seconds = timed(client.post, "/algo",
                              {"uuid": new_uuid(), "problem": problem["uuid"], "name": "algo"})
    assert response.status_code == 201, response.get_json()
    assert seconds < FAST or not fast, f"POST /algo took {seconds:.2f}s"
    return chain(client, response.get_json()["new_algo"]["uuid"])[0]


def new_data(client: ApiClient, problem: dict[str, Any], count: int = 1,
             fast: bool = True) -> dict[str, Any]:
    """POST /data, timed (with `fast`: it must not wait for compute)."""
    body = {"uuid": [new_uuid() for _ in range(count)], "problems": problem["uuid"]}
    response, seconds = timed(client.post, "/data", body)
    assert response.status_code == 201, response.get_json()
    assert seconds < FAST or not fast, f"POST /data took {seconds:.2f}s"
    return response.get_json()


def assert_pushed_as_todo(compute, path: str, doc: dict[str, Any]) -> None:
    """compute received the task's JSON document while it was todo."""
    pushes = compute.received(path, doc["uuid"])
    assert pushes, f"{doc['uuid']} never reached {path}"
    body = pushes[-1].body
    assert body["uuid"] == doc["uuid"] and body["status"] == "todo", body
    for field in ("problem", "workflow", "algo", "rank", "train_data", "test_data", "model_start",
                  "model_end", "data", "model"):
        if field in doc:
            assert body[field] == doc[field], field
    assert "_id" not in body


# --- at-least-once, whatever compute does ----------------------------------------------------

def test_every_runnable_task_reaches_compute_with_its_document(client, compute):
    problem = client.problem(size=1)
    new_data(client, problem, count=2)
    first = new_algo(client, problem)  # rank 0 todo when the algo is registered
    assert first["delivery"] == "pending" and first["delivery_attempts"] == 0
    assert first["delivery_error"] is None
    first = delivered(client, "learnuplet", first["uuid"])
    assert first["delivery_attempts"] == 1 and first["delivery_error"] is None
    assert_pushed_as_todo(compute, "/learn", first)

    assert claim(client, first["uuid"]).status_code == 200
    assert client.post(f"/learndone/{first['uuid']}", done_body(first, 0.5)).status_code == 200
    second = chain(client, first["algo"])[1]  # todo by chain promotion
    assert second["status"] == "todo" and second["model_start"] == first["model_end"]
    second = delivered(client, "learnuplet", second["uuid"])
    assert_pushed_as_todo(compute, "/learn", second)

    assert claim(client, second["uuid"]).status_code == 200
    assert client.post(f"/learndone/{second['uuid']}", {"status": "failed"}).status_code == 200
    new_data(client, problem)  # the chain had finished: the new rank is todo at once
    third = chain(client, first["algo"])[2]
    assert third["status"] == "todo"
    third = delivered(client, "learnuplet", third["uuid"])
    assert_pushed_as_todo(compute, "/learn", third)

    response, seconds = timed(client.post, "/prediction",
                              {"data": new_uuid(), "problem": problem["uuid"]})
    assert response.status_code == 201 and seconds < FAST
    prediction = delivered(client, "preduplet", response.get_json()["uuid"])
    assert prediction["delivery_attempts"] == 1
    assert_pushed_as_todo(compute, "/pred", prediction)
    assert compute.received("/learn", prediction["uuid"]) == []
    assert compute.received("/pred", first["uuid"]) == []


def test_waiting_tasks_are_not_pushed(client, compute):
    problem = client.problem(size=1)
    new_data(client, problem, count=3)
    first, *waiting = chain(client, new_algo(client, problem)["algo"])
    delivered(client, "learnuplet", first["uuid"])
    time.sleep(1.0)  # two dispatcher polls
    assert [request.body["uuid"] for request in compute.received()] == [first["uuid"]]
    assert [doc["status"] for doc in chain(client, first["algo"])] == ["todo", "waiting", "waiting"]


def test_refused_500_and_hanging_compute_are_retried_until_accepted(make_app, compute):
    client = ApiClient(make_app(DELIVERY_MAX_BACKOFF_SECONDS=1.0).test_client())
    problem = client.problem(size=1)
    new_data(client, problem, count=2)

    compute.refuse()
    uuid = new_algo(client, problem)["uuid"]
    doc = wait_for_error(client, uuid, "ConnectionError")
    assert doc["delivery"] == "pending" and doc["delivery_attempts"] >= 1
    assert str(compute.port) in doc["delivery_error"]
    new_data(client, problem)

    compute.mode = "fail"
    compute.open()
    doc = wait_for_error(client, uuid, "HTTP 500")
    assert doc["delivery"] == "pending"
    new_data(client, problem)

    compute.mode = "hang"
    doc = wait_for_error(client, uuid, "Timeout")
    assert doc["delivery"] == "pending"
    wait_until(lambda: compute.busy[uuid], DELIVERY_WAIT, what="a push hanging again")
    new_data(client, problem)  # while a push hangs right now
    new_algo(client, problem)

    compute.release()
    compute.accept()
    doc = delivered(client, "learnuplet", uuid)
    assert doc["delivery_error"] is None and doc["status"] == "todo"
    answers = [request.answer for request in compute.received("/learn", uuid)]
    assert answers[-1] == "accept" and "fail" in answers and "hang" in answers
    # every attempt is counted, the refused ones too (compute never saw those)
    assert doc["delivery_attempts"] >= len(answers) + 1
    assert_pushed_as_todo(compute, "/learn", doc)
    for other in client.learnuplets(status="todo"):  # the algo created while compute hung
        delivered(client, "learnuplet", other["uuid"])


def test_attempts_and_errors_are_counted_in_the_document(client, compute):
    compute.mode = "fail"
    problem = client.problem(size=1)
    new_data(client, problem)
    uuid = new_algo(client, problem)["uuid"]
    wait_until(lambda: len(compute.received("/learn", uuid)) >= 2, DELIVERY_WAIT, what="2 pushes")
    compute.accept()
    doc = delivered(client, "learnuplet", uuid)
    assert doc["delivery_attempts"] == len(compute.received("/learn", uuid)) >= 3
    assert doc["delivery_error"] is None


def test_delivery_bookkeeping_never_writes_a_task_document(client, compute, store):
    """The delivery ledger's writers run beside the claims': a server that updates a whole
    document (FerretDB) would let a write of delivery state undo a claim. So attempts write
    the outbox only, and the task's answer (and the push) shows its newest entry's state."""
    compute.mode = "fail"
    problem = client.problem(size=1)
    new_data(client, problem)
    uuid = new_algo(client, problem)["uuid"]
    version = store.get("learnuplet", uuid)["version"]
    wait_until(lambda: len(compute.received("/learn", uuid)) >= 2, DELIVERY_WAIT, what="2 pushes")
    compute.accept()
    delivered(client, "learnuplet", uuid)
    stored = store.get("learnuplet", uuid)
    assert not {"delivery", "delivery_attempts", "delivery_error", "delivery_version"} & set(stored)
    entry = store.get("outbox", stored["delivery_entry"])
    assert entry["task"] == uuid and entry["state"] == "delivered" and entry["attempts"] >= 3
    assert stored["version"] == version  # not written since the event that made it todo
    pushes = compute.received("/learn", uuid)
    assert [push.body["delivery_attempts"] for push in pushes] == list(range(1, len(pushes) + 1))
    assert "HTTP 500" in pushes[-1].body["delivery_error"]  # the failure before this attempt
    assert all("delivery_entry" not in push.body for push in pushes)

    assert claim(client, uuid).status_code == 200  # claimed after delivery: the answer agrees
    doc = task(client, "learnuplet", uuid)
    assert doc["status"] == "pending" and doc["delivery"] == "delivered"
    assert "delivery_entry" not in doc


def test_first_retry_comes_within_2_seconds(client, compute, caplog):
    caplog.set_level(logging.WARNING, logger="app.delivery")
    compute.mode = "fail"
    problem = client.problem(size=1)
    new_data(client, problem)
    uuid = new_algo(client, problem)["uuid"]
    pushes = wait_until(lambda: compute.received("/learn", uuid)[:2] if len(
        compute.received("/learn", uuid)) >= 2 else None, DELIVERY_WAIT, what="a retry")
    assert pushes[0].answered is not None
    assert pushes[1].received - pushes[0].answered < 2.0
    doc = task(client, "learnuplet", uuid)
    assert "HTTP 500" in doc["delivery_error"] and doc["delivery"] == "pending"
    logged = [record.getMessage() for record in caplog.records if uuid in record.getMessage()]
    assert any("HTTP 500" in line and "retrying in" in line for line in logged), logged


def test_first_retry_after_a_timeout_comes_within_2_seconds(client, compute):
    compute.mode = "hang"
    problem = client.problem(size=1)
    new_data(client, problem)
    uuid = new_algo(client, problem)["uuid"]
    pushes = wait_until(lambda: compute.received("/learn", uuid)[:2] if len(
        compute.received("/learn", uuid)) >= 2 else None, DELIVERY_WAIT, what="a retry")
    assert pushes[1].received - (pushes[0].received + TIMEOUT) < 2.0


@pytest.mark.parametrize("behaviour", ["refuse", "fail", "hang"])
def test_no_request_waits_for_compute(client, compute, behaviour):
    if behaviour == "refuse":
        compute.refuse()
    else:
        compute.mode = behaviour
    problem = client.problem(size=1)
    new_data(client, problem, count=2)
    for _ in range(3):
        uuid = new_algo(client, problem)["uuid"]
        new_data(client, problem, count=2)
    wait_until(lambda: task(client, "learnuplet", uuid)["delivery_attempts"] >= 1, DELIVERY_WAIT,
               what="a push attempt")
    for _ in range(3):  # while attempts are failing or hanging
        new_algo(client, problem)
        new_data(client, problem)
        response, seconds = timed(client.get, "/learnuplet")
        assert response.status_code == 200 and seconds < FAST


@pytest.mark.parametrize("behaviour", ["accept", "fail", "hang"])
def test_no_request_waits_for_compute_with_a_backlog(client, compute, behaviour):
    """A compute outage with a realistic backlog: a dozen runnable tasks being retried
    ("accept" is the control: the same requests while compute is healthy)."""
    compute.mode = behaviour
    problem = client.problem(size=1)
    new_data(client, problem)
    uuids = [new_algo(client, problem, fast=False)["uuid"] for _ in range(BACKLOG)]
    wait_until(lambda: all(task(client, "learnuplet", uuid)["delivery_attempts"] for uuid in uuids),
               DELIVERY_WAIT * 2, what="a push attempt of every task")
    slow = []
    for _ in range(5):  # while the backlog is retried
        _, seconds = timed(new_data, client, problem, 1, False)
        slow += [f"POST /data {seconds:.2f}s"] if seconds >= FAST else []
        _, seconds = timed(new_algo, client, problem, False)
        slow += [f"POST /algo {seconds:.2f}s"] if seconds >= FAST else []
    assert not slow, f"requests slowed while compute answers {behaviour!r}: {slow}"


# --- durability and several dispatchers (a real server only) -------------------------------

@pytest.mark.real_server
@pytest.mark.skipif(not MONGO_URI, reason="the embedded store in memory lives and dies with its process: "
                    "there is no restart to survive; runs with MONGO_URI")
def test_undelivered_entries_are_sent_after_a_restart(make_app, compute):
    compute.refuse()
    crashed = make_app()
    client = ApiClient(crashed.test_client())
    problem = client.problem(size=1)
    new_data(client, problem, count=2)
    first = new_algo(client, problem)
    second = new_algo(client, problem)
    wait_for_error(client, first["uuid"], "ConnectionError")
    stop_background(crashed)  # the process "dies": no dispatcher sends anything any more
    time.sleep(1.0)
    assert task(client, "learnuplet", first["uuid"])["delivery"] == "pending"
    assert task(client, "learnuplet", second["uuid"])["delivery"] == "pending"

    compute.accept()
    restarted = ApiClient(make_app().test_client())  # a new server on the same database
    for doc in (first, second):
        doc = delivered(restarted, "learnuplet", doc["uuid"])
        assert_pushed_as_todo(compute, "/learn", doc)


@pytest.mark.real_server
@pytest.mark.skipif(not MONGO_URI, reason="the embedded store serves one process: two "
                    "server processes cannot share it; runs with MONGO_URI")
def test_two_dispatchers_never_push_one_entry_at_the_same_time(make_app, compute):
    """Two servers on one database; every push takes a while and the first of each task fails,
    so both dispatchers see the same entries due again and again."""
    compute.mode = "fail"
    compute.serve_seconds = 0.3
    one = ApiClient(make_app().test_client())
    make_app()  # a second server process, dispatching from the same outbox
    problem = one.problem(size=1)
    new_data(one, problem)
    uuids = [new_algo(one, problem, fast=False)["uuid"] for _ in range(12)]
    wait_until(lambda: all(compute.received("/learn", uuid) for uuid in uuids), DELIVERY_WAIT * 2,
               what="a first push of every task")
    compute.mode = "accept"
    for uuid in uuids:
        doc = delivered(one, "learnuplet", uuid)
        pushes = compute.received("/learn", uuid)
        assert compute.most_at_once[uuid] == 1, f"{uuid} pushed by two dispatchers at once"
        assert doc["delivery_attempts"] == len(pushes) >= 2  # no attempt was sent twice
