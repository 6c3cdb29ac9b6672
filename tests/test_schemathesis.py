"""schemathesis, with every check, against the server in this process: /openapi.json is exact.

Two runs of the schemathesis command on the same live server: the coverage and fuzzing phases
(every operation, valid and invalid requests), then the stateful phase, which follows the
document's links from registrations to claims, heartbeats and reports. Each must end with no
failure; the second must also have made the server record claims, lease extensions and
reports of both task kinds. tests/schemathesis_hooks.py says what no schema can (the few rules
that depend on what is stored); tests/schemathesis.toml holds the settings.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, PASSWORD, USER, new_uuid

HERE = Path(__file__).resolve().parent
# CI's numbers: about 20 s of coverage and fuzzing, then rounds of 15 s of stateful steps until
# the links have reached every step of both task kinds (one or two rounds on the 2-core machine).
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "50"))
STATEFUL_SECONDS = int(os.environ.get("SCHEMATHESIS_STATEFUL_SECONDS", "15"))
STATEFUL_ROUNDS = 4
STEPS = [(step, kind) for kind in ("learnuplet", "preduplet")
         for step in ("task_claimed", "lease_extended", "task_reported")]

pytestmark = pytest.mark.skipif(
    bool(MONGO_URI), reason="the HTTP contract is the same on every store: checked once, on the "
                            "embedded store (the real-server runs cover the stores)")


def run_schemathesis(live_server: str, tmp_path: Path, *options: str) -> dict:
    """The schemathesis command on `live_server`; returns its JSON report."""
    problem = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [],
               "size_train_dataset": 1}
    assert requests.post(f"{live_server}/problem", json=problem, auth=AUTH,
                         timeout=10).status_code == 201
    tmp_path.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "schemathesis.json"
    command = [shutil.which("schemathesis") or "schemathesis",
               "--config-file", str(HERE / "schemathesis.toml"), "run",
               f"{live_server}/openapi.json", "--checks", "all", "--auth", f"{USER}:{PASSWORD}",
               "--report", "json", "--report-json-path", str(report), *options]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]),
           "ORCHESTRATOR_PROBLEM": problem["uuid"], "NO_COLOR": "1"}
    finished = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
    output = finished.stdout[-20000:] + finished.stderr[-5000:]
    assert report.exists(), output
    result = json.loads(report.read_text())
    print(output[-3000:])  # the summary, with the seed to replay a failure (pytest -s shows it)
    assert finished.returncode == 0, output
    assert result["failures"] == [] and result["errors"] == [], output
    return result


def test_every_operation_answers_as_documented(live_server, tmp_path):
    result = run_schemathesis(live_server, tmp_path, "--phases", "coverage,fuzzing",
                              "--max-examples", str(EXAMPLES))
    assert result["operations"]["total"] >= 24  # every route of docs/api.md
    assert result["operations"]["tested"] == result["operations"]["total"]
    assert {phase: result["phases"][phase]["status"] for phase in ("coverage", "fuzzing")} == {
        "coverage": "success", "fuzzing": "success"}
    assert result["test_cases"]["generated"] > 10 * result["operations"]["total"]


def test_the_links_lead_from_registrations_to_claims_heartbeats_and_reports(
        live_server, tmp_path, store):
    # Only the links give these routes a task that exists: random uuids get 404. Each round
    # must pass; rounds go on (a few at most) until every step was reached once.
    recorded: Counter = Counter()
    for round_number in range(STATEFUL_ROUNDS):
        result = run_schemathesis(live_server, tmp_path / str(round_number), "--phases",
                                  "stateful", "--max-time", str(STATEFUL_SECONDS))
        assert result["phases"]["stateful"]["status"] == "success"
        recorded = Counter((event["kind"], event["collection"])
                           for event in store.dump("stream_events") if event["kind"] in
                           ("task_claimed", "lease_extended", "task_reported"))
        if all(recorded[step] for step in STEPS):
            break
    print(f"after {round_number + 1} rounds of stateful steps: {dict(recorded)}")
    assert [step for step in STEPS if not recorded[step]] == [], recorded
