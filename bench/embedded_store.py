"""How fast the embedded store is where it matters: `python -m bench.embedded_store` (~30 s).

- one `write` inserting 1,000 / 5,000 / 10,000 learnuplet-like documents (an algo registered
  on a problem with much data plans that many): the time must grow linearly;
- what fsync-ing every mutating call costs, against the same calls in memory;
- opening a directory whose journal holds 20,000 events with their writes (what a restart
  replays), then the same state from a snapshot after compaction;
- the reads that scan a collection (a filtered page, the stale-lease sweep) on that state.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from app.storage.base import Writes
from app.storage.embedded import EmbeddedStore

EVENTS = 20_000
INSERTS_EVERY = 10  # one event in ten creates documents (data, algos), the rest update one task


def learnuplet(version: int, index: int) -> dict[str, Any]:
    """A document shaped like the ones the ledger writes for a planned learnuplet."""
    return {"uuid": str(uuidlib.uuid4()), "seq": f"{version:012d}.{index:06d}",
            "problem": str(uuidlib.uuid4()), "workflow": str(uuidlib.uuid4()),
            "algo": str(uuidlib.uuid4()), "model_start": str(uuidlib.uuid4()),
            "model_end": str(uuidlib.uuid4()), "train_data": [str(uuidlib.uuid4()) for _ in range(5)],
            "test_data": [str(uuidlib.uuid4()) for _ in range(2)], "worker": None,
            "status": "waiting", "rank": index, "perf": None, "train_perf": None,
            "test_perf": None, "timestamp_creation": 1_700_000_000, "timestamp_done": None,
            "attempts": 0, "lease_expires": None, "lapsed_workers": [], "version": version}


def best_of(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def time_write(size: int, path: str | None) -> float:
    documents = [learnuplet(1, index) for index in range(size)]
    if path:
        shutil.rmtree(path, ignore_errors=True)
    store = EmbeddedStore(path)
    start = time.perf_counter()
    store.write(Writes(inserts={"learnuplet": documents}), 1, "version")
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def bench_writes(directory: str) -> None:
    print("write() of one event inserting N learnuplets (best of 5):")
    for label, path in (("memory", None), ("directory", os.path.join(directory, "writes"))):
        times = {size: best_of(5, lambda size=size, path=path: time_write(size, path))
                 for size in (1_000, 5_000, 10_000)}
        cells = "  ".join(f"{size:>6,}: {seconds * 1000:7.1f} ms" for size, seconds in times.items())
        print(f"  {label:<9} {cells}   10,000 / 1,000 = {times[10_000] / times[1_000]:.1f}x")


def time_calls(path: str | None, calls: int) -> float:
    store = EmbeddedStore(path)
    start = time.perf_counter()
    for number in range(1, calls + 1):
        store.insert_event("events", {"_id": number, "kind": "task_claimed", "writes": ["t"]})
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed / calls


def bench_fsync(directory: str, calls: int = 2_000) -> None:
    on_disk = time_calls(os.path.join(directory, "fsync"), calls)
    in_memory = time_calls(None, calls)
    print(f"one mutating call (insert_event), {calls:,} calls: directory {on_disk * 1e6:.0f} us, "
          f"memory {in_memory * 1e6:.0f} us: fsync and the append cost "
          f"{(on_disk - in_memory) * 1e6:.0f} us a call")


def fill(path: str, events: int) -> None:
    """The calls the ledger makes for `events` events: mostly claims and reports (one update
    each), one in INSERTS_EVERY creating ten documents."""
    store = EmbeddedStore(path)
    store.create_head("head")
    tasks: list[str] = []
    for number in range(1, events + 1):
        store.insert_event("events", {"_id": number, "kind": "task_reported", "at": number,
                                      "writes": [f"task:{number}"], "uuid": str(uuidlib.uuid4())})
        if number % INSERTS_EVERY == 1:
            created = [learnuplet(number, index) for index in range(10)]
            tasks += [document["uuid"] for document in created]
            writes = Writes(inserts={"learnuplet": created})
        else:
            writes = Writes(updates=[("learnuplet", tasks[number % len(tasks)],
                                      {"status": "pending", "worker": "w", "lease_expires": number})])
        store.write(writes, number, "version")
        store.move_head("head", number)
    store.close()


def time_open(path: str, **options: Any) -> float:
    start = time.perf_counter()
    EmbeddedStore(path, **options).close()
    return time.perf_counter() - start


def bench_reopen(directory: str) -> None:
    path = os.path.join(directory, "reopen")
    start = time.perf_counter()
    fill(path, EVENTS)
    built = time.perf_counter() - start
    size = os.path.getsize(os.path.join(path, "journal.1.jsonl"))
    print(f"{EVENTS:,} events with their writes: {3 * EVENTS + 1:,} calls in {built:.1f} s "
          f"({built / (3 * EVENTS + 1) * 1e6:.0f} us a call), journal {size / 2**20:.1f} MiB")
    print(f"  open, replaying the journal: {best_of(2, lambda: time_open(path)):.2f} s")
    compaction = time_open(path, compact_bytes=0)
    print(f"  open and compact:            {compaction:.2f} s")
    print(f"  open from the snapshot:      {best_of(2, lambda: time_open(path)):.2f} s")
    bench_scans(path)


def bench_scans(path: str) -> None:
    store = EmbeddedStore(path)
    count = store.count("learnuplet")
    for label, query in (
            ("page(status=pending, 100)", lambda: store.page("learnuplet", {"status": "pending"},
                                                            None, 100)),
            ("page(worker=none, 100) [no match]", lambda: store.page("learnuplet", {"worker": "none"},
                                                                    None, 100)),
            ("stale_leases(100) [100 found]", lambda: store.stale_leases("learnuplet", EVENTS, 100)),
            ("stale_leases(100) [none]", lambda: store.stale_leases("learnuplet", 0, 100))):
        seconds = best_of(3, lambda query=query: _timed(query))
        print(f"  {label:<34} on {count:,} learnuplets: {seconds * 1000:.1f} ms")
    store.close()


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    directory = tempfile.mkdtemp(prefix="embedded-store-bench-")
    try:
        bench_writes(directory)
        bench_fsync(directory)
        bench_reopen(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
