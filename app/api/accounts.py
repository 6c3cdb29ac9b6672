"""ACCOUNTS_FILE: the accounts besides the administrator of USER_AUTH/PWD_AUTH (TOML).

    [[account]]
    name = "worker-1"
    role = "worker"                  # admin | storage | worker | analyst
    password_hash = "$scrypt$..."    # printed by: python -m app hash-password
    workers = ["<worker uuid>"]      # optional, worker role only

Read once, at start; any mistake stops the start with a message naming the account and the
field. A plain password is refused: the file holds hashes only.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from ..domain.permissions import ROLES, WORKER, Account
from .passwords import BadHash, PasswordHash, parse_hash
from .schemas import UUID_PATTERN

FIELDS = {"name", "role", "password_hash", "workers"}
# The ledger's own `by` for what no account asks for (lease expiry, decisions/tasks.py).
RESERVED_NAMES = {"orchestrator"}
# Basic auth cannot carry a colon in a user name; control characters have no place in one.
_NAME = re.compile(r"[^:\x00-\x1f\x7f]{1,128}")
_UUID = re.compile(UUID_PATTERN)


class AccountsFileError(ValueError):
    """ACCOUNTS_FILE cannot be used; the message says where and why."""


@dataclass(frozen=True)
class StoredAccount:
    account: Account
    password: PasswordHash


def load_accounts(path: str, taken_names: set[str]) -> dict[str, StoredAccount]:
    """The accounts of the file at `path`, by name; `taken_names` are names in use already."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise AccountsFileError(f"cannot read ACCOUNTS_FILE={path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AccountsFileError(f"ACCOUNTS_FILE={path} is not valid TOML: {error}") from None
    extra = sorted(set(document) - {"account"})
    if extra:
        raise AccountsFileError(f"ACCOUNTS_FILE={path}: unknown top-level key(s) "
                                f"{', '.join(extra)}; write each account as an [[account]] table")
    entries = document.get("account", [])
    if not isinstance(entries, list):
        raise AccountsFileError(f"ACCOUNTS_FILE={path}: write each account as an [[account]] table")
    accounts: dict[str, StoredAccount] = {}
    for index, entry in enumerate(entries, start=1):
        stored = _account(entry, f"ACCOUNTS_FILE={path}, account {index}")
        name = stored.account.name
        if name in accounts or name in taken_names:
            raise AccountsFileError(f"ACCOUNTS_FILE={path}, account {index}: the name {name!r} "
                                    "is used by another account (or by USER_AUTH)")
        accounts[name] = stored
    return accounts


def _account(entry: Any, where: str) -> StoredAccount:
    if not isinstance(entry, dict):
        raise AccountsFileError(f"{where}: write each account as an [[account]] table")
    if "password" in entry:
        raise AccountsFileError(
            f"{where}: plain passwords are refused; replace `password` with `password_hash`, "
            "the hash printed by `python -m app hash-password` (it reads the password on stdin)")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise AccountsFileError(f"{where}: unknown field(s) {', '.join(unknown)}; an account has "
                                "name, role, password_hash and, for a worker, workers")
    missing = sorted(field for field in ("name", "role", "password_hash") if field not in entry)
    if missing:
        raise AccountsFileError(f"{where}: missing {', '.join(missing)}")
    name, role = entry["name"], entry["role"]
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise AccountsFileError(f"{where}: name must be 1 to 128 characters without ':' or "
                                f"control characters, and not {', '.join(sorted(RESERVED_NAMES))}")
    where = f"{where} ({name})"
    if role not in ROLES:
        raise AccountsFileError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
    try:
        password = parse_hash(entry["password_hash"]) if isinstance(entry["password_hash"], str) \
            else parse_hash("")
    except BadHash as error:
        raise AccountsFileError(f"{where}: password_hash {error}; plain passwords are refused"
                                ) from None
    return StoredAccount(Account(name, role, _workers(entry, role, where)), password)


def _workers(entry: dict[str, Any], role: str, where: str) -> frozenset[str] | None:
    if "workers" not in entry:
        return None
    workers = entry["workers"]
    if role != WORKER:
        raise AccountsFileError(f"{where}: workers is for the worker role only")
    if not isinstance(workers, list) or not workers:
        raise AccountsFileError(f"{where}: workers must be a non-empty list of worker UUIDs "
                                "(leave it out to let the account act as any worker)")
    bad = [repr(worker) for worker in workers
           if not isinstance(worker, str) or not _UUID.fullmatch(worker)]
    if bad:
        raise AccountsFileError(f"{where}: workers holds what is not a UUID: {', '.join(bad)}")
    return frozenset(worker.lower() for worker in workers)
