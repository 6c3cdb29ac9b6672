"""How many database commands (round trips) requests make (issue 9, points 1 and 2).

A pymongo CommandListener (tests/commands.py) counts the commands started by ONE request sent
through the Flask test client, after the same kind of request has warmed the app up, on a
database nobody else uses. A count above its budget fails, and the message lists every
command (name, collection, and for a query the fields it filters and sorts on) so a developer
sees what to cut. A task decision (claim, heartbeat, learndone) must also make point lookups
only: by `_id`, or the chain document of a running learnuplet by its uuid (`running`, which
issue 9's "by `_id` only" predates: one indexed lookup in the small chain collection instead of
two by `_id`, one of them in the largest collection; see docs/design.md).

With racing writers (`test_racing_writers_commands_per_cycle`), a claim + learndone cycle may
cost at most 1.5 × what it costs alone.

Marked `real_server`: the in-process store sends no commands to count.

Measured on main at f2a3d92 (FerretDB v1.24, the first version of these tests):
claim 5, heartbeat 5, learndone done + promotion 7, learndone failed + promotion 7,
POST /prediction 7, POST /data 10 with 1 algo and 10 with 8 algos; a cycle 12 alone and
34-35 with 8 racing workers (2.8-3.1 ×). With the commit path on streams: claim 4,
heartbeat 4, learndone 5 and 5, POST /prediction 5, POST /data 13 with 1 or 8 algos; a
cycle 9 alone and 9 with 8 racing workers (1.0 ×). With the running learnuplet kept on its
chain document: the same counts, none of them a learnuplet read; POST /data 12.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from commands import Command, CommandLog, command_log, listing
from conftest import AUTH, ApiClient, new_uuid
from werkzeug.serving import make_server

from app import create_app

pytestmark = pytest.mark.real_server

# Budgets from issue 9 ("Fewer round trips uncontended").
CLAIM_BUDGET = 4
HEARTBEAT_BUDGET = 4
LEARNDONE_DONE_BUDGET = 5  # done, and the chain's next waiting rank becomes todo
LEARNDONE_FAILED_BUDGET = 5  # failed, and the chain's next waiting rank becomes todo
PREDICTION_BUDGET = 5
# POST /data must cost the same whatever the number of algos (the target). It is 12,
# with 1 algo as with 8 (2 new uuids, one problem whose chains are running): 7 for the
# registry event (head, the existing data, the problems, their chains, insert, write, head)
# and 5 to extend every chain on its own stream (the chains, which keep their running
# learnuplets' state, the problem, one insert of all chain events, one write per
# collection). It was 10 before the commit path moved to streams (when the upload extended
# the chains itself and every claim and report waited on the same global counter), then 13
# until the chain documents kept their running learnuplets. It may go down, never up.
DATA_BUDGET = 12
DATA_ALGOS = (1, 8)


@pytest.fixture
def counted(config: dict[str, Any], db_name: str, capsys: pytest.CaptureFixture[str]):
    """(API client, measure): `measure(label, send, budget)` sends one request and returns
    (response, commands), printing the count to the terminal even when output is captured."""
    log: CommandLog = command_log()  # before create_app builds the app's MongoClient
    app = create_app(config)
    client = ApiClient(app.test_client())

    def measure(label: str, send: Callable[[], Any], budget: int | None = None
                ) -> tuple[Any, list[Command]]:
        with log.recording(db_name) as commands:
            response = send()
        with capsys.disabled():
            limit = f" (budget {budget})" if budget is not None else ""
            print(f"\n[command count] {label}: {len(commands)}{limit}: {listing(commands)}")
        return response, list(commands)

    yield client, measure
    app.extensions["orchestrator.store"].close()


def _within(label: str, commands: list[Command], budget: int) -> None:
    if len(commands) > budget:
        pytest.fail(f"{label} made {len(commands)} database commands, budget {budget}: "
                    f"{listing(commands)}", pytrace=False)


def _only_point_lookups(label: str, commands: list[Command]) -> None:
    """Issue 9: no query but point lookups in a task decision (Command.point_lookup)."""
    other = [command for command in commands
             if command.fields is not None and not command.point_lookup]
    if other:
        pytest.fail(f"{label} queried other than by _id or running: {'; '.join(map(str, other))} "
                    f"(all commands: {listing(commands)})", pytrace=False)


def _chain(client: ApiClient, algo: str) -> list[dict[str, Any]]:
    return sorted(client.learnuplets(algo=algo), key=lambda doc: doc["rank"])


def _two_chains(client: ApiClient) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A problem (batches of 1, one test data, 3 train data) and two algos: each chain has rank
    0 todo and ranks 1 and 2 waiting. One chain warms up, the other is measured."""
    test_data = new_uuid()
    problem = client.problem(test_dataset=[test_data], size=1)
    client.data(problem["uuid"], uuids=[test_data, new_uuid(), new_uuid(), new_uuid()])
    warm, measured = (_chain(client, client.algo(problem["uuid"])["new_algo"]["uuid"])
                      for _ in range(2))
    for chain in (warm, measured):
        assert [doc["status"] for doc in chain] == ["todo", "waiting", "waiting"], chain
    return problem, warm, measured


def _claim(client: ApiClient, task: dict[str, Any], worker: str) -> Any:
    return client.post(f"/worker/learnuplet/{task['uuid']}", {"worker": worker})


def _done(client: ApiClient, task: dict[str, Any], worker: str, perf: float = 0.5) -> Any:
    return client.post(f"/learndone/{task['uuid']}", {
        "status": "done", "perf": perf, "worker": worker,
        "train_perf": dict.fromkeys(task["train_data"], perf),
        "test_perf": dict.fromkeys(task["test_data"], perf)})


def _failed(client: ApiClient, task: dict[str, Any], worker: str) -> Any:
    return client.post(f"/learndone/{task['uuid']}", {"status": "failed", "worker": worker})


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def test_claim_count(counted):
    client, measure = counted
    _, warm, measured = _two_chains(client)
    _ok(_claim(client, warm[0], new_uuid()))

    response, commands = measure("claim", lambda: _claim(client, measured[0], new_uuid()),
                                 CLAIM_BUDGET)
    _ok(response)
    _within("a claim", commands, CLAIM_BUDGET)
    _only_point_lookups("a claim", commands)


def test_heartbeat_count(counted):
    client, measure = counted
    _, warm, measured = _two_chains(client)
    worker = new_uuid()
    for task in (warm[0], measured[0]):
        _ok(_claim(client, task, worker))
    _ok(client.post(f"/worker/learnuplet/{warm[0]['uuid']}/heartbeat", {"worker": worker}))

    response, commands = measure("heartbeat", lambda: client.post(
        f"/worker/learnuplet/{measured[0]['uuid']}/heartbeat", {"worker": worker}),
        HEARTBEAT_BUDGET)
    assert _ok(response)["lease_expires"]
    _within("a heartbeat", commands, HEARTBEAT_BUDGET)
    _only_point_lookups("a heartbeat", commands)


@pytest.mark.parametrize("outcome", ["done", "failed"])
def test_learndone_with_promotion_count(counted, outcome):
    client, measure = counted
    _, warm, measured = _two_chains(client)
    report = _done if outcome == "done" else _failed
    budget = LEARNDONE_DONE_BUDGET if outcome == "done" else LEARNDONE_FAILED_BUDGET
    worker = new_uuid()
    for task in (warm[0], measured[0]):
        _ok(_claim(client, task, worker))
    _ok(report(client, warm[0], worker))

    response, commands = measure(f"learndone {outcome} with promotion",
                                 lambda: report(client, measured[0], worker), budget)
    _ok(response)
    chain = _chain(client, measured[0]["algo"])
    assert [doc["status"] for doc in chain] == [outcome, "todo", "waiting"], chain  # promoted
    _within(f"a learndone {outcome} with promotion", commands, budget)
    _only_point_lookups(f"a learndone {outcome} with promotion", commands)


def test_prediction_count(counted):
    client, measure = counted
    problem, warm, measured = _two_chains(client)
    worker = new_uuid()
    for task in (warm[0], measured[0]):  # both chains have a model: the best is among two
        _ok(_claim(client, task, worker))
        _ok(_done(client, task, worker, perf=0.4 if task is warm[0] else 0.7))
    body = {"data": new_uuid(), "problem": problem["uuid"]}
    _ok(client.post("/prediction", body), 201)

    response, commands = measure("POST /prediction", lambda: client.post(
        "/prediction", {**body, "data": new_uuid()}), PREDICTION_BUDGET)
    assert _ok(response, 201)["model"] == measured[0]["model_end"]
    _within("a POST /prediction", commands, PREDICTION_BUDGET)


def _data_upload_commands(client: ApiClient, measure: Any, algos: int) -> list[Command]:
    """The commands of a POST /data of 2 uuids to a problem with `algos` running chains."""
    test_data = new_uuid()
    problem = client.problem(test_dataset=[test_data], size=1)["uuid"]
    for _ in range(algos):
        client.algo(problem)
    client.data(problem, uuids=[test_data, new_uuid()])  # warm-up; every chain is running now
    response, commands = measure(f"POST /data (2 uuids, {algos} algo(s))", lambda: client.post(
        "/data", {"uuid": [new_uuid(), new_uuid()], "problems": problem}), DATA_BUDGET)
    assert _ok(response, 201)["new_learnuplets"] == 2 * algos
    return commands


def test_data_upload_count_is_constant_in_the_number_of_algos(counted):
    client, measure = counted
    few, many = (_data_upload_commands(client, measure, algos) for algos in DATA_ALGOS)

    if len(few) != len(many):
        pytest.fail(
            f"POST /data made {len(few)} commands with {DATA_ALGOS[0]} algo and {len(many)} with "
            f"{DATA_ALGOS[1]}: it must not grow with the number of algos.\n"
            f"{DATA_ALGOS[0]} algo: {listing(few)}\n{DATA_ALGOS[1]} algos: {listing(many)}",
            pytrace=False)
    for algos, commands in zip(DATA_ALGOS, (few, many), strict=True):
        _within(f"a POST /data with {algos} algo(s)", commands, DATA_BUDGET)


# --- racing writers -------------------------------------------------------------------------

RACING_WORKERS, RACING_CYCLES = 8, 4  # workers, and claim + learndone cycles each
RACING_RATIO_BUDGET = 1.5  # commands per cycle with racing workers / without (issue 9)


@pytest.fixture
def counted_server(config: dict[str, Any], db_name: str):
    """(base URL, CommandLog, API client): the app served by a threaded server over loopback
    (and through the test client, to build data), its database commands counted."""
    log = command_log()
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", log, ApiClient(app.test_client())
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["orchestrator.store"].close()


def _work_chain(base: str, chain: list[dict[str, Any]], start: threading.Barrier) -> list[str]:
    """Claim and report done each learnuplet of a chain in turn; returns what went wrong."""
    worker, wrong = new_uuid(), []
    with requests.Session() as session:
        session.auth = AUTH
        start.wait()
        for task in chain:
            for url, body in ((f"/worker/learnuplet/{task['uuid']}", {"worker": worker}),
                              (f"/learndone/{task['uuid']}", {
                                  "status": "done", "perf": 0.5, "worker": worker,
                                  "train_perf": dict.fromkeys(task["train_data"], 0.5),
                                  "test_perf": dict.fromkeys(task["test_data"], 0.5)})):
                response = session.post(base + url, json=body, timeout=60)
                if response.status_code != 200:
                    return [*wrong, f"{url}: {response.status_code} {response.text[:200]}"]
    return wrong


def _cycles(base: str, log: CommandLog, db_name: str,
            chains: list[list[dict[str, Any]]]) -> list[Command]:
    start = threading.Barrier(len(chains))
    with log.recording(db_name) as commands, ThreadPoolExecutor(len(chains)) as pool:
        wrong = [error for errors in pool.map(lambda chain: _work_chain(base, chain, start), chains)
                 for error in errors]
    assert wrong == [], wrong
    return list(commands)


def test_racing_writers_commands_per_cycle(counted_server, db_name, capsys):
    """Workers each on a chain of their own race only for the ledger: losing a commit race
    must cost O(1) round trips, so a cycle costs at most 1.5 × what it costs alone."""
    base, log, client = counted_server
    test_data = new_uuid()
    problem = client.problem(test_dataset=[test_data], size=1)["uuid"]
    # every cycle promotes the next rank: one learnuplet more than cycles in each chain
    client.data(problem, uuids=[test_data, *(new_uuid() for _ in range(RACING_CYCLES + 1))])
    warm, alone, *racing = (_chain(client, client.algo(problem)["new_algo"]["uuid"])[:RACING_CYCLES]
                            for _ in range(2 + RACING_WORKERS))
    _cycles(base, log, db_name, [warm[:1]])  # warm-up

    uncontended = _cycles(base, log, db_name, [alone])
    contended = _cycles(base, log, db_name, racing)

    one = len(uncontended) / RACING_CYCLES
    many = len(contended) / (RACING_CYCLES * RACING_WORKERS)
    with capsys.disabled():
        print(f"\n[command count] claim + learndone cycle: alone {one:.2f}, "
              f"{RACING_WORKERS} racing workers {many:.2f} (ratio {many / one:.2f}, budget "
              f"{RACING_RATIO_BUDGET}); racing: {Counter(map(str, contended)).most_common()}")
    if many > RACING_RATIO_BUDGET * one:
        pytest.fail(f"a claim + learndone cycle took {many:.2f} commands with {RACING_WORKERS} "
                    f"racing workers, {many / one:.2f} × the {one:.2f} it takes alone (budget "
                    f"{RACING_RATIO_BUDGET} ×); racing workers sent, in all: "
                    f"{Counter(map(str, contended)).most_common()}", pytrace=False)
