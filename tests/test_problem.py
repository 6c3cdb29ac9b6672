"""POST /problem, GET /problem, GET /problem/<uuid>."""
import pytest
from conftest import new_uuid
from helpers import SEED_README_BODY, assert_no_mongo_id, bad_fields, counts, post_raw, problem_details

PROBLEM_FIELDS = {"uuid", "workflow", "test_dataset", "size_train_dataset", "timestamp_upload"}


def problem_body(**changes):
    body = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [new_uuid(), new_uuid()],
            "size_train_dataset": 2}
    body.update(changes)
    return body


def test_create_returns_201_with_the_new_problem(client, db):
    body = problem_body()
    response = client.post("/problem", body)
    assert response.status_code == 201
    answer = response.get_json()
    assert set(answer) == {"new_problem"}
    problem = answer["new_problem"]
    assert PROBLEM_FIELDS <= set(problem)
    assert_no_mongo_id(answer)
    assert {name: problem[name] for name in body} == body
    assert type(problem["timestamp_upload"]) is int
    assert sum(1 for doc in db.dump("problem") if doc["uuid"] == body["uuid"]) == 1


def test_get_one_and_list_return_the_stored_problem(client):
    created = client.problem()
    one = client.get(f"/problem/{created['uuid']}")
    assert one.status_code == 200
    assert one.get_json() == created
    listing = client.get("/problem")
    assert listing.status_code == 200
    assert listing.get_json() == {"problems": [created]}


def test_uuids_are_stored_and_returned_lowercase(client, db):
    body = problem_body()
    upper = {**body, "uuid": body["uuid"].upper(), "workflow": body["workflow"].upper(),
             "test_dataset": [uuid.upper() for uuid in body["test_dataset"]]}
    response = client.post("/problem", upper)
    assert response.status_code == 201
    problem = response.get_json()["new_problem"]
    assert problem["uuid"] == body["uuid"]
    assert problem["workflow"] == body["workflow"]
    assert problem["test_dataset"] == body["test_dataset"]
    assert db.get("problem", body["uuid"]) is not None
    assert client.get(f"/problem/{body['uuid'].upper()}").get_json()["uuid"] == body["uuid"]


def test_identical_create_retried_is_200_and_creates_nothing(client, db):
    body = problem_body()
    first = client.post("/problem", body)
    assert first.status_code == 201
    before = counts(db)
    again = client.post("/problem", body)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert counts(db) == before


def test_identical_create_in_uppercase_is_the_same_problem(client, db):
    body = problem_body()
    assert client.post("/problem", body).status_code == 201
    before = counts(db)
    assert client.post("/problem", {**body, "uuid": body["uuid"].upper()}).status_code == 200
    assert counts(db) == before


@pytest.mark.parametrize("change", [
    {"workflow": new_uuid()}, {"size_train_dataset": 3}, {"test_dataset": []}])
def test_create_with_different_fields_is_409_and_keeps_the_stored_one(client, db, change):
    body = problem_body()
    stored = client.post("/problem", body).get_json()["new_problem"]
    before = counts(db)
    problem_details(client.post("/problem", {**body, **change}), 409)
    assert counts(db) == before
    assert client.get(f"/problem/{body['uuid']}").get_json() == stored


@pytest.mark.parametrize("value", ["2", 2.5, True, 0, -1, None, [2], 2**63, 2**70])
def test_size_train_dataset_must_be_a_positive_integer(client, db, value):
    response = client.post("/problem", problem_body(size_train_dataset=value))
    assert bad_fields(response) == {"size_train_dataset"}
    assert counts(db)["problem"] == 0


@pytest.mark.parametrize("field, value", [
    ("uuid", "not-a-uuid"), ("uuid", 42), ("uuid", ""), ("workflow", "1234"),
    ("uuid", "2d0aa3a3eb5f42e69d34c6e4db235816"),  # no dashes
    ("uuid", "{2d0aa3a3-eb5f-42e6-9d34-c6e4db235816}"),
    ("test_dataset", ["nope"]), ("test_dataset", "7aca2765-996a-4175-8d46-7f32ba34d75e"),
])
def test_identifiers_must_be_uuid_strings(client, db, field, value):
    response = client.post("/problem", problem_body(**{field: value}))
    assert any(name == field or name.startswith(field + ".") for name in bad_fields(response))
    assert counts(db)["events"] == 0


@pytest.mark.parametrize("missing", ["uuid", "workflow", "test_dataset", "size_train_dataset"])
def test_missing_field_is_named(client, missing):
    body = problem_body()
    del body[missing]
    assert missing in bad_fields(client.post("/problem", body))


def test_unknown_field_is_refused(client, db):
    assert "colour" in bad_fields(client.post("/problem", problem_body(colour="blue")))
    assert counts(db)["problem"] == 0


def test_seed_readme_body_with_single_quotes_is_400(client, db):
    body = problem_details(post_raw(client, "/problem", SEED_README_BODY), 400)
    assert "JSON" in body["detail"]
    assert counts(db)["problem"] == 0


def test_get_unknown_problem_is_404(client):
    problem_details(client.get(f"/problem/{new_uuid()}"), 404)


def test_get_with_a_path_that_is_not_a_uuid_is_400(client):
    problem_details(client.get("/problem/not-a-uuid"), 400)
