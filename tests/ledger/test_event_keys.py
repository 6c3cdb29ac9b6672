"""Every event kind's declared keys cover what its decision read and what applying it wrote.

A scenario drives every kind of event through the API (and the delivery ledger) on a store
that records each read; each committed event is then checked: every fact read while deciding
and applying it must be covered by a declared read key, every document written by a declared
write key. The mutation test proves the check bites: deleting any single key from any
declaration must be caught.
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import new_uuid
from helpers import claim, done_body

from app import stop_background
from app.decisions.tasks import expire_leases
from app.delivery.dispatcher import Dispatcher, delivery_ledger
from app.delivery.outbox import DELIVERY_KINDS
from app.ledger import keys
from app.ledger.events import REGISTRY_KINDS, STREAM_KINDS

ALL_KINDS = {**REGISTRY_KINDS, **STREAM_KINDS, **DELIVERY_KINDS}


def document_keys(collection: str, uuid: str, document: dict[str, Any] | None,
                  inserted: bool) -> set[str]:
    """The keys that cover reading or writing one document."""
    if collection == "problem":
        return {keys.problem(uuid)}
    if collection in ("algo", "chain"):
        own = keys.algo(uuid) if collection == "algo" else keys.chain(uuid)
        if inserted:
            return {own, keys.algos_of(document["problem"])}
        # a chain document also keeps its running learnuplet's state (ledger/running.py)
        running = (document or {}).get("running") if collection == "chain" else None
        return {own, keys.task(running)} if running else {own}
    if collection == "data":
        problems = document["problems"] if inserted else []
        return {keys.DATA, *map(keys.data_of, problems)}
    if collection == "learnuplet" and inserted:
        return {keys.chain(document["algo"])}  # a chain gains it
    if collection in ("learnuplet", "preduplet"):
        return {keys.task(uuid)}
    if collection == "outbox":
        return {keys.entry(uuid)}
    raise AssertionError(f"no key covers collection {collection}")


class RecordingStore:
    """The app's store, recording the keys of every document read into the innermost commit
    under way (a registry event's application commits its chains' events)."""

    def __init__(self, store: Any):
        self._store = store
        self.frames: list[set[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _read(self, found: set[str]) -> None:
        if self.frames:
            self.frames[-1].update(found)

    def get(self, collection, uuid):
        found = self._store.get(collection, uuid)
        self._read(document_keys(collection, uuid, found, inserted=False))
        return found

    def get_many(self, collection, uuids):
        found = {document["uuid"]: document for document in self._store.get_many(collection, uuids)}
        for uuid in uuids:
            self._read(document_keys(collection, uuid, found.get(uuid), inserted=False))
        return list(found.values())

    def chain_running(self, learnuplet):
        found = self._store.chain_running(learnuplet)
        self._read({keys.task(learnuplet)})
        if found is not None:
            self._read(document_keys("chain", found["uuid"], found, inserted=False))
        return found

    def chains_of(self, problems):
        found = self._store.chains_of(problems)
        self._read({keys.algos_of(problem) for problem in problems})
        self._read({keys.chain(chain["uuid"]) for chain in found})
        return found

    def data_before(self, problem, seq):
        self._read({keys.data_of(problem)})
        return self._store.data_before(problem, seq)


def written_keys(event: dict[str, Any], writes: Any) -> set[str]:
    found = set()
    for collection, documents in writes.inserts.items():
        for document in documents:
            if collection == "outbox":  # written with its task, covered like the task's write
                continue
            found |= document_keys(collection, document["uuid"], document, inserted=True)
    for collection, uuid, _ in writes.updates:
        found |= document_keys(collection, uuid, None, inserted=False)
    return found


class Recorder:
    """Wraps ledgers' commits to record, per committed event, the keys read and written. Events
    committed together (commit_all) are recorded as one group, with what the group read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: Any):
        self.monkeypatch = monkeypatch
        self.store = RecordingStore(store)
        self.records: list[tuple[list[dict[str, Any]], set[str], set[str]]] = []

    def watch(self, ledger: Any) -> None:
        self.monkeypatch.setattr(ledger, "store", self.store)
        for name in ("commit", "commit_all"):
            if hasattr(ledger, name):
                self.monkeypatch.setattr(ledger, name, self._recorded(getattr(ledger, name)))

    def _recorded(self, original):
        def commit(decide, *args, **options):
            self.store.frames.append(set())
            try:
                committed = original(decide, *args, **options)
            finally:
                read = self.store.frames.pop()
            done = committed if isinstance(committed, list) else [committed] if committed else []
            if done:
                written = set().union(*(written_keys(event, writes) for event, writes in done))
                self.records.append(([event for event, _ in done], read, written))
            return committed

        return commit


class OffsetClock:
    def __init__(self, clock):
        self.clock, self.offset = clock, 0.0

    def now(self):
        return self.clock.now() + self.offset

    def __getattr__(self, name):
        return getattr(self.clock, name)


def run_every_kind(make_app, client_for, compute, monkeypatch) -> list[tuple[list, set, set]]:
    app = make_app(MAX_ATTEMPTS=1, COMPUTE_URL=compute.url, LEASE_SECONDS=60)
    ledgers = app.extensions["orchestrator.ledger"]
    stop_background(app)  # the dispatcher below is driven by hand
    recorder = Recorder(monkeypatch, ledgers.store)
    recorder.watch(ledgers.registry)
    recorder.watch(ledgers.streams)
    client = client_for(app)

    problem = client.problem(size=1)["uuid"]
    client.data(problem, count=1)
    algo = client.algo(problem)["new_algo"]["uuid"]  # chain planned over existing data
    client.data(problem, count=3)  # extends a running chain
    tasks = client.learnuplets(algo=algo)
    worker = new_uuid()
    assert claim(client, tasks[0]["uuid"], worker=worker).status_code == 200
    assert client.post(f"/worker/learnuplet/{tasks[0]['uuid']}/heartbeat",
                       {"worker": worker}).status_code == 200
    assert client.post(f"/learndone/{tasks[0]['uuid']}", done_body(tasks[0], 0.5)).status_code == 200
    assert claim(client, tasks[1]["uuid"]).status_code == 200
    assert client.post(f"/learndone/{tasks[1]['uuid']}", {"status": "failed"}).status_code == 200
    prediction = client.post("/prediction", {"data": new_uuid(), "problem": problem})
    assert prediction.status_code == 201
    assert claim(client, tasks[2]["uuid"]).status_code == 200
    clock = OffsetClock(ledgers.streams.clock)
    monkeypatch.setattr(ledgers.streams, "clock", clock)
    clock.offset = 120  # the lease lapses; MAX_ATTEMPTS=1: the task fails, the chain moves on
    assert expire_leases(ledgers, max_attempts=1) == 1

    dispatcher = Dispatcher(delivery_ledger(ledgers.registry), app.config)
    recorder.watch(dispatcher.ledger)
    entry = next(entry for entry in dispatcher.store.due_deliveries(["pending"], clock.now(), 10))
    started = dispatcher.start_attempt(entry)
    dispatcher.finish(started, None)
    return recorder.records


def uncovered(records, kinds=ALL_KINDS) -> list[str]:
    problems = []
    for events, read, written in records:
        names = "+".join(sorted({event["kind"] for event in events}))
        declared_reads = set().union(*(kinds[event["kind"]].reads(event) for event in events))
        declared_writes = set().union(*(kinds[event["kind"]].writes(event) for event in events))
        if read - declared_reads:
            problems.append(f"{names} read {sorted(read - declared_reads)} undeclared")
        if written - declared_writes:
            problems.append(f"{names} wrote {sorted(written - declared_writes)} undeclared")
    return problems


@pytest.fixture
def records(make_app, compute, monkeypatch):
    from conftest import ApiClient
    return run_every_kind(make_app, lambda app: ApiClient(app.test_client()), compute, monkeypatch)


def test_the_scenario_commits_every_kind(records):
    assert {event["kind"] for events, _, _ in records for event in events} == set(ALL_KINDS)


def test_declared_keys_cover_every_read_and_write(records):
    assert uncovered(records) == []


def _without(function, position):
    def mutated(event):
        found = list(function(event))
        return found[:position] + found[position + 1:]
    return mutated


def test_deleting_any_declared_key_is_caught(records):
    from dataclasses import replace

    missed = []
    for name, kind in ALL_KINDS.items():
        events = [event for group, _, _ in records for event in group if event["kind"] == name]
        for side in ("reads", "writes"):
            positions = {position for event in events
                         for position in range(len(getattr(kind, side)(event)))}
            for position in sorted(positions):
                mutated = {**ALL_KINDS, name: replace(kind, **{side: _without(getattr(kind, side),
                                                                            position)})}
                if not uncovered(records, mutated):
                    missed.append(f"{name}.{side}[{position}]")
    assert missed == [], "declared keys no access needs: " + ", ".join(missed)
