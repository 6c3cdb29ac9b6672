"""The worker kit (orchestrator_client.worker) against a live server: a chain trained end to
end under heartbeats, failures, lost claims, 409s, 503s and an Orchestrator restart.

A short lease (LEASE_SECONDS=2) and a fast sweeper make a claim without heartbeats lapse
within a slow training function, so a kit that did not keep its claims would fail here.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from client_helpers import FAST_RETRY, perfs, setup_chain
from conftest import AUTH, MONGO_URI, PASSWORD, USER, new_uuid
from lossy_proxy import LossyProxy
from orchestrator_client import Client, Outcome, RetryPolicy, Training, Worker

LEASE = 2  # LEASE_SECONDS
SLOWER_THAN_THE_LEASE = LEASE + 1.5
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config.update(LEASE_SECONDS=LEASE, SWEEP_SECONDS=0.2)
    return config


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server, AUTH, retry=FAST_RETRY) as client:
        yield client


def training(learnuplet: dict[str, Any], perf: float) -> Training:
    return Training(**perfs(learnuplet, perf))


def by_rank(api: Client, algo: str) -> list[dict[str, Any]]:
    return sorted(api.learnuplets.all(algo=algo), key=lambda task: task["rank"])


def run_in_background(worker: Worker, max_tasks: int) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"max_tasks": max_tasks}, daemon=True)
    thread.start()
    return thread


def finish(worker: Worker, thread: threading.Thread, seconds: float = 60) -> None:
    """Wait for the worker to run its tasks; stop it either way."""
    thread.join(seconds)
    worker.stop()
    assert not thread.is_alive(), f"the worker did not finish its tasks: {worker.outcomes}"


def run(worker: Worker, max_tasks: int, seconds: float = 60) -> None:
    finish(worker, run_in_background(worker, max_tasks), seconds)


def test_the_worker_trains_a_chain_under_heartbeats(api):
    _, algo, _ = setup_chain(api, ranks=3)
    started: list[tuple[int, str]] = []

    def train(learnuplet: dict[str, Any]) -> Training:
        started.append((learnuplet["rank"], learnuplet["model_start"]))
        if learnuplet["rank"] == 0:
            time.sleep(SLOWER_THAN_THE_LEASE)  # only heartbeats keep the claim this long
        return training(learnuplet, 0.5 + learnuplet["rank"] / 10)

    worker = Worker(api, train=train, filters={"algo": algo}, poll_seconds=0.1)
    run(worker, max_tasks=3)
    chain = by_rank(api, algo)
    assert [(task["status"], task["worker"], task["attempts"]) for task in chain] == [
        ("done", worker.uuid, 0)] * 3
    assert [task["perf"] for task in chain] == [0.5, 0.6, 0.7]
    # each rank starts from the model the previous one trained (the best so far)
    assert started == [(0, algo), (1, chain[0]["model_end"]), (2, chain[1]["model_end"])]
    assert worker.outcomes[Outcome.DONE] == 3
    assert worker.heartbeats >= 5  # one at once per task, then one a third of the lease


def test_a_function_that_raises_reports_the_task_failed(api, caplog):
    _, algo, _ = setup_chain(api, ranks=2)

    def train(learnuplet: dict[str, Any]) -> Training:
        if learnuplet["rank"] == 0:
            raise RuntimeError("out of GPU memory")
        return training(learnuplet, 0.9)

    worker = Worker(api, train=train, filters={"algo": algo}, poll_seconds=0.1)
    run(worker, max_tasks=2)
    chain = by_rank(api, algo)
    assert [(task["status"], task["worker"]) for task in chain] == [
        ("failed", worker.uuid), ("done", worker.uuid)]
    assert chain[1]["model_start"] == algo  # a failure never blocks the chain
    assert (worker.outcomes[Outcome.FAILED], worker.outcomes[Outcome.DONE]) == (1, 1)
    assert "out of GPU memory" in caplog.text


def test_a_result_the_server_refuses_is_reported_failed(api, caplog):
    _, algo, _ = setup_chain(api, ranks=1)
    worker = Worker(api, train=lambda learnuplet: Training(0.9, {new_uuid(): 0.9}, {}),
                    filters={"algo": algo}, poll_seconds=0.1)
    run(worker, max_tasks=1)
    assert by_rank(api, algo)[0]["status"] == "failed"
    assert "train_perf" in caplog.text  # the 400's field errors are logged


def test_a_task_another_worker_won_is_skipped(api):
    problem, first_algo, _ = setup_chain(api, ranks=1)
    second_algo = api.create_algo(problem=problem, name="second").document["uuid"]
    [taken] = api.learnuplets.all(algo=first_algo)
    api.claim("learnuplet", taken["uuid"], new_uuid())  # another worker wins it
    worker = Worker(api, train=lambda learnuplet: training(learnuplet, 0.8),
                    filters={"problem": problem}, poll_seconds=0.1)
    assert worker.run_task("learnuplet", taken) is Outcome.SKIPPED  # 409: move on
    assert worker.run_once() is Outcome.DONE
    assert api.learnuplets.all(algo=second_algo)[0]["worker"] == worker.uuid
    assert api.learnuplets.get(taken["uuid"])["status"] == "pending"


def test_a_claim_lost_while_running_drops_the_result(api, caplog):
    _, algo, _ = setup_chain(api, ranks=1)

    def train(learnuplet: dict[str, Any]) -> Training:
        api.learn_failed(learnuplet["uuid"])  # someone else ends the task (no worker named)
        time.sleep(1.5)  # the next heartbeat is refused
        return training(learnuplet, 0.8)

    worker = Worker(api, train=train, filters={"algo": algo}, poll_seconds=0.1)
    run(worker, max_tasks=1)
    assert worker.outcomes[Outcome.LOST] == 1
    assert "lease lost while running" in caplog.text  # a heartbeat found out: no report sent
    assert api.learnuplets.get(by_rank(api, algo)[0]["uuid"])["status"] == "failed"


def test_a_lapsed_lease_drops_the_result(api):
    _, algo, _ = setup_chain(api, ranks=1)

    def train(learnuplet: dict[str, Any]) -> Training:
        time.sleep(SLOWER_THAN_THE_LEASE)
        return training(learnuplet, 0.8)

    # heartbeats far too rare: the lease lapses while the function runs, the report gets 409
    worker = Worker(api, train=train, filters={"algo": algo}, poll_seconds=0.1,
                    heartbeat_fraction=20)
    run(worker, max_tasks=1)
    assert worker.outcomes[Outcome.LOST] == 1
    [task] = by_rank(api, algo)
    assert (task["status"], task["attempts"], task["lapsed_workers"]) == ("todo", 1, [worker.uuid])


def test_the_worker_waits_out_503s(api, live_server, caplog):
    _, algo, _ = setup_chain(api, ranks=1)
    proxy = LossyProxy(live_server)
    try:
        proxy.unavailable(5)  # more than one call's retries: the worker itself must wait
        client = Client(proxy.url, AUTH, retry=RetryPolicy(attempts=2, first_delay=0.05))
        worker = Worker(client, train=lambda learnuplet: training(learnuplet, 0.8),
                        filters={"algo": algo}, poll_seconds=0.1)
        run(worker, max_tasks=1)
    finally:
        proxy.close()
    assert by_rank(api, algo)[0]["status"] == "done"
    assert "Orchestrator unavailable" in caplog.text


class OrchestratorProcess:
    """`python -m app` on a fixed port and the test's database (its DATA_DIR, or MONGO_URI)."""

    def __init__(self, config: dict[str, Any], data_dir: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.env = {key: value for key, value in os.environ.items() if key != "MONGO_URI"}
        self.env.update(USER_AUTH=USER, PWD_AUTH=PASSWORD, PORT=str(self.port), SWEEP_SECONDS="0.5")
        self.env.update(MONGO_URI=config["MONGO_URI"]) if MONGO_URI else self.env.update(
            DATA_DIR=str(data_dir))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "app"], cwd=REPO, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("the Orchestrator did not come up")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def orchestrator(config: dict[str, Any], tmp_path: Path) -> Iterator[OrchestratorProcess]:
    server = OrchestratorProcess(config, tmp_path / "orchestrator-data")
    server.start()
    yield server
    server.stop()


def test_the_worker_survives_an_orchestrator_restart(orchestrator, caplog):
    caplog.set_level(logging.WARNING, logger="orchestrator_client")
    api = Client(orchestrator.url, AUTH, retry=FAST_RETRY)
    _, algo, _ = setup_chain(api, ranks=2)
    running, release = threading.Event(), threading.Event()

    def train(learnuplet: dict[str, Any]) -> Training:
        if learnuplet["rank"] == 0:
            running.set()
            assert release.wait(30)
        return training(learnuplet, 0.8)

    worker_client = Client(orchestrator.url, AUTH,
                           retry=RetryPolicy(attempts=3, first_delay=0.2, max_delay=1))
    worker = Worker(worker_client, train=train, filters={"algo": algo}, poll_seconds=0.2)
    thread = run_in_background(worker, max_tasks=2)
    try:
        assert running.wait(20), "the worker did not start rank 0"
        orchestrator.stop()  # the Orchestrator goes away while the task runs ...
        release.set()  # ... so the report meets a closed port and is retried
        wait_for(lambda: "report did not get through" in caplog.text, 20)
        orchestrator.start()
    finally:
        finish(worker, thread)
    chain = by_rank(api, algo)
    assert [(task["status"], task["worker"], task["attempts"]) for task in chain] == [
        ("done", worker.uuid, 0)] * 2
    assert worker.outcomes[Outcome.DONE] == 2


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
