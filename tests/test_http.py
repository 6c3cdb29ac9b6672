"""Cross-cutting HTTP behaviour: auth, media types, malformed bodies, sizes, error format."""
import base64
import json
import socket
import time

import pytest
from conftest import PASSWORD, USER, new_uuid
from helpers import SEED_README_BODY, counts, post_raw, problem_details

from app import ConfigError, create_app


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- authentication ---------------------------------------------------------------------

PROTECTED = [("GET", "/problem"), ("GET", "/learnuplet"), ("POST", "/problem"), ("POST", "/data"),
             ("POST", "/learndone/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12)]


@pytest.mark.parametrize("method, url", PROTECTED)
@pytest.mark.parametrize("headers", [{}, basic(USER, "wrong"), basic("someone", PASSWORD),
                                     basic("", ""), {"Authorization": "Bearer abc"},
                                     {"Authorization": "Basic !!!not-base64"}])
def test_missing_or_wrong_credentials_are_401(app, db, method, url, headers):
    response = app.test_client().open(url, method=method, headers=headers,
                                      json={"uuid": new_uuid()})
    problem_details(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert counts(db)["events"] == 0


def test_right_credentials_are_200(app):
    response = app.test_client().get("/problem", headers=basic(USER, PASSWORD))
    assert response.status_code == 200
    assert response.get_json() == {"problems": []}


@pytest.mark.parametrize("url", ["/health", "/openapi.json"])
def test_public_routes_need_no_credentials(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert response.is_json


def test_health_says_ok(app):
    assert app.test_client().get("/health").get_json() == {"status": "ok"}


@pytest.mark.parametrize("settings", [{}, {"USER_AUTH": "admin"}, {"PWD_AUTH": "secret"},
                                      {"USER_AUTH": "", "PWD_AUTH": ""}])
def test_no_account_configured_refuses_to_start(monkeypatch, settings):
    monkeypatch.delenv("USER_AUTH", raising=False)
    monkeypatch.delenv("PWD_AUTH", raising=False)
    with pytest.raises(ConfigError) as refused:
        create_app({**settings, "SWEEP_SECONDS": 0})
    assert "USER_AUTH" in str(refused.value) and "PWD_AUTH" in str(refused.value)


@pytest.mark.parametrize("documents, refused", [(300_000, False), (300_001, True)])
def test_max_event_documents_has_a_ceiling(config, documents, refused):
    settings = {**config, "MAX_EVENT_DOCUMENTS": documents, "MAX_EVENT_UUIDS": 10 * documents}
    if refused:
        with pytest.raises(ConfigError, match="MAX_EVENT_DOCUMENTS must be at most 300000"):
            create_app(settings)
    else:
        create_app(settings)


def test_account_from_the_environment(monkeypatch, config):
    monkeypatch.setenv("USER_AUTH", "env-user")
    monkeypatch.setenv("PWD_AUTH", "env-pass")
    settings = {name: value for name, value in config.items() if name not in ("USER_AUTH", "PWD_AUTH")}
    client = create_app(settings).test_client()
    assert client.get("/problem", headers=basic("env-user", "env-pass")).status_code == 200
    assert client.get("/problem", headers=basic(USER, PASSWORD)).status_code == 401


# --- bodies -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    SEED_README_BODY, "{", "", "not json", '{"uuid": }', "{'uuid': 'x'}", "\xff\xfe",
    "[]", '[{"uuid": "2d0aa3a3-eb5f-42e6-9d34-c6e4db235816"}]', "null", "42", '"text"', "true",
])
@pytest.mark.parametrize("url", ["/problem", "/algo", "/data", "/prediction"])
def test_body_that_is_not_a_json_object_is_400(client, db, url, raw):
    problem_details(post_raw(client, url, raw.encode("latin-1")), 400)
    assert counts(db)["events"] == 0


def test_report_body_that_is_not_json_is_400(client):
    problem_details(post_raw(client, f"/learndone/{new_uuid()}", SEED_README_BODY), 400)
    problem_details(post_raw(client, f"/worker/preduplet/{new_uuid()}", "[]"), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_wrong_content_type_is_415(client, db, content_type):
    body = json.dumps({"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [],
                       "size_train_dataset": 1})
    response = post_raw(client, "/problem", body, content_type=content_type)
    detail = problem_details(response, 415)["detail"]
    assert "application/json" in detail
    assert counts(db)["problem"] == 0


def test_json_with_charset_is_accepted(client):
    body = json.dumps({"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [],
                       "size_train_dataset": 1})
    response = post_raw(client, "/problem", body, content_type="application/json; charset=utf-8")
    assert response.status_code == 201


def test_body_over_max_content_length_is_413(config):
    app = create_app({**config, "MAX_CONTENT_LENGTH": 1024})
    headers = basic(USER, PASSWORD)
    big = {"uuid": new_uuid(), "workflow": new_uuid(), "size_train_dataset": 1,
           "test_dataset": [new_uuid() for _ in range(100)]}
    response = app.test_client().post("/problem", json=big, headers=headers)
    problem_details(response, 413)
    db = app.extensions["orchestrator.store"]
    assert db.count("problem") == 0
    small = {**big, "test_dataset": []}
    assert app.test_client().post("/problem", json=small, headers=headers).status_code == 201


def test_default_max_content_length_is_4_mib(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json_is_400(client, db, opening, closing):
    depth = 100000
    raw = '{"uuid": ' + opening * depth + "1" + closing * depth + "}"
    problem_details(post_raw(client, "/problem", raw), 400)
    problem_details(post_raw(client, "/data", opening * depth + closing * depth), 400)
    assert counts(db)["events"] == 0


# --- routing and the error format -------------------------------------------------------

def test_unknown_route_is_404_problem_json(client):
    problem_details(client.get("/no/such/route"), 404)
    problem_details(client.post("/problems", {}), 404)


@pytest.mark.parametrize("method, url", [("DELETE", "/problem"), ("PUT", "/algo"),
                                         ("GET", "/prediction"), ("GET", "/learndone/x"),
                                         ("PATCH", "/data/x")])
def test_wrong_method_is_405_problem_json(client, method, url):
    response = client.flask.open(url, method=method, headers=client.headers)
    problem_details(response, 405)
    assert "Allow" in response.headers


def test_validation_errors_list_each_bad_field(client):
    response = client.post("/problem", {"uuid": "x", "workflow": "y", "test_dataset": "z",
                                        "size_train_dataset": "2"})
    body = problem_details(response, 400)
    fields = {error["field"].split(".")[0] for error in body["errors"]}
    assert fields == {"uuid", "workflow", "test_dataset", "size_train_dataset"}
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])


def test_cors_when_enabled(config):
    client = create_app({**config, "CORS": True}).test_client()
    response = client.get("/health", headers={"Origin": "https://front.example"})
    assert response.headers.get("Access-Control-Allow-Origin") in ("*", "https://front.example")


def test_no_cors_by_default(app):
    response = app.test_client().get("/health", headers={"Origin": "https://front.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_database_is_503_and_health_stays_up(config):
    app = create_app({**config, "MONGO_URI": f"mongodb://127.0.0.1:{closed_port()}/down",
                      "DB_TIMEOUT_SECONDS": 0.3})
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/problem", headers=basic(USER, PASSWORD))
    assert time.monotonic() - started < 10
    problem_details(response, 503)
    assert client.get("/health").status_code == 200


# --- what every response looks like -----------------------------------------------------

def walk(value, path=""):
    """Every (key path, value) pair of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
            yield f"{path}.{key}#key", key
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, path + "[]")
    else:
        yield path, value


def test_no_mongo_id_lowercase_uuids_and_int_timestamps_everywhere(client):
    from helpers import assert_no_mongo_id, chain, claim, done_body

    upper = lambda uuid: uuid.upper()  # noqa: E731
    problem = client.post("/problem", {"uuid": upper(new_uuid()), "workflow": upper(new_uuid()),
                                       "test_dataset": [upper(new_uuid())],
                                       "size_train_dataset": 1}).get_json()["new_problem"]
    responses = [client.post("/algo", {"uuid": upper(new_uuid()), "problem": upper(problem["uuid"]),
                                       "name": "x"}),
                 client.post("/data", {"uuid": [upper(new_uuid()), upper(new_uuid())],
                                       "problems": upper(problem["uuid"])})]
    algo_uuid = responses[0].get_json()["new_algo"]["uuid"]
    first = chain(client, algo_uuid)[0]
    responses += [claim(client, upper(first["uuid"]), worker=upper(new_uuid())),
                  client.post(f"/learndone/{upper(first['uuid'])}", done_body(first, 0.5))]
    prediction = client.post("/prediction", {"data": upper(new_uuid()), "problem": upper(problem["uuid"])})
    preduplet = prediction.get_json()["uuid"]
    responses += [prediction, claim(client, upper(preduplet), kind="preduplet", worker=upper(new_uuid())),
                  client.post(f"/preddone/{upper(preduplet)}",
                              {"status": "done", "prediction_storage_uuid": upper(new_uuid())})]
    for collection in ("problem", "algo", "data", "learnuplet", "preduplet"):
        listing = client.get(f"/{collection}")
        responses.append(listing)
        for document in listing.get_json()[f"{collection}s"]:
            responses.append(client.get(f"/{collection}/{document['uuid'].upper()}"))

    for response in responses:
        assert response.status_code in (200, 201), response.get_json()
        body = response.get_json()
        assert_no_mongo_id(body)
        for path, value in walk(body):
            if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
                assert value == value.lower(), (path, value)
            if path.rsplit(".", 1)[-1].startswith("timestamp_") and not path.endswith("#key") \
                    and value is not None:
                assert type(value) is int, (path, value)
