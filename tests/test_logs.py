"""Logs: request ids (X-Request-ID), one access-log line per request, LOG_FORMAT=json, and
never a credential or a password hash in any line, at any level."""
from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from account_files import ACCOUNTS, as_account, basic, password_hash, write_accounts
from conftest import PASSWORD, USER, ApiClient, new_uuid
from helpers import claim, done_body

from app import __main__ as command_line
from app import create_app
from app.logs import configure_logging
from app.storage.errors import DatabaseError

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def logs() -> Iterator[Any]:
    """Log as the entry points do, into a buffer; `logs(form, level)` (re)configures and
    returns the buffer. The host's logging (pytest's) is put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()

    def configure(form: str = "text", level: str = "INFO") -> io.StringIO:
        configure_logging({"LOG_LEVEL": level, "LOG_FORMAT": form}, stream=buffer)
        return buffer

    yield configure
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(buffer)]  # every line is one JSON object


# --- X-Request-ID ------------------------------------------------------------------------------

def test_a_request_id_is_made_when_none_is_given(client):
    first, second = client.get("/problem"), client.flask.get("/health")
    ids = [answer.headers["X-Request-ID"] for answer in (first, second)]
    assert all(GENERATED.fullmatch(value) for value in ids) and ids[0] != ids[1]


@pytest.mark.parametrize("given", ["abc-123", "4bf92f3577b34da6a3ce929d0e0e4736",
                                   "req:7/GW+a_b.c=@x", "x" * 128])
def test_a_safe_request_id_is_kept(client, given):
    answer = client.flask.get("/problem", headers={**client.headers, "X-Request-ID": given})
    assert answer.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "x" * 129, "two words", 'quote"d', "semi;colon",
                                   "ünicode", "tab\there"])
def test_an_unsafe_request_id_is_replaced(client, given):
    answer = client.flask.get("/problem", headers={**client.headers, "X-Request-ID": given})
    assert GENERATED.fullmatch(answer.headers["X-Request-ID"])


def test_refused_and_unknown_requests_get_an_id_too(client):
    for answer in (client.flask.get("/problem"), client.get("/nothing/here"),
                   client.flask.open("/problem", method="BREW", headers=client.headers)):
        assert answer.status_code in (401, 404, 405)
        assert GENERATED.fullmatch(answer.headers["X-Request-ID"])


# --- lines of a request -------------------------------------------------------------------------

def test_every_line_of_a_request_carries_its_id(client, store, logs, monkeypatch):
    buffer = logs("text", "DEBUG")

    def failing(*args: Any) -> Any:
        raise DatabaseError("stalled")  # the error handler logs it, inside the request

    monkeypatch.setattr(store, "get", failing)
    answer = client.flask.get(f"/problem/{new_uuid()}", headers={**client.headers,
                                                           "X-Request-ID": "trace-42"})
    assert answer.status_code == 503
    mine = [line for line in lines(buffer) if "[trace-42]" in line]
    assert any("database" in line for line in mine), lines(buffer)
    access = [line for line in mine if "orchestrator.access" in line]
    assert len(access) == 1 and f"{USER} GET /problem/" in access[0] and " 503 " in access[0]
    assert "route=/problem/<uuid>" in access[0]
    outside = [line for line in lines(buffer) if "[trace-42]" not in line]
    assert not any("orchestrator.access" in line for line in outside)


def test_json_lines_name_time_account_method_route_status_and_duration(client, logs):
    buffer = logs("json")
    problem = client.problem()
    client.flask.get(f"/problem/{problem['uuid']}", headers={**client.headers, "X-Request-ID": "r-1"})
    client.flask.get("/problem", headers=basic(USER, "not the password"))
    entries = json_lines(buffer)
    access = [entry for entry in entries if entry["logger"] == "orchestrator.access"]
    assert [(entry["method"], entry["route"], entry["status"]) for entry in access] == [
        ("POST", "/problem", 201), ("GET", "/problem/<uuid>", 200), ("GET", "/problem", 401)]
    read = access[1]
    assert read["request_id"] == "r-1" and read["account"] == USER
    assert read["path"] == f"/problem/{problem['uuid']}" and read["level"] == "INFO"
    assert isinstance(read["duration_ms"], float) and 0 <= read["duration_ms"] < 5000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", read["time"])
    assert access[2]["account"] is None  # refused: no account is named, not even the one claimed


def test_log_level_filters_lines(client, logs):
    buffer = logs("text", "WARNING")
    client.get("/problem")
    assert lines(buffer) == []


def test_log_settings_are_checked(config):
    from app.config import ConfigError
    for setting in ({"LOG_LEVEL": "LOUD"}, {"LOG_FORMAT": "xml"}):
        with pytest.raises(ConfigError, match=next(iter(setting))):
            create_app({**config, **setting})
    assert create_app({**config, "LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"}).config[
        "LOG_FORMAT"] == "json"


# --- credentials ------------------------------------------------------------------------------

def token(user: str, password: str) -> str:
    """The credentials as an Authorization header carries them (base64)."""
    return basic(user, password)["Authorization"].split()[1]


@pytest.mark.parametrize("form", ["text", "json"])
def test_no_password_or_hash_is_ever_logged(config, tmp_path, logs, monkeypatch, capsys, form):
    """Good and bad credentials of every kind of account, every kind of request and the
    hash-password command, all at DEBUG: no line holds a password or a hash."""
    buffer = logs(form, "DEBUG")
    app = create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path)})
    client = ApiClient(app.test_client())
    problem = client.problem(size=1)
    client.data(problem["uuid"])
    task = client.algo(problem["uuid"]) and client.learnuplets(status="todo")[0]
    assert claim(client, task["uuid"]).status_code == 200
    assert client.post(f"/learndone/{task['uuid']}", {**done_body(task, 0.5)}).status_code == 200
    secrets = {PASSWORD, token(USER, PASSWORD)}
    for name, (_, password, _) in ACCOUNTS.items():
        secrets |= {password, password_hash(password), token(name, password)}
        assert client.flask.get("/problem", headers=as_account(name)).status_code == 200
        assert client.flask.get("/problem", headers=basic(name, password + "x")).status_code == 401
        assert client.flask.get("/problem", headers=basic(password, password)).status_code == 401
    assert client.flask.get("/metrics", headers=basic(USER, PASSWORD)).status_code == 200
    assert client.flask.get("/problem", headers=basic(USER, "wrong " + PASSWORD)).status_code == 401
    malformed = {"Authorization": "Basic " + PASSWORD}  # not base64
    assert client.flask.get("/problem", headers=malformed).status_code == 401
    assert client.flask.post("/problem", data="{", headers=client.headers,
                             content_type="application/json").status_code == 400

    typed = "a password typed for hash-password"
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed + "\n"))
    assert command_line.print_password_hash() == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$scrypt$")
    secrets |= {typed, printed, printed.rsplit("$", 1)[-1]}

    logged = buffer.getvalue()
    assert "orchestrator.access" in logged and logged.count("\n") > 20  # lines were captured
    leaked = sorted(secret for secret in secrets if secret in logged)
    assert leaked == []


def test_lines_after_a_request_carry_no_request_id(client, logs):
    buffer = logs("text")
    client.flask.get("/health", headers={"X-Request-ID": "done-already"})
    logging.getLogger("app").warning("between requests")
    assert lines(buffer)[-1].endswith("[-] between requests")


def test_a_path_cannot_forge_a_log_line(client, logs):
    buffer = logs("text")
    client.get("/problem/x%0A2026-01-01 00:00:00,000 INFO orchestrator.access [-] forged")
    assert len(lines(buffer)) == 1 and "\\n2026-01-01" in lines(buffer)[0]
