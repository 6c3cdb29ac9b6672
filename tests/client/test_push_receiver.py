"""The worker kit fed by pushes: the Orchestrator (COMPUTE_URL) POSTs runnable tasks to a
PushReceiver, and a Worker runs them without ever listing tasks."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from client_helpers import FAST_RETRY, perfs, setup_chain
from conftest import AUTH, new_uuid
from orchestrator_client import Client, Outcome, PushReceiver, Training, Worker
from realserver import wait_until


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    with PushReceiver() as started:
        yield started


@pytest.fixture
def app(make_app, receiver: PushReceiver):
    return make_app(COMPUTE_URL=receiver.url)


def test_pushed_learnuplets_and_preduplets_are_run(live_server, receiver):
    api = Client(live_server, AUTH, retry=FAST_RETRY)
    stored = new_uuid()
    worker = Worker(api, source=receiver, train=lambda task: Training(**perfs(task, 0.8)),
                    predict=lambda task: stored)
    thread = threading.Thread(target=worker.run, kwargs={"max_tasks": 3}, daemon=True)
    thread.start()
    try:
        problem, algo, _ = setup_chain(api, ranks=2)  # rank 0 pushed now, rank 1 once 0 is done
        wait_until(lambda: all(task["status"] == "done" for task in api.learnuplets.all(algo=algo)),
                   30, interval=0.1, what="the chain trained")
        preduplet = api.request_prediction(data=new_uuid(), problem=problem).document
        thread.join(30)
    finally:
        worker.stop()
    assert not thread.is_alive(), worker.outcomes
    assert api.preduplets.get(preduplet["uuid"])["prediction_storage_uuid"] == stored
    assert all(task["worker"] == worker.uuid for task in api.learnuplets.all(algo=algo))
    assert receiver.received >= 3 and worker.outcomes[Outcome.DONE] == 3

    # delivery is at least once: a task pushed again after it ran is claimed in vain and skipped
    skipped = worker.outcomes[Outcome.SKIPPED]
    receiver.push("preduplet", preduplet)
    assert worker.run_once() is None and worker.outcomes[Outcome.SKIPPED] == skipped + 1


def test_the_receiver_accepts_tasks_and_refuses_anything_else(receiver):
    task: dict[str, Any] = {"uuid": new_uuid(), "status": "todo"}
    assert requests.post(f"{receiver.url}/learn", json=task, timeout=5).status_code == 200
    assert requests.post(f"{receiver.url}/learn", json=task, timeout=5).status_code == 200
    assert requests.post(f"{receiver.url}/pred", json=[1], timeout=5).status_code == 400
    assert requests.post(f"{receiver.url}/other", json=task, timeout=5).status_code == 404
    assert list(receiver.candidates()) == [("learnuplet", task)]  # the duplicate queued once
    assert receiver.received == 2
