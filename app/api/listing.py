"""Listing: typed query filters and page tokens (no Flask).

Lists are sorted by `seq`, which the ledger assigns in commit order, so a document added
while a client pages through a list always lands after every existing one: paging never
skips or repeats a document that existed when paging began.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..domain.states import STATUSES
from ..ledger.events import REGISTRY_KINDS, STREAM_KINDS
from .schemas import NO_NUL_PATTERN, UUID_PATTERN

_UUID = re.compile(UUID_PATTERN)
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
_NUMBER = re.compile(r"^-?[0-9]{1,18}(\.[0-9]{1,18})?([eE][-+]?[0-9]{1,3})?$")
# What a `seq` is made of (ledger/commit.py seq_of, ledger/streams.py): digits, dots, event keys.
_SEQ = re.compile(r"[0-9a-z.:/-]{1,200}")


class BadQuery(ValueError):
    """A query parameter is not acceptable; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# Every pattern must match the whole value (fullmatch): `$` also matches before a final newline.

def _uuid(raw: str) -> str:
    if not _UUID.fullmatch(raw):
        raise ValueError("must be a UUID")
    return raw.lower()


def _nullable_uuid(raw: str) -> str | None:
    return None if raw == "null" else _uuid(raw)


def _integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise ValueError("must be an integer")
    return int(raw)


def _number(raw: str) -> float:
    if not _NUMBER.fullmatch(raw):
        raise ValueError("must be a number")
    return float(raw)


def _status(raw: str) -> str:
    if raw not in STATUSES:
        raise ValueError(f"must be one of {', '.join(STATUSES)}")
    return raw


def _text(raw: str) -> str:
    if "\x00" in raw:  # FerretDB over PostgreSQL fails on it (a 503); it matches nothing anyway
        raise ValueError("must not contain the NUL character (U+0000)")
    return raw


EVENT_KINDS = (*REGISTRY_KINDS, *STREAM_KINDS)
PUBLIC = ("problem", "algo", "data", "learnuplet", "preduplet")


def _kind(raw: str) -> str:
    if raw not in EVENT_KINDS:
        raise ValueError(f"must be one of {', '.join(EVENT_KINDS)}")
    return raw


def _collection(raw: str) -> str:
    if raw not in PUBLIC:
        raise ValueError(f"must be one of {', '.join(PUBLIC)}")
    return raw


def _version(raw: str) -> int:
    if not _INTEGER.fullmatch(raw) or int(raw) < 0:
        raise ValueError("must be an audit chain version (an integer, 0 or more)")
    return int(raw)


# The documented fields of each collection a client may filter on, with their types.
# A filter on a list field matches documents whose list contains the value.
FILTERS: dict[str, dict[str, Callable[[str], Any]]] = {
    "problem": {"uuid": _uuid, "workflow": _uuid, "test_dataset": _uuid,
                "size_train_dataset": _integer, "timestamp_upload": _integer},
    "algo": {"uuid": _uuid, "problem": _uuid, "name": _text, "timestamp_upload": _integer},
    "data": {"uuid": _uuid, "problems": _uuid, "timestamp_upload": _integer},
    "learnuplet": {"uuid": _uuid, "problem": _uuid, "workflow": _uuid, "algo": _uuid,
                   "rank": _integer, "train_data": _uuid, "test_data": _uuid,
                   "model_start": _nullable_uuid, "model_end": _uuid, "status": _status,
                   "worker": _nullable_uuid, "perf": _number, "timestamp_creation": _integer,
                   "timestamp_done": _integer},
    "preduplet": {"uuid": _uuid, "problem": _uuid, "workflow": _uuid, "data": _uuid,
                  "model": _uuid, "status": _status, "worker": _nullable_uuid,
                  "prediction_storage_uuid": _nullable_uuid, "timestamp_request": _integer,
                  "timestamp_done": _integer},
    # GET /events: the events after a version, of a kind, or that wrote a collection or a
    # document (blueprints/audit.py)
    "event": {"after": _version, "kind": _kind, "collection": _collection, "uuid": _uuid},
}
PAGING = ("limit", "page_token")
TOKEN_LENGTH_MAX = 512  # a token this server issues has fewer than 200 characters

# The JSON schema of each filter type, for /openapi.json: exactly the values each one accepts.
_UUID_SCHEMA = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
_LARGEST = 10**18 - 1  # the most digits _INTEGER and _NUMBER read
FILTER_SCHEMAS: dict[Callable[[str], Any], dict[str, Any]] = {
    _uuid: _UUID_SCHEMA,
    _nullable_uuid: {"description": "a UUID, or `null` for documents where the field is null",
                     "anyOf": [_UUID_SCHEMA, {"type": "string", "const": "null"}]},
    _integer: {"type": "integer", "minimum": -_LARGEST, "maximum": _LARGEST},
    _number: {"type": "number", "minimum": -_LARGEST, "maximum": _LARGEST},
    _status: {"type": "string", "enum": list(STATUSES)},
    _text: {"type": "string", "pattern": NO_NUL_PATTERN},
    _kind: {"type": "string", "enum": list(EVENT_KINDS)},
    _collection: {"type": "string", "enum": list(PUBLIC)},
    _version: {"type": "integer", "minimum": 0, "maximum": _LARGEST},
}


def parse_filters(collection: str, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """The MongoDB filter for query arguments; every value is a plain typed value."""
    allowed = FILTERS[collection]
    query: dict[str, Any] = {}
    for name, values in args.items():
        if name in PAGING:
            continue
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise BadQuery(name, f"unknown filter; {collection} can be filtered by {known}")
        if len(values) != 1:
            raise BadQuery(name, "given more than once")
        try:
            query[name] = allowed[name](values[0])
        except ValueError as error:
            raise BadQuery(name, str(error)) from None
    return query


def parse_limit(args: Mapping[str, list[str]], default: int, maximum: int) -> int:
    values = args.get("limit")
    if not values:
        return default
    if len(values) != 1 or not _INTEGER.fullmatch(values[0]) or not 1 <= int(values[0]) <= maximum:
        raise BadQuery("limit", f"must be an integer from 1 to {maximum}")
    return int(values[0])


def _fingerprint(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def make_token(query: dict[str, Any], last_id: str) -> str:
    raw = json.dumps({"after": last_id, "query": _fingerprint(query)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(query: dict[str, Any], args: Mapping[str, list[str]]) -> str | None:
    """The `seq` after which the page starts; the token must come with the same filters."""
    values = args.get("page_token")
    if not values:
        return None
    try:
        token = values[0]
        if len(token) > TOKEN_LENGTH_MAX:
            raise ValueError("too long")
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, fingerprint = decoded["after"], decoded["query"]
    except (binascii.Error, ValueError, TypeError, KeyError, RecursionError):
        raise BadQuery("page_token", "is not a token this server issued") from None
    if not isinstance(after, str) or not _SEQ.fullmatch(after):
        raise BadQuery("page_token", "is not a token this server issued")
    if len(values) != 1 or fingerprint != _fingerprint(query):
        raise BadQuery("page_token", "does not belong to these filters; "
                       "pass it back with the same filters")
    return after
