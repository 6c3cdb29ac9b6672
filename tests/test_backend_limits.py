"""Issue 10, item 2: what the API accepts, every backend we support can write.

A committed event that the database refuses to apply wedges its ledger (every later write
on it answers 503). So whatever a backend would refuse is refused by validation first, with
a 4xx problem and nothing committed, or cannot happen at all:

- FerretDB over PostgreSQL indexes a list field as one value, and refuses an index entry
  over about 2,700 bytes (measured: "index row size 4104 exceeds btree version 4 maximum
  2704" for a learnuplet of 100 train data). On FerretDB no index is declared on a list
  field (real server test below).
- It refuses NUL (U+0000) in any string ("unsupported Unicode escape sequence (SQLSTATE
  22P05)"), and a name over about 2,650 bytes (its index): names are bounded.
- pymongo cannot encode an integer beyond int64, BSON no unpaired surrogate; MongoDB takes
  no document over 16 MiB: bounded integers, strict JSON, bounded lists and learnuplets.

Each refusal is checked through the HTTP API on both stores: the 4xx problem, nothing
stored (every collection, the events and the ledger head unchanged), and the next ordinary
write answering at once with GET /ready 200.
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from conftest import ApiClient, new_uuid
from helpers import (
    bad_fields,
    claim,
    done_body,
    ordinary_write_and_ready,
    post_raw,
    problem_body,
    problem_details,
    snapshot,
)

from app.api.schemas import MAX_LIST_UUIDS, TEXT_MAX_BYTES, TEXT_MAX_CHARACTERS
from app.decisions.bounds import MAX_LEARNUPLET_DATA

LONG_LIST = 100  # uuids in a list: far over FerretDB-on-PostgreSQL's index entry (about 67)
READY_AFTER_SECONDS = 2.1  # GET /ready reports an event left unapplied for more than 2 s


def _refused_and_nothing_stored(client: ApiClient, db: Any, send: Any, status: int = 400
                                ) -> dict[str, Any]:
    """Send, expect a `status` problem, check that nothing was stored and that the next
    ordinary write works; returns the problem body."""
    before = snapshot(db)
    body = problem_details(send(), status)
    assert snapshot(db) == before, "a refused request stored something"
    ordinary_write_and_ready(client)
    return body


def _first_task(client: ApiClient) -> dict[str, Any]:
    problem = client.problem(size=1)["uuid"]
    client.data(problem, count=1)
    client.algo(problem)
    return client.learnuplets(problem=problem)[0]


# --- strings --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a\x00b", "\x00"], ids=["inside", "alone"])
def test_a_name_with_nul_is_refused(client, db, name):
    problem = client.problem()["uuid"]
    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        "/algo", {"uuid": new_uuid(), "problem": problem, "name": name}))
    assert {error["field"] for error in body["errors"]} == {"name"}
    assert "NUL" in body["errors"][0]["message"]


@pytest.mark.parametrize("field", ["uuid", "problem"])
def test_a_uuid_with_nul_is_refused(client, db, field):
    problem = client.problem()["uuid"]
    sent = {"uuid": new_uuid(), "problem": problem, "name": "x"}
    sent[field] = sent[field][:-1] + "\x00"
    response = _refused_and_nothing_stored(client, db, lambda: client.post("/algo", sent))
    assert {error["field"] for error in response["errors"]} == {field}


def test_a_worker_with_nul_is_refused(client, db):
    task = _first_task(client)
    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        f"/worker/learnuplet/{task['uuid']}", {"worker": "\x00" + new_uuid()[1:]}))
    assert {error["field"] for error in body["errors"]} == {"worker"}
    assert claim(client, task["uuid"]).status_code == 200


@pytest.mark.parametrize("name, reason", [
    ("😀" * (TEXT_MAX_BYTES // 4 + 1), "bytes"),  # 501 characters, 2,004 bytes
    ("€" * (TEXT_MAX_BYTES // 3 + 1), "bytes"),
    ("a" * (TEXT_MAX_CHARACTERS + 1), "characters"),
], ids=["4-byte", "3-byte", "ascii"])
def test_a_name_too_long_for_an_index_entry_is_refused(client, db, name, reason):
    problem = client.problem()["uuid"]
    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        "/algo", {"uuid": new_uuid(), "problem": problem, "name": name}))
    assert {error["field"] for error in body["errors"]} == {"name"}
    assert reason in body["errors"][0]["message"]


@pytest.mark.parametrize("name", ["😀" * (TEXT_MAX_BYTES // 4), "a" * TEXT_MAX_CHARACTERS,
                                  "€" * (TEXT_MAX_BYTES // 3)], ids=["4-byte", "ascii", "3-byte"])
def test_the_longest_names_are_stored_and_found(client, name):
    # Not repetitive text: PostgreSQL compresses an index entry, and random text less so.
    problem = client.problem()["uuid"]
    name = "".join(chr(ord(char) + index % 7) for index, char in enumerate(name))
    assert len(name.encode()) <= TEXT_MAX_BYTES
    response = client.post("/algo", {"uuid": new_uuid(), "problem": problem, "name": name})
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    found = client.get("/algo", query_string={"name": name}).get_json()["algos"]
    assert [algo["name"] for algo in found] == [name]
    ordinary_write_and_ready(client)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udc00\\ud800b"],
                         ids=["lone-high", "lone-low", "reversed-pair"])
def test_a_name_with_an_unpaired_surrogate_is_refused(client, db, escape):
    # Valid JSON grammar, but no UTF-8 (nor BSON) string can hold it.
    problem = client.problem()["uuid"]
    raw = f'{{"uuid": "{new_uuid()}", "problem": "{problem}", "name": "{escape}"}}'
    body = _refused_and_nothing_stored(client, db, lambda: post_raw(client, "/algo", raw))
    assert "not valid JSON" in body["detail"]
    assert body["errors"][0]["message"].startswith("Invalid JSON")


def test_a_surrogate_pair_is_one_character_and_accepted(client):
    problem = client.problem()["uuid"]
    raw = f'{{"uuid": "{new_uuid()}", "problem": "{problem}", "name": "a\\ud83d\\ude00"}}'
    response = post_raw(client, "/algo", raw)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["new_algo"]["name"] == "a😀"


def test_invalid_utf8_is_refused(client, db):
    problem = client.problem()["uuid"]
    raw = f'{{"uuid": "{new_uuid()}", "problem": "{problem}", "name": "a'.encode()
    body = _refused_and_nothing_stored(client, db, lambda: post_raw(
        client, "/algo", raw + b'\xed\xa0\x80"}'))  # a surrogate encoded as if UTF-8
    assert "not valid JSON" in body["detail"]


# --- numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400])
@pytest.mark.parametrize("field", ["perf", "train_perf", "test_perf"])
def test_a_non_finite_performance_is_refused(client, db, number, field):
    task = _first_task(client)
    assert claim(client, task["uuid"]).status_code == 200
    body = done_body(task, 0.5)
    text = json.dumps(body)
    if field == "perf":
        text = text.replace('"perf": 0.5', f'"perf": {number}')
    else:
        key = task["train_data" if field == "train_perf" else "test_data"][0]
        text = text.replace(f'"{key}": 0.5', f'"{key}": {number}')
    assert number in text

    problem = _refused_and_nothing_stored(
        client, db, lambda: post_raw(client, f"/learndone/{task['uuid']}", text))

    assert {error["field"].split(".")[0] for error in problem["errors"]} == {field}
    done = client.post(f"/learndone/{task['uuid']}", body)
    assert done.status_code == 200, done.get_data(as_text=True)


@pytest.mark.parametrize("size", [2**63, -(2**63) - 1, 2**64, 10**30])
def test_an_integer_beyond_int64_is_refused(client, db, size):
    raw = json.dumps(problem_body()).replace('"size_train_dataset": 1',
                                              f'"size_train_dataset": {size}')
    body = _refused_and_nothing_stored(client, db, lambda: post_raw(client, "/problem", raw))
    assert {error["field"] for error in body["errors"]} == {"size_train_dataset"}


def test_the_largest_int64_is_stored_and_plans_one_batch(client):
    response = client.post("/problem", problem_body(size=2**63 - 1))
    assert response.status_code == 201, response.get_data(as_text=True)
    problem = response.get_json()["new_problem"]
    assert problem["size_train_dataset"] == 2**63 - 1
    client.data(problem["uuid"], count=3)
    assert client.algo(problem["uuid"])["new_learnuplets"] == 1
    assert len(client.learnuplets(problem=problem["uuid"])[0]["train_data"]) == 3
    ordinary_write_and_ready(client)


# --- lists and documents ----------------------------------------------------------------------

def test_a_list_over_max_list_uuids_is_refused(client, db):
    listed = [new_uuid() for _ in range(MAX_LIST_UUIDS + 1)]  # about 3.9 MB: under 4 MiB
    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        "/problem", problem_body(test_dataset=listed)))
    assert {error["field"] for error in body["errors"]} == {"test_dataset"}
    problem = client.problem()["uuid"]
    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        "/data", {"uuid": listed, "problems": problem}))
    assert {error["field"] for error in body["errors"]} == {"uuid"}


def test_a_learnuplet_over_max_learnuplet_data_is_refused(client, db):
    """Its train and test data, and their performances once done, would not fit in the
    16 MiB of one MongoDB document: 413 before anything is committed."""
    test = [new_uuid() for _ in range(MAX_LIST_UUIDS)]
    problem = client.problem(test_dataset=test, size=MAX_LEARNUPLET_DATA)["uuid"]
    client.algo(problem)
    uploaded = [new_uuid() for _ in range(MAX_LEARNUPLET_DATA - MAX_LIST_UUIDS + 1)]

    body = _refused_and_nothing_stored(client, db, lambda: client.post(
        "/data", {"uuid": uploaded, "problems": problem}), status=413)

    assert "learnuplet" in body["detail"] and str(MAX_LEARNUPLET_DATA) in body["detail"]
    # The problem's test data alone make no learnuplet: accepted.
    response = client.post("/data", {"uuid": test[:1000], "problems": problem})
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert response.get_json()["new_learnuplets"] == 0


# --- query parameters and paths (reads: never a 5xx for what a client sent) ------------------

def test_a_name_filter_with_nul_is_400(client):
    response = client.get("/algo", query_string={"name": "a\x00b"})
    assert bad_fields(response) == {"name"}


def _forged(token: str, after: str) -> str:
    """A page token like `token` but for another position."""
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return base64.urlsafe_b64encode(json.dumps({**decoded, "after": after}).encode()).decode()


def test_a_page_token_that_is_not_a_position_is_400(client):
    client.problem()
    client.problem()
    token = client.get("/problem", query_string={"limit": 1}).get_json()["next_page_token"]
    for after in ("\x00", "a\x00", "x" * 1000):
        response = client.get("/problem", query_string={"limit": 1, "page_token": _forged(token, after)})
        assert bad_fields(response) == {"page_token"}
    response = client.get("/problem", query_string={"limit": 1, "page_token": token})
    assert response.status_code == 200


@pytest.mark.parametrize("url", ["/problem/{uuid}%0A", "/problem?workflow={uuid}%0A",
                                 "/learnuplet?rank=1%0A", "/problem?limit=5%0A"])
def test_a_trailing_newline_is_not_part_of_a_valid_value(client, url):
    problem_details(client.get(url.format(uuid=new_uuid())), 400)


# --- list fields on a real server ------------------------------------------------------------

@pytest.mark.real_server
def test_long_lists_are_written_and_the_ledger_stays_applied(client):
    """A mini-batch of 100 train data (and 100 test data, and data for 70 problems): lists
    that FerretDB over PostgreSQL could not index. Every event is applied, and claims,
    reports, filters and ordinary writes go on."""
    test = [new_uuid() for _ in range(LONG_LIST)]
    problem = client.problem(test_dataset=test, size=LONG_LIST)["uuid"]
    early = client.algo(problem)["new_algo"]["uuid"]  # its chain is extended by the upload
    train = [new_uuid() for _ in range(LONG_LIST)]
    uploaded = client.data(problem, uuids=train + test)
    assert uploaded["new_learnuplets"] == 1
    late = client.algo(problem)["new_algo"]["uuid"]  # its chain is planned over the data

    tasks = [client.learnuplets(algo=algo)[0] for algo in (early, late)]
    for task in tasks:
        assert task["train_data"] == train and task["test_data"] == test
    found = client.get("/learnuplet", query_string={"train_data": train[-1]}).get_json()
    assert {task["uuid"] for task in found["learnuplets"]} == {task["uuid"] for task in tasks}

    worker = new_uuid()
    assert claim(client, tasks[0]["uuid"], worker=worker).status_code == 200
    done = client.post(f"/learndone/{tasks[0]['uuid']}", {**done_body(tasks[0], 0.5),
                                                          "worker": worker})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert claim(client, tasks[1]["uuid"]).status_code == 200

    problems = [client.problem()["uuid"] for _ in range(70)]
    shared = client.data(problems, count=1)["new_datas"][0]
    assert len(shared["problems"]) == 70

    time.sleep(READY_AFTER_SECONDS)  # an event left unapplied would show by now
    ordinary_write_and_ready(client)
    assert client.get(f"/learnuplet/{tasks[0]['uuid']}").get_json()["status"] == "done"
