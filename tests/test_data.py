"""POST /data (one or a batch, all or nothing), GET /data, GET /data/<uuid>."""
import pytest
from conftest import new_uuid
from helpers import assert_no_mongo_id, bad_fields, problem_details, snapshot


def test_one_uuid_for_one_problem(client, db):
    problem = client.problem()
    uuid = new_uuid()
    response = client.post("/data", {"uuid": uuid, "problems": problem["uuid"]})
    assert response.status_code == 201
    answer = response.get_json()
    assert set(answer) == {"new_datas", "new_learnuplets"}
    assert answer["new_learnuplets"] == 0
    [data] = answer["new_datas"]
    assert data["uuid"] == uuid and data["problems"] == [problem["uuid"]]
    assert type(data["timestamp_upload"]) is int
    assert_no_mongo_id(answer)
    assert client.get(f"/data/{uuid}").get_json() == data
    assert client.get("/data").get_json() == {"datas": [data]}


def test_a_batch_keeps_its_order_and_counts_learnuplets(client, db):
    problem = client.problem(size=2)
    client.algo(problem["uuid"])
    uuids = [new_uuid() for _ in range(5)]
    response = client.post("/data", {"uuid": uuids, "problems": [problem["uuid"]]})
    assert response.status_code == 201
    answer = response.get_json()
    assert [doc["uuid"] for doc in answer["new_datas"]] == uuids
    assert answer["new_learnuplets"] == 3
    assert db.count("data") == 5
    assert db.count("learnuplet") == 3


def test_uppercase_uuids_come_back_lowercase(client):
    problem = client.problem()
    uuids = [new_uuid(), new_uuid()]
    answer = client.data(problem["uuid"].upper(), uuids=[uuid.upper() for uuid in uuids])
    assert [doc["uuid"] for doc in answer["new_datas"]] == uuids
    assert answer["new_datas"][0]["problems"] == [problem["uuid"]]


def test_mixing_new_and_existing_uuids_is_409_and_stores_nothing(client, db):
    problem = client.problem(size=1)
    client.algo(problem["uuid"])
    existing = client.data(problem["uuid"], count=2)["new_datas"]
    before = snapshot(db)
    mixed = [existing[0]["uuid"], new_uuid(), new_uuid()]
    problem_details(client.post("/data", {"uuid": mixed, "problems": problem["uuid"]}), 409)
    assert snapshot(db) == before
    for uuid in mixed[1:]:
        problem_details(client.get(f"/data/{uuid}"), 404)


def test_identical_batch_retried_is_200_and_creates_nothing(client, db):
    problem = client.problem(size=1)
    client.algo(problem["uuid"])
    body = {"uuid": [new_uuid(), new_uuid()], "problems": problem["uuid"]}
    first = client.post("/data", body)
    assert first.status_code == 201 and first.get_json()["new_learnuplets"] == 2
    before = snapshot(db)
    again = client.post("/data", body)
    assert again.status_code == 200
    assert again.get_json() == {"new_datas": first.get_json()["new_datas"], "new_learnuplets": 0}
    assert snapshot(db) == before


def test_same_uuids_for_other_problems_is_409(client, db):
    problem, other = client.problem(), client.problem()
    uuids = [new_uuid()]
    client.data(problem["uuid"], uuids=uuids)
    before = snapshot(db)
    problem_details(client.post("/data", {"uuid": uuids, "problems": other["uuid"]}), 409)
    problem_details(client.post("/data", {"uuid": uuids, "problems": [problem["uuid"], other["uuid"]]}), 409)
    assert snapshot(db) == before


def test_unknown_problem_is_400_and_stores_nothing(client, db):
    problem = client.problem()
    before = snapshot(db)
    for problems in (new_uuid(), [problem["uuid"], new_uuid()]):
        response = client.post("/data", {"uuid": [new_uuid(), new_uuid()], "problems": problems})
        assert "problems" in bad_fields(response)
    assert snapshot(db) == before


@pytest.mark.parametrize("body, field", [
    ({"uuid": [], "problems": "P"}, "uuid"),
    ({"uuid": "not-a-uuid", "problems": "P"}, "uuid"),
    ({"uuid": ["D", "not-a-uuid"], "problems": "P"}, "uuid"),
    ({"uuid": ["D", "D"], "problems": "P"}, "uuid"),
    ({"uuid": "D", "problems": []}, "problems"),
    ({"uuid": "D", "problems": 7}, "problems"),
    ({"problems": "P"}, "uuid"),
    ({"uuid": "D"}, "problems"),
])
def test_bad_bodies_are_400_naming_the_field(client, db, body, field):
    problem = client.problem()
    uuid = new_uuid()

    def fill(value):
        if isinstance(value, list):
            return [fill(item) for item in value]
        return {"P": problem["uuid"], "D": uuid}.get(value, value) if isinstance(value, str) else value

    before = snapshot(db)
    response = client.post("/data", {name: fill(value) for name, value in body.items()})
    assert any(name == field or name.startswith(field + ".") for name in bad_fields(response))
    assert snapshot(db) == before


def test_get_unknown_data_is_404(client):
    problem_details(client.get(f"/data/{new_uuid()}"), 404)
