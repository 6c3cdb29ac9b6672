"""POST /prediction, preduplet claims and reports, GET /preduplet."""
import pytest
from conftest import new_uuid
from helpers import assert_no_mongo_id, bad_fields, chain, claim, counts, finish, problem_details, snapshot

PREDUPLET_FIELDS = {"uuid", "problem", "workflow", "data", "model", "status", "worker",
                    "prediction_storage_uuid", "timestamp_request", "timestamp_done"}


def trained_problem(client, perfs=(0.5,)):
    """A problem with one algo per perf, each with its rank 0 done at that perf; returns
    (problem, model_end of each algo)."""
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    models = []
    for perf in perfs:
        first = chain(client, client.algo(problem["uuid"])["new_algo"]["uuid"])[0]
        finish(client, first, perf)
        models.append(first["model_end"])
    return problem, models


def predict(client, problem, data=None):
    return client.post("/prediction", {"data": data or new_uuid(), "problem": problem["uuid"]})


def test_prediction_returns_a_todo_preduplet_with_the_best_model(client, db):
    problem, models = trained_problem(client, perfs=(0.4, 0.9, 0.6))
    data = new_uuid()  # need not be registered
    response = predict(client, problem, data=data.upper())
    assert response.status_code == 201
    preduplet = response.get_json()
    assert PREDUPLET_FIELDS <= set(preduplet)
    assert_no_mongo_id(preduplet)
    assert preduplet["data"] == data
    assert preduplet["problem"] == problem["uuid"]
    assert preduplet["workflow"] == problem["workflow"]
    assert preduplet["model"] == models[1]
    assert preduplet["status"] == "todo"
    assert preduplet["worker"] is None and preduplet["prediction_storage_uuid"] is None
    assert preduplet["timestamp_done"] is None
    assert type(preduplet["timestamp_request"]) is int
    assert client.get(f"/preduplet/{preduplet['uuid']}").get_json() == preduplet
    assert client.get("/preduplet").get_json() == {"preduplets": [preduplet]}
    assert db.count("preduplet") == 1


def test_prediction_uses_the_best_model_within_an_algo_too(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=2)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    finish(client, chain(client, algo_uuid)[0], 0.8)
    finish(client, chain(client, algo_uuid)[1], 0.2)
    best = chain(client, algo_uuid)[0]["model_end"]
    assert predict(client, problem).get_json()["model"] == best


def test_prediction_without_a_trained_model_is_refused_with_a_detail(client, db):
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    first = chain(client, client.algo(problem["uuid"])["new_algo"]["uuid"])[0]
    assert claim(client, first["uuid"]).status_code == 200
    client.post(f"/learndone/{first['uuid']}", {"status": "failed"})
    before = counts(db)
    response = predict(client, problem)
    assert 400 <= response.status_code < 500
    body = problem_details(response, response.status_code)
    assert "model" in body["detail"]
    assert counts(db) == before


def test_prediction_for_an_unknown_problem_is_400(client, db):
    before = counts(db)
    response = client.post("/prediction", {"data": new_uuid(), "problem": new_uuid()})
    assert "problem" in bad_fields(response)
    assert counts(db) == before


@pytest.mark.parametrize("body, field", [
    ({"problem": "P"}, "data"), ({"data": ["D"], "problem": "P"}, "data"),
    ({"data": "x", "problem": "P"}, "data"), ({"data": "D"}, "problem"),
])
def test_bad_prediction_bodies_are_400(client, body, field):
    problem, _ = trained_problem(client)
    values = {"P": problem["uuid"], "D": new_uuid()}
    filled = {name: [values[v] for v in value] if isinstance(value, list) else values.get(value, value)
              for name, value in body.items()}
    assert field in bad_fields(client.post("/prediction", filled))


def test_prediction_with_a_client_uuid_is_safe_to_retry(client, db):
    problem, _ = trained_problem(client)
    body = {"uuid": new_uuid(), "data": new_uuid(), "problem": problem["uuid"]}
    first = client.post("/prediction", body)
    assert first.status_code == 201 and first.get_json()["uuid"] == body["uuid"]
    before = counts(db)
    again = client.post("/prediction", body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    problem_details(client.post("/prediction", {**body, "data": new_uuid()}), 409)
    assert counts(db) == before


def todo_preduplet(client):
    problem, _ = trained_problem(client)
    return predict(client, problem).get_json()


def test_claim_and_done(client):
    preduplet = todo_preduplet(client)
    worker, storage = new_uuid(), new_uuid()
    response = claim(client, preduplet["uuid"], kind="preduplet", worker=worker)
    assert response.status_code == 200
    assert response.get_json() == {"preduplet_worker_set": preduplet["uuid"]}
    stored = client.get(f"/preduplet/{preduplet['uuid']}").get_json()
    assert (stored["status"], stored["worker"]) == ("pending", worker)
    response = client.post(f"/preddone/{preduplet['uuid']}",
                           {"status": "done", "prediction_storage_uuid": storage.upper()})
    assert response.status_code == 200
    assert response.get_json() == {"updated_preduplet": preduplet["uuid"]}
    stored = client.get(f"/preduplet/{preduplet['uuid']}").get_json()
    assert (stored["status"], stored["prediction_storage_uuid"]) == ("done", storage)
    assert type(stored["timestamp_done"]) is int


def test_claim_of_a_pending_preduplet_is_409(client, db):
    preduplet = todo_preduplet(client)
    assert claim(client, preduplet["uuid"], kind="preduplet").status_code == 200
    before = snapshot(db)
    problem_details(claim(client, preduplet["uuid"], kind="preduplet"), 409)
    assert snapshot(db) == before


def test_unknown_preduplet_is_404(client, db):
    before = counts(db)
    problem_details(claim(client, new_uuid(), kind="preduplet"), 404)
    problem_details(client.post(f"/preddone/{new_uuid()}", {"status": "failed"}), 404)
    problem_details(client.get(f"/preduplet/{new_uuid()}"), 404)
    assert counts(db) == before


def test_done_needs_pending_and_a_storage_uuid(client, db):
    preduplet = todo_preduplet(client)
    before = snapshot(db)
    done = {"status": "done", "prediction_storage_uuid": new_uuid()}
    problem_details(client.post(f"/preddone/{preduplet['uuid']}", done), 409)
    assert claim(client, preduplet["uuid"], kind="preduplet").status_code == 200
    after_claim = snapshot(db)
    assert "prediction_storage_uuid" in bad_fields(
        client.post(f"/preddone/{preduplet['uuid']}", {"status": "done"}))
    assert "prediction_storage_uuid" in bad_fields(
        client.post(f"/preddone/{preduplet['uuid']}", {"status": "done", "prediction_storage_uuid": "x"}))
    assert snapshot(db) == after_claim != before


def test_todo_preduplet_can_fail(client):
    preduplet = todo_preduplet(client)
    assert client.post(f"/preddone/{preduplet['uuid']}", {"status": "failed"}).status_code == 200
    assert client.get(f"/preduplet/{preduplet['uuid']}").get_json()["status"] == "failed"


def test_identical_report_is_200_and_other_changes_are_409(client, db):
    preduplet = todo_preduplet(client)
    assert claim(client, preduplet["uuid"], kind="preduplet").status_code == 200
    done = {"status": "done", "prediction_storage_uuid": new_uuid()}
    assert client.post(f"/preddone/{preduplet['uuid']}", done).status_code == 200
    before = snapshot(db)
    assert client.post(f"/preddone/{preduplet['uuid']}", done).status_code == 200
    problem_details(client.post(f"/preddone/{preduplet['uuid']}",
                                {**done, "prediction_storage_uuid": new_uuid()}), 409)
    problem_details(client.post(f"/preddone/{preduplet['uuid']}", {"status": "failed"}), 409)
    problem_details(claim(client, preduplet["uuid"], kind="preduplet"), 409)
    assert snapshot(db) == before
