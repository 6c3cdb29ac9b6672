"""Issue 9: a stalled database, events too large to apply, and leases that run from the commit.

- A database process that is stopped (SIGSTOP), not dead, gets 503 problem JSON with
  Retry-After within DB_TIMEOUT_SECONDS + 1.5 s, like a dead one, and the server serves again
  on its own once the database runs again (real server only: a private FerretDB).
- The wedge repro: one valid request whose event writes about 20 MB (50 learnuplets that each
  copy a 10,000-uuid test dataset) is either refused with 413 naming the MAX_EVENT_* bound or
  applied, and in both cases ordinary writes go on at ordinary speed and GET /ready is 200.
  Over a low MAX_EVENT_* bound a request gets 413 and stores nothing.
- A claim's lease and a heartbeat's expiry run from the commit; a worker that never held a
  task cannot pass for the one that failed it.

Everything goes through the HTTP API (Flask test client); both stores unless marked.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ApiClient, database_uri, new_uuid
from helpers import chain, ordinary_write_and_ready, problem_body, problem_details
from realserver import wait_until

from app import create_app, stop_background

STALL_DB_TIMEOUT = 1.0  # DB_TIMEOUT_SECONDS of the stalled-database test
MARGIN = 1.5  # what a 503 may take beyond DB_TIMEOUT_SECONDS
RECOVERY_SECONDS = 5.0  # serving again after the database runs again
HANGING = 30.0  # a request still unanswered after this is reported as hanging
WEDGE_TEST_DATA, WEDGE_UPLOAD = 10_000, 50
LOW_UUIDS, LOW_DOCUMENTS = 500, 20  # MAX_EVENT_UUIDS, MAX_EVENT_DOCUMENTS of the bound tests
LEASE = 2  # LEASE_SECONDS of the lease tests


# --- a stalled database ---------------------------------------------------------------------

def _timed(send: Callable[[], Any]) -> tuple[Any, float]:
    """Send from a thread of its own, so that a request the server never answers fails the
    test (instead of hanging it); returns (response, seconds)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            outcome["response"] = send()
        except BaseException as error:  # reported below
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANGING)
    if thread.is_alive():
        pytest.fail(f"no answer after {HANGING:.0f} s from a stalled database", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"], outcome["seconds"]


@pytest.mark.real_server
def test_a_stalled_database_gets_bounded_503s_and_the_server_recovers(ferretdb, config):
    app = create_app({**config, "MONGO_URI": database_uri(ferretdb.uri, "orchestrator_stall"),
                      "DB_TIMEOUT_SECONDS": STALL_DB_TIMEOUT, "SWEEP_SECONDS": 1})
    try:
        client = ApiClient(app.test_client())
        problem = client.problem()
        assert app.test_client().get("/ready").status_code == 200
        sent = problem_body()
        requests = {
            "GET /problem/<uuid>": lambda: client.get(f"/problem/{problem['uuid']}"),
            "POST /problem": lambda: client.post("/problem", sent),
            "GET /ready": lambda: app.test_client().get("/ready"),
        }
        pid = ferretdb.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            for label, send in requests.items():
                response, seconds = _timed(send)
                problem_details(response, 503)
                assert response.headers.get("Retry-After"), (label, dict(response.headers))
                assert seconds <= STALL_DB_TIMEOUT + MARGIN, (
                    f"{label} answered {response.status_code} after {seconds:.2f} s with the "
                    f"database stopped; the bound is DB_TIMEOUT_SECONDS + {MARGIN} = "
                    f"{STALL_DB_TIMEOUT + MARGIN} s")
        finally:
            os.kill(pid, signal.SIGCONT)

        resumed = time.monotonic()
        wait_until(lambda: client.get(f"/problem/{problem['uuid']}").status_code == 200,
                   RECOVERY_SECONDS, interval=0.1, what="GET /problem/<uuid> after SIGCONT")
        # The stalled POST may have been committed when the database woke up: a retry is safe.
        retried = client.post("/problem", sent)
        assert retried.status_code in (200, 201), retried.get_data(as_text=True)
        assert client.get(f"/problem/{sent['uuid']}").get_json()["uuid"] == sent["uuid"]
        client.problem()
        wait_until(lambda: app.test_client().get("/ready").status_code == 200,
                   max(0.5, RECOVERY_SECONDS - (time.monotonic() - resumed)), interval=0.1,
                   what="GET /ready 200 after SIGCONT")
    finally:
        stop_background(app)
        app.extensions["orchestrator.store"].close()


# --- bounded events -------------------------------------------------------------------------


def test_the_wedge_repro_leaves_the_server_writing(client):
    """Issue 9's repro: 50 learnuplets, each a copy of a 10,000-uuid test dataset, in one event."""
    problem = client.problem(test_dataset=[new_uuid() for _ in range(WEDGE_TEST_DATA)], size=1)
    client.algo(problem["uuid"])
    uploaded = [new_uuid() for _ in range(WEDGE_UPLOAD)]

    response = client.post("/data", {"uuid": uploaded, "problems": problem["uuid"]})

    if response.status_code == 413:
        assert "MAX_EVENT_" in problem_details(response, 413)["detail"]
        problem_details(client.get(f"/data/{uploaded[0]}"), 404)
    else:
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["new_learnuplets"] == WEDGE_UPLOAD
    ordinary_write_and_ready(client)


def _nothing_stored(client: ApiClient, problem: str, data: list[str]) -> None:
    assert client.get("/data", query_string={"problems": problem}).get_json()["datas"] == []
    assert client.learnuplets(problem=problem) == []
    problem_details(client.get(f"/data/{data[0]}"), 404)


def _refused(response: Any, bound: str) -> None:
    detail = problem_details(response, 413)["detail"]
    assert bound in detail, detail


def test_an_upload_over_max_event_uuids_is_refused_and_stores_nothing(make_app):
    client = ApiClient(make_app(MAX_EVENT_UUIDS=LOW_UUIDS).test_client())
    problem = client.problem(test_dataset=[new_uuid() for _ in range(50)], size=1)["uuid"]
    client.algo(problem)
    # 30 learnuplets, each with the 50 test data: about 1,500 uuids, 3 times the bound
    uploaded = [new_uuid() for _ in range(30)]

    _refused(client.post("/data", {"uuid": uploaded, "problems": problem}), "MAX_EVENT_UUIDS")

    _nothing_stored(client, problem, uploaded)
    client.data(problem, count=2)  # far inside the bound: accepted
    ordinary_write_and_ready(client)


def test_an_algo_over_max_event_uuids_is_refused_and_stores_nothing(make_app):
    client = ApiClient(make_app(MAX_EVENT_UUIDS=LOW_UUIDS).test_client())
    problem = client.problem(test_dataset=[new_uuid() for _ in range(50)], size=1)["uuid"]
    client.data(problem, count=30)  # no algo yet: 30 documents, about 60 uuids
    algo = new_uuid()

    _refused(client.post("/algo", {"uuid": algo, "problem": problem, "name": "too big"}),
             "MAX_EVENT_UUIDS")

    problem_details(client.get(f"/algo/{algo}"), 404)
    assert client.get("/algo", query_string={"problem": problem}).get_json()["algos"] == []
    assert client.learnuplets(problem=problem) == []
    ordinary_write_and_ready(client)


def test_an_upload_over_max_event_documents_is_refused_and_stores_nothing(make_app):
    client = ApiClient(make_app(MAX_EVENT_DOCUMENTS=LOW_DOCUMENTS).test_client())
    problem = client.problem(size=1)["uuid"]
    uploaded = [new_uuid() for _ in range(LOW_DOCUMENTS + 10)]

    _refused(client.post("/data", {"uuid": uploaded, "problems": problem}), "MAX_EVENT_DOCUMENTS")

    _nothing_stored(client, problem, uploaded)
    client.data(problem, count=LOW_DOCUMENTS // 2)
    ordinary_write_and_ready(client)


# --- leases run from the commit -------------------------------------------------------------

def _first_task(client: ApiClient) -> dict[str, Any]:
    """Rank 0 (todo) of a new algo's chain over two single-data learnuplets."""
    problem = client.problem(size=1)["uuid"]
    client.data(problem, count=2)
    return chain(client, client.algo(problem)["new_algo"]["uuid"])[0]


def _stored(client: ApiClient, uuid: str) -> dict[str, Any]:
    response = client.get(f"/learnuplet/{uuid}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _heartbeat(client: ApiClient, uuid: str, worker: str) -> tuple[int, int]:
    """(the expiry a heartbeat returns, the integer time its answer arrived)."""
    response = client.post(f"/worker/learnuplet/{uuid}/heartbeat", {"worker": worker})
    answered = int(time.time())
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["lease_expires"], answered


def test_a_lease_runs_from_the_commit(make_app):
    client = ApiClient(make_app(LEASE_SECONDS=LEASE).test_client())
    task, worker = _first_task(client), new_uuid()
    sent = int(time.time())
    assert client.post(f"/worker/learnuplet/{task['uuid']}", {"worker": worker}).status_code == 200
    claimed = _stored(client, task["uuid"])
    assert sent <= claimed["timestamp_claimed"] <= time.time(), claimed
    assert claimed["lease_expires"] >= claimed["timestamp_claimed"] + LEASE, claimed

    expires, answered = _heartbeat(client, task["uuid"], worker)
    # integer seconds: a commit just before the answer may still read one second earlier
    assert expires >= answered - 1 + LEASE, (expires, answered)
    assert _stored(client, task["uuid"])["lease_expires"] == expires


@pytest.mark.real_server
def test_a_slow_heartbeat_still_gets_a_full_lease(config, db_name):
    """The heartbeat's first database read is held back 2.1 s (a slow request before its
    commit): an expiry computed when the request arrived would be 2 s short of a full lease."""
    from commands import command_log

    log = command_log()  # before create_app builds the app's MongoClient
    app = create_app({**config, "LEASE_SECONDS": LEASE, "DB_TIMEOUT_SECONDS": 10})
    try:
        client = ApiClient(app.test_client())
        task, worker = _first_task(client), new_uuid()
        assert client.post(f"/worker/learnuplet/{task['uuid']}", {"worker": worker}).status_code == 200
        with log.recording(db_name):
            log.delay_first_read(2.1)
            expires, answered = _heartbeat(client, task["uuid"], worker)
        assert expires >= answered - 1 + LEASE, (
            f"a heartbeat answered at {answered} with lease_expires {expires}: less than a "
            f"lease of {LEASE} s from its commit")
    finally:
        app.extensions["orchestrator.store"].close()


@pytest.mark.parametrize("claimed_first", [True, False], ids=["failed-when-pending", "failed-when-todo"])
def test_a_worker_that_never_held_a_task_cannot_repeat_its_failure(client, claimed_first):
    """Issue 9, point 5: the reporter check comes before the identical-retry answer."""
    task, holder, stranger = _first_task(client), new_uuid(), new_uuid()
    if claimed_first:
        assert client.post(f"/worker/learnuplet/{task['uuid']}", {"worker": holder}).status_code == 200
    report = {"status": "failed", "worker": holder}
    assert client.post(f"/learndone/{task['uuid']}", report).status_code == 200

    refused = client.post(f"/learndone/{task['uuid']}", {**report, "worker": stranger})

    problem_details(refused, 409)
    retried = client.post(f"/learndone/{task['uuid']}", report)  # the holder's own retry
    assert retried.status_code == 200, retried.get_data(as_text=True)
    assert _stored(client, task["uuid"])["worker"] == holder
