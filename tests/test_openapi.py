"""/openapi.json describes every route of the contract, with request body schemas."""
import pytest

ROUTES = [
    ("get", "/problem"), ("get", "/problem/{uuid}"), ("post", "/problem"),
    ("get", "/algo"), ("get", "/algo/{uuid}"), ("post", "/algo"),
    ("get", "/data"), ("get", "/data/{uuid}"), ("post", "/data"),
    ("get", "/learnuplet"), ("get", "/learnuplet/{uuid}"),
    ("get", "/preduplet"), ("get", "/preduplet/{uuid}"),
    ("post", "/prediction"),
    ("post", "/worker/learnuplet/{uuid}"), ("post", "/worker/preduplet/{uuid}"),
    ("post", "/learndone/{uuid}"), ("post", "/preddone/{uuid}"),
    ("get", "/health"),
]
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
