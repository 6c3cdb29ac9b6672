"""Accounts for the tests: an ACCOUNTS_FILE with one account of each role, and HTTP helpers.

Hashes cost about 0.1 s each, so each password is hashed once per test session.
"""
from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

from conftest import new_uuid

from app.api.passwords import hash_password

LISTED_WORKER = new_uuid()  # the one worker uuid the account "worker-listed" acts as

# name -> (role, password, workers)
ACCOUNTS: dict[str, tuple[str, str, list[str] | None]] = {
    "admin-file": ("admin", "admin-file-pass", None),
    "storage-1": ("storage", "storage pass 1", None),
    "worker-any": ("worker", "worker any pass", None),
    "worker-listed": ("worker", "worker listed pass", [LISTED_WORKER.upper()]),
    "analyst-1": ("analyst", "analyst pass ✓", None),
}


@functools.cache
def password_hash(password: str) -> str:
    return hash_password(password)


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def accounts_toml(accounts: dict[str, tuple[str, str, list[str] | None]] = ACCOUNTS) -> str:
    tables = []
    for name, (role, password, workers) in accounts.items():
        lines = ["[[account]]", f"name = {toml_string(name)}", f"role = {toml_string(role)}",
                 f"password_hash = {toml_string(password_hash(password))}"]
        if workers is not None:
            lines.append("workers = [" + ", ".join(map(toml_string, workers)) + "]")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def write_accounts(folder: Path, text: str | None = None) -> str:
    path = folder / "accounts.toml"
    path.write_text(accounts_toml() if text is None else text, encoding="utf-8")
    return str(path)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def as_account(name: str) -> dict[str, str]:
    """The Authorization header of a file account."""
    return basic(name, ACCOUNTS[name][1])


def post(flask_client: Any, url: str, body: Any, headers: dict[str, str]) -> Any:
    return flask_client.post(url, json=body, headers=headers)
