"""The training plan as pure functions: no HTTP, no database."""
import uuid as uuidlib

import pytest

from app.domain.planning import (
    advance_chain,
    batches,
    best_model,
    best_of,
    extend_chain,
    learnuplet_uuid,
    model_order,
    model_uuid,
    new_chain,
    train_data,
)
from app.domain.states import TODO, WAITING


def ids(count):
    return [str(uuidlib.uuid4()) for _ in range(count)]


def problem(test_dataset, size=2):
    return {"uuid": str(uuidlib.uuid4()), "workflow": str(uuidlib.uuid4()),
            "test_dataset": test_dataset, "size_train_dataset": size}


def chain(**fields):
    algo = str(uuidlib.uuid4())
    return {**new_chain(algo, "problem"), **fields}


def test_train_data_drops_test_data_and_keeps_upload_order():
    data = ids(5)
    assert train_data(data, [data[1], data[3], "not-uploaded"]) == [data[0], data[2], data[4]]


def test_batches_cut_in_order_with_a_smaller_last_batch():
    items = list("abcdefg")
    assert batches(items, 3) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert batches(items, 7) == [items]
    assert batches(items, 10) == [items]
    assert batches(items, 1) == [[item] for item in items]
    assert batches([], 3) == []


def test_a_new_chain_gets_one_learnuplet_per_batch_first_todo_from_the_algo():
    test, data = ids(1), ids(5)
    prob = problem(test, size=2)
    new = chain()
    learnuplets, fields = extend_chain(new, prob, data[:2] + test + data[2:], at=1234)
    algo = new["uuid"]
    assert [doc["rank"] for doc in learnuplets] == [0, 1, 2]
    assert [doc["train_data"] for doc in learnuplets] == [data[0:2], data[2:4], data[4:5]]
    assert [doc["status"] for doc in learnuplets] == [TODO, WAITING, WAITING]
    assert [doc["model_start"] for doc in learnuplets] == [algo, None, None]
    assert fields == {"length": 3, "active": 0, "next_waiting": 1}
    for doc in learnuplets:
        assert doc["test_data"] == test
        assert doc["problem"] == prob["uuid"] and doc["workflow"] == prob["workflow"]
        assert doc["algo"] == algo and doc["timestamp_creation"] == 1234
        assert doc["worker"] is None and doc["perf"] is None and doc["timestamp_done"] is None
    fresh = [doc["model_end"] for doc in learnuplets] + [doc["uuid"] for doc in learnuplets]
    assert len(set(fresh)) == 6 and algo not in fresh
    for value in fresh:
        assert str(uuidlib.UUID(value)) == value


def test_an_idle_chain_restarts_at_its_length_from_its_best_model():
    best = {"model_end": "m3", "perf": 0.9, "timestamp_done": 5, "rank": 3}
    idle = chain(length=4, best=best)
    learnuplets, fields = extend_chain(idle, problem([], size=1), ids(2), at=1)
    assert [(doc["rank"], doc["status"], doc["model_start"]) for doc in learnuplets] == [
        (4, TODO, "m3"), (5, WAITING, None)]
    assert fields == {"length": 6, "active": 4, "next_waiting": 5}


def test_a_running_chain_only_gets_waiting_learnuplets():
    running = chain(length=2, active=1)
    learnuplets, fields = extend_chain(running, problem([], size=1), ids(3), at=1)
    assert [doc["status"] for doc in learnuplets] == [WAITING] * 3
    assert all(doc["model_start"] is None for doc in learnuplets)
    assert fields == {"length": 5, "next_waiting": 2}
    already_waiting = chain(length=4, active=1, next_waiting=2)
    assert extend_chain(already_waiting, problem([], size=1), ids(1), at=1)[1] == {
        "length": 5, "next_waiting": 2}


def test_no_train_data_changes_nothing():
    test = ids(2)
    assert extend_chain(chain(), problem(test), test, at=1) == ([], {})


def test_uuids_derive_from_algo_and_rank_so_replays_write_the_same():
    prob, data = problem([], size=1), ids(3)
    one = chain()
    assert extend_chain(one, prob, data, 1) == extend_chain(one, prob, data, 1)
    other = extend_chain(chain(), prob, data, 1)[0]
    assert {doc["uuid"] for doc in other}.isdisjoint(
        doc["uuid"] for doc in extend_chain(one, prob, data, 1)[0])
    assert learnuplet_uuid(one["uuid"], 0) != model_uuid(one["uuid"], 0)


def done(perf, rank, at, model=None):
    return {"perf": perf, "rank": rank, "timestamp_done": at, "model_end": model or f"m{rank}"}


def test_the_best_model_rule_highest_perf_then_done_first_then_lower_rank():
    assert best_of([]) is None and best_of([None]) is None
    assert best_of([done(0.5, 0, 10), done(0.6, 1, 20)])["model_end"] == "m1"
    assert best_of([done(0.5, 0, 10), done(0.4, 1, 20)])["model_end"] == "m0"
    # equal perf: the one done first wins, whatever the rank
    assert best_of([done(0.5, 0, 20), done(0.5, 1, 10)])["model_end"] == "m1"
    # equal perf and time: the lower rank
    assert best_of([done(0.5, 2, 10), done(0.5, 1, 10)])["model_end"] == "m1"
    # a total order: the model uuid decides last
    assert best_of([done(0.5, 1, 10, "b"), done(0.5, 1, 10, "a")])["model_end"] == "a"
    assert model_order(done(0.5, 1, 10)) < model_order(done(0.4, 0, 0))


def test_best_model_of_a_chain_is_the_algo_until_something_is_done():
    fresh = chain()
    assert best_model(fresh) == fresh["uuid"]
    assert best_model({**fresh, "best": done(0.1, 0, 1)}) == "m0"


@pytest.mark.parametrize("perf, expected", [(0.9, "m1"), (0.1, "m0")])
def test_advancing_promotes_the_lowest_waiting_rank_from_the_best_model(perf, expected):
    running = chain(length=4, active=1, next_waiting=2, best=done(0.5, 0, 1))
    finished = done(perf, 1, 2)
    promoted, fields = advance_chain(running, finished)
    assert promoted == {"uuid": learnuplet_uuid(running["uuid"], 2),
                        "fields": {"status": TODO, "model_start": expected}}
    assert fields["active"] == 2 and fields["next_waiting"] == 3
    assert fields["best"]["model_end"] == expected


def test_advancing_the_last_waiting_rank_and_an_idle_chain():
    last = chain(length=3, active=1, next_waiting=2)
    promoted, fields = advance_chain(last, None)
    assert promoted["fields"]["model_start"] == last["uuid"]  # nothing done: the algo itself
    assert fields == {"best": None, "active": 2, "next_waiting": None, "failed": 1}
    assert advance_chain(chain(length=3, active=2), None) == (None, {"best": None, "active": None,
                                                                     "failed": 1})


def test_a_chain_counts_its_failed_ranks_when_it_was_planned_counting():
    counting = chain(length=3, active=0, next_waiting=1, failed=2)
    assert advance_chain(counting, None)[1]["failed"] == 3  # failed (or out of attempts)
    assert advance_chain(counting, done(0.5, 0, 1))[1]["failed"] == 2  # done
    older = {name: value for name, value in counting.items() if name != "failed"}
    assert "failed" not in advance_chain(older, None)[1]  # planned before the count: unknown
