"""Helpers shared by the client and worker-kit tests."""
from __future__ import annotations

from typing import Any

from conftest import new_uuid
from orchestrator_client import Client, RetryPolicy

FAST_RETRY = RetryPolicy(attempts=4, first_delay=0.05, max_delay=0.2)


def setup_chain(api: Client, ranks: int = 1, test_data: int = 1) -> tuple[str, str, list[str]]:
    """A problem (mini-batches of 1) with `ranks` train data and an algo: (problem, algo, data)."""
    tests = [new_uuid() for _ in range(test_data)]
    problem = api.create_problem(workflow=new_uuid(), test_dataset=tests, size_train_dataset=1)
    train = [new_uuid() for _ in range(ranks)]
    api.create_data(uuids=tests + train, problems=problem.document["uuid"])
    algo = api.create_algo(problem=problem.document["uuid"], name="logistic regression")
    assert algo.new_learnuplets == ranks
    return problem.document["uuid"], algo.document["uuid"], train


def perfs(learnuplet: dict[str, Any], perf: float) -> dict[str, Any]:
    """A done report's performance fields: `perf` overall and for each of its data."""
    return {"perf": perf, "train_perf": dict.fromkeys(learnuplet["train_data"], perf),
            "test_perf": dict.fromkeys(learnuplet["test_data"], perf)}
