"""Counting (and, for timing tests, delaying) the database commands one request makes.

`command_log()` registers one pymongo CommandListener for the whole test process
(`pymongo.monitoring.register`: it sees every MongoClient created AFTER it, so call it before
`create_app` builds the app's Flask-PyMongo client). It records nothing until a test opens a
window with `log.recording(database)`; then it keeps the commands started on that database
only (each test has a database of its own; the handshake and monitoring commands go to
`admin` and are left out by name anyway).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo import monitoring

# Connection handshake, server monitoring and session bookkeeping: not the app's work.
NOT_COUNTED = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo",
                         "buildinfo", "saslStart", "saslContinue", "getnonce", "authenticate"})
WRITES = frozenset({"insert", "update", "delete", "findAndModify", "findandmodify"})
QUERIES = frozenset({"find", "count", "distinct", "aggregate"})


@dataclass(frozen=True)
class Command:
    name: str  # find, insert, update, ...
    collection: str
    # a query's filter and sort fields (None for other commands; an aggregate names "$pipeline")
    fields: tuple[str, ...] | None = None

    def __str__(self) -> str:
        if self.fields is None:
            return f"{self.name} {self.collection}"
        return f"{self.name} {self.collection} by {','.join(self.fields) or 'nothing'}"

    @property
    def by_id(self) -> bool:
        """A query that only filters and sorts on `_id` (an index lookup on any server)."""
        return self.fields is not None and set(self.fields) <= {"_id"}

    @property
    def point_lookup(self) -> bool:
        """By `_id`, or the chain document of a running learnuplet by its uuid (`running`: at
        most one match, an index on MongoDB, the small chain collection on a scanning server;
        it replaces the two lookups by `_id` of the learnuplet and its chain)."""
        return self.by_id or (self.collection == "chain" and self.fields == ("running",))


def _fields(event: monitoring.CommandStartedEvent) -> tuple[str, ...] | None:
    command = event.command
    if event.command_name not in QUERIES:
        return None
    if event.command_name == "aggregate":
        return ("$pipeline",)
    query = command.get("filter") or command.get("query") or {}
    return tuple(sorted({*query, *(command.get("sort") or {})}))


def _collection(event: monitoring.CommandStartedEvent) -> str:
    target = event.command.get(event.command_name)
    if isinstance(target, str):
        return target
    return str(event.command.get("collection", "?"))  # getMore names it apart


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._database: str | None = None
        self._seen: list[Command] = []
        self._delay: tuple[frozenset[str], float] | None = None

    @contextmanager
    def recording(self, database: str) -> Iterator[list[Command]]:
        """Record the commands started on `database` within the block, into the list yielded."""
        seen: list[Command] = []
        with self._lock:
            self._database, self._seen = database, seen
        try:
            yield seen
        finally:
            with self._lock:
                self._database, self._seen, self._delay = None, [], None

    def delay_first_read(self, seconds: float) -> None:
        """Within the recording window, hold the first read command (before any write) back
        for `seconds` before it is sent: a request whose work before its commit is slow."""
        with self._lock:
            self._delay = (frozenset({"find", "aggregate", "count"}), seconds)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in NOT_COUNTED:
            return
        pause = 0.0
        with self._lock:
            if self._database is None or event.database_name != self._database:
                return
            self._seen.append(Command(event.command_name, _collection(event), _fields(event)))
            if self._delay is not None:
                names, seconds = self._delay
                if event.command_name in WRITES:
                    self._delay = None  # only reads before the first write are held back
                elif event.command_name in names:
                    pause, self._delay = seconds, None
        if pause:
            time.sleep(pause)  # listeners run in the sending thread, before the command is sent

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_LOG: CommandLog | None = None
_LOG_LOCK = threading.Lock()


def command_log() -> CommandLog:
    """The process's one CommandLog, registered on first use."""
    global _LOG
    with _LOG_LOCK:
        if _LOG is None:
            _LOG = CommandLog()
            monitoring.register(_LOG)
        return _LOG


def listing(commands: list[Command]) -> str:
    """`find ledger; insert events; ...` in the order sent, then the commands sent more than once."""
    repeated = ", ".join(f"{count}× {command}" for command, count in Counter(commands).most_common()
                         if count > 1)
    return f"{'; '.join(map(str, commands)) or 'none'}" + (f" (repeated: {repeated})" if repeated else "")
