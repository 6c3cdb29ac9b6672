"""Leases on claimed tasks: heartbeats, expiry back to todo, MAX_ATTEMPTS, late results.

A short lease (LEASE_SECONDS=1) and a fast sweeper (SWEEP_SECONDS=0.2) make expiry quick;
every app's background threads are stopped at teardown (conftest.make_app).
"""
from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import ApiClient, new_uuid
from helpers import chain, claim, done_body, finish, problem_details
from realserver import wait_until

LEASE = 1  # LEASE_SECONDS
MAX_ATTEMPTS = 2
EXPIRY_WAIT = 6.0  # a lapsed lease must show as todo within 10 s; here within lease + sweeps


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config.update(LEASE_SECONDS=LEASE, SWEEP_SECONDS=0.2, MAX_ATTEMPTS=MAX_ATTEMPTS)
    return config


@pytest.fixture
def app(make_app):
    return make_app()


def get(client: ApiClient, kind: str, uuid: str) -> dict[str, Any]:
    response = client.get(f"/{kind}/{uuid}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def heartbeat(client: ApiClient, kind: str, uuid: str, worker: str) -> Any:
    return client.post(f"/worker/{kind}/{uuid}/heartbeat", {"worker": worker})


def wait_for_status(client: ApiClient, kind: str, uuid: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = get(client, kind, uuid)
        return doc if doc["status"] == status else None
    return wait_until(check, EXPIRY_WAIT, interval=0.1, what=f"{kind} {uuid} {status}")


def first_learnuplet(client: ApiClient, ranks: int = 2) -> dict[str, Any]:
    """A new algo's rank 0 (todo) over `ranks` single-data learnuplets."""
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=ranks)
    return chain(client, client.algo(problem["uuid"])["new_algo"]["uuid"])[0]


def new_preduplet(client: ApiClient) -> dict[str, Any]:
    learnuplet = first_learnuplet(client, ranks=1)
    finish(client, learnuplet, 0.9)
    response = client.post("/prediction", {"data": new_uuid(), "problem": learnuplet["problem"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def claimed(client: ApiClient, kind: str, uuid: str, worker: str) -> dict[str, Any]:
    assert claim(client, uuid, kind, worker).status_code == 200
    return get(client, kind, uuid)


# --- claim and heartbeat -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["learnuplet", "preduplet"])
def test_claim_sets_a_lease_that_heartbeats_extend(client, kind):
    uuid = (first_learnuplet(client) if kind == "learnuplet" else new_preduplet(client))["uuid"]
    worker = new_uuid()
    before = int(time.time())
    doc = claimed(client, kind, uuid, worker)
    assert doc["status"] == "pending" and doc["worker"] == worker
    assert type(doc["lease_expires"]) is int
    assert before + LEASE <= doc["lease_expires"] <= int(time.time()) + LEASE + 1
    first_expiry = doc["lease_expires"]

    # A lease ends when the (integer) clock passes lease_expires, so a heartbeat sent just
    # after lease_expires is in time and gets a later expiry.
    time.sleep(max(0.0, first_expiry + 0.05 - time.time()))
    response = heartbeat(client, kind, uuid, worker)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {f"{kind}_lease_extended": uuid, "lease_expires": body["lease_expires"]}
    assert body["lease_expires"] > first_expiry
    assert get(client, kind, uuid)["lease_expires"] == body["lease_expires"]

    # kept alive by heartbeats for three leases and more, it stays with its worker
    until = time.monotonic() + 3 * LEASE + 0.5
    while time.monotonic() < until:
        assert heartbeat(client, kind, uuid, worker).status_code == 200
        time.sleep(0.2)
        doc = get(client, kind, uuid)
        assert (doc["status"], doc["worker"], doc["attempts"]) == ("pending", worker, 0)


@pytest.mark.parametrize("kind", ["learnuplet", "preduplet"])
def test_heartbeat_only_by_the_claiming_worker_of_a_known_task(client, kind):
    uuid = (first_learnuplet(client) if kind == "learnuplet" else new_preduplet(client))["uuid"]
    worker = new_uuid()
    problem_details(heartbeat(client, kind, uuid, worker), 409)  # todo: nobody holds it
    claimed(client, kind, uuid, worker)
    before = get(client, kind, uuid)
    detail = problem_details(heartbeat(client, kind, uuid, new_uuid()), 409)["detail"]
    assert worker in detail
    assert get(client, kind, uuid)["lease_expires"] == before["lease_expires"]
    problem_details(heartbeat(client, kind, new_uuid(), worker), 404)
    assert "worker" in {error["field"] for error in
                        problem_details(heartbeat_raw(client, kind, uuid, {}), 400)["errors"]}


def heartbeat_raw(client: ApiClient, kind: str, uuid: str, body: Any) -> Any:
    return client.post(f"/worker/{kind}/{uuid}/heartbeat", body)


# --- expiry ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["learnuplet", "preduplet"])
def test_an_expired_lease_puts_the_task_back_to_todo_for_another_worker(client, kind):
    uuid = (first_learnuplet(client) if kind == "learnuplet" else new_preduplet(client))["uuid"]
    lapsed = new_uuid()
    claimed_at = time.monotonic()
    claimed(client, kind, uuid, lapsed)
    doc = wait_for_status(client, kind, uuid, "todo")
    assert time.monotonic() - claimed_at < LEASE + 3
    assert doc["attempts"] == 1 and doc["worker"] is None and doc["lease_expires"] is None
    assert doc["timestamp_done"] is None

    second = new_uuid()
    doc = claimed(client, kind, uuid, second)
    assert (doc["status"], doc["worker"], doc["attempts"]) == ("pending", second, 1)
    assert heartbeat(client, kind, uuid, second).status_code == 200
    problem_details(heartbeat(client, kind, uuid, lapsed), 409)


def test_max_attempts_fails_the_task_and_moves_the_chain_on(client):
    first = first_learnuplet(client, ranks=3)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed(client, "learnuplet", first["uuid"], new_uuid())
        status = "todo" if attempt < MAX_ATTEMPTS else "failed"
        doc = wait_for_status(client, "learnuplet", first["uuid"], status)
        assert doc["attempts"] == attempt
    assert type(doc["timestamp_done"]) is int and doc["perf"] is None
    # the sweeper's event may still be writing the promotion when the failure shows
    def promoted() -> list[dict[str, Any]] | None:
        learnuplets = chain(client, first["algo"])
        return learnuplets if learnuplets[1]["status"] != "waiting" else None

    learnuplets = wait_until(promoted, 5, what="the next rank promoted")
    assert [doc["status"] for doc in learnuplets] == ["failed", "todo", "waiting"]
    assert learnuplets[1]["model_start"] == first["algo"]  # nothing done yet: the algo itself
    problem_details(claim(client, first["uuid"]), 409)


def test_max_attempts_fails_a_preduplet(client):
    uuid = new_preduplet(client)["uuid"]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed(client, "preduplet", uuid, new_uuid())
        doc = wait_for_status(client, "preduplet", uuid, "todo" if attempt < MAX_ATTEMPTS else "failed")
        assert doc["attempts"] == attempt
    assert doc["prediction_storage_uuid"] is None


# --- late results ----------------------------------------------------------------------------

def test_a_late_result_from_a_lapsed_worker_is_refused(client):
    learnuplet = first_learnuplet(client)
    uuid, lapsed = learnuplet["uuid"], new_uuid()
    claimed(client, "learnuplet", uuid, lapsed)
    wait_for_status(client, "learnuplet", uuid, "todo")
    late = {**done_body(learnuplet, 0.7), "worker": lapsed}
    problem_details(client.post(f"/learndone/{uuid}", late), 409)
    problem_details(client.post(f"/learndone/{uuid}", {"status": "failed", "worker": lapsed}), 409)
    assert get(client, "learnuplet", uuid)["status"] == "todo"

    current = new_uuid()
    claimed(client, "learnuplet", uuid, current)
    problem_details(client.post(f"/learndone/{uuid}", late), 409)
    doc = get(client, "learnuplet", uuid)
    assert (doc["status"], doc["worker"], doc["perf"]) == ("pending", current, None)

    assert heartbeat(client, "learnuplet", uuid, current).status_code == 200  # a lease is short
    response = client.post(f"/learndone/{uuid}", {**done_body(learnuplet, 0.8), "worker": current})
    assert response.status_code == 200, response.get_json()
    assert get(client, "learnuplet", uuid)["perf"] == 0.8
    # an identical retry of the accepted result is still 200; the lapsed worker's is not
    assert client.post(f"/learndone/{uuid}", {**done_body(learnuplet, 0.8), "worker": current}
                       ).status_code == 200
    problem_details(client.post(f"/learndone/{uuid}", late), 409)


def test_a_report_without_worker_is_accepted_from_the_current_holder(client):
    """The Morpheo Go client sends no `worker`: it keeps working as before."""
    learnuplet = first_learnuplet(client)
    uuid = learnuplet["uuid"]
    claimed(client, "learnuplet", uuid, new_uuid())
    wait_for_status(client, "learnuplet", uuid, "todo")
    claimed(client, "learnuplet", uuid, new_uuid())
    response = client.post(f"/learndone/{uuid}", done_body(learnuplet, 0.6))
    assert response.status_code == 200, response.get_json()
    doc = get(client, "learnuplet", uuid)
    assert (doc["status"], doc["perf"], doc["attempts"]) == ("done", 0.6, 1)
    assert chain(client, learnuplet["algo"])[1]["status"] == "todo"


def test_a_late_preddone_from_a_lapsed_worker_is_refused(client):
    uuid, lapsed = new_preduplet(client)["uuid"], new_uuid()
    claimed(client, "preduplet", uuid, lapsed)
    wait_for_status(client, "preduplet", uuid, "todo")
    late = {"status": "done", "prediction_storage_uuid": new_uuid(), "worker": lapsed}
    problem_details(client.post(f"/preddone/{uuid}", late), 409)
    current = new_uuid()
    claimed(client, "preduplet", uuid, current)
    problem_details(client.post(f"/preddone/{uuid}", late), 409)
    storage = new_uuid()
    assert heartbeat(client, "preduplet", uuid, current).status_code == 200  # a lease is short
    response = client.post(f"/preddone/{uuid}", {"status": "done", "prediction_storage_uuid": storage,
                                                  "worker": current})
    assert response.status_code == 200, response.get_json()
    doc = get(client, "preduplet", uuid)
    assert (doc["status"], doc["prediction_storage_uuid"]) == ("done", storage)
    response = client.post(f"/preddone/{new_preduplet(client)['uuid']}",
                           {"status": "failed"})  # no worker, todo: it could not start
    assert response.status_code == 200, response.get_json()


def test_a_finished_task_never_expires(client):
    learnuplet = first_learnuplet(client)
    finish(client, learnuplet, 0.5)
    time.sleep(LEASE + 1.5)
    doc = get(client, "learnuplet", learnuplet["uuid"])
    assert (doc["status"], doc["attempts"], doc["lease_expires"]) == ("done", 0, None)


# --- re-delivery to compute ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["learnuplet", "preduplet"])
def test_an_expired_task_is_pushed_to_compute_again(make_app, compute, kind):
    client = ApiClient(make_app(COMPUTE_URL=compute.url).test_client())
    uuid = (first_learnuplet(client) if kind == "learnuplet" else new_preduplet(client))["uuid"]
    path = {"learnuplet": "/learn", "preduplet": "/pred"}[kind]

    def delivered() -> dict[str, Any] | None:
        doc = get(client, kind, uuid)
        return doc if doc["delivery"] == "delivered" else None

    wait_until(delivered, 10, what="first delivery")
    assert len(compute.received(path, uuid)) == 1
    claimed(client, kind, uuid, new_uuid())
    doc = wait_for_status(client, kind, uuid, "todo")
    assert doc["attempts"] == 1
    doc = wait_until(delivered, 10, what="delivery after the lease lapsed")
    assert doc["delivery_attempts"] == 1 and doc["delivery_error"] is None
    pushes = compute.received(path, uuid)
    assert len(pushes) == 2
    assert pushes[1].body["status"] == "todo" and pushes[1].body["attempts"] == 1
    assert pushes[1].body["worker"] is None
