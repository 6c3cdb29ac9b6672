"""GET /<collection>: typed filters, limits, page tokens and Link headers."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import new_uuid
from helpers import chain, finish, problem_details


def algos(client, count):
    """A problem with `count` algos; returns the problem and the algo uuids in creation order."""
    problem = client.problem()
    return problem, [client.algo(problem["uuid"])["new_algo"]["uuid"] for _ in range(count)]


def next_link(response):
    match = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return match.group(1) if match else None


def page_through(client, url, limit, between_pages=None):
    """Every page of `url`; asserts token and Link agree on each page."""
    pages, separator = [], "&" if "?" in url else "?"
    response = client.get(f"{url}{separator}limit={limit}")
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append(body)
        token = body.get("next_page_token")
        link = next_link(response)
        if not token:
            assert link is None
            return pages
        assert link is not None
        assert parse_qs(urlsplit(link).query)["page_token"] == [token]
        if between_pages:
            between_pages()
        response = client.get(link)


# --- filters ----------------------------------------------------------------------------

def test_filters_are_typed(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=3)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    learnuplets = chain(client, algo_uuid)

    def uuids(**filters):
        response = client.get("/learnuplet", query_string=filters)
        assert response.status_code == 200, response.get_json()
        return [doc["uuid"] for doc in response.get_json()["learnuplets"]]

    assert uuids(rank="0") == [learnuplets[0]["uuid"]]
    assert uuids(rank="2") == [learnuplets[2]["uuid"]]
    assert uuids(status="todo") == [learnuplets[0]["uuid"]]
    assert uuids(status="waiting") == [doc["uuid"] for doc in learnuplets[1:]]
    assert uuids(status="waiting", rank="1") == [learnuplets[1]["uuid"]]
    assert uuids(status="done") == []
    assert uuids(algo=algo_uuid.upper()) == [doc["uuid"] for doc in learnuplets]
    assert uuids(model_start=algo_uuid) == [learnuplets[0]["uuid"]]
    assert uuids(train_data=learnuplets[1]["train_data"][0]) == [learnuplets[1]["uuid"]]
    finish(client, learnuplets[0], 0.25)
    assert uuids(perf="0.25") == [learnuplets[0]["uuid"]]
    assert uuids(status="done") == [learnuplets[0]["uuid"]]


def test_filters_on_other_collections(client):
    problem = client.problem(size=3)
    other = client.problem(size=4)
    data = client.data([problem["uuid"], other["uuid"]])["new_datas"][0]
    client.data(other["uuid"])
    assert client.get("/problem?size_train_dataset=3").get_json()["problems"] == [problem]
    assert client.get(f"/data?problems={problem['uuid']}").get_json()["datas"] == [data]
    assert len(client.get(f"/data?problems={other['uuid']}").get_json()["datas"]) == 2
    algo = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"],
                                 "name": "with space"}).get_json()["new_algo"]
    assert client.get("/algo", query_string={"name": "with space"}).get_json()["algos"] == [algo]
    assert client.get(f"/problem?uuid={problem['uuid'].upper()}").get_json()["problems"] == [problem]


@pytest.mark.parametrize("query", [
    "colour=red", "%24where=1", "$where=sleep(1000)", "status[$ne]=todo", "rank[%24gt]=0",
    "$or=1", "_id=x", "version=1", "rank=abc", "rank=1.5", "rank=", "status=bogus",
    "algo=not-a-uuid", "perf=high", "status=todo&status=done",
])
def test_bad_filters_are_400(client, query):
    body = problem_details(client.get(f"/learnuplet?{query}"), 400)
    assert body["errors"]


@pytest.mark.parametrize("value", ['{"$ne": null}', '{"$gt": ""}', "$ne", '{"$regex": ".*"}'])
def test_a_filter_value_never_becomes_an_operator(client, value):
    problem = client.problem()
    client.algo(problem["uuid"])
    response = client.get("/algo", query_string={"name": value})
    assert response.status_code == 200 and response.get_json() == {"algos": []}
    for url in ("/algo", "/learnuplet"):
        for field in ("uuid", "problem"):
            response = client.get(url, query_string={field: value})
            problem_details(response, 400)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "10001", "1.5", "", "1e3"])
def test_bad_limit_is_400(client, limit):
    body = problem_details(client.get(f"/problem?limit={limit}"), 400)
    assert "limit" in {error["field"] for error in body["errors"]}


def test_limit_bounds_are_accepted(client):
    client.problem()
    for limit in ("1", "10000"):
        response = client.get(f"/problem?limit={limit}")
        assert response.status_code == 200
        assert len(response.get_json()["problems"]) == 1
        assert "next_page_token" not in response.get_json() or response.get_json()["next_page_token"] is None
        assert "Link" not in response.headers


# --- pagination -------------------------------------------------------------------------

def test_paging_returns_every_document_once_in_creation_order(client):
    _, created = algos(client, 7)
    pages = page_through(client, "/algo", limit=3)
    assert [len(page["algos"]) for page in pages] == [3, 3, 1]
    assert [doc["uuid"] for page in pages for doc in page["algos"]] == created
    assert pages[-1].get("next_page_token") is None


def test_paging_with_an_exact_multiple_ends_without_a_token(client):
    _, created = algos(client, 4)
    pages = page_through(client, "/algo", limit=2)
    assert [doc["uuid"] for page in pages for doc in page["algos"]] == created
    assert len(pages) in (2, 3) and all(page["algos"] for page in pages[:2])


def test_paging_keeps_the_filters(client):
    problem, created = algos(client, 5)
    algos(client, 3)  # another problem's algos must not show up
    pages = page_through(client, f"/algo?problem={problem['uuid']}", limit=2)
    assert [doc["uuid"] for page in pages for doc in page["algos"]] == created


def test_token_with_other_filters_is_400(client):
    problem, _ = algos(client, 3)
    first = client.get("/algo?limit=1").get_json()
    token = first["next_page_token"]
    problem_details(client.get(f"/algo?limit=1&problem={problem['uuid']}&page_token={token}"), 400)
    problem_details(client.get(f"/algo?limit=1&name=algo&page_token={token}"), 400)
    assert client.get(f"/algo?limit=1&page_token={token}").status_code == 200
    # a token is for one collection's filters; another collection's token is refused or harmless
    response = client.get(f"/learnuplet?rank=0&page_token={token}")
    assert response.status_code == 400


@pytest.mark.parametrize("token", ["garbage", "e30", "eyJhZnRlciI6IDF9", "%24%24%24", "a" * 5000,
                                   "eyJhZnRlciI6IHsiJGd0IjogIiJ9LCAicXVlcnkiOiAieCJ9"])
def test_garbage_token_is_400(client, token):
    algos(client, 2)
    problem_details(client.get(f"/algo?page_token={token}"), 400)


def test_paging_while_documents_are_added_never_skips_or_repeats(client):
    problem, created = algos(client, 9)
    added = []

    def add_some():
        for _ in range(2):
            added.append(client.algo(problem["uuid"])["new_algo"]["uuid"])

    pages = page_through(client, "/algo", limit=4, between_pages=add_some)
    seen = [doc["uuid"] for page in pages for doc in page["algos"]]
    assert len(seen) == len(set(seen))
    assert seen[:len(created)] == created
    assert set(seen) <= set(created) | set(added)


def test_paging_while_documents_change_state_never_skips_or_repeats(client):
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=6)
    algo_uuid = client.algo(problem["uuid"])["new_algo"]["uuid"]
    created = [doc["uuid"] for doc in chain(client, algo_uuid)]
    state = {"rank": 0}

    def work():  # updates move documents between index entries; the order must not change
        todo = client.learnuplets(status="todo")[0]
        finish(client, todo, 0.1 * state["rank"])
        state["rank"] += 1

    pages = page_through(client, f"/learnuplet?algo={algo_uuid}", limit=2, between_pages=work)
    assert [doc["uuid"] for page in pages for doc in page["learnuplets"]] == created


def test_small_collection_needs_no_token(client):
    problem, created = algos(client, 3)
    response = client.get("/algo")
    assert response.get_json().get("next_page_token") is None
    assert "Link" not in response.headers
    assert [doc["uuid"] for doc in response.get_json()["algos"]] == created


def test_default_limit_is_configurable(config):
    from conftest import ApiClient

    from app import create_app

    client = ApiClient(create_app({**config, "PAGE_LIMIT_DEFAULT": 2}).test_client())
    _, created = algos(client, 3)
    response = client.get("/algo")
    assert [doc["uuid"] for doc in response.get_json()["algos"]] == created[:2]
    assert response.get_json()["next_page_token"] and next_link(response)
