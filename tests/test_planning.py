"""The training plan as pure functions: no HTTP, no database."""
import uuid as uuidlib

from app.planning import batches, best_model_after, better_model, chain_segment, train_data
from app.states import TODO, WAITING

SEED = "9b1f6f0e-63c4-4c55-9c8e-1d0a41a1b2c3"


def ids(count):
    return [str(uuidlib.uuid4()) for _ in range(count)]


def problem(test_dataset, size=2):
    return {"uuid": str(uuidlib.uuid4()), "workflow": str(uuidlib.uuid4()),
            "test_dataset": test_dataset, "size_train_dataset": size}


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


def segment(prob, data, first_rank=0, start_model="start", seed=SEED, algo="algo-1"):
    return chain_segment(problem=prob, algo=algo, data=data, first_rank=first_rank,
                         start_model=start_model, seed=seed, now=1234)


def test_chain_segment_makes_one_learnuplet_per_batch_first_todo_rest_waiting():
    test = ids(1)
    data = ids(5)
    prob = problem(test, size=2)
    algo = str(uuidlib.uuid4())
    learnuplets = segment(prob, data[:2] + test + data[2:], start_model=algo, algo=algo)
    assert [doc["rank"] for doc in learnuplets] == [0, 1, 2]
    assert [doc["train_data"] for doc in learnuplets] == [data[0:2], data[2:4], data[4:5]]
    assert [doc["status"] for doc in learnuplets] == [TODO, WAITING, WAITING]
    assert [doc["model_start"] for doc in learnuplets] == [algo, None, None]
    for doc in learnuplets:
        assert doc["test_data"] == test
        assert doc["problem"] == prob["uuid"] and doc["workflow"] == prob["workflow"]
        assert doc["algo"] == algo
        assert doc["worker"] is None and doc["perf"] is None and doc["timestamp_done"] is None
        assert doc["timestamp_creation"] == 1234
        assert not set(doc["train_data"]) & set(test)
    fresh = [doc["model_end"] for doc in learnuplets] + [doc["uuid"] for doc in learnuplets]
    assert len(set(fresh)) == 6 and algo not in fresh
    for value in fresh:
        assert str(uuidlib.UUID(value)) == value


def test_chain_segment_continues_at_first_rank():
    learnuplets = segment(problem([], size=1), ids(2), first_rank=4, start_model="best-model")
    assert [(doc["rank"], doc["status"], doc["model_start"]) for doc in learnuplets] == [
        (4, TODO, "best-model"), (5, WAITING, None)]


def test_chain_segment_of_a_running_chain_only_waits():
    learnuplets = segment(problem([], size=1), ids(3), first_rank=2, start_model=None)
    assert [doc["status"] for doc in learnuplets] == [WAITING] * 3
    assert all(doc["model_start"] is None for doc in learnuplets)


def test_chain_segment_without_train_data_is_empty():
    test = ids(2)
    assert segment(problem(test), test) == []
    assert segment(problem([]), []) == []


def test_chain_segment_is_deterministic_for_a_seed_so_replays_write_the_same():
    prob, data = problem([], size=1), ids(3)
    assert segment(prob, data) == segment(prob, data)
    other = segment(prob, data, seed=str(uuidlib.uuid4()))
    assert {doc["uuid"] for doc in other}.isdisjoint(doc["uuid"] for doc in segment(prob, data))
    two_algos = segment(prob, data, algo="a") + segment(prob, data, algo="b")
    assert len({doc["uuid"] for doc in two_algos}) == 6
    assert len({doc["model_end"] for doc in two_algos}) == 6


def done(perf, rank, model):
    return {"perf": perf, "rank": rank, "model_end": model}


def test_better_model_is_highest_perf_then_earliest_rank():
    assert better_model(None, done(0.1, 3, "m"))
    assert better_model(done(0.5, 0, "a"), done(0.6, 1, "b"))
    assert not better_model(done(0.5, 0, "a"), done(0.4, 1, "b"))
    assert not better_model(done(0.5, 0, "a"), done(0.5, 1, "b"))
    assert better_model(done(0.5, 2, "a"), done(0.5, 1, "b"))


def test_best_model_after():
    assert best_model_after("algo", None) == "algo"
    assert best_model_after("algo", None, None) == "algo"
    assert best_model_after("algo", done(0.7, 0, "m0")) == "m0"
    assert best_model_after("algo", done(0.7, 0, "m0"), done(0.9, 1, "m1")) == "m1"
    assert best_model_after("algo", done(0.7, 0, "m0"), done(0.2, 1, "m1")) == "m0"
    assert best_model_after("algo", None, done(0.2, 1, "m1")) == "m1"
