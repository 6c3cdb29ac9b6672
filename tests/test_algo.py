"""POST /algo, GET /algo, GET /algo/<uuid>."""
import pytest
from conftest import new_uuid
from helpers import assert_no_mongo_id, bad_fields, counts, problem_details


def test_create_without_data_returns_the_algo_and_no_learnuplet(client, db):
    problem = client.problem()
    body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": "logistic regression"}
    response = client.post("/algo", body)
    assert response.status_code == 201
    answer = response.get_json()
    assert set(answer) == {"new_algo", "new_learnuplets"}
    assert answer["new_learnuplets"] == 0
    algo = answer["new_algo"]
    assert {name: algo[name] for name in body} == body
    assert type(algo["timestamp_upload"]) is int
    assert_no_mongo_id(answer)
    assert db.count("learnuplet") == 0
    assert client.get(f"/algo/{body['uuid']}").get_json() == algo
    assert client.get("/algo").get_json() == {"algos": [algo]}


def test_create_with_data_counts_the_learnuplets_it_planned(client, db):
    problem = client.problem(size=2)
    client.data(problem["uuid"], count=5)
    answer = client.algo(problem["uuid"])
    assert answer["new_learnuplets"] == 3
    assert sum(1 for doc in db.dump("learnuplet") if doc["algo"] == answer["new_algo"]["uuid"]) == 3


def test_uppercase_uuids_come_back_lowercase(client):
    problem = client.problem()
    uuid = new_uuid()
    response = client.post("/algo", {"uuid": uuid.upper(), "problem": problem["uuid"].upper(),
                                     "name": "x"})
    assert response.status_code == 201
    algo = response.get_json()["new_algo"]
    assert (algo["uuid"], algo["problem"]) == (uuid, problem["uuid"])


def test_unknown_problem_is_400_and_stores_nothing(client, db):
    before = counts(db)
    response = client.post("/algo", {"uuid": new_uuid(), "problem": new_uuid(), "name": "x"})
    assert "problem" in bad_fields(response)
    assert counts(db) == before


def test_identical_create_retried_is_200_and_creates_nothing(client, db):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": "x"}
    first = client.post("/algo", body)
    assert first.status_code == 201 and first.get_json()["new_learnuplets"] == 3
    before = counts(db)
    again = client.post("/algo", body)
    assert again.status_code == 200
    assert again.get_json() == {"new_algo": first.get_json()["new_algo"], "new_learnuplets": 0}
    assert counts(db) == before


def test_create_with_different_fields_is_409(client, db):
    problem, other = client.problem(), client.problem()
    body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": "x"}
    assert client.post("/algo", body).status_code == 201
    before = counts(db)
    problem_details(client.post("/algo", {**body, "name": "y"}), 409)
    problem_details(client.post("/algo", {**body, "problem": other["uuid"]}), 409)
    assert counts(db) == before
    assert client.get(f"/algo/{body['uuid']}").get_json()["name"] == "x"


@pytest.mark.parametrize("name", ["", 3, None, ["x"]])
def test_name_must_be_a_non_empty_string(client, db, name):
    problem = client.problem()
    response = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"], "name": name})
    assert bad_fields(response) == {"name"}
    assert counts(db)["algo"] == 0


@pytest.mark.parametrize("field", ["uuid", "problem"])
def test_identifiers_must_be_uuids(client, field):
    problem = client.problem()
    body = {"uuid": new_uuid(), "problem": problem["uuid"], "name": "x", field: "abc"}
    assert field in bad_fields(client.post("/algo", body))


def test_get_unknown_algo_is_404(client):
    problem_details(client.get(f"/algo/{new_uuid()}"), 404)
