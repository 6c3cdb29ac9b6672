"""A small history built through the API for the dashboard's tests, browser test and
screenshots (tests/ui_screenshots.py): one problem with three algos, done, failed and pending
learnuplets held by two workers, a pending preduplet, and test perfs that differ by datum."""
from __future__ import annotations

from typing import Any

from conftest import ApiClient, new_uuid

# One algo's name is markup: every page must show it as text.
ALGO_NAMES = ("gradient-boost", "random-forest", "<b>linear</b>")
PERFS = {0: [0.52, 0.61, 0.66, 0.71], 1: [0.58, 0.63]}  # done ranks of algos 0 and 1


def _learnuplet(client: ApiClient, algo: str, rank: int) -> dict[str, Any]:
    found = client.learnuplets(algo=algo, rank=rank)
    assert len(found) == 1, found
    return found[0]


def _claim(client: ApiClient, kind: str, uuid: str, worker: str) -> None:
    response = client.post(f"/worker/{kind}/{uuid}", {"worker": worker})
    assert response.status_code == 200, response.get_json()


def _report(client: ApiClient, task: dict[str, Any], worker: str, perf: float | None) -> None:
    if perf is None:
        body: dict[str, Any] = {"status": "failed", "worker": worker}
    else:
        body = {"status": "done", "perf": perf, "worker": worker,
                "train_perf": {uuid: perf for uuid in task["train_data"]},
                "test_perf": {uuid: round(perf - 0.1 * index, 3)
                              for index, uuid in enumerate(task["test_data"])}}
    response = client.post(f"/learndone/{task['uuid']}", body)
    assert response.status_code == 200, response.get_json()


def build_history(client: ApiClient) -> dict[str, Any]:
    """Register and run the history; returns the uuids the checks name."""
    problem = client.problem(test_dataset=[new_uuid() for _ in range(3)], size=1)
    algos = []
    for name in ALGO_NAMES:
        response = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"],
                                         "name": name})
        assert response.status_code == 201, response.get_json()
        algos.append(response.get_json()["new_algo"]["uuid"])
    client.data(problem["uuid"], uuids=problem["test_dataset"])
    client.data(problem["uuid"], 6)  # 6 train data, mini-batches of 1: 6 ranks per algo
    workers = [new_uuid(), new_uuid()]
    for index, perfs in PERFS.items():  # each done rank, then one failed, then one pending
        worker = workers[index]
        for rank, perf in enumerate([*perfs, None]):
            task = _learnuplet(client, algos[index], rank)
            _claim(client, "learnuplet", task["uuid"], worker)
            _report(client, task, worker, perf)
        _claim(client, "learnuplet", _learnuplet(client, algos[index], len(perfs) + 1)["uuid"],
               worker)
    response = client.post("/prediction", {"data": new_uuid(), "problem": problem["uuid"]})
    assert response.status_code in (200, 201), response.get_json()
    preduplet = response.get_json()
    preduplet = preduplet.get("new_preduplet", preduplet)
    _claim(client, "preduplet", preduplet["uuid"], workers[1])
    return {"problem": problem["uuid"], "algos": algos, "workers": workers,
            "preduplet": preduplet["uuid"], "test_data": problem["test_dataset"]}


def pages(history: dict[str, Any]) -> dict[str, str]:
    """Every dashboard page, by the name of its screenshot."""
    return {"problems": "/ui/", "problem": f"/ui/problem/{history['problem']}",
            "algo": f"/ui/algo/{history['algos'][0]}", "workers": "/ui/workers",
            "changes": "/ui/changes"}
