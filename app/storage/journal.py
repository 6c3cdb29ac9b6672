"""The embedded store's files: a lock, a snapshot and a journal of JSON lines in one directory.

Layout of the directory (see embedded.py for what the records mean):

    lock              flock-ed while a process has the directory open; holds that process's pid
    snapshot.json     the whole state when generation G began, written atomically (absent until
                      the first compaction); line 1 `{"format": 1, "generation": G}`, then
                      `[collection, [document, ...]]` lines, last `{"documents": N}`
    journal.G.jsonl   one JSON record per mutating call since (generation 1 without a snapshot);
                      each is written, flushed and fsync-ed before the call returns
    snapshot.json.tmp a snapshot being written (left over only by a crash; removed at open)

A crash can tear only the journal's last line (it is the only file appended to): open drops
and truncates it. A bad line anywhere else is corruption and stops the open, so data is never
silently lost. Compacting to generation G+1 first replaces the snapshot, then creates the new
journal and deletes the old one: whatever point a crash stops it at, open finds the snapshot
of some generation and that generation's journal (an older journal left behind is deleted).
"""
from __future__ import annotations

import fcntl
import json
import os
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

FORMAT = 1
LOCK, SNAPSHOT = "lock", "snapshot.json"
CHUNK = 1000  # documents per snapshot line: bounded memory when writing, few lines to read
_OPEN: weakref.WeakSet[Journal] = weakref.WeakSet()
_FORK_HOOK: list[bool] = []


def encode(record: Any) -> bytes:
    """One record as one line (JSON escapes newlines inside strings)."""
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class StoreUnusable(RuntimeError):
    """The data directory cannot be used: another server holds it, or its files are damaged."""


class Journal:
    """The files of one directory, locked for this process until `close`."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self._lock_fd = _take_lock(self.directory)
        self._journal_fd = -1
        self.size = 0
        self.broken = ""  # why appending must stop, after a failure it could not undo
        _watch_forks(self)
        try:
            self.generation = self._read_generation()
        except BaseException:
            self.close()
            raise

    # -- reading, at open --------------------------------------------------------------------
    def snapshot(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """The snapshot's documents as (collection, documents) chunks; nothing without one."""
        path = self._path(SNAPSHOT)
        if not os.path.exists(path):
            return
        with open(path, "rb") as file:
            lines = file.read().split(b"\n")
        total, footer = 0, lines[-2] if len(lines) >= 3 else b"{}"
        try:
            for line in lines[1:-2]:
                name, documents = json.loads(line)
                total += len(documents)
                yield name, documents
            complete = not lines[-1] and json.loads(footer) == {"documents": total}
        except ValueError:
            complete = False
        if not complete:
            raise StoreUnusable(f"{path} is incomplete or corrupt; restore it from a backup")

    def records(self) -> Iterator[Any]:
        """The journal's records in order; a torn last line is truncated away, then appending
        starts."""
        path = self._path(self._journal_name())
        with open(path, "a+b") as file:
            file.seek(0)
            data = file.read()
        end, lines = 0, data.split(b"\n")
        last = len(lines) - 1 if lines[-1] == b"" else 0  # a complete last line may be torn too
        for number, line in enumerate(lines[:-1], start=1):
            try:
                record = json.loads(line)
            except ValueError:
                if number != last:
                    raise StoreUnusable(f"{path}: line {number} is corrupt; restore the directory "
                                       "from a backup") from None
                break  # e.g. zeros a crash left where the last append was going
            end += len(line) + 1
            yield record
        self._start_appending(path, end, truncate=end != len(data))

    # -- writing -----------------------------------------------------------------------------
    def append(self, line: bytes) -> None:
        """Write one record durably: the call that made it may return once this does."""
        if self.broken:
            raise RuntimeError(f"{self.directory}: {self.broken}; restart the server")
        try:
            _write_all(self._journal_fd, line)
            os.fsync(self._journal_fd)
        except BaseException:
            self._undo_append()
            raise
        self.size += len(line)

    def _undo_append(self) -> None:
        """Never leave a torn line mid-journal: the next record would follow it."""
        try:
            os.ftruncate(self._journal_fd, self.size)
        except OSError:
            self.broken = "a failed write could not be undone"

    def compact(self, chunks: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        """Write the whole state as the next generation's snapshot and start an empty journal.

        A failure before the snapshot is replaced leaves everything as it was; after, the old
        journal must not take more records (open would delete it): appending then refuses.
        """
        temporary = self._path(SNAPSHOT + ".tmp")
        try:
            self._write_snapshot(temporary, self.generation + 1, chunks)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        try:
            os.replace(temporary, self._path(SNAPSHOT))
            self._sync_directory()
            old = self._path(self._journal_name())
            os.close(self._journal_fd)
            self._journal_fd, self.generation = -1, self.generation + 1
            self._start_appending(self._path(self._journal_name()), 0, truncate=True)
            os.remove(old)
        except BaseException:
            self.broken = "a compaction failed half-way"
            raise

    def _write_snapshot(self, path: str, generation: int,
                        chunks: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        with open(path, "wb") as file:
            file.write(encode({"format": FORMAT, "generation": generation}))
            total = 0
            for name, documents in chunks:
                file.write(encode([name, documents]))
                total += len(documents)
            file.write(encode({"documents": total}))
            file.flush()
            os.fsync(file.fileno())

    def close(self) -> None:
        """Close the files and release the lock (idempotent)."""
        if self._journal_fd >= 0:
            os.close(self._journal_fd)
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
        self._journal_fd = self._lock_fd = -1
        _OPEN.discard(self)

    def abandon(self) -> None:
        """In a forked child: close the inherited descriptors WITHOUT unlocking, so the parent
        keeps the directory and the child keeps no hold on it."""
        for fd in (self._journal_fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._journal_fd = self._lock_fd = -1

    # -- helpers -----------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _journal_name(self) -> str:
        return f"journal.{self.generation}.jsonl"

    def _read_generation(self) -> int:
        """The snapshot's generation (1 without one); removes files a crash left behind."""
        path = self._path(SNAPSHOT)
        generation = 1
        if os.path.exists(path):
            with open(path, "rb") as file:
                header = json.loads(file.readline())
            if header.get("format") != FORMAT:
                raise StoreUnusable(f"{path}: unknown format {header.get('format')!r}")
            generation = header["generation"]
        for name in os.listdir(self.directory):
            if name == SNAPSHOT + ".tmp" or _is_older_journal(name, generation):
                os.remove(self._path(name))
        return generation

    def _start_appending(self, path: str, size: int, truncate: bool) -> None:
        self._journal_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                                   0o644)
        if truncate:
            os.ftruncate(self._journal_fd, size)
            os.fsync(self._journal_fd)
        self.size = size
        self._sync_directory()  # the journal's name is durable too

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _take_lock(directory: str) -> int:
    """Lock the directory for this process, or say which process holds it."""
    fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreUnusable(
            f"{directory} is used by another Orchestrator server (pid {holder}); the embedded "
            "store serves one process: stop that server, or set MONGO_URI to share a MongoDB "
            "database between servers") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _is_older_journal(name: str, generation: int) -> bool:
    prefix, _, rest = name.partition(".")
    number = rest.removesuffix(".jsonl")
    return prefix == "journal" and rest.endswith(".jsonl") and number.isdigit() \
        and int(number) < generation


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _watch_forks(journal: Journal) -> None:
    """Have forked children drop the descriptors they inherit (registered once, when used)."""
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_abandon_all)
        _FORK_HOOK.append(True)
    _OPEN.add(journal)


def _abandon_all() -> None:
    for journal in list(_OPEN):
        journal.abandon()
    _OPEN.clear()
