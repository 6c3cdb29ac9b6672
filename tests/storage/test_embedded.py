"""What only the embedded store has: its files (durability, replay, compaction, torn lines),
its lock on the directory, and its refusal to serve another process than its own.

The contract it shares with MongoStore is in test_contract.py. Self-contained: uses no
fixture of tests/conftest.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from app.storage.base import Duplicate, Writes
from app.storage.embedded import EmbeddedStore

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ("events", "ledger", "learnuplet", "chain")


def fill(store: EmbeddedStore, events: int, first: int = 1) -> None:
    """What the ledger does for `events` events: insert, write (inserts and an update), move."""
    store.create_head("head")
    for number in range(first, first + events):
        store.insert_event("events", {"_id": number, "kind": "k", "writes": [f"task:{number}"]})
        store.write(Writes(inserts={"learnuplet": [{"uuid": f"t{number}", "seq": f"{number:012d}",
                                                    "status": "todo", "version": number}]},
                           updates=[("chain", "c", {"last": number})]), number, "version")
        store.move_head("head", number)


def state(store: EmbeddedStore) -> dict[str, Any]:
    return {name: store.dump(name) for name in COLLECTIONS} | {
        "page": store.page("learnuplet", {"status": "todo"}, None, 0),
        "events_after": store.events_after("events", 0, 0)}


def reopened_state(directory: Path) -> dict[str, Any]:
    store = EmbeddedStore(str(directory))
    try:
        return state(store)
    finally:
        store.close()


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def journals(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("journal.*.jsonl"))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "orchestrator-data"


# --- persistence -------------------------------------------------------------------------------

def test_reopening_restores_every_change(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    store.write(Writes(inserts={"chain": [{"uuid": "c", "problem": "p"}]}), 0, "version")
    fill(store, 50)
    before = state(store)
    store.close()
    again = EmbeddedStore(str(directory))
    assert state(again) == before
    assert again.head("head") == 50 and again.get("chain", "c") == {"uuid": "c", "problem": "p",
                                                                    "last": 50, "version": 50}
    again.close()


def test_compaction_writes_a_snapshot_and_starts_a_new_journal(directory: Path) -> None:
    store = EmbeddedStore(str(directory), compact_bytes=10_000)
    store.write(Writes(inserts={"chain": [{"uuid": "c"}]}), 0, "version")
    fill(store, 200)
    assert (directory / "snapshot.json").exists()
    assert len(journals(directory)) == 1 and journals(directory) != ["journal.1.jsonl"]
    assert os.path.getsize(directory / journals(directory)[0]) <= 10_000
    fill(store, 10, first=201)  # after a compaction, into the new journal
    before = state(store)
    store.close()
    again = EmbeddedStore(str(directory), compact_bytes=10_000)
    assert state(again) == before
    again.close()


def test_a_large_journal_is_compacted_at_open(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    store.write(Writes(inserts={"chain": [{"uuid": "c"}]}), 0, "version")
    fill(store, 100)
    before = state(store)
    store.close()
    assert journals(directory) == ["journal.1.jsonl"]
    again = EmbeddedStore(str(directory), compact_bytes=1000)
    assert journals(directory) == ["journal.2.jsonl"] and (directory / "snapshot.json").exists()
    assert state(again) == before
    again.close()
    assert reopened_state(directory) == before


def test_files_a_crashed_compaction_left_are_removed(directory: Path) -> None:
    """A crash after the snapshot was replaced leaves the old journal (already in the snapshot)
    and maybe a temporary snapshot: open ignores and deletes both."""
    store = EmbeddedStore(str(directory), compact_bytes=0)
    fill(store, 5)
    before = state(store)
    store.close()
    [current] = journals(directory)
    generation = int(current.split(".")[1])
    assert generation == 17  # 16 calls, each compacting
    (directory / f"journal.{generation - 1}.jsonl").write_bytes(b'{"i":{"events":[{"_id":99}]}}\n')
    (directory / "snapshot.json.tmp").write_bytes(b"partial")
    assert reopened_state(directory) == before
    assert sorted(p.name for p in directory.iterdir()) == [current, "lock", "snapshot.json"]


@pytest.mark.parametrize("torn", [b'{"i":{"learnuplet":[{"_id":"t9', b"\0\0\0\0\n"])
def test_a_torn_last_line_is_dropped_and_truncated(directory: Path, torn: bytes) -> None:
    store = EmbeddedStore(str(directory))
    store.write(Writes(inserts={"chain": [{"uuid": "c"}]}), 0, "version")
    fill(store, 5)
    before = state(store)
    store.close()
    journal = directory / "journal.1.jsonl"
    size = journal.stat().st_size
    with open(journal, "ab") as file:
        file.write(torn)
    again = EmbeddedStore(str(directory))
    assert state(again) == before and journal.stat().st_size == size
    fill(again, 1, first=6)  # appends after the good lines
    after = state(again)
    again.close()
    assert reopened_state(directory) == after


def test_a_corrupt_line_before_the_last_stops_the_open(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    fill(store, 3)
    store.close()
    journal = directory / "journal.1.jsonl"
    lines = journal.read_bytes().split(b"\n")
    lines[2] = b"garbage"
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(RuntimeError, match="line 3 is corrupt"):
        EmbeddedStore(str(directory))
    with pytest.raises(RuntimeError, match="line 3 is corrupt"):  # not "used by another": unlocked
        EmbeddedStore(str(directory))


def test_a_truncated_snapshot_stops_the_open(directory: Path) -> None:
    store = EmbeddedStore(str(directory), compact_bytes=1000)
    fill(store, 30)
    store.close()
    snapshot = directory / "snapshot.json"
    snapshot.write_bytes(snapshot.read_bytes()[:-20])
    with pytest.raises(RuntimeError, match="incomplete or corrupt"):
        EmbeddedStore(str(directory))


def test_a_failed_append_changes_nothing(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = EmbeddedStore(str(directory))
    fill(store, 2)
    journal = directory / "journal.1.jsonl"
    size = journal.stat().st_size

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError):
        store.insert_event("events", {"_id": 3})
    monkeypatch.undo()
    assert store.event("events", 3) is None and journal.stat().st_size == size
    store.insert_event("events", {"_id": 3})
    store.close()
    assert reopened_state(directory)["events"][-1] == {"_id": 3}


def test_changes_are_durable_without_close(directory: Path) -> None:
    """A process killed right after its calls returned loses none of them."""
    result = run_python(f"""
        import os, signal
        from app.storage.base import Writes
        from app.storage.embedded import EmbeddedStore
        store = EmbeddedStore({str(directory)!r})
        store.create_head("head")
        store.insert_event("events", {{"_id": 1, "kind": "k"}})
        store.write(Writes(inserts={{"data": [{{"uuid": "d", "seq": "1"}}]}}), 1, "version")
        store.move_head("head", 1)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert result.returncode == -9, result.stderr
    store = EmbeddedStore(str(directory))
    assert store.event("events", 1) == {"_id": 1, "kind": "k"}
    assert store.get("data", "d") == {"uuid": "d"} and store.head("head") == 1
    store.close()


# --- one process -------------------------------------------------------------------------------

def test_a_second_open_of_the_directory_is_refused(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    with pytest.raises(RuntimeError, match=f"{directory}.*another Orchestrator server.*pid {os.getpid()}"):
        EmbeddedStore(str(directory))
    store.close()
    EmbeddedStore(str(directory)).close()  # the lock went with the store


def test_another_process_cannot_open_the_directory(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    result = run_python(f"""
        from app.storage.embedded import EmbeddedStore
        EmbeddedStore({str(directory)!r})
    """)
    assert result.returncode == 1
    assert "is used by another Orchestrator server" in result.stderr and "MONGO_URI" in result.stderr
    store.close()


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_forked_child_cannot_use_the_store(directory: Path, on_disk: bool) -> None:
    store = EmbeddedStore(str(directory) if on_disk else None)
    store.create_head("head")
    checked, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if every call is refused
        os._exit(_refused_in_child(store, checked[1], done[0]))
    assert os.read(checked[0], 1) == b"x"  # the child has checked, and lives on
    store.move_head("head", 2)  # the parent goes on, its files open and locked
    assert store.head("head") == 2
    if on_disk:
        with pytest.raises(RuntimeError, match="another Orchestrator server"):
            EmbeddedStore(str(directory))
        store.close()  # the child inherited the lock's descriptor, but dropped it at fork:
        reopened = EmbeddedStore(str(directory))
        assert reopened.head("head") == 2
        reopened.close()
    os.write(done[1], b"x")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _refused_in_child(store: EmbeddedStore, checked: int, done: int) -> int:
    status = 0
    try:
        for call in (lambda: store.head("head"), lambda: store.move_head("head", 5),
                     lambda: store.page("data", {}, None, 1), store.ping):
            try:
                call()
                status = 1
            except RuntimeError as error:
                status = status or (0 if "set MONGO_URI" in str(error) else 2)
        store.close()  # no error, and leaves the parent's files alone
    except BaseException:
        status = 3
    os.write(checked, b"x")
    os.read(done, 1)
    return status


def test_forked_children_do_not_keep_the_directory_locked(directory: Path) -> None:
    """A server that dies leaves the directory free, even while children it forked live on."""
    result = run_python(f"""
        import os, time
        from app.storage.embedded import EmbeddedStore
        store = EmbeddedStore({str(directory)!r})
        child = os.fork()
        if child == 0:
            os.close(1), os.close(2)
            time.sleep(30)
            os._exit(0)
        print(child, flush=True)
        os._exit(0)  # dies without closing the store
    """)
    child = int(result.stdout)
    try:
        EmbeddedStore(str(directory)).close()
    finally:
        os.kill(child, signal.SIGKILL)


def test_threads_commit_each_event_number_once(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    committed: list[tuple[int, int]] = []
    duplicates = [0]

    def race(thread: int) -> None:
        for number in range(1, 101):
            try:
                store.insert_event("events", {"_id": number, "by": thread})
                committed.append((number, thread))
            except Duplicate:
                duplicates[0] += 1

    threads = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(number for number, _ in committed) == list(range(1, 101))
    assert duplicates[0] == 500
    winners = {number: thread for number, thread in committed}
    store.close()
    again = EmbeddedStore(str(directory))
    assert {e["_id"]: e["by"] for e in again.events_after("events", 0, 0)} == winners
    again.close()


# --- life cycle --------------------------------------------------------------------------------

def test_memory_only_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = EmbeddedStore(None)
    fill(store, 3)
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_the_directory_is_created_with_its_parents(tmp_path: Path) -> None:
    store = EmbeddedStore(str(tmp_path / "a" / "b"))
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["journal.1.jsonl", "lock"]
    store.close()


def test_a_closed_store_refuses_calls(directory: Path) -> None:
    store = EmbeddedStore(str(directory))
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get("data", "d")
    with pytest.raises(RuntimeError, match="closed"):
        store.create_head("head")


def test_operators_and_dotted_fields_are_refused() -> None:
    store = EmbeddedStore(None)
    with pytest.raises(ValueError):
        store.page("data", {"seq": {"$gt": "1"}}, None, 1)
    with pytest.raises(ValueError):
        store.page("data", {"a.b": 1}, None, 1)
    store.write(Writes(inserts={"data": [{"uuid": "d"}]}), 1, "version")
    with pytest.raises(ValueError):
        store.write(Writes(updates=[("data", "d", {"a.b": 1})]), 2, "version")
