"""The operators' commands (app/commands.py): `flask --app app COMMAND` and `python -m app
COMMAND` (the `orchestrator` script), which need no account; the server still does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MONGO_URI, ApiClient, new_uuid
from helpers import COLLECTIONS

from app import commands
from app.storage.errors import DatabaseError

REPO = Path(__file__).resolve().parent.parent


def run(*arguments: str, **settings: str) -> subprocess.CompletedProcess:
    """A command in a fresh process, without any account in its environment."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("USER_AUTH", "PWD_AUTH", "ACCOUNTS_FILE", "MONGO_URI")}
    return subprocess.run(list(arguments), cwd=REPO, env={**env, **settings},
                          capture_output=True, text=True, timeout=120)


def test_flask_lists_routes_and_commands_without_an_account(tmp_path):
    routes = run(sys.executable, "-m", "flask", "--app", "app", "routes",
                 DATA_DIR=str(tmp_path / "never-opened"))
    assert routes.returncode == 0, routes.stderr
    assert "/metrics" in routes.stdout and "Traceback" not in routes.stderr
    assert not (tmp_path / "never-opened").exists()  # listing opens no database
    listed = run(sys.executable, "-m", "flask", "--app", "app", "--help")
    assert all(name in listed.stdout for name in ("create-indexes", "sweep", "export"))
    usage = run(sys.executable, "-m", "app", "--help")
    assert all(f"    {name}" in usage.stdout for name in ("create-indexes", "sweep", "export"))


def test_servers_still_refuse_to_start_without_an_account(tmp_path):
    for command in ([sys.executable, "-m", "app"], [sys.executable, "-m", "flask", "--app", "app",
                                                    "run", "--port", "0"]):
        refused = run(*command, DATA_DIR=str(tmp_path / "data"))
        assert refused.returncode != 0
        assert "No account is configured" in refused.stderr, refused.stderr


@pytest.mark.skipif(bool(MONGO_URI), reason="the embedded store's folder, opened by the command")
def test_the_orchestrator_script_runs_the_commands_on_a_folder(tmp_path, config):
    from app import create_app, stop_background

    folder = str(tmp_path / "data")
    app = create_app({**config, "DATA_DIR": folder})
    client = ApiClient(app.test_client())
    problems = [client.problem() for _ in range(3)]
    stop_background(app)
    app.extensions["orchestrator.store"].close()  # the server stops; the command opens the folder
    exported = run(sys.executable, "-m", "app", "export", "problem", DATA_DIR=folder)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line) for line in exported.stdout.splitlines()] == problems
    swept = run(sys.executable, "-m", "app", "sweep", DATA_DIR=folder)
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.split()[:3] == ["registry_events_applied=0", "stream_events_applied=0",
                                        "leases_expired=0"]
    assert swept.stdout.split()[3].startswith("events_sealed=")


@pytest.mark.skipif(bool(MONGO_URI), reason="the embedded store's folder, held by a server")
def test_a_held_folder_is_refused_with_a_message(tmp_path, config):
    from app import create_app

    folder = str(tmp_path / "data")
    app = create_app({**config, "DATA_DIR": folder})  # a running server holds it
    held = run(sys.executable, "-m", "app", "export", "problem", DATA_DIR=folder)
    assert held.returncode == 1 and "is used by another Orchestrator server" in held.stderr
    assert "Traceback" not in held.stderr
    app.extensions["orchestrator.store"].close()


def invoke(app: Any, *arguments: str) -> str:
    result = app.test_cli_runner().invoke(args=list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def test_export_pages_through_a_collection_without_bookkeeping(app, client, monkeypatch):
    monkeypatch.setattr(commands, "DOCUMENTS_PER_PAGE", 2)
    problem = client.problem(size=1)
    client.data(problem["uuid"], count=5)
    client.algo(problem["uuid"])
    listed = client.learnuplets()
    assert len(listed) == 5
    exported = [json.loads(line) for line in invoke(app, "export", "learnuplet").splitlines()]
    assert sorted(exported, key=lambda doc: doc["rank"]) == listed
    assert [doc["rank"] for doc in exported] == [0, 1, 2, 3, 4]  # commit order
    for document in exported:
        assert not {"_id", "seq", "delivery_entry", "chain_version"} & set(document)
    for collection in COLLECTIONS:
        invoke(app, "export", collection)


def test_export_writes_the_event_ledger_in_order(app, client, monkeypatch, tmp_path):
    monkeypatch.setattr(commands, "EVENTS_PER_PAGE", 2)
    problem = client.problem(size=1)
    algos = [client.algo(problem["uuid"])["new_algo"]["uuid"] for _ in range(3)]
    client.data(problem["uuid"], count=2)
    target = tmp_path / "events.jsonl"
    assert invoke(app, "export", "events", "--output", str(target)) == ""
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert [event["number"] for event in events] == [1, 2, 3, 4]
    assert all("_id" not in event for event in events)
    assert [event["kind"] for event in events][-1] != events[0]["kind"]
    assert algos[0] in json.dumps(events[0])


def test_sweep_applies_what_a_failed_writer_left(app, client, store, monkeypatch):
    problem = client.problem(size=1)
    write, failed = store.write, []

    def fails_once(*args: Any, **kwargs: Any) -> None:
        if not failed:
            failed.append(True)
            raise DatabaseError("the writer lost the database after committing")
        write(*args, **kwargs)

    monkeypatch.setattr(store, "write", fails_once)
    algo = new_uuid()
    answer = client.post("/algo", {"uuid": algo, "problem": problem["uuid"], "name": "a"})
    assert answer.status_code == 503 and failed
    assert client.get(f"/algo/{algo}").status_code == 404  # committed, not applied
    output = invoke(app, "sweep")
    assert "registry_events_applied=1" in output.split()
    assert client.get(f"/algo/{algo}").status_code == 200


def test_create_indexes(app, store):
    assert invoke(app, "create-indexes").strip() == "indexes created"
    if MONGO_URI:
        assert ("status_1_seq_1" in store.db.learnuplet.index_information())
