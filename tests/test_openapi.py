"""/openapi.json describes every route of the contract: request bodies, every answer's schema
and status, links; /version and the document agree on the one version.
(tests/test_schemathesis.py checks the document against the running server.)"""
import pytest

import app as package

ROUTES = [
    ("get", "/problem"), ("get", "/problem/{uuid}"), ("post", "/problem"),
    ("get", "/algo"), ("get", "/algo/{uuid}"), ("post", "/algo"),
    ("get", "/data"), ("get", "/data/{uuid}"), ("post", "/data"),
    ("get", "/learnuplet"), ("get", "/learnuplet/{uuid}"),
    ("get", "/preduplet"), ("get", "/preduplet/{uuid}"),
    ("post", "/prediction"),
    ("post", "/worker/learnuplet/{uuid}"), ("post", "/worker/preduplet/{uuid}"),
    ("post", "/learndone/{uuid}"), ("post", "/preddone/{uuid}"),
    ("post", "/worker/learnuplet/{uuid}/heartbeat"), ("post", "/worker/preduplet/{uuid}/heartbeat"),
    ("get", "/health"), ("get", "/ready"), ("get", "/version"), ("get", "/openapi.json"),
    ("get", "/docs"), ("get", "/metrics"),
]
CREATES = ["/problem", "/algo", "/data", "/prediction"]
BODY_FIELDS = {
    "/problem": {"uuid", "workflow", "test_dataset", "size_train_dataset"},
    "/algo": {"uuid", "problem", "name"},
    "/data": {"uuid", "problems"},
    "/prediction": {"data", "problem"},
    "/worker/learnuplet/{uuid}": {"worker"},
    "/worker/preduplet/{uuid}": {"worker"},
    "/learndone/{uuid}": {"status", "perf", "train_perf", "test_perf"},
    "/preddone/{uuid}": {"status", "prediction_storage_uuid"},
}


@pytest.fixture
def document(app):
    response = app.test_client().get("/openapi.json")  # public: no credentials
    assert response.status_code == 200
    return response.get_json()


def resolve(document, schema):
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = document["components"]["schemas"][name]
    return schema


def test_it_is_openapi_3(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_route_is_described(document, method, path):
    assert method in document["paths"].get(path, {}), sorted(document["paths"])
    operation = document["paths"][path][method]
    assert operation["responses"]
    if "{uuid}" in path:
        assert any(p["name"] == "uuid" and p["in"] == "path" for p in operation["parameters"])


@pytest.mark.parametrize("path, fields", sorted(BODY_FIELDS.items()))
def test_request_bodies_have_schemas(document, path, fields):
    body = document["paths"][path]["post"]["requestBody"]
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert fields <= set(schema["properties"]), schema
    assert set(schema.get("required", [])) <= set(schema["properties"])


def test_required_fields_and_strict_types_are_declared(document):
    problem = resolve(document, document["paths"]["/problem"]["post"]["requestBody"]["content"]
                      ["application/json"]["schema"])
    assert set(problem["required"]) == {"uuid", "workflow", "test_dataset", "size_train_dataset"}
    assert problem["properties"]["size_train_dataset"]["type"] == "integer"
    assert problem["properties"]["size_train_dataset"].get("minimum") == 1


def test_listing_documents_its_filters_and_paging(document):
    names = {p["name"] for p in document["paths"]["/learnuplet"]["get"]["parameters"]}
    assert {"rank", "status", "algo", "limit", "page_token"} <= names


def test_basic_auth_is_declared(document):
    schemes = document["components"]["securitySchemes"]
    assert any(scheme == {"type": "http", "scheme": "basic"} for scheme in schemes.values())
    assert document["paths"]["/problem"]["post"].get("security") or document.get("security")
    assert not document["paths"]["/health"]["get"].get("security")


def test_docs_page_needs_no_credentials(app):
    response = app.test_client().get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.get_data(as_text=True)


def test_each_protected_operation_names_its_permission(document):
    assert document["paths"]["/problem"]["post"]["x-permission"] == "register"
    assert document["paths"]["/prediction"]["post"]["x-permission"] == "predict"
    assert document["paths"]["/learndone/{uuid}"]["post"]["x-permission"] == "report"
    assert document["paths"]["/learnuplet"]["get"]["x-permission"] == "read"
    assert "x-permission" not in document["paths"]["/health"]["get"]


def test_every_success_answer_has_a_schema(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            successes = {status: answer for status, answer in operation["responses"].items()
                         if status.startswith("2")}
            assert successes, (method, path)
            for status, answer in successes.items():
                (media, content), = answer["content"].items()
                assert content["schema"], (method, path, status)
                if media == "application/json" and path != "/openapi.json":
                    assert "properties" in resolve(document, content["schema"]), (method, path)


@pytest.mark.parametrize("path", CREATES)
def test_a_create_documents_201_and_200_for_an_identical_retry(document, path):
    responses = document["paths"][path]["post"]["responses"]
    assert responses["200"]["content"] == responses["201"]["content"]
    assert "retry" in responses["200"]["description"]


def test_answers_are_described_field_by_field(document):
    created = resolve(document, document["paths"]["/algo"]["post"]["responses"]["201"]["content"]
                      ["application/json"]["schema"])
    assert set(created["required"]) == {"new_algo", "new_learnuplets"}
    listed = resolve(document, document["paths"]["/learnuplet"]["get"]["responses"]["200"]
                     ["content"]["application/json"]["schema"])
    learnuplet = resolve(document, listed["properties"]["learnuplets"]["items"])
    assert {"uuid", "algo", "rank", "status", "model_start", "train_perf"} <= set(learnuplet["required"])
    assert learnuplet["properties"]["status"]["enum"] == ["waiting", "todo", "pending", "done", "failed"]
    claimed = document["paths"]["/worker/preduplet/{uuid}"]["post"]["responses"]["200"]
    assert resolve(document, claimed["content"]["application/json"]["schema"])["required"] == [
        "preduplet_worker_set"]


def test_errors_are_problem_json_under_a_name_that_is_not_the_resource(document):
    schemas = document["components"]["schemas"]
    assert "workflow" in schemas["Problem"]["properties"]  # the machine-learning problem
    assert {"type", "title", "status", "detail"} <= set(schemas["Error"]["required"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    assert answer["content"] == {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}, (method, path, status)


def test_each_route_lists_the_errors_it_answers(document):
    create = document["paths"]["/algo"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "503"} <= set(create)
    assert create["401"]["headers"]["WWW-Authenticate"]["required"]
    assert create["503"]["headers"]["Retry-After"]["required"]
    read = document["paths"]["/learnuplet/{uuid}"]["get"]["responses"]
    assert {"400", "401", "404", "503"} <= set(read) and "403" not in read  # every role reads
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200"}
    assert set(document["paths"]["/ready"]["get"]["responses"]) == {"200", "503"}


def test_filters_declare_exactly_what_the_server_accepts(document):
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/learnuplet"]["get"]["parameters"]}
    assert {branch.get("const") for branch in parameters["model_start"]["anyOf"]} >= {"null"}
    assert parameters["worker"] == parameters["model_start"]
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert parameters["rank"]["type"] == "integer" and parameters["perf"]["type"] == "number"


def test_a_report_done_requires_its_results_in_the_schema(document):
    body = resolve(document, document["paths"]["/learndone/{uuid}"]["post"]["requestBody"]
                   ["content"]["application/json"]["schema"])
    assert body["if"]["properties"]["status"] == {"const": "done"}
    assert set(body["then"]["required"]) == {"perf", "train_perf", "test_perf"}


def test_the_links_lead_from_a_registration_to_a_report(document):
    def targets(path, method, status):
        return {link["operationId"] for link in
                document["paths"][path][method]["responses"][status]["links"].values()}

    assert "learnuplet_list" in targets("/algo", "post", "201")
    assert "learnuplet_claim" in targets("/learnuplet", "get", "200")
    assert {"learnuplet_heartbeat", "learnuplet_learndone"} <= targets(
        "/worker/learnuplet/{uuid}", "post", "200")
    assert "preduplet_preddone" in targets("/worker/preduplet/{uuid}/heartbeat", "post", "200")
    operation_ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                assert {link["operationId"] for link in answer.get("links", {}).values()} <= operation_ids


def test_one_version_everywhere(app, document):
    answer = app.test_client().get("/version")  # public: no credentials
    assert answer.status_code == 200
    assert answer.get_json() == {"version": package.__version__} == {"version": document["info"]["version"]}


def test_the_docs_page_loads_swagger_ui_from_this_server(app):
    client = app.test_client()
    page = client.get("/docs")
    html = page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    assert "http:" not in html and "https:" not in html and "//" not in html  # no CDN
    for asset, media in [("swagger-ui-bundle.js", "text/javascript"), ("docs.js", "text/javascript"),
                         ("swagger-ui.css", "text/css")]:
        assert f'"docs/{asset}"' in html
        served = client.get(f"/docs/{asset}")
        assert served.status_code == 200 and served.mimetype == media and served.data
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert "unsafe" not in policy
    assert client.get("/docs/LICENSE").status_code == 404  # only the page's files
    assert client.get("/docs/openapi.py").status_code == 404
