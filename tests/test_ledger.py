"""Consistency: versioned events, exactly-once transitions under races, crash recovery."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import AUTH, new_uuid
from helpers import (
    StoreSpy,
    chain,
    claim,
    counts,
    done_body,
    problem_details,
    snapshot,
    use_store,
)

from app.ledger.sealing import Sealer
from app.ledger.verify import Verifier

THREADS = 24


class SimulatedCrash(RuntimeError):
    """The process dies here."""


APP_LEDGERS: list = []  # the test's ledgers, for assert_ledger_is_whole's verify


@pytest.fixture(autouse=True)
def remember_ledgers(ledgers):
    APP_LEDGERS[:] = [ledgers]
    yield
    APP_LEDGERS.clear()


@pytest.fixture
def ledger(ledgers):
    """The registry (algos, data)."""
    return ledgers.registry


@pytest.fixture
def streams(ledgers):
    return ledgers.streams


def race(count, send):
    """Run send(index) in `count` threads released together; returns the results in index order."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait(timeout=30)
        return send(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def events_for(db, uuid):
    """The stream events about task `uuid`, in order."""
    return [event for event in db.dump("stream_events") if event.get("uuid") == uuid]


def assert_ledger_is_whole(db):
    """Registry events are numbered 1..n without gaps and the head has applied all of them;
    each stream's events are numbered 1..k and all applied (their seal shows it)."""
    ids = [event["_id"] for event in db.dump("events")]
    assert ids == list(range(1, len(ids) + 1))
    assert db.head("head") == len(ids)
    streams = {}
    for event in db.dump("stream_events"):
        streams.setdefault(event["stream"], []).append(event["n"])
        collection, uuid = event["seal"]
        assert db.get(collection, uuid)["version"] >= event["n"], event
    for stream, numbers in streams.items():
        assert numbers == list(range(1, len(numbers) + 1)), stream
    # and the audit trail: every event sealed, and every document what the events derive
    sealer = Sealer(APP_LEDGERS[0].streams, settle_seconds=0)
    sealer.seal()
    report = Verifier(APP_LEDGERS[0], store=db).run()
    assert report.unsealed == 0 and report.events == len(ids) + sum(map(len, streams.values()))


def learnuplets_of_new_chain(client, count=3):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=count)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    return algo_uuid, chain(client, algo_uuid)


# --- indexes and bulk writes ------------------------------------------------------------

def written(spy, collection):
    """How many documents each store call inserted into `collection` (those that did)."""
    batches = [[args[0]] if method == "write" else [writes for writes, _ in args[0]]
               for method, args in spy.calls if method in ("write", "write_many")]
    found = [sum(len(writes.inserts.get(collection, [])) for writes in batch) for batch in batches]
    return [count for count in found if count]


def test_a_new_algo_plans_its_chain_with_one_registry_event_and_one_bulk_write(
        client, db, ledgers, monkeypatch):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=5)
    spy = StoreSpy(ledgers.store)
    use_store(monkeypatch, ledgers, spy)
    before = counts(db)
    assert client.algo(problem["uuid"])["new_learnuplets"] == 5
    assert counts(db)["events"] == before["events"] + 1
    assert counts(db)["stream_events"] == before["stream_events"] + 1  # the chain's first
    assert written(spy, "learnuplet") == [5]  # one write of the whole chain


@pytest.mark.parametrize("algos", [1, 4])
def test_new_data_extends_every_chain_with_a_constant_number_of_calls(
        client, db, ledgers, monkeypatch, algos):
    problem = client.problem(size=1)
    uuids = [client.algo(problem["uuid"])["new_algo"]["uuid"] for _ in range(algos)]
    spy = StoreSpy(ledgers.store)
    use_store(monkeypatch, ledgers, spy)
    before = counts(db)
    assert client.data(problem["uuid"], count=4)["new_learnuplets"] == 4 * algos
    assert counts(db)["events"] == before["events"] + 1
    assert written(spy, "learnuplet") == [4 * algos]
    assert {doc["uuid"]: doc["length"] for doc in db.dump("chain")} == dict.fromkeys(uuids, 4)
    # whatever the number of chains: they are read (their documents alone: each keeps its
    # running learnuplet's state), committed and written together
    calls = sorted(method for method, _ in spy.calls)
    assert calls == sorted(["head", "get_many", "get_many", "chains_of", "insert_event",
                            "write", "get_many", "get", "insert_events",
                            "write_many", "move_head"]), calls


# --- races ------------------------------------------------------------------------------

def test_exactly_one_of_24_concurrent_claims_wins(client, db, live_server):
    _, learnuplets = learnuplets_of_new_chain(client)
    task = learnuplets[0]
    workers = [new_uuid() for _ in range(THREADS)]
    responses = race(THREADS, lambda index: requests.post(
        f"{live_server}/worker/learnuplet/{task['uuid']}", json={"worker": workers[index]},
        auth=AUTH, timeout=60))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * (THREADS - 1), statuses
    winner = workers[[response.status_code for response in responses].index(200)]
    stored = db.get("learnuplet", task["uuid"])
    assert (stored["status"], stored["worker"]) == ("pending", winner)
    claims = [event for event in events_for(db, task["uuid"]) if event["kind"] == "task_claimed"]
    assert len(claims) == 1 and claims[0]["worker"] == winner
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Content-Type"].startswith("application/problem+json")
    assert_ledger_is_whole(db)


def test_concurrent_claims_of_a_preduplet(client, db, live_server):
    _, learnuplets = learnuplets_of_new_chain(client, count=1)
    assert claim(client, learnuplets[0]["uuid"]).status_code == 200
    client.post(f"/learndone/{learnuplets[0]['uuid']}", done_body(learnuplets[0], 0.5))
    preduplet = client.post("/prediction", {"data": new_uuid(),
                                            "problem": learnuplets[0]["problem"]}).get_json()
    responses = race(12, lambda index: requests.post(
        f"{live_server}/worker/preduplet/{preduplet['uuid']}", json={"worker": new_uuid()},
        auth=AUTH, timeout=60))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 11


def test_racing_reports_store_one_outcome_and_promote_once(client, db, live_server):
    algo_uuid, learnuplets = learnuplets_of_new_chain(client)
    task = learnuplets[0]
    assert claim(client, task["uuid"]).status_code == 200
    # Even threads report done, each with its own perf; odd threads report failed.
    bodies = [done_body(task, index / 100) if index % 2 == 0 else {"status": "failed"}
              for index in range(THREADS)]
    responses = race(THREADS, lambda index: requests.post(
        f"{live_server}/learndone/{task['uuid']}", json=bodies[index], auth=AUTH, timeout=60))
    statuses = [response.status_code for response in responses]
    assert set(statuses) == {200, 409}, statuses
    winners = [bodies[index] for index, status in enumerate(statuses) if status == 200]

    stored = db.get("learnuplet", task["uuid"])
    if stored["status"] == "done":
        assert len(winners) == 1 and winners[0]["perf"] == stored["perf"]
        assert (stored["train_perf"], stored["test_perf"]) == (winners[0]["train_perf"],
                                                               winners[0]["test_perf"])
        expected_start = task["model_end"]
    else:
        assert stored["status"] == "failed"
        assert winners == [{"status": "failed"}] * (THREADS // 2)  # identical retries
        expected_start = algo_uuid
    reports = [event for event in events_for(db, task["uuid"]) if event["kind"] == "task_reported"]
    assert len(reports) == 1
    promotions = [event for event in db.dump("stream_events")
                  if f"task:{learnuplets[1]['uuid']}" in event["writes"]]
    assert len(promotions) == 1 and promotions[0]["kind"] == "task_reported"
    after = chain(client, algo_uuid)
    assert [doc["status"] for doc in after] == [stored["status"], "todo", "waiting"]
    assert after[1]["model_start"] == expected_start
    assert_ledger_is_whole(db)


def test_racing_identical_creates_make_one_document(client, db, live_server):
    body = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    responses = race(THREADS, lambda _: requests.post(f"{live_server}/problem", json=body,
                                                      auth=AUTH, timeout=60))
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert len({str(r.json()) for r in responses}) == 1
    assert sum(1 for doc in db.dump("problem") if doc["uuid"] == body["uuid"]) == 1
    assert counts(db)["stream_events"] == 1 and counts(db)["events"] == 0


def test_concurrent_uploads_and_algos_build_whole_chains(client, db, live_server):
    problem = client.problem(test_dataset=[], size=1)

    def send(index):
        if index % 3 == 0:
            body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": f"algo {index}"}
            return requests.post(f"{live_server}/algo", json=body, auth=AUTH, timeout=60)
        body = {"uuid": [new_uuid(), new_uuid()], "problems": problem["uuid"]}
        return requests.post(f"{live_server}/data", json=body, auth=AUTH, timeout=60)

    responses = race(18, send)
    assert all(response.status_code == 201 for response in responses), \
        [response.text for response in responses if response.status_code != 201]
    uploaded = [doc["uuid"] for doc in client.get("/data").get_json()["datas"]]
    assert len(uploaded) == 24
    algo_uuids = [doc["uuid"] for doc in client.get("/algo").get_json()["algos"]]
    assert len(algo_uuids) == 6
    reported = sum(response.json()["new_learnuplets"] for response in responses)
    assert reported == db.count("learnuplet") == 6 * 24
    for algo_uuid in algo_uuids:
        learnuplets = chain(client, algo_uuid)
        assert [doc["rank"] for doc in learnuplets] == list(range(24))
        assert [doc["train_data"][0] for doc in learnuplets] == uploaded
        assert [doc["status"] for doc in learnuplets] == ["todo"] + ["waiting"] * 23
        assert learnuplets[0]["model_start"] == algo_uuid
    assert_ledger_is_whole(db)


# --- crashes ----------------------------------------------------------------------------

def crash_apply_once(monkeypatch, target, after=False):
    """The next event is committed, then the process 'dies' before (or after) applying it.
    `target` is the registry (its `apply`) or the streams (their `write`)."""
    name = "apply" if hasattr(target, "roll_forward") else "write"
    original = getattr(target, name)
    state = {"crashed": False}

    def apply(event, *args, **options):
        if state["crashed"]:
            return original(event, *args, **options)
        state["crashed"] = True
        if after:
            original(event, *args, **options)
        raise SimulatedCrash(f"crash while applying event {event['_id']}")

    monkeypatch.setattr(target, name, apply)


def test_crashed_claim_is_completed_by_the_next_write(client, db, streams, monkeypatch):
    _, learnuplets = learnuplets_of_new_chain(client)
    task = learnuplets[0]
    crash_apply_once(monkeypatch, streams)
    monkeypatch.setattr(streams, "settle_seconds", 0.2)  # how long the rival waits for the writer
    worker = new_uuid()
    before = counts(db)["stream_events"]
    assert claim(client, task["uuid"], worker=worker).status_code == 500
    assert counts(db)["stream_events"] == before + 1  # committed ...
    assert db.get("learnuplet", task["uuid"])["status"] == "todo"  # ... not applied

    # A rival claim must not win: the committed claim refuses it at once, and is rolled
    # forward first once its writer can be presumed dead
    problem_details(claim(client, task["uuid"]), 409)
    assert db.get("learnuplet", task["uuid"])["status"] == "todo"
    time.sleep(streams.settle_seconds)
    problem_details(claim(client, task["uuid"]), 409)
    stored = client.get(f"/learnuplet/{task['uuid']}").get_json()
    assert (stored["status"], stored["worker"]) == ("pending", worker)
    assert counts(db)["stream_events"] == before + 1
    assert_ledger_is_whole(db)


def test_crashed_algo_registration_is_completed_by_an_unrelated_registration(
        client, db, ledger, monkeypatch):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": "x"}
    crash_apply_once(monkeypatch, ledger)
    assert client.post("/algo", body).status_code == 500
    problem_details(client.get(f"/algo/{body['uuid']}"), 404)

    other = client.problem()
    client.algo(other["uuid"])  # a registration that commutes with it moves the head over it
    algo = client.get(f"/algo/{body['uuid']}").get_json()
    assert algo["name"] == "x"
    learnuplets = chain(client, body["uuid"])
    assert [(doc["rank"], doc["status"]) for doc in learnuplets] == [
        (0, "todo"), (1, "waiting"), (2, "waiting")]
    retry = client.post("/algo", body)
    assert retry.status_code == 200 and retry.get_json() == {"new_algo": algo, "new_learnuplets": 0}
    assert db.count("learnuplet") == 3
    assert_ledger_is_whole(db)


def test_crashed_report_is_completed_by_the_sweep(client, db, streams, monkeypatch):
    algo_uuid, learnuplets = learnuplets_of_new_chain(client)
    task = learnuplets[0]
    assert claim(client, task["uuid"]).status_code == 200
    crash_apply_once(monkeypatch, streams)
    monkeypatch.setattr(streams, "settle_seconds", 0.2)
    body = done_body(task, 0.6)
    assert client.post(f"/learndone/{task['uuid']}", body).status_code == 500
    assert [doc["status"] for doc in chain(client, algo_uuid)] == ["pending", "waiting", "waiting"]

    assert streams.sweep() == 0  # its writer may still be applying it: left alone ...
    time.sleep(streams.settle_seconds + 0.1)
    assert streams.sweep() == 1  # ... until settle_seconds have passed
    assert streams.sweep() == 0
    after = chain(client, algo_uuid)
    assert [doc["status"] for doc in after] == ["done", "todo", "waiting"]
    assert after[0]["perf"] == 0.6 and after[1]["model_start"] == task["model_end"]
    state = snapshot(db)
    assert client.post(f"/learndone/{task['uuid']}", body).status_code == 200  # the client's retry
    assert snapshot(db) == state
    assert_ledger_is_whole(db)


class Later:
    """The streams' clock, moved on by `offset` seconds."""

    def __init__(self, clock, offset):
        self.clock, self.offset = clock, offset

    def now(self):
        return self.clock.now() + self.offset

    def __getattr__(self, name):
        return getattr(self.clock, name)


def test_the_sweep_reads_the_minutes_since_its_checkpoint_only(client, db, streams, monkeypatch):
    algo_uuid, learnuplets = learnuplets_of_new_chain(client)
    task = learnuplets[0]
    streams.sweep()  # the checkpoint is now
    crash_apply_once(monkeypatch, streams)
    assert claim(client, task["uuid"]).status_code == 500  # committed, never applied
    spy = StoreSpy(streams.store)
    monkeypatch.setattr(streams, "store", spy)
    monkeypatch.setattr(streams, "clock", Later(streams.clock, 3 * 60))  # 3 minutes on
    assert streams.sweep() == 1
    minutes = [args[1] for method, args in spy.calls if method == "events_in_minute"]
    assert 3 <= len(minutes) <= 5 and minutes == sorted(set(minutes)), minutes  # each once
    assert [doc["status"] for doc in chain(client, algo_uuid)][0] == "pending"
    spy.calls.clear()
    assert streams.sweep() == 0
    # the 10 s it looks back (clock skew) may reach into the minute before
    assert len([1 for method, _ in spy.calls if method == "events_in_minute"]) <= 2
    assert_ledger_is_whole(db)


def test_a_sweep_far_behind_catches_up_over_several_sweeps(client, db, streams, monkeypatch):
    _, learnuplets = learnuplets_of_new_chain(client)
    streams.sweep()
    crash_apply_once(monkeypatch, streams)
    assert claim(client, learnuplets[0]["uuid"]).status_code == 500
    # every server was down for an hour: the event is found by the sweep that reaches its minute
    monkeypatch.setattr(streams, "clock", Later(streams.clock, 3600))
    found = [streams.sweep() for _ in range(4)]
    assert found == [1, 0, 0, 0]  # the oldest minutes first
    assert_ledger_is_whole(db)


def test_crash_after_apply_then_retry_is_200(client, db, ledger, monkeypatch):
    problem = client.problem(size=1)
    body = {"uuid": [new_uuid(), new_uuid()], "problems": problem["uuid"]}
    client.algo(problem["uuid"])
    crash_apply_once(monkeypatch, ledger, after=True)
    assert client.post("/data", body).status_code == 500
    state = snapshot(db)
    retry = client.post("/data", body)
    assert retry.status_code == 200
    assert [doc["uuid"] for doc in retry.get_json()["new_datas"]] == body["uuid"]
    assert snapshot(db) == state
    assert db.count("learnuplet") == 2


def _crash_after_inserts(store, monkeypatch):
    """The next write stores its new documents, then the process dies before the updates."""
    original = store.write

    def write(writes, version, version_field):
        monkeypatch.setattr(store, "write", original)
        inserts_only = type(writes)(inserts=writes.inserts)
        original(inserts_only, version, version_field)
        raise SimulatedCrash("crash between the inserts and the updates")

    monkeypatch.setattr(store, "write", write)


@pytest.mark.parametrize("where", ["write", "between inserts and updates", "insert_events",
                                   "write_many", "move_head"])
def test_crash_in_the_middle_of_apply_is_completed_exactly_once(client, db, ledgers, monkeypatch,
                                                                where):
    problem = client.problem(size=1)
    algo_uuids = [client.algo(problem["uuid"])["new_algo"]["uuid"] for _ in range(2)]
    spy = StoreSpy(ledgers.store)
    if where == "between inserts and updates":
        _crash_after_inserts(spy, monkeypatch)
    else:
        spy.fail_once[where] = SimulatedCrash("crash in the middle of apply")
    use_store(monkeypatch, ledgers, spy)
    uuids = [new_uuid(), new_uuid()]
    assert client.post("/data", {"uuid": uuids, "problems": problem["uuid"]}).status_code == 500

    second = client.data(problem["uuid"], count=1)  # the next write finishes the first
    assert second["new_learnuplets"] == 2
    for algo_uuid in algo_uuids:
        learnuplets = chain(client, algo_uuid)
        assert [doc["train_data"] for doc in learnuplets] == [
            [uuids[0]], [uuids[1]], [second["new_datas"][0]["uuid"]]]
        assert [doc["status"] for doc in learnuplets] == ["todo", "waiting", "waiting"]
    assert db.count("data") == 3
    assert_ledger_is_whole(db)


# --- failures store nothing -------------------------------------------------------------

def test_refused_requests_store_nothing(client, db):
    algo_uuid, learnuplets = learnuplets_of_new_chain(client)
    problem = learnuplets[0]["problem"]
    existing = client.data(problem)["new_datas"][0]["uuid"]
    before = snapshot(db)
    refused = [
        client.post("/problem", {"uuid": problem, "workflow": new_uuid(), "test_dataset": [],
                                 "size_train_dataset": 1}),
        client.post("/algo", {"uuid": algo_uuid, "problem": problem, "name": "other"}),
        client.post("/algo", {"uuid": new_uuid(), "problem": new_uuid(), "name": "x"}),
        client.post("/data", {"uuid": [new_uuid(), existing], "problems": problem}),
        client.post("/data", {"uuid": [new_uuid()], "problems": [problem, new_uuid()]}),
        client.post("/prediction", {"data": new_uuid(), "problem": problem}),
        claim(client, learnuplets[1]["uuid"]),
        claim(client, new_uuid()),
        client.post(f"/learndone/{learnuplets[0]['uuid']}", done_body(learnuplets[0], 0.1)),
        client.post(f"/learndone/{learnuplets[2]['uuid']}", {"status": "failed"}),
        client.post(f"/learndone/{learnuplets[0]['uuid']}", {"status": "done"}),
    ]
    assert all(400 <= response.status_code < 500 for response in refused), \
        [response.status_code for response in refused]
    assert snapshot(db) == before


def test_events_are_never_rewritten(client, db):
    algo_uuid, learnuplets = learnuplets_of_new_chain(client)
    early = {name: db.dump(name) for name in ("events", "stream_events")}
    assert claim(client, learnuplets[0]["uuid"]).status_code == 200
    client.post(f"/learndone/{learnuplets[0]['uuid']}", {"status": "failed"})
    client.data(learnuplets[0]["problem"], count=2)
    later = {name: db.dump(name) for name in ("events", "stream_events")}
    for name, events in early.items():
        assert all(event in later[name] for event in events)
    assert len(later["events"]) == len(early["events"]) + 1  # the upload
    assert len(later["stream_events"]) == len(early["stream_events"]) + 3  # claim, report, extension
    assert_ledger_is_whole(db)


# --- commuting registry decisions --------------------------------------------------------

def _foreign_algo(client, db, number):
    """An algo registration committed as registry event `number` by another process, not
    applied yet (for a problem of its own, so it commutes with everything the test does)."""
    problem = client.problem()["uuid"]
    algo = {"uuid": new_uuid(), "problem": problem, "name": "foreign"}
    ms = int(time.time() * 1000)  # as any server commits it (commit.py)
    db.insert_event("events", {"_id": number, "kind": "algo_registered", "at": ms // 1000,
                               "ms": ms, "minute": ms // 60_000, "by": "other",
                               "reads": [f"algo:{algo['uuid']}", f"problem:{problem}",
                                         f"data:{problem}"],
                               "writes": [f"algo:{algo['uuid']}", f"algos:{problem}",
                                          f"chain:{algo['uuid']}"],
                               "algo": algo})
    return algo


def _deciding(ledger, monkeypatch, after_first_decision):
    """Count the registry's decisions; run `after_first_decision` right after the first one."""
    decisions = []
    original = ledger.commit

    def commit(decide):
        def counted():
            decisions.append(1)
            content = decide()
            if len(decisions) == 1:
                after_first_decision()
            return content
        return original(counted)

    monkeypatch.setattr(ledger, "commit", commit)
    return decisions


def test_a_decision_whose_reads_were_not_written_meanwhile_commits_without_deciding_again(
        client, db, ledger, monkeypatch):
    problem = client.problem()["uuid"]
    head = ledger.head()
    foreign = {}
    decisions = _deciding(ledger, monkeypatch,
                          lambda: foreign.update(_foreign_algo(client, db, head + 1)))
    assert client.post("/algo", {"uuid": new_uuid(), "problem": problem, "name": "x"}
                       ).status_code == 201
    assert len(decisions) == 1  # not decided again
    ours = db.event("events", head + 2)
    assert ours["kind"] == "algo_registered" and ours["algo"]["problem"] == problem
    # ours moved the head over the foreign one only by applying it first
    assert client.get(f"/algo/{foreign['uuid']}").status_code == 200
    assert_ledger_is_whole(db)


def test_a_decision_whose_reads_were_written_meanwhile_is_decided_again(client, db, ledger,
                                                                         monkeypatch):
    problem = client.problem()["uuid"]
    head = ledger.head()

    def conflicting_upload():  # someone registers data for the same problem meanwhile
        ms = int(time.time() * 1000)  # as any server commits it (commit.py)
        db.insert_event("events", {"_id": head + 1, "kind": "data_registered", "at": ms // 1000,
                                   "ms": ms, "minute": ms // 60_000, "by": "other", "reads": [],
                                   "writes": ["data", f"data:{problem}"],
                                   "data": [new_uuid()], "problems": [problem], "algos": []})

    decisions = _deciding(ledger, monkeypatch, conflicting_upload)
    answer = client.post("/algo", {"uuid": new_uuid(), "problem": problem, "name": "x"})
    assert answer.status_code == 201
    assert len(decisions) == 2
    assert db.event("events", head + 2)["kind"] == "algo_registered"
    # decided after the upload was applied: its chain covers the uploaded datum
    assert answer.get_json()["new_learnuplets"] == 1
    assert_ledger_is_whole(db)


# --- streams ------------------------------------------------------------------------------

def test_claims_of_different_chains_never_contend(client, db, streams, monkeypatch):
    tasks = [learnuplets_of_new_chain(client, count=1)[1][0] for _ in range(2)]
    spy = StoreSpy(streams.store)
    monkeypatch.setattr(streams, "store", spy)
    for task in tasks:
        assert claim(client, task["uuid"]).status_code == 200
    # each: its chain document (which keeps the running task's state), the insert, the write;
    # nothing global is read or written
    assert [method for method, _ in spy.calls] == ["chain_running", "insert_event", "write"] * 2


def test_a_claim_that_loses_the_race_to_a_claim_of_the_same_task_gets_409_at_once(client, db, streams,
                                                                   monkeypatch):
    _, tasks = learnuplets_of_new_chain(client, count=1)
    task = tasks[0]
    rival = new_uuid()
    original = streams.prepare

    def rival_commits_first(reading, content, store=None):
        monkeypatch.setattr(streams, "prepare", original)
        other = {**content, "worker": rival}
        assert streams.commit(lambda r: (r.observe(reading.stream, "x", "y", None),
                                         r.__setattr__("position", reading.position),
                                         r.__setattr__("documents", reading.documents),
                                         other)[-1]) is not None
        return original(reading, content, store)

    monkeypatch.setattr(streams, "prepare", rival_commits_first)
    spy = StoreSpy(streams.store)
    monkeypatch.setattr(streams, "store", spy)
    problem_details(claim(client, task["uuid"]), 409)
    assert db.get("learnuplet", task["uuid"])["worker"] == rival
    ours = [method for method, _ in spy.calls]
    # the rival's commit (insert, write), our lost insert, the rival's event read: it claims
    # the same task, so 409 at once, without waiting for it to be applied
    assert ours.count("insert_event") == 2 and ours.count("event") == 1, ours
    assert len(ours) <= 7, ours
    assert_ledger_is_whole(db)


def test_the_head_never_passes_an_unapplied_event(client, db, ledger):
    problem = client.problem()["uuid"]
    head = ledger.head()
    # Event head+1 is committed by a writer that is slow to apply it; ours commutes with it.
    foreign = _foreign_algo(client, db, head + 1)
    assert client.post("/algo", {"uuid": new_uuid(), "problem": problem, "name": "x"}
                       ).status_code == 201
    # Ours (head+2) is applied, and the head moved over head+1 only by applying it first
    # (after SETTLE_SECONDS the writer of head+2 rolls it forward itself).
    assert ledger.head() == head + 2
    assert client.get(f"/algo/{foreign['uuid']}").status_code == 200
    assert_ledger_is_whole(db)


def test_events_name_the_keys_they_read_and_write(client, db):
    algo_uuid, tasks = learnuplets_of_new_chain(client, count=2)
    first, second = tasks
    assert claim(client, first["uuid"]).status_code == 200
    reported = client.post(f"/learndone/{first['uuid']}", done_body(first, 0.5))
    assert reported.status_code == 200
    claimed, done = events_for(db, first["uuid"])
    assert claimed["reads"] == [f"task:{first['uuid']}", f"chain:{algo_uuid}"]
    assert claimed["writes"] == [f"task:{first['uuid']}", f"chain:{algo_uuid}"]
    assert set(done["reads"]) == {f"task:{first['uuid']}", f"chain:{algo_uuid}"}
    assert set(done["writes"]) == {f"task:{first['uuid']}", f"chain:{algo_uuid}",
                                   f"task:{second['uuid']}"}
    # a failure moves the chain on too
    assert claim(client, second["uuid"]).status_code == 200
    assert client.post(f"/learndone/{second['uuid']}", {"status": "failed"}).status_code == 200
    failed = events_for(db, second["uuid"])[-1]
    assert set(failed["writes"]) == {f"task:{second['uuid']}", f"chain:{algo_uuid}"}


def crash_after_writing_only(streams, monkeypatch, collection):
    """The next stream event writes its updates of `collection` only, then its writer dies."""
    original = streams.store.write

    def half_then_crash(writes, version, version_field):
        monkeypatch.setattr(streams.store, "write", original)
        half = type(writes)(updates=[u for u in writes.updates if u[0] == collection])
        original(half, version, version_field)
        raise SimulatedCrash(f"crash after writing the {collection} documents only")

    monkeypatch.setattr(streams.store, "write", half_then_crash)


def test_a_decision_never_builds_on_a_half_applied_report(client, db, streams, monkeypatch):
    # The report of rank 0 writes the learnuplets, then its writer dies before the chain
    # document: an upload that then reads the chain must wait for (and finally apply) the
    # report, not extend the chain as it was before it.
    algo_uuid, learnuplets = learnuplets_of_new_chain(client, count=3)
    first = learnuplets[0]
    assert claim(client, first["uuid"]).status_code == 200
    crash_after_writing_only(streams, monkeypatch, "learnuplet")
    monkeypatch.setattr(streams, "settle_seconds", 0.2)
    assert client.post(f"/learndone/{first['uuid']}", done_body(first, 0.7)).status_code == 500
    client.data(first["problem"], count=1)
    after = chain(client, algo_uuid)
    assert [doc["status"] for doc in after] == ["done", "todo", "waiting", "waiting"]
    assert after[1]["model_start"] == first["model_end"]
    chain_document = db.get("chain", algo_uuid)
    assert (chain_document["active"], chain_document["next_waiting"], chain_document["length"]) == (
        1, 2, 4)
    assert chain_document["best"]["model_end"] == first["model_end"]
    assert_ledger_is_whole(db)


def test_a_report_never_builds_on_a_half_applied_report(client, db, streams, monkeypatch):
    # The done report wrote the chain document, then its writer died before the learnuplets:
    # a racing failure report that reads the learnuplet (still pending) must not commit a
    # second outcome; it waits for (and finally applies) the first one, then gets 409.
    algo_uuid, learnuplets = learnuplets_of_new_chain(client, count=2)
    first = learnuplets[0]
    assert claim(client, first["uuid"]).status_code == 200
    crash_after_writing_only(streams, monkeypatch, "chain")
    monkeypatch.setattr(streams, "settle_seconds", 0.2)
    assert client.post(f"/learndone/{first['uuid']}", done_body(first, 0.7)).status_code == 500
    problem_details(client.post(f"/learndone/{first['uuid']}", {"status": "failed"}), 409)
    after = chain(client, algo_uuid)
    assert [doc["status"] for doc in after] == ["done", "todo"]
    assert after[0]["perf"] == 0.7
    assert [e["kind"] for e in events_for(db, first["uuid"])].count("task_reported") == 1
    assert_ledger_is_whole(db)
