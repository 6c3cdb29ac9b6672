"""A chain document keeps its running learnuplet's state (app/ledger/running.py): claims,
heartbeats and reports decide from it alone, and it always says what the learnuplet says."""
import pytest
from conftest import new_uuid
from helpers import StoreSpy, bad_fields, chain, claim, done_body, use_store

from app.ledger import running


def new_chain(client, count=3, size=2):
    problem = client.problem(size=size)
    client.data(problem["uuid"], count=count * size)
    algo = client.algo(problem["uuid"])["new_algo"]["uuid"]
    return algo, chain(client, algo)


def spy_on(monkeypatch, ledgers):
    spy = StoreSpy(ledgers.store)
    use_store(monkeypatch, ledgers, spy)
    return spy


def assert_mirrors(db, algo):
    """The chain document says of its running learnuplet what the learnuplet says."""
    document = db.get("chain", algo)
    task = running.task_of(document)
    if document["active"] is None:
        assert document["running"] is None and task is None
        return
    stored = db.get("learnuplet", document["running"])
    assert stored["rank"] == document["active"]
    defaults = {"attempts": 0, "lapsed_workers": []}  # a learnuplet that never lapsed
    for name in (*running.STATE, *running.DATA):
        assert task[name] == stored.get(name, defaults.get(name)), name
    assert document["version"] >= stored["version"]


def test_a_claim_and_a_report_read_no_learnuplet(client, db, ledgers, monkeypatch):
    algo, tasks = new_chain(client)
    spy = spy_on(monkeypatch, ledgers)
    assert claim(client, tasks[0]["uuid"]).status_code == 200
    assert client.post(f"/learndone/{tasks[0]['uuid']}", done_body(tasks[0], 0.5)).status_code == 200
    assert claim(client, tasks[1]["uuid"]).status_code == 200
    reads = [(method, args[0]) for method, args in spy.calls if method in ("get", "get_many")]
    assert reads == []
    assert [method for method, _ in spy.calls] == ["chain_running", "insert_event", "write"] * 3
    assert_mirrors(db, algo)


def test_the_chain_document_follows_its_running_learnuplet_through_its_life(client, db):
    algo, tasks = new_chain(client)
    assert_mirrors(db, algo)
    worker = new_uuid()
    assert claim(client, tasks[0]["uuid"], worker=worker).status_code == 200
    assert_mirrors(db, algo)
    assert client.post(f"/worker/learnuplet/{tasks[0]['uuid']}/heartbeat",
                       {"worker": worker}).status_code == 200
    assert_mirrors(db, algo)
    assert client.post(f"/learndone/{tasks[0]['uuid']}", {"status": "failed"}).status_code == 200
    assert db.get("chain", algo)["running"] == tasks[1]["uuid"]
    assert_mirrors(db, algo)
    for task in tasks[1:]:
        assert claim(client, task["uuid"]).status_code == 200
        assert client.post(f"/learndone/{task['uuid']}", done_body(task, 0.5)).status_code == 200
        assert_mirrors(db, algo)
    assert db.get("chain", algo)["running"] is None


@pytest.mark.parametrize("rank", [0, 1])  # planned with its chain; promoted (data copied)
@pytest.mark.parametrize("field", ["train_perf", "test_perf"])
def test_performance_for_data_the_learnuplet_does_not_hold_is_400(client, db, rank, field):
    algo, tasks = new_chain(client)
    for task in tasks[:rank]:
        assert claim(client, task["uuid"]).status_code == 200
        assert client.post(f"/learndone/{task['uuid']}", done_body(task, 0.5)).status_code == 200
    task = tasks[rank]
    assert claim(client, task["uuid"]).status_code == 200
    body = done_body(task, 0.5)
    other = tasks[(rank + 1) % len(tasks)]["train_data"][0] if field == "train_perf" else new_uuid()
    body[field][other] = 0.9
    assert bad_fields(client.post(f"/learndone/{task['uuid']}", body)) == {f"{field}.{other}"}
    assert client.get(f"/learnuplet/{task['uuid']}").get_json()["status"] == "pending"
    assert client.post(f"/learndone/{task['uuid']}", done_body(task, 0.5)).status_code == 200


def test_a_chain_document_without_the_running_state_is_read_the_long_way(client, db, ledgers,
                                                                        monkeypatch):
    # as one written before it kept that state: the decisions read the learnuplet too
    algo, tasks = new_chain(client)
    monkeypatch.setattr(running, "task_of", lambda chain: None)
    spy = spy_on(monkeypatch, ledgers)
    worker = new_uuid()
    assert claim(client, tasks[0]["uuid"], worker=worker).status_code == 200
    assert claim(client, tasks[0]["uuid"]).status_code == 409
    assert client.post(f"/learndone/{tasks[0]['uuid']}", {**done_body(tasks[0], 0.5),
                                                          "worker": worker}).status_code == 200
    assert ("get", ("learnuplet", tasks[0]["uuid"])) in spy.calls
    monkeypatch.undo()
    assert_mirrors(db, algo)
    assert claim(client, tasks[1]["uuid"]).status_code == 200


def test_a_finished_or_waiting_learnuplet_is_refused_from_its_own_document(client):
    _, tasks = new_chain(client)
    assert claim(client, tasks[1]["uuid"]).status_code == 409  # waiting
    assert claim(client, tasks[0]["uuid"]).status_code == 200
    body = done_body(tasks[0], 0.5)
    assert client.post(f"/learndone/{tasks[0]['uuid']}", body).status_code == 200
    assert client.post(f"/learndone/{tasks[0]['uuid']}", body).status_code == 200  # a retry
    assert claim(client, tasks[0]["uuid"]).status_code == 409  # done
    assert claim(client, new_uuid()).status_code == 404
