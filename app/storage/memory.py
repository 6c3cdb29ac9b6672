"""The embedded store's memory: collections of JSON documents, and MongoDB's rules for them.

A collection keeps its documents by key, in `seq` order (lists are paged in it) and, for
events, by number, with `bisect`; the functions compare and match values as MongoDB does, so
that the embedded store answers exactly as MongoStore does (tests/storage/).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Mapping
from typing import Any

from .base import HIDDEN_FIELDS

AFTER_EVERY = (float("inf"),)  # sorts after every (seq, n, key) entry of the same seq

# -- MongoDB's equality and comparisons, on JSON values -------------------------------------------
NUMBER = (int, float)  # not bool: MongoDB never takes true for 1
MISSING = object()


def copy(value: Any) -> Any:
    """A deep copy of a JSON value (several times faster than copy.deepcopy)."""
    if type(value) is dict:
        return {name: copy(item) for name, item in value.items()}
    if type(value) is list:
        return [copy(item) for item in value]
    return value


def same(a: Any, b: Any) -> bool:
    """MongoDB's equality: 0 == 0.0, True != 1, embedded documents compare field order too."""
    if type(a) is not type(b):
        return type(a) in NUMBER and type(b) in NUMBER and a == b
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[name], b[name]) for name in a)
    if type(a) is list:
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def matches(document: dict[str, Any], field: str, wanted: Any) -> bool:
    """`{field: wanted}` as MongoDB reads it: None also matches a missing field, and a list
    matches when it holds the value."""
    value = document.get(field, MISSING)
    if type(wanted) is str:  # most filters; only a str equals a str
        return value == wanted or (type(value) is list and wanted in value)
    if wanted is None:
        return value is MISSING or value is None or \
            (type(value) is list and any(item is None for item in value))
    return same(value, wanted) or (type(value) is list and any(same(item, wanted) for item in value))


def check_filters(fields: Mapping[str, Any]) -> None:
    """Refuse what MongoDB would read as something else than top-level equality (an operator,
    a dotted path) rather than answer differently."""
    for field, value in fields.items():
        if field.startswith("$") or "." in field or \
                (type(value) is dict and any(str(name).startswith("$") for name in value)):
            raise ValueError(f"the embedded store takes top-level fields and values only: {field!r}")


def numbers(value: Any) -> tuple[Any, ...]:
    """The numbers a comparison like `{field: {"$lt": n}}` looks at (a list's elements too)."""
    if type(value) in NUMBER:
        return (value,)
    if type(value) is list:
        return tuple(item for item in value if type(item) in NUMBER)
    return ()


class Collection:
    """One collection: documents by key (`_id`), in `seq` order, and numbered keys in order."""

    def __init__(self) -> None:
        self.documents: dict[Any, dict[str, Any]] = {}
        self.by_seq: list[tuple[str, int, Any]] = []  # (seq, arrival, key): ties keep arrival
        self.unsequenced: dict[Any, None] = {}  # no string seq: MongoDB sorts them first
        self.numbered: list[Any] = []  # numeric keys (events), for events_after
        self.arrivals = 0

    def insert(self, document: dict[str, Any], sort: bool = True) -> None:
        key = document["_id"]
        self.documents[key] = document
        self._index(key, document.get("seq"), sort)
        if type(key) in (int, float):
            _add(self.numbered, key, sort)

    def update(self, key: Any, fields: dict[str, Any]) -> None:
        document = self.documents[key]
        if "seq" in fields and fields["seq"] != document.get("seq"):
            self._unindex(key, document.get("seq"))
            document.update(fields)
            self._index(key, document["seq"], True)
        else:
            document.update(fields)

    def sort(self) -> None:
        """Order what `insert(..., sort=False)` appended (loading a snapshot: one sort)."""
        self.by_seq.sort()
        self.numbered.sort()

    def in_seq_order(self, after: str | None) -> Iterator[dict[str, Any]]:
        """Documents by `seq`; those after `after` only, if given (as MongoDB sorts and
        compares: no string seq sorts first, and is never greater than a string)."""
        if not after:
            yield from (self.documents[key] for key in self.unsequenced)
        start = bisect_right(self.by_seq, (after, *AFTER_EVERY)) if after else 0
        for index in range(start, len(self.by_seq)):
            yield self.documents[self.by_seq[index][2]]

    def before(self, seq: str) -> Iterator[dict[str, Any]]:
        """Documents whose seq is lower than `seq`, in seq order."""
        for index in range(bisect_left(self.by_seq, (seq,))):
            yield self.documents[self.by_seq[index][2]]

    def _index(self, key: Any, seq: Any, sort: bool) -> None:
        if type(seq) is str:
            self.arrivals += 1
            _add(self.by_seq, (seq, self.arrivals, key), sort)
        else:
            self.unsequenced[key] = None

    def _unindex(self, key: Any, seq: Any) -> None:
        if type(seq) is not str:
            del self.unsequenced[key]
            return
        index = bisect_left(self.by_seq, (seq,))
        while self.by_seq[index][2] != key:
            index += 1
        del self.by_seq[index]


def _add(ordered: list[Any], item: Any, sort: bool) -> None:
    """Keep `ordered` sorted; items nearly always come in order, so this is an append."""
    if not sort or not ordered or item > ordered[-1]:
        ordered.append(item)
    else:
        insort(ordered, item)


EMPTY = Collection()


def shown(document: dict[str, Any], hidden: tuple[str, ...] = HIDDEN_FIELDS) -> dict[str, Any]:
    return {name: copy(value) for name, value in document.items() if name not in hidden}
