"""What only a real MongoDB-protocol server can show: several gunicorn workers racing on one
database, the database going away and coming back, data surviving a restart.

Marked `real_server`: skipped (with the reason) when MONGO_URI is unset, a failure instead when
REQUIRE_REAL_SERVER=1 (CI). Each test uses a database of its own and starts its own processes
on free loopback ports; the fixtures stop everything they started. See docs/testing.md.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import MONGO_URI, database_uri, new_uuid
from pymongo import MongoClient
from pymongo.database import Database
from realserver import PROBLEM_JSON, ApiSession, Gunicorn, assert_verified, wait_until

pytestmark = pytest.mark.real_server

CLAIMERS, LEARNUPLETS = 32, 50
UPLOADERS = 16
REPORTERS, REPORT_ROUNDS = 24, 5
DB_TIMEOUT = 2.0  # DB_TIMEOUT_SECONDS of the fault test's server
MARGIN = 1.5  # what a 503 may take beyond DB_TIMEOUT: the request's own work, scheduling


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def database() -> Iterator[tuple[str, Database]]:
    """A database of this test's own on MONGO_URI: (its URI, a handle); dropped afterwards."""
    name = f"test_rs_{new_uuid().replace('-', '')[:16]}"
    client: MongoClient = MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000)
    yield database_uri(MONGO_URI, name), client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def start_orchestrator(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn servers of the Orchestrator; every one of them is stopped afterwards."""
    started: list[Gunicorn] = []

    def start(mongo_uri: str, **kwargs: Any) -> Gunicorn:
        server = Gunicorn(mongo_uri, tmp_path / f"gunicorn-{len(started)}.log", **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


# --- building data through the API ----------------------------------------------------------

@dataclass
class Plan:
    problem: str
    test_data: str
    train_data: list[str]
    algos: list[str]


def plan_chains(api: ApiSession, algos: int, train: int) -> Plan:
    """A problem with mini-batches of 1, `train` train data, then `algos` algos: every algo
    gets rank 0 todo and ranks 1.. waiting."""
    test_data, train_data = new_uuid(), [new_uuid() for _ in range(train)]
    problem = api.created("/problem", {"uuid": new_uuid(), "workflow": new_uuid(),
                                       "test_dataset": [test_data], "size_train_dataset": 1})
    problem_uuid = problem["new_problem"]["uuid"]
    api.created("/data", {"uuid": [test_data, *train_data], "problems": problem_uuid})
    algo_uuids = []
    for _ in range(algos):
        body = api.created("/algo", {"uuid": new_uuid(), "problem": problem_uuid, "name": "algo"})
        assert body["new_learnuplets"] == train
        algo_uuids.append(body["new_algo"]["uuid"])
    return Plan(problem_uuid, test_data, train_data, algo_uuids)


def learnuplets(api: ApiSession, **filters: str) -> list[dict[str, Any]]:
    response = api.get("/learnuplet", params=filters)
    assert response.status_code == 200, response.text
    docs = response.json()["learnuplets"]
    return sorted(docs, key=lambda doc: (doc["algo"], doc["rank"]))


@dataclass
class Answer:
    """One HTTP exchange as a racing client saw it."""

    key: str
    sent: dict[str, Any]
    status: int | None
    content_type: str
    text: str
    started: float
    ended: float

    def json(self) -> Any:
        import json
        return json.loads(self.text)


def exchange(session: ApiSession, method: str, url: str, body: dict[str, Any] | None,
             key: str = "") -> Answer:
    started = time.monotonic()
    try:
        response = session.request(method, url, json=body)
        status, content_type, text = (response.status_code,
                                      response.headers.get("Content-Type", ""), response.text)
    except requests.RequestException as error:  # recorded, and reported by the assertions
        status, content_type, text = None, "", repr(error)
    return Answer(key, body or {}, status, content_type, text, started, time.monotonic())


def race(clients: int, work: Callable[[int, ApiSession, threading.Barrier], list[Answer]],
         base_url: str) -> list[Answer]:
    """Run `work` in `clients` threads, each with its own session, released together."""
    barrier = threading.Barrier(clients)

    def run(index: int) -> list[Answer]:
        # A generous client timeout: this checks outcomes, not latency. On FerretDB (SQLite
        # serializes writers) a losing claim has taken up to ~14 s in the server, plus the
        # time queued behind the 16 gunicorn threads.
        with ApiSession(base_url, timeout=90) as session:
            return work(index, session, barrier)

    with ThreadPoolExecutor(clients) as pool:
        return [answer for answers in pool.map(run, range(clients)) for answer in answers]


def server_errors(answers: list[Answer]) -> list[str]:
    return [f"{a.key} {a.sent} -> {a.status} {a.text[:300]}"
            for a in answers if a.status is None or a.status >= 500]


def assert_problem_json(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, (answer.key, answer.status, answer.text)
    assert answer.content_type.startswith(PROBLEM_JSON), (answer.key, answer.content_type)
    body = answer.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


# --- several server processes racing ------------------------------------------------------

def test_racing_claims_claim_each_learnuplet_exactly_once(database, start_orchestrator):
    uri, db = database
    orchestrator = start_orchestrator(uri, workers=4)
    api = ApiSession(orchestrator.url)
    plan = plan_chains(api, algos=LEARNUPLETS, train=1)
    todo = [doc["uuid"] for doc in learnuplets(api, problem=plan.problem, status="todo")]
    assert len(todo) == LEARNUPLETS

    def claimer(index: int, session: ApiSession, start: threading.Barrier) -> list[Answer]:
        worker = new_uuid()
        start.wait()
        return [exchange(session, "POST", f"/worker/learnuplet/{uuid}", {"worker": worker}, uuid)
                for uuid in todo]

    answers = race(CLAIMERS, claimer, orchestrator.url)

    assert server_errors(answers) == [], orchestrator.log_tail()
    assert Counter(a.status for a in answers) == {200: LEARNUPLETS, 409: LEARNUPLETS * (CLAIMERS - 1)}
    per_learnuplet = Counter(a.key for a in answers if a.status == 200)
    assert per_learnuplet == dict.fromkeys(todo, 1), per_learnuplet  # each claimed exactly once
    winners = {a.key: a.sent["worker"] for a in answers if a.status == 200}
    for answer in answers:
        if answer.status == 409:
            assert_problem_json(answer, 409)
    stored = {doc["uuid"]: doc for doc in learnuplets(api, problem=plan.problem)}
    for uuid, worker in winners.items():
        assert (stored[uuid]["status"], stored[uuid]["worker"]) == ("pending", worker), stored[uuid]
        assert db.stream_events.count_documents({"kind": "task_claimed", "uuid": uuid}) == 1
    assert_verified(uri)


def test_racing_identical_data_uploads_create_it_once(database, start_orchestrator):
    uri, db = database
    orchestrator = start_orchestrator(uri, workers=4)
    api = ApiSession(orchestrator.url)
    plan = plan_chains(api, algos=3, train=0)
    batch = [new_uuid(), new_uuid()]
    body = {"uuid": batch, "problems": [plan.problem]}

    def uploader(index: int, session: ApiSession, start: threading.Barrier) -> list[Answer]:
        start.wait()
        return [exchange(session, "POST", "/data", body, "data")]

    answers = race(UPLOADERS, uploader, orchestrator.url)

    assert server_errors(answers) == [], orchestrator.log_tail()
    assert Counter(a.status for a in answers) == {201: 1, 200: UPLOADERS - 1}
    created = next(a.json() for a in answers if a.status == 201)
    assert created["new_learnuplets"] == 2 * len(plan.algos)  # 2 train data, batches of 1
    for answer in answers:
        if answer.status == 200:
            assert answer.json() == {**created, "new_learnuplets": 0}
    assert db.events.count_documents({"kind": "data_registered", "data": batch}) == 1
    assert len(learnuplets(api, problem=plan.problem)) == 2 * len(plan.algos)
    for uuid in batch:
        assert api.ok("GET", f"/data/{uuid}")["problems"] == [plan.problem]
    assert_verified(uri)


def _report_bodies(train_data: str, test_data: str) -> list[dict[str, Any]]:
    """REPORTERS bodies: failures and done with a few perf values, several of each identical."""
    bodies = []
    for index in range(REPORTERS):
        if index % 4 == 3:
            bodies.append({"status": "failed"})
        else:
            perf = (index % 3) / 10
            bodies.append({"status": "done", "perf": perf, "train_perf": {train_data: perf},
                           "test_perf": {test_data: perf}})
    return bodies


def test_racing_reports_finish_a_task_once_and_promote_the_next_rank_once(database,
                                                                          start_orchestrator):
    uri, db = database
    orchestrator = start_orchestrator(uri, workers=4)
    api = ApiSession(orchestrator.url)
    plan = plan_chains(api, algos=REPORT_ROUNDS, train=2)
    bodies = _report_bodies(plan.train_data[0], plan.test_data)

    for algo in plan.algos:  # one race per chain
        first, second = learnuplets(api, algo=algo)
        api.ok("POST", f"/worker/learnuplet/{first['uuid']}", {"worker": new_uuid()})

        def reporter(index: int, session: ApiSession, start: threading.Barrier,
                     url: str = f"/learndone/{first['uuid']}") -> list[Answer]:
            start.wait()
            return [exchange(session, "POST", url, bodies[index], "report")]

        answers = race(REPORTERS, reporter, orchestrator.url)

        assert server_errors(answers) == [], orchestrator.log_tail()
        assert set(Counter(a.status for a in answers)) <= {200, 409}, [a.text for a in answers]
        accepted = [a.sent for a in answers if a.status == 200]
        assert accepted, "no report was accepted"
        assert all(body == accepted[0] for body in accepted), accepted  # 200s: one outcome, retried
        for answer in answers:
            if answer.status == 409:
                assert_problem_json(answer, 409)
        finished = api.ok("GET", f"/learnuplet/{first['uuid']}")
        outcome = accepted[0]
        assert {name: finished[name] for name in outcome} == outcome, finished
        if outcome["status"] == "failed":
            assert finished["perf"] is None
        assert db.stream_events.count_documents({"kind": "task_reported", "uuid": first["uuid"]}) == 1
        chain = learnuplets(api, algo=algo)
        assert [doc["status"] for doc in chain] == [outcome["status"], "todo"], chain
        best = first["model_end"] if outcome["status"] == "done" else algo
        assert chain[1]["model_start"] == best
    assert_verified(uri)


# --- the database goes away and comes back ------------------------------------------------

@dataclass
class Written:
    """A write that was answered 2xx: what a GET must still show."""

    url: str
    fields: dict[str, Any]


def _write_some(api: ApiSession, count: int) -> tuple[str, list[Written]]:
    plan = plan_chains(api, algos=3, train=2)
    written = [Written(f"/problem/{plan.problem}", {"uuid": plan.problem}),
               Written(f"/data/{plan.test_data}", {"problems": [plan.problem]})]
    written += [Written(f"/algo/{algo}", {"problem": plan.problem}) for algo in plan.algos]
    for _ in range(count):
        uuid = new_uuid()
        api.created("/data", {"uuid": uuid, "problems": plan.problem})
        written.append(Written(f"/data/{uuid}", {"problems": [plan.problem]}))
    for doc in learnuplets(api, problem=plan.problem, status="todo"):
        worker = new_uuid()
        api.ok("POST", f"/worker/learnuplet/{doc['uuid']}", {"worker": worker})
        written.append(Written(f"/learnuplet/{doc['uuid']}", {"status": "pending", "worker": worker}))
    return plan.problem, written


def test_database_outage_gives_bounded_503s_and_the_server_recovers(ferretdb, start_orchestrator):
    orchestrator = start_orchestrator(
        database_uri(ferretdb.uri, "orchestrator_faults"), workers=2,
        env={"DB_TIMEOUT_SECONDS": str(DB_TIMEOUT), "SWEEP_SECONDS": "1"})
    api = ApiSession(orchestrator.url)
    problem, written = _write_some(api, count=10)
    workers = orchestrator.worker_pids()

    stop = threading.Event()
    stopping_at, stopped_at = [float("inf")], [float("inf")]

    def client(index: int, session: ApiSession, start: threading.Barrier) -> list[Answer]:
        start.wait()
        answers = []
        while not stop.is_set():
            uuid = new_uuid()
            answers.append(exchange(session, "POST", "/data", {"uuid": uuid, "problems": problem}, uuid))
            answers.append(exchange(session, "GET", f"/problem/{problem}", None, "get"))
        return answers

    def outage() -> None:
        try:
            time.sleep(0.5)  # requests in flight when the database goes
            stopping_at[0] = time.monotonic()
            ferretdb.stop()  # SIGTERM: FerretDB closes its connections, then exits
            stopped_at[0] = time.monotonic()
            # Long enough for every client to send several requests to the stopped database.
            time.sleep(DB_TIMEOUT * 2 + MARGIN)
            health = requests.get(orchestrator.url + "/health", timeout=5)
            assert health.status_code == 200, health.text
        finally:
            stop.set()

    outage_thread = ThreadPoolExecutor(1)
    outage_done = outage_thread.submit(outage)
    answers = race(4, client, orchestrator.url)
    outage_done.result()
    outage_thread.shutdown()
    going, down = stopping_at[0], stopped_at[0]

    # Before the stop: successes. While it stops: success or 503. Once the database is gone:
    # 503 problem JSON, within DB_TIMEOUT (plus a margin) of the request or of the outage.
    assert [a.key for a in answers if a.status is None] == [], [a.text for a in answers]
    after = [a for a in answers if a.started >= down]
    assert len(after) >= 8, "the clients sent too few requests during the outage"
    for answer in answers:
        if answer.ended <= going:
            assert answer.status in (200, 201), (answer.status, answer.text)
            continue
        if answer.started >= down or answer.status not in (200, 201):
            assert_problem_json(answer, 503)
        waited = answer.ended - max(answer.started, down)
        assert waited <= DB_TIMEOUT + MARGIN, f"503 after {waited:.2f}s: {answer.key} {answer.text}"
    assert orchestrator.running and orchestrator.worker_pids() == workers, orchestrator.log_tail()
    written += [Written(f"/data/{a.key}", {"problems": [problem]})
                for a in answers if a.status == 201]

    # The database comes back on the same data directory and port: no server restart.
    ferretdb.start()
    wait_until(lambda: api.get(f"/problem/{problem}").status_code == 200, timeout=20,
               interval=0.2, what="the Orchestrator serving again after the database came back")
    for write in written:
        stored = api.ok("GET", write.url)
        assert {name: stored[name] for name in write.fields} == write.fields, (write.url, stored)
    # A client retrying a write that got 503 is safe: created now, or already there.
    for answer in answers:
        if answer.key != "get" and answer.status == 503:
            retried = api.post("/data", json=answer.sent)
            assert retried.status_code in (200, 201), retried.text
    api.created("/data", {"uuid": new_uuid(), "problems": problem})
    assert orchestrator.running and orchestrator.worker_pids() == workers, orchestrator.log_tail()


# --- the Orchestrator restarts --------------------------------------------------------------

def _everything(api: ApiSession) -> dict[str, list[dict[str, Any]]]:
    return {name: api.ok("GET", f"/{name}")[f"{name}s"]
            for name in ("problem", "algo", "data", "learnuplet", "preduplet")}


def test_data_survives_an_orchestrator_restart(database, start_orchestrator):
    uri, _ = database
    orchestrator = start_orchestrator(uri, workers=2)
    api = ApiSession(orchestrator.url)
    plan = plan_chains(api, algos=2, train=3)
    chain_a, chain_b = (learnuplets(api, algo=algo) for algo in plan.algos)
    api.ok("POST", f"/worker/learnuplet/{chain_a[0]['uuid']}", {"worker": new_uuid()})
    api.ok("POST", f"/learndone/{chain_a[0]['uuid']}", {
        "status": "done", "perf": 0.8, "train_perf": {plan.train_data[0]: 0.9},
        "test_perf": {plan.test_data: 0.8}})
    api.ok("POST", f"/learndone/{chain_b[0]['uuid']}", {"status": "failed"})
    api.ok("POST", f"/worker/learnuplet/{chain_a[1]['uuid']}", {"worker": new_uuid()})
    api.created("/prediction", {"data": new_uuid(), "problem": plan.problem})
    before = _everything(api)
    statuses = Counter(doc["status"] for doc in before["learnuplet"])
    assert statuses == {"done": 1, "failed": 1, "pending": 1, "todo": 1, "waiting": 2}

    port = orchestrator.port
    orchestrator.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
    orchestrator = start_orchestrator(uri, workers=2, port=port)

    assert _everything(api) == before
    # and it carries on from there
    api.ok("POST", f"/learndone/{chain_a[1]['uuid']}", {"status": "failed"})
    assert api.ok("GET", f"/learnuplet/{chain_a[2]['uuid']}")["status"] == "todo"
