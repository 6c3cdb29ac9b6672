"""The README and docs/compute.md run as written: every curl and Python block, in order, against
a server started with the README's quick-start command, each answering what the text promises.

The only change made to a block: the address http://localhost:5000 becomes the test server's.
curl is wrapped to write each answer's status to stderr (its output is unchanged). Blocks that
install, test, benchmark or start servers are not run, and each must be one of those kinds, so
a new block cannot be skipped by mistake.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import MONGO_URI
from ferretdb_server import free_port
from helpers import start_server, stop_server

import app as package

REPO = Path(__file__).resolve().parent.parent
DOCUMENTED = "http://localhost:5000"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
NOT_RUN = ("pip install", "python -m bench", "gunicorn ", "docker compose")  # and server starts
PROBLEM, ALGO = "2d0aa3a3-eb5f-42e6-9d34-c6e4db235816", "e01e7cb9-a01d-4bd3-bbf0-ef036e99f75e"
PREDUPLET = "9cd7f29a-fe03-49ea-86ca-bd6a8aabd9e1"
CURL_WITH_STATUS = ("curl() { command curl --silent --show-error "
                    """--write-out '%{stderr}%{http_code}\\n' "$@"; }""")

pytestmark = pytest.mark.skipif(bool(MONGO_URI), reason="the quick start is the embedded store")


@dataclass
class Run:
    statuses: list[int]
    output: str
    api: Callable[[str], Any]  # GET a path of the server with the README's credentials

    def bodies(self) -> list[Any]:
        return [json.loads(line) for line in self.output.splitlines() if line.startswith("{")]


def blocks(document: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of `document`, in order."""
    return [(match.group(1), match.group(2)) for match in BLOCK.finditer((REPO / document).read_text())]


def runs_here(language: str, code: str) -> bool:
    if language == "python":
        # the push variant of the worker waits for the Orchestrator's pushes on a port of its
        # own (tests/client/test_push_receiver.py runs it); every other Python block runs
        return "PushReceiver" not in code
    if language != "bash":
        return False
    if "python -m app" in code and "hash-password" not in code or any(kind in code for kind in NOT_RUN):
        return False
    return True


# What the text promises, block after block: a fragment that names the block, the statuses of
# its curls, and a check of what it printed.
def health(run: Run) -> None:
    assert run.statuses == [200, 200, 200]
    assert run.bodies() == [{"status": "ok"}, {"status": "ready"}, {"version": package.__version__}]


def problem(run: Run) -> None:
    assert run.statuses == [201] and run.bodies()[0]["new_problem"]["uuid"] == PROBLEM


def data(run: Run) -> None:
    (body,) = run.bodies()
    assert run.statuses == [201] and len(body["new_datas"]) == 4 and body["new_learnuplets"] == 0


def algo(run: Run) -> None:
    (body,) = run.bodies()
    assert run.statuses == [201] and body["new_algo"]["uuid"] == ALGO and body["new_learnuplets"] == 1


def todo_list(run: Run) -> None:
    (body,) = run.bodies()
    assert run.statuses == [200]
    assert [(task["rank"], task["status"]) for task in body["learnuplets"]] == [(0, "todo")]


def kept_uuid(run: Run) -> None:
    assert run.statuses == [200]
    assert run.output.strip() == run.api(f"/learnuplet?algo={ALGO}")["learnuplets"][0]["uuid"]


def claimed(run: Run) -> None:
    (body,) = run.bodies()
    task = run.api(f"/learnuplet?algo={ALGO}")["learnuplets"][0]
    assert run.statuses == [200] and body == {"learnuplet_worker_set": task["uuid"]}
    assert task["status"] == "pending"


def reported(run: Run) -> None:
    task = run.api(f"/learnuplet?algo={ALGO}")["learnuplets"][0]
    assert run.statuses == [200] and run.bodies() == [{"updated_learnuplet": task["uuid"]}]
    assert (task["status"], task["perf"]) == ("done", 0.82)


def prediction(run: Run) -> None:
    (body,) = run.bodies()
    model = run.api(f"/learnuplet?algo={ALGO}")["learnuplets"][0]["model_end"]
    assert run.statuses == [201]
    assert (body["uuid"], body["status"], body["model"]) == (PREDUPLET, "todo", model)


def prediction_done(run: Run) -> None:
    assert run.statuses == [200, 200]
    assert run.bodies() == [{"preduplet_worker_set": PREDUPLET}, {"updated_preduplet": PREDUPLET}]
    assert run.api(f"/preduplet/{PREDUPLET}")["status"] == "done"


def python_requests(run: Run) -> None:
    answer, todo = run.output.splitlines()
    status, body = answer.split(" ", 1)
    assert status == "201" and ast.literal_eval(body)["new_learnuplets"] == 1
    model = run.api(f"/learnuplet?algo={ALGO}&rank=0")["learnuplets"][0]["model_end"]
    assert ast.literal_eval(todo) == [(1, model)]


def client_listing(run: Run) -> None:
    listed = [line.split() for line in run.output.splitlines()]
    stored = run.api(f"/learnuplet?algo={ALGO}")["learnuplets"]
    assert [(int(rank), status) for rank, status, _ in listed] == sorted(
        (task["rank"], task["status"]) for task in stored)


def hashed(run: Run) -> None:
    assert run.statuses == [] and re.fullmatch(r"\$scrypt\$ln=15,r=8,p=1\$\S+\n", run.output)


def pulled(run: Run) -> None:
    learnuplets, preduplets = run.bodies()
    assert run.statuses == [200, 200] and preduplets == {"preduplets": []}
    assert [task["rank"] for task in learnuplets["learnuplets"]] == [1]


def worker_trained(run: Run) -> None:
    rank_1 = run.api(f"/learnuplet?algo={ALGO}&rank=1")["learnuplets"][0]
    assert (rank_1["status"], rank_1["perf"]) == ("done", 0.9)
    assert f"learnuplet {rank_1['uuid']}: reported done" in run.output


def rank_1_done(api: Callable[[str], Any]) -> bool:
    return api(f"/learnuplet?algo={ALGO}&rank=1&status=done")["learnuplets"] != []


PROMISES: dict[str, list[tuple[str, Callable[[Run], None]]]] = {
    "README.md": [
        ("/health", health), ("export USER_AUTH", lambda run: None),
        ("http://localhost:5000/problem", problem), ("http://localhost:5000/data", data),
        ("http://localhost:5000/algo", algo), ("learnuplet?status=todo", todo_list),
        ("LEARNUPLET=$(", kept_uuid), ("/worker/learnuplet/$LEARNUPLET", claimed),
        ("/learndone/$LEARNUPLET", reported), ("/prediction", prediction),
        ("/preddone/", prediction_done), ("import requests", python_requests),
        ("from orchestrator_client import Client", client_listing), ("hash-password", hashed)],
    "docs/compute.md": [
        ("learnuplet?status=todo", pulled), ("A Morpheo compute worker", worker_trained)],
}


class Session:
    """A shell session as a reader has one, in the clone: variables set by a block (`X=...`,
    `export X=...`) are there for the next blocks, and for the Python ones."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder, self.variables = url, folder, {}

    def api(self, path: str) -> Any:
        auth = (self.variables["USER_AUTH"], self.variables["PWD_AUTH"])
        answer = requests.get(self.url + path, auth=auth, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def run(self, language: str, code: str) -> Run:
        code = code.replace(DOCUMENTED, self.url)
        if language == "python":
            return self._python(code)
        names = re.findall(r"^(?:export )?([A-Z_]+)=", code, re.M) + re.findall(
            r"^export ((?:[A-Z_]+=\S+ ?)+)", code, re.M)
        names = sorted({name for found in names for name in re.findall(r"([A-Z_]+)(?:=|$)", found)})
        script = "\n".join([CURL_WITH_STATUS, *[f"{name}={json.dumps(value)}" for name, value
                                                in self.variables.items()],
                            "set -e", code, *[f'echo "@{name}=${{{name}}}" >&2' for name in names]])
        done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        for line in done.stderr.splitlines():
            if line.startswith("@"):
                name, _, value = line[1:].partition("=")
                self.variables[name] = value
        statuses = [int(line) for line in done.stderr.splitlines() if re.fullmatch(r"[0-9]{3}", line)]
        return Run(statuses, done.stdout, self.api)

    def _python(self, code: str) -> Run:
        script = self.folder / "block.py"
        script.write_text(code)
        # the client as `pip install ./client` gives it, and where the Orchestrator is
        env = {**os.environ, **self.variables, "ORCHESTRATOR_URL": self.url,
               "PYTHONPATH": os.pathsep.join([str(REPO / "client"), os.environ.get("PYTHONPATH", "")])}
        if "while True" not in code and ".run()" not in code:
            done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return Run([], done.stdout, self.api)
        # The compute worker runs until stopped: until the work it is meant to do is done.
        worker = subprocess.Popen([sys.executable, "-u", str(script)], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not rank_1_done(self.api) and time.monotonic() < deadline:
                assert worker.poll() is None, worker.stdout.read()
                time.sleep(0.2)
            time.sleep(0.5)  # its report's answer, printed
        finally:
            worker.terminate()
        return Run([], worker.communicate(timeout=10)[0], self.api)


def test_the_readme_and_the_compute_guide_run_as_written(tmp_path):
    quick_start = blocks("README.md")[0][1]
    assert quick_start.startswith("pip install -r requirements.txt && ")
    command = quick_start.split("&& ", 1)[1].split()  # USER_AUTH=admin PWD_AUTH=change-me python -m app
    settings = dict(word.split("=", 1) for word in command if "=" in word)
    assert command[-3:] == ["python", "-m", "app"]
    port = free_port()
    server = start_server([sys.executable, "-m", "app"], port, REPO,
                          DATA_DIR=str(tmp_path / "orchestrator-data"), **settings)
    try:
        session = Session(f"http://127.0.0.1:{port}", tmp_path)
        for document, promises in PROMISES.items():
            runnable = [(language, code) for language, code in blocks(document)
                        if runs_here(language, code)]
            for language, code in blocks(document):
                if language == "bash" and (language, code) not in runnable:
                    assert "python -m app" in code or any(kind in code for kind in NOT_RUN), code
            assert len(runnable) == len(promises), (document, [code for _, code in runnable])
            for (language, code), (fragment, check) in zip(runnable, promises, strict=True):
                assert fragment in code, (document, fragment, code)
                check(session.run(language, code))
    finally:
        stop_server(server)
