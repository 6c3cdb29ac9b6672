"""Learnuplets: the training plan end to end through HTTP, claims and reports."""
import pytest
from conftest import new_uuid
from helpers import (
    assert_no_mongo_id,
    bad_fields,
    chain,
    claim,
    counts,
    done_body,
    fail,
    finish,
    problem_details,
    snapshot,
)

LEARNUPLET_FIELDS = {"uuid", "problem", "workflow", "algo", "rank", "train_data", "test_data",
                     "model_start", "model_end", "status", "worker", "perf", "train_perf",
                     "test_perf", "timestamp_creation", "timestamp_done"}


def upload(client, problem, count):
    """Register `count` data one request at a time; returns their uuids in upload order."""
    return [client.data(problem["uuid"])["new_datas"][0]["uuid"] for _ in range(count)]


# --- the plan ---------------------------------------------------------------------------

def test_algo_chain_batches_train_data_in_upload_order(client):
    test = [new_uuid(), new_uuid()]
    problem = client.problem(test_dataset=test, size=2)
    train = upload(client, problem, 2)
    client.data(problem["uuid"], uuids=[test[0]])  # test data registered too: never trained on
    train += [doc["uuid"] for doc in client.data(problem["uuid"], count=3)["new_datas"]]
    client.data(problem["uuid"], uuids=[test[1]])
    algo = client.algo(problem["uuid"])
    assert algo["new_learnuplets"] == 3
    learnuplets = chain(client, algo["new_algo"]["uuid"])
    assert [doc["train_data"] for doc in learnuplets] == [train[0:2], train[2:4], train[4:5]]
    assert [doc["rank"] for doc in learnuplets] == [0, 1, 2]
    for doc in learnuplets:
        assert LEARNUPLET_FIELDS <= set(doc)
        assert doc["test_data"] == test
        assert doc["problem"] == problem["uuid"] and doc["workflow"] == problem["workflow"]
        assert doc["worker"] is None and doc["perf"] is None and doc["timestamp_done"] is None
        assert type(doc["timestamp_creation"]) is int
        assert_no_mongo_id(doc)


def test_rank_0_is_todo_from_the_algo_and_later_ranks_wait(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    learnuplets = chain(client, algo_uuid)
    assert [(doc["status"], doc["model_start"]) for doc in learnuplets] == [
        ("todo", algo_uuid), ("waiting", None), ("waiting", None)]
    fresh = {doc["model_end"] for doc in learnuplets} | {doc["uuid"] for doc in learnuplets}
    assert len(fresh) == 6 and algo_uuid not in fresh


def test_each_algo_has_its_own_chain_and_models(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=2)
    first, second = (client.algo(problem["uuid"])["new_algo"]["uuid"] for _ in range(2))
    one, two = chain(client, first), chain(client, second)
    assert [doc["train_data"] for doc in one] == [doc["train_data"] for doc in two]
    assert {doc["model_end"] for doc in one}.isdisjoint(doc["model_end"] for doc in two)
    assert {doc["uuid"] for doc in one}.isdisjoint(doc["uuid"] for doc in two)


def test_only_test_data_means_no_learnuplet(client, db):
    test = [new_uuid()]
    problem = client.problem(test_dataset=test)
    client.data(problem["uuid"], uuids=test)
    assert client.algo(problem["uuid"])["new_learnuplets"] == 0
    assert client.data(problem["uuid"], uuids=[new_uuid()])["new_learnuplets"] == 1
    assert db.count("learnuplet") == 1


def test_done_promotes_the_next_rank_from_the_model_it_made(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    first = chain(client, algo_uuid)[0]
    finish(client, first, 0.8)
    learnuplets = chain(client, algo_uuid)
    assert [doc["status"] for doc in learnuplets] == ["done", "todo", "waiting"]
    assert learnuplets[1]["model_start"] == first["model_end"]
    assert learnuplets[2]["model_start"] is None


def test_failure_promotes_from_the_algo_when_nothing_is_done(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    fail(client, chain(client, algo_uuid)[0])
    learnuplets = chain(client, algo_uuid)
    assert [doc["status"] for doc in learnuplets] == ["failed", "todo", "waiting"]
    assert learnuplets[1]["model_start"] == algo_uuid


def test_promotion_starts_from_the_best_model_so_far(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=4)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    finish(client, chain(client, algo_uuid)[0], 0.9)
    finish(client, chain(client, algo_uuid)[1], 0.5)  # worse than rank 0
    learnuplets = chain(client, algo_uuid)
    assert learnuplets[2]["status"] == "todo"
    assert learnuplets[2]["model_start"] == learnuplets[0]["model_end"]
    fail(client, learnuplets[2])  # a failure never blocks; still the best model
    learnuplets = chain(client, algo_uuid)
    assert learnuplets[3]["status"] == "todo"
    assert learnuplets[3]["model_start"] == learnuplets[0]["model_end"]


def test_failure_after_a_done_promotes_from_the_best_done_model(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    finish(client, chain(client, algo_uuid)[0], 0.3)
    fail(client, chain(client, algo_uuid)[1], claim_first=False)  # todo -> failed
    learnuplets = chain(client, algo_uuid)
    assert [doc["status"] for doc in learnuplets] == ["done", "failed", "todo"]
    assert learnuplets[2]["model_start"] == learnuplets[0]["model_end"]


def test_data_after_algos_extends_every_chain_of_the_problem(client):
    problem = client.problem(size=2)
    early = client.algo(problem["uuid"])["new_algo"]["uuid"]  # before any data
    client.data(problem["uuid"], count=3)
    running = client.algo(problem["uuid"])["new_algo"]["uuid"]
    other_problem = client.problem(size=1)
    bystander = client.algo(other_problem["uuid"])["new_algo"]["uuid"]

    answer = client.data(problem["uuid"], count=2)
    assert answer["new_learnuplets"] == 2  # one batch of 2 for each algo
    new_uuids = [doc["uuid"] for doc in answer["new_datas"]]
    for algo_uuid in (early, running):
        learnuplets = chain(client, algo_uuid)
        assert [doc["rank"] for doc in learnuplets] == [0, 1, 2]
        assert learnuplets[2]["train_data"] == new_uuids
        # a chain that is still running gets the new learnuplet as waiting
        assert [doc["status"] for doc in learnuplets] == ["todo", "waiting", "waiting"]
        assert learnuplets[0]["model_start"] == algo_uuid
        assert learnuplets[2]["model_start"] is None
    assert chain(client, bystander) == []


def test_algo_registered_before_any_data_gets_a_todo_first_learnuplet(client):
    problem = client.problem(size=2)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    assert client.data(problem["uuid"], count=3)["new_learnuplets"] == 2
    learnuplets = chain(client, algo_uuid)
    assert [(doc["rank"], doc["status"], doc["model_start"]) for doc in learnuplets] == [
        (0, "todo", algo_uuid), (1, "waiting", None)]


def test_data_after_a_finished_chain_restarts_it_from_its_best_model(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=2)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    finish(client, chain(client, algo_uuid)[0], 0.7)
    finish(client, chain(client, algo_uuid)[1], 0.6)
    best = chain(client, algo_uuid)[0]["model_end"]
    assert client.data(problem["uuid"], count=2)["new_learnuplets"] == 2
    learnuplets = chain(client, algo_uuid)
    assert [(doc["rank"], doc["status"]) for doc in learnuplets] == [
        (0, "done"), (1, "done"), (2, "todo"), (3, "waiting")]
    assert learnuplets[2]["model_start"] == best


def test_data_after_a_failed_chain_restarts_it_from_the_algo(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    fail(client, chain(client, algo_uuid)[0])
    client.data(problem["uuid"])
    learnuplets = chain(client, algo_uuid)
    assert [(doc["status"], doc["model_start"]) for doc in learnuplets] == [
        ("failed", algo_uuid), ("todo", algo_uuid)]


def test_data_for_two_problems_at_once(client):
    shared_test = new_uuid()
    first = client.problem(test_dataset=[shared_test], size=2)
    second = client.problem(test_dataset=[], size=1)
    algo_one = client.algo(first["uuid"])["new_algo"]["uuid"]
    algo_two = client.algo(second["uuid"])["new_algo"]["uuid"]
    uuids = [new_uuid(), shared_test, new_uuid()]
    answer = client.data([first["uuid"], second["uuid"]], uuids=uuids)
    assert answer["new_learnuplets"] == 1 + 3
    assert all(doc["problems"] == [first["uuid"], second["uuid"]] for doc in answer["new_datas"])
    assert [doc["train_data"] for doc in chain(client, algo_one)] == [[uuids[0], uuids[2]]]
    assert [doc["train_data"] for doc in chain(client, algo_two)] == [[uuid] for uuid in uuids]
    assert [doc["status"] for doc in chain(client, algo_two)] == ["todo", "waiting", "waiting"]


# --- claims -----------------------------------------------------------------------------

def todo_learnuplet(client, count=2):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=count)
    return chain(client, client.algo(problem["uuid"])["new_algo"]["uuid"])


def test_claim_sets_the_worker_and_moves_todo_to_pending(client, db):
    first = todo_learnuplet(client)[0]
    worker = new_uuid()
    response = claim(client, first["uuid"].upper(), worker=worker.upper())
    assert response.status_code == 200
    assert response.get_json() == {"learnuplet_worker_set": first["uuid"]}
    stored = client.get(f"/learnuplet/{first['uuid']}").get_json()
    assert stored["status"] == "pending" and stored["worker"] == worker
    assert type(stored["timestamp_claimed"]) is int


def test_claim_of_an_unknown_learnuplet_is_404(client, db):
    before = counts(db)
    problem_details(claim(client, new_uuid()), 404)
    assert counts(db) == before


@pytest.mark.parametrize("position", [0, 1])
def test_claim_of_a_pending_or_waiting_learnuplet_is_409(client, db, position):
    learnuplets = todo_learnuplet(client)
    assert claim(client, learnuplets[0]["uuid"]).status_code == 200
    before = snapshot(db)
    body = problem_details(claim(client, learnuplets[position]["uuid"]), 409)
    assert ("pending" if position == 0 else "waiting") in body["detail"]
    assert snapshot(db) == before


@pytest.mark.parametrize("body", [{}, {"worker": "bob"}, {"worker": 3}])
def test_claim_needs_a_worker_uuid(client, db, body):
    first = todo_learnuplet(client)[0]
    assert "worker" in bad_fields(client.post(f"/worker/learnuplet/{first['uuid']}", body))
    assert client.get(f"/learnuplet/{first['uuid']}").get_json()["status"] == "todo"


def test_claim_with_a_path_that_is_not_a_uuid_is_400(client):
    problem_details(claim(client, "123"), 400)


# --- reports ----------------------------------------------------------------------------

def pending_learnuplet(client):
    first = todo_learnuplet(client)[0]
    assert claim(client, first["uuid"]).status_code == 200
    return first


def test_done_stores_the_performance(client):
    task = pending_learnuplet(client)
    body = done_body(task, 0.75)
    response = client.post(f"/learndone/{task['uuid'].upper()}", body)
    assert response.status_code == 200
    assert response.get_json() == {"updated_learnuplet": task["uuid"]}
    stored = client.get(f"/learnuplet/{task['uuid']}").get_json()
    assert stored["status"] == "done"
    assert (stored["perf"], stored["train_perf"], stored["test_perf"]) == (
        0.75, body["train_perf"], body["test_perf"])
    assert type(stored["timestamp_done"]) is int


def test_done_needs_pending(client, db):
    task = todo_learnuplet(client)[0]
    before = snapshot(db)
    body = problem_details(client.post(f"/learndone/{task['uuid']}", done_body(task, 0.5)), 409)
    assert "todo" in body["detail"]
    assert snapshot(db) == before


def test_todo_to_failed_is_allowed(client):
    task = todo_learnuplet(client)[0]
    fail(client, task, claim_first=False)
    assert client.get(f"/learnuplet/{task['uuid']}").get_json()["status"] == "failed"


def test_waiting_cannot_fail(client, db):
    waiting = todo_learnuplet(client)[1]
    before = snapshot(db)
    problem_details(client.post(f"/learndone/{waiting['uuid']}", {"status": "failed"}), 409)
    assert snapshot(db) == before


def test_report_of_an_unknown_learnuplet_is_404(client, db):
    before = counts(db)
    problem_details(client.post(f"/learndone/{new_uuid()}", {"status": "failed"}), 404)
    assert counts(db) == before


@pytest.mark.parametrize("missing", ["perf", "train_perf", "test_perf"])
def test_done_without_performance_is_400_naming_the_field(client, db, missing):
    task = pending_learnuplet(client)
    body = done_body(task, 0.5)
    del body[missing]
    before = snapshot(db)
    assert missing in bad_fields(client.post(f"/learndone/{task['uuid']}", body))
    assert snapshot(db) == before


@pytest.mark.parametrize("change, field", [
    ({"perf": "0.5"}, "perf"), ({"perf": None}, "perf"), ({"status": "finished"}, "status"),
    ({"status": "pending"}, "status"), ({"train_perf": {"not-a-uuid": 0.1}}, "train_perf"),
    ({"test_perf": [0.1]}, "test_perf"),
])
def test_bad_report_bodies_are_400(client, db, change, field):
    task = pending_learnuplet(client)
    before = snapshot(db)
    response = client.post(f"/learndone/{task['uuid']}", {**done_body(task, 0.5), **change})
    assert any(name == field or name.startswith(field + ".") for name in bad_fields(response))
    assert snapshot(db) == before


@pytest.mark.parametrize("outcome", ["done", "failed"])
def test_identical_report_retried_is_200_and_changes_nothing(client, db, outcome):
    task = pending_learnuplet(client)
    body = done_body(task, 0.5) if outcome == "done" else {"status": "failed"}
    assert client.post(f"/learndone/{task['uuid']}", body).status_code == 200
    before = snapshot(db)
    again = client.post(f"/learndone/{task['uuid']}", body)
    assert again.status_code == 200
    assert again.get_json() == {"updated_learnuplet": task["uuid"]}
    assert snapshot(db) == before


@pytest.mark.parametrize("first, second", [
    ("done", "failed"), ("failed", "done"), ("done", "done-other-perf")])
def test_any_other_change_to_a_finished_learnuplet_is_409(client, db, first, second):
    task = pending_learnuplet(client)
    bodies = {"done": done_body(task, 0.5), "failed": {"status": "failed"},
              "done-other-perf": done_body(task, 0.9)}
    assert client.post(f"/learndone/{task['uuid']}", bodies[first]).status_code == 200
    before = snapshot(db)
    body = problem_details(client.post(f"/learndone/{task['uuid']}", bodies[second]), 409)
    assert first in body["detail"]
    assert snapshot(db) == before
    problem_details(claim(client, task["uuid"]), 409)


def test_listing_and_get_of_learnuplets(client):
    learnuplets = todo_learnuplet(client, count=3)
    listing = client.get("/learnuplet")
    assert listing.status_code == 200
    assert set(listing.get_json()) == {"learnuplets"}
    assert listing.get_json()["learnuplets"] == learnuplets  # creation order = rank order here
    assert client.get(f"/learnuplet/{learnuplets[1]['uuid']}").get_json() == learnuplets[1]
    problem_details(client.get(f"/learnuplet/{new_uuid()}"), 404)
