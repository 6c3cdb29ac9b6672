"""ACCOUNTS_FILE: what it accepts, what stops the start (with a clear message), the password
hash and its command, and the cache that keeps authentication cheap."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from account_files import (
    ACCOUNTS,
    LISTED_WORKER,
    accounts_toml,
    as_account,
    basic,
    password_hash,
    write_accounts,
)
from conftest import PASSWORD, USER, new_uuid
from helpers import problem_details

from app import ConfigError, create_app
from app.api import passwords
from app.api.accounts import StoredAccount
from app.api.auth import Authenticator
from app.domain.permissions import WORKER, Account

REPO = Path(__file__).resolve().parent.parent
HASH = password_hash("a good password")


@pytest.fixture
def accounts_app(config, tmp_path):
    return create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path)})


# --- the file ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_every_file_account_signs_in(accounts_app, name):
    response = accounts_app.test_client().get("/problem", headers=as_account(name))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("name, password", [("storage-1", "wrong"), ("storage-1", ""),
                                            ("nobody", "storage pass 1"), ("storage-1", HASH)])
def test_wrong_credentials_of_a_file_account_are_401(accounts_app, name, password):
    response = accounts_app.test_client().get("/problem", headers=basic(name, password))
    problem_details(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_administrator_still_signs_in_beside_the_file(accounts_app):
    assert accounts_app.test_client().get("/problem", headers=basic(USER, PASSWORD)).status_code == 200


def test_a_file_alone_is_enough(config, tmp_path, monkeypatch):
    monkeypatch.delenv("USER_AUTH", raising=False)
    monkeypatch.delenv("PWD_AUTH", raising=False)
    settings = {key: value for key, value in config.items() if key not in ("USER_AUTH", "PWD_AUTH")}
    app = create_app({**settings, "ACCOUNTS_FILE": write_accounts(tmp_path)})
    client = app.test_client()
    assert client.get("/problem", headers=as_account("admin-file")).status_code == 200
    assert client.get("/problem", headers=basic(USER, PASSWORD)).status_code == 401


def _refused(config, tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path, text)})
    return str(refused.value)


def _account(**fields: str | list[str]) -> str:
    lines = ["[[account]]"]
    for key, value in fields.items():
        rendered = ("[" + ", ".join(f'"{item}"' for item in value) + "]") if isinstance(value, list) \
            else f'"{value}"'
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def test_a_plain_password_is_refused_with_a_clear_message(config, tmp_path):
    message = _refused(config, tmp_path, _account(name="w", role="worker", password="hunter22"))
    assert "plain passwords are refused" in message and "hash-password" in message
    message = _refused(config, tmp_path, _account(name="w", role="worker", password_hash="hunter22"))
    assert "plain passwords are refused" in message and "hash-password" in message
    assert "hunter22" not in message  # the message never repeats a password


@pytest.mark.parametrize("text, words", [
    ("[[account]\nname = 'x'", ["not valid TOML"]),
    ("name = 'x'\n", ["unknown top-level", "[[account]]"]),
    ("account = 'x'\n", ["[[account]]"]),
    (_account(role="worker", password_hash=HASH), ["account 1", "missing name"]),
    (_account(name="w", password_hash=HASH), ["missing role"]),
    (_account(name="w", role="worker"), ["missing password_hash"]),
    (_account(name="w", role="root", password_hash=HASH), ["role must be one of", "root"]),
    (_account(name="w", role="worker", password_hash=HASH, group="x"), ["unknown field", "group"]),
    (_account(name="a:b", role="worker", password_hash=HASH), ["name must be"]),
    (_account(name="", role="worker", password_hash=HASH), ["name must be"]),
    (_account(name="orchestrator", role="worker", password_hash=HASH), ["name must be"]),
    (_account(name=USER, role="worker", password_hash=HASH), ["used by another account"]),
    (_account(name="w", role="worker", password_hash=HASH) * 2, ["account 2", "used by another"]),
    (_account(name="s", role="storage", password_hash=HASH, workers=[new_uuid()]),
     ["workers is for the worker role only"]),
    (_account(name="w", role="worker", password_hash=HASH, workers=[]), ["non-empty list"]),
    (_account(name="w", role="worker", password_hash=HASH, workers=["worker-1"]),
     ["not a UUID", "worker-1"]),
    (_account(name="w", role="worker", password_hash=HASH.replace("ln=15", "ln=10")),
     ["ln=10", "from 14"]),
    (_account(name="w", role="worker", password_hash="$scrypt$ln=15,r=8,p=1$!!!!!!!!!!!!!!!!$"
              + "A" * 43), ["password_hash"]),
])
def test_mistakes_in_the_file_stop_the_start(config, tmp_path, text, words):
    message = _refused(config, tmp_path, text)
    assert "ACCOUNTS_FILE" in message
    for word in words:
        assert word in message, message


def test_a_missing_file_stops_the_start(config, tmp_path):
    with pytest.raises(ConfigError) as refused:
        create_app({**config, "ACCOUNTS_FILE": str(tmp_path / "absent.toml")})
    assert "cannot read ACCOUNTS_FILE" in str(refused.value)


def test_an_empty_file_without_an_administrator_stops_the_start(config, tmp_path, monkeypatch):
    monkeypatch.delenv("USER_AUTH", raising=False)
    monkeypatch.delenv("PWD_AUTH", raising=False)
    settings = {key: value for key, value in config.items() if key not in ("USER_AUTH", "PWD_AUTH")}
    with pytest.raises(ConfigError) as refused:
        create_app({**settings, "ACCOUNTS_FILE": write_accounts(tmp_path, "")})
    assert "no account" in str(refused.value)


def test_the_workers_are_stored_lowercase(config, tmp_path):
    app = create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path)})
    admin = basic(USER, PASSWORD)
    client = app.test_client()
    problem = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    client.post("/problem", json=problem, headers=admin)
    client.post("/algo", json={"uuid": new_uuid(), "problem": problem["uuid"], "name": "a"}, headers=admin)
    client.post("/data", json={"uuid": new_uuid(), "problems": problem["uuid"]}, headers=admin)
    task = client.get("/learnuplet", headers=admin).get_json()["learnuplets"][0]["uuid"]
    # the file lists the worker in upper case (tests/account_files.py); the body in lower case
    response = client.post(f"/worker/learnuplet/{task}", json={"worker": LISTED_WORKER},
                           headers=as_account("worker-listed"))
    assert response.status_code == 200, response.get_json()


# --- the password hash ---------------------------------------------------------------------

def test_a_hash_checks_its_password_only():
    stored = passwords.parse_hash(HASH)
    assert stored.matches("a good password")
    assert not stored.matches("a good passworD")
    assert HASH.startswith("$scrypt$ln=15,r=8,p=1$")
    assert password_hash("a good password") == HASH  # cached here; a new hash has a new salt:
    assert passwords.hash_password("a good password") != HASH


def test_hash_password_reads_stdin_and_prints_a_hash_the_file_accepts(config, tmp_path):
    done = subprocess.run([sys.executable, "-m", "app", "hash-password"], cwd=REPO, input="pass word 1\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert "pass word 1" not in printed and passwords.parse_hash(printed).matches("pass word 1")
    text = f'[[account]]\nname = "cli"\nrole = "analyst"\npassword_hash = "{printed}"\n'
    app = create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path, text)})
    assert app.test_client().get("/problem", headers=basic("cli", "pass word 1")).status_code == 200


def test_hash_password_refuses_an_empty_password():
    done = subprocess.run([sys.executable, "-m", "app", "hash-password"], cwd=REPO, input="\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "empty" in done.stderr


# --- the cache -----------------------------------------------------------------------------

def test_verified_credentials_are_not_hashed_again(accounts_app, monkeypatch):
    calls = []
    original = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt",
                        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    client = accounts_app.test_client()
    for _ in range(5):
        assert client.get("/problem", headers=as_account("analyst-1")).status_code == 200
    assert len(calls) == 1
    # a wrong password is checked again every time (it is never remembered)
    for _ in range(2):
        assert client.get("/problem", headers=basic("analyst-1", "wrong")).status_code == 401
    assert len(calls) == 3


def test_a_cached_check_costs_microseconds():
    stored = {"w": StoredAccount(Account("w", WORKER), passwords.parse_hash(HASH))}
    authenticator = Authenticator(("admin", "secret"), stored)
    started = time.perf_counter()
    assert authenticator.verify("w", "a good password") is not None
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(1000):
        assert authenticator.verify("w", "a good password").name == "w"
    repeated = (time.perf_counter() - started) / 1000
    assert first > 0.01  # scrypt
    assert repeated < 0.0005, f"{repeated * 1e6:.0f} µs per cached check"


def test_the_cache_keeps_no_password():
    stored = {"w": StoredAccount(Account("w", WORKER), passwords.parse_hash(HASH))}
    authenticator = Authenticator(None, stored)
    assert authenticator.verify("w", "a good password") is not None
    kept = repr(vars(authenticator)).encode()
    assert b"a good password" not in kept
    assert all(len(key) == 32 for key in authenticator._verified)  # HMAC-SHA256 digests only


# --- identical retries by another account --------------------------------------------------

def test_an_identical_retry_by_another_account_answers_200_and_keeps_the_first_by(accounts_app):
    client = accounts_app.test_client()
    body = {"uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1}
    assert client.post("/problem", json=body, headers=as_account("storage-1")).status_code == 201
    retry = client.post("/problem", json=body, headers=as_account("admin-file"))
    assert retry.status_code == 200
    store = accounts_app.extensions["orchestrator.store"]
    events = [event for event in store.dump("stream_events") if event["kind"] == "problem_registered"]
    assert [event["by"] for event in events] == ["storage-1"]
    # a role without the permission is refused before the retry is looked at
    problem_details(client.post("/problem", json=body, headers=as_account("analyst-1")), 403)


def test_accounts_toml_round_trip():
    assert accounts_toml().count("[[account]]") == len(ACCOUNTS)
