"""The examples under examples/ run as a user runs them, against a live server."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from client_helpers import FAST_RETRY
from conftest import AUTH, PASSWORD, USER
from orchestrator_client import Client
from realserver import wait_until

REPO = Path(__file__).resolve().parents[2]


def example(script: str, *arguments: str) -> list[str]:
    """An example's command line."""
    return [sys.executable, str(REPO / "examples" / script), *arguments]


def environment(url: str) -> dict[str, str]:
    """Its environment: the quick start's variables, and the client from client/ (uninstalled)."""
    return {**os.environ, "ORCHESTRATOR_URL": url, "USER_AUTH": USER, "PWD_AUTH": PASSWORD,
            "PYTHONPATH": str(REPO / "client")}


def register(url: str) -> tuple[str, str]:
    """examples/register_demo.py: (problem uuid, algo uuid)."""
    done = subprocess.run(example("register_demo.py", "--train-data", "4"), env=environment(url),
                          capture_output=True, text=True, timeout=60, check=True)
    problem = re.search(r"problem (\S+)", done.stdout).group(1)
    algo = re.search(r"algo (\S+): 2 learnuplets planned", done.stdout).group(1)
    return problem, algo


def test_the_example_worker_trains_what_the_example_registered(live_server):
    problem, algo = register(live_server)
    worker = subprocess.run(example("worker.py", "--problem", problem,
                                    "--max-tasks", "2", "--seconds", "0.2"),
                            env=environment(live_server), capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    api = Client(live_server, AUTH, retry=FAST_RETRY)
    assert [task["status"] for task in api.learnuplets.all(algo=algo)] == ["done", "done"]
    assert "'done': 2" in worker.stderr


def test_ctrl_c_finishes_and_reports_the_task_under_way(live_server):
    problem, algo = register(live_server)
    api = Client(live_server, AUTH, retry=FAST_RETRY)
    worker = subprocess.Popen(example("worker.py", "--problem", problem,
                                      "--seconds", "2"),
                              env=environment(live_server), stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: api.learnuplets.all(algo=algo, status="pending"), 20, interval=0.1,
                   what="a claimed learnuplet")
        worker.send_signal(signal.SIGINT)
        _, log = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, log
    # rank 0 reported; rank 1 became todo then, and was left for another worker
    assert [task["status"] for task in api.learnuplets.all(algo=algo)] == ["done", "todo"]
