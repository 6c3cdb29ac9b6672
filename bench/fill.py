"""Pre-fill a database fast, with exactly the events and documents the Orchestrator writes.

Nothing goes through HTTP, but every event is made as the app makes it: registry events
(data, algos) numbered 1..N with the keys their kinds declare, stream events (problems, each
algo's chain) built by the app's own `StreamLedger.prepare` (number, `seq`, keys, seal), and
the documents they write derived by the kinds' own expanders (app/ledger/events.py, so
`new_chain`, `extend_chain`, `advance_chain`). They are applied in memory as `MongoStore.write`
applies them (a document is inserted once; an update is guarded by, and stamps, the document's
`version`), then bulk-inserted, with the registry head and the stream sweep's checkpoint. So a
server started on this database sees every event applied and keeps working (claims, reports,
new data extend the chains). `python -m bench.check_fill` checks it, and that sending the
same history through the API writes the same database.

History, one second between events: every problem, then every problem's data in one batch
(test data first), then every algo (the registry event, then its chain planned on its stream
over all the problem's train data), then for each chain its first `done_per_algo` learnuplets
claimed and reported done, so the next one is todo and the rest wait.
"""
from __future__ import annotations

import gc
import math
import random
import time
import uuid as uuidlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from pymongo.database import Database

from app.config import DEFAULTS
from app.decisions.chains import chain_stream
from app.decisions.registration import problem_stream
from app.delivery.outbox import schedule_deliveries
from app.domain.planning import learnuplet_uuid
from app.domain.states import DONE
from app.ledger import Reading, StreamLedger, running, seq_of
from app.ledger.audit import AUDIT, GENESIS
from app.ledger.audit import HEAD as AUDIT_HEAD
from app.ledger.audit import REGISTRY as AUDIT_REGISTRY
from app.ledger.events import LEARNUPLET, REGISTRY_KINDS, STREAM_KINDS
from app.ledger.sealing import CHECKPOINT as SEALED
from app.ledger.sealing import chain_entries, streams_in_order
from app.ledger.streams import CHECKPOINT, EVENTS
from app.storage import HIDDEN_FIELDS, Writes
from app.storage.base import copied_from, filled_in

BY = "bench"  # the user the events name: the benchmark's basic-auth user (run.py)
STAMP = {"deliver": False}  # what every event of a server without COMPUTE_URL carries
LEASE_SECONDS = DEFAULTS["LEASE_SECONDS"]
REGISTRY_EVENTS, HEADS = "events", "ledger"
CHUNK = 5000


@dataclass
class Sizes:
    problems: int = 100
    algos_per_problem: int = 10
    data_per_problem: int = 1000
    learnuplets_per_algo: int = 100
    test_data_per_problem: int = 2
    done_per_algo: int = 10

    @property
    def batch(self) -> int:
        train = self.data_per_problem - self.test_data_per_problem
        return max(1, math.ceil(train / self.learnuplets_per_algo))

    def totals(self) -> dict[str, int]:
        return {"problem": self.problems, "algo": self.problems * self.algos_per_problem,
                "data": self.problems * self.data_per_problem,
                "learnuplet": self.problems * self.algos_per_problem * self.learnuplets_per_algo}

    def events(self) -> int:
        """How many events the history has (registry and streams)."""
        algos = self.problems * self.algos_per_problem
        return 2 * self.problems + 2 * algos + 2 * algos * self.done_per_algo


FULL = Sizes()
SMALL = Sizes(problems=10, algos_per_problem=10, data_per_problem=100, learnuplets_per_algo=10,
              done_per_algo=1)


def for_learnuplets(total: int) -> Sizes:
    """The fill with `total` learnuplets (a multiple of 1,000), every size shaped alike:
    problems of 10 algos, learnuplets of 10 data (2 test data), a tenth of every chain done
    and its next rank todo. Chains have 100 ranks from 10,000 learnuplets on (100,000: the
    issue's 100 problems, 1,000 algos, 100,000 data) and 10 below, so that 1,000 still has
    10 problems and 100 chains for the claim scenario's two pools of 20."""
    length = 100 if total >= 10_000 else 10
    per_problem = 10 * length
    if total % per_problem:
        raise ValueError(f"{total} learnuplets: give a multiple of {per_problem}")
    return Sizes(problems=total // per_problem, algos_per_problem=10, data_per_problem=10 * length,
                 learnuplets_per_algo=length, done_per_algo=length // 10)


@dataclass
class Filled:
    """What the scenarios need to know about the filled database."""

    sizes: dict[str, Any]
    counts: dict[str, int]
    events: int  # registry events (the head)
    stream_events: int
    last_ms: int  # the commit time of the last event: later ones are the servers'
    seconds: float
    problems: list[str] = field(default_factory=list)
    # algo uuid -> problem index, in fill order
    algos: list[dict[str, Any]] = field(default_factory=list)
    learnuplet_sample: list[str] = field(default_factory=list)


class Ticking:
    """A clock one second further each time it is read: every event commits one second after
    the one before (the app reads the clock once per event)."""

    def __init__(self, start: int):
        self.time = start

    def now(self) -> float:
        self.time += 1
        return float(self.time)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Memory:
    """The documents as MongoStore stores them (`_id` first), and the few reads the event kinds'
    expanders make: problems, the data registered before an event, registry events."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.data_of: dict[str, list[tuple[str, str]]] = defaultdict(list)  # problem -> (seq, uuid)
        self.registry: dict[int, dict[str, Any]] = {}

    def get(self, collection: str, uuid: str) -> dict[str, Any] | None:
        document = self.collections[collection].get(uuid)
        if document is None:
            return None
        return {name: value for name, value in document.items() if name not in HIDDEN_FIELDS}

    def data_before(self, problem: str, seq: str) -> list[str]:
        return [uuid for data_seq, uuid in self.data_of[problem] if data_seq < seq]

    def event(self, events: str, number: int) -> dict[str, Any] | None:
        assert events == REGISTRY_EVENTS
        return self.registry.get(number)

    def write(self, writes: Writes, version: int) -> None:
        """As MongoStore.write: new documents unless stored; updates that the document's
        version lets through (once per event and document), stamping the version."""
        for name, documents in writes.inserts.items():
            stored = self.collections[name]
            for document in documents:
                if document["uuid"] not in stored:
                    stored[document["uuid"]] = {"_id": document["uuid"], **document}
                    if name == "data":
                        for problem in document["problems"]:
                            self.data_of[problem].append((document["seq"], document["uuid"]))
        copied = {key: self.collections[key[0]].get(key[1]) or {} for key in copied_from(writes)}
        for name, uuid, fields in writes.updates:
            document = self.collections[name].get(uuid)
            if document is not None and document.get("version", 0) < version:
                document.update(filled_in(fields, copied), version=version)


class History:
    """Commits events as the Orchestrator does, into a Memory: registry events numbered from 1,
    stream events at their stream's next number."""

    def __init__(self, start: int):
        self.memory = Memory()
        self.clock = Ticking(start)
        # The app's own stream commit step, on the memory (it reads only what the kinds read).
        self.streams = StreamLedger(self.memory, STREAM_KINDS, self.clock,  # type: ignore[arg-type]
                                    stamp=STAMP, after_expand=schedule_deliveries)
        self.registry_events: list[dict[str, Any]] = []
        self.stream_events: list[dict[str, Any]] = []
        self.positions: dict[str, int] = {}

    # -- the two commit steps -------------------------------------------------------------------
    def on_registry(self, content: dict[str, Any]) -> dict[str, Any]:
        """As Ledger.commit then Ledger.apply: the event at head + 1, its documents' `seq`."""
        kind = REGISTRY_KINDS[content["kind"]]
        number = len(self.registry_events) + 1
        ms = int(self.clock.now() * 1000)  # as Ledger._insert stamps it
        event = {"_id": number, **STAMP, **content, "reads": kind.reads(content),
                 "writes": kind.writes(content), "at": ms // 1000, "ms": ms,
                 "minute": ms // 60_000}
        writes = kind.expand(self.memory, event)  # type: ignore[arg-type]
        self.memory.write(Writes(
            inserts={name: [{"seq": seq_of(number, index), **document, "version": number}
                            for index, document in enumerate(documents)]
                     for name, documents in writes.inserts.items()},
            updates=writes.updates), number)
        self.registry_events.append(event)
        self.memory.registry[number] = event
        return event

    def on_stream(self, stream: str, content: dict[str, Any]) -> dict[str, Any]:
        """As StreamLedger.commit: the event after the stream's position, then applied."""
        reading = Reading(stream=stream, position=self.positions.get(stream, 0))
        event, writes = self.streams.prepare(reading, content)
        self.memory.write(writes, event["n"])
        self.positions[stream] = event["n"]
        self.stream_events.append(event)
        return event

    # -- the decisions, as app/decisions make them when nothing races -----------------------------
    def register_problem(self, problem: dict[str, Any]) -> None:
        self.on_stream(problem_stream(problem["uuid"]),
                       {"kind": "problem_registered", "by": BY, "problem": problem})

    def register_data(self, uuids: list[str], problems: list[str]) -> None:
        algos = sorted(chain["uuid"] for chain in self.memory.collections["chain"].values()
                       if chain["problem"] in problems)
        assert not algos, "the fill registers data before algos (no chain_extended events)"
        self.on_registry({"kind": "data_registered", "by": BY, "data": uuids,
                          "problems": problems, "algos": algos})

    def register_algo(self, algo: dict[str, Any]) -> None:
        event = self.on_registry({"kind": "algo_registered", "by": BY, "algo": algo})
        # applying it plans the chain on the chain's stream (decisions/chains.py)
        self.on_stream(chain_stream(algo["uuid"]), {
            "kind": "chain_planned", "by": BY, "registry": event["_id"], "algo": algo["uuid"],
            "problem": algo["problem"]})

    def claim(self, task: dict[str, Any], worker: str) -> None:
        self.on_stream(chain_stream(task["algo"]), {
            "kind": "task_claimed", "by": BY, "collection": LEARNUPLET, "uuid": task["uuid"],
            "algo": task["algo"], "worker": worker, "lease_seconds": LEASE_SECONDS})

    def report(self, task: dict[str, Any], outcome: dict[str, Any]) -> None:
        chain = self.memory.get("chain", task["algo"])
        assert chain is not None and chain["active"] == task["rank"], "reports the running task"
        self.on_stream(chain_stream(task["algo"]), {
            "kind": "task_reported", "by": BY, "collection": LEARNUPLET, "uuid": task["uuid"],
            "algo": task["algo"], "outcome": outcome, "chain": running.summary(chain),
            "task": {"rank": task["rank"], "model_end": task["model_end"]}})

    # -- to the database ----------------------------------------------------------------------------
    def save(self, db: Database) -> dict[str, int]:
        """Bulk-insert everything (each list in chunks); returns the documents per collection."""
        counts: dict[str, int] = {}
        for name, documents in self.memory.collections.items():
            counts[name] = _insert(db, name, list(documents.values()))
        _insert(db, REGISTRY_EVENTS, self.registry_events)
        _insert(db, EVENTS, self.stream_events)
        _insert(db, AUDIT, self.sealed())
        # Every event is applied: the stream sweep starts from now (its history ends an hour
        # ago; from there a server would first walk that hour, minute by minute, while the
        # first scenario runs).
        swept = max(int(time.time() * 1000), self.stream_events[-1]["ms"] if self.stream_events else 0)
        db[HEADS].insert_many([{"_id": "head", "version": len(self.registry_events)},
                               {"_id": CHECKPOINT, "ms": swept}, {"_id": SEALED, "ms": swept},
                               {"_id": AUDIT_HEAD, "version": len(self.registry_events)
                                + len(self.stream_events)}])
        return counts

    def sealed(self) -> list[dict[str, Any]]:
        """The audit chain the servers' sealers would have made of these events, all applied
        (ledger/sealing.py: commit-time order, each stream's in its own order)."""
        found = [(AUDIT_REGISTRY, event) for event in self.registry_events]
        found += [(EVENTS, event) for event in self.stream_events]
        found.sort(key=lambda item: (item[1]["ms"], item[0], str(item[1]["_id"])))
        return chain_entries(streams_in_order(found), {"version": 0, "hash": GENESIS})


def _insert(db: Database, name: str, documents: list[dict[str, Any]]) -> int:
    for start in range(0, len(documents), CHUNK):
        db[name].insert_many(documents[start:start + CHUNK], ordered=False)
    return len(documents)


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def history(sizes: Sizes, rng: random.Random, start: int) -> tuple[History, list[dict[str, Any]]]:
    """The history in memory, and the problems in order."""
    made = History(start)
    problems: list[dict[str, Any]] = []
    for _ in range(sizes.problems):
        # the fields of a POST /problem body, in their declared order (as model_dump gives them)
        problem = {"uuid": _uuid(rng), "workflow": _uuid(rng),
                   "test_dataset": [_uuid(rng) for _ in range(sizes.test_data_per_problem)],
                   "size_train_dataset": sizes.batch}
        made.register_problem(problem)
        problems.append(problem)
    for problem in problems:
        train = sizes.data_per_problem - sizes.test_data_per_problem
        made.register_data(problem["test_dataset"] + [_uuid(rng) for _ in range(train)],
                           [problem["uuid"]])
    for index, problem in enumerate(problems):
        for number in range(sizes.algos_per_problem):
            made.register_algo({"uuid": _uuid(rng), "problem": problem["uuid"],
                                "name": f"algo-{index}-{number}"})
    learnuplets = made.memory.collections[LEARNUPLET]
    for chain in list(made.memory.collections["chain"].values()):
        for rank in range(min(sizes.done_per_algo, chain["length"])):
            task = learnuplets[learnuplet_uuid(chain["uuid"], rank)]
            worker = _uuid(rng)
            made.claim(task, worker)
            # a LearnDone body's outcome (its worker is the claimer: not stored again)
            made.report(task, {
                "status": DONE, "perf": round(rng.random(), 6),
                "train_perf": {d: round(rng.random(), 6) for d in task["train_data"]},
                "test_perf": {d: round(rng.random(), 6) for d in task["test_data"]}})
    return made, problems


def fill(db: Database, sizes: Sizes, random_seed: int = 5) -> Filled:
    """Fill an EMPTY database `db`; returns what the scenarios need. Indexes are left to the app."""
    started = time.monotonic()
    # The history ends an hour ago, whatever its length (one second per event).
    start = int(time.time()) - sizes.events() - 3600
    gc.disable()  # many small dicts, no cycles: the collector's passes would only slow this
    try:
        made, problems = history(sizes, random.Random(random_seed), start)
        counts = made.save(db)
    finally:
        gc.enable()
    every = list(made.memory.collections[LEARNUPLET])
    sample = random.Random(random_seed + 1).sample(every, min(1000, len(every)))
    index_of = {problem["uuid"]: index for index, problem in enumerate(problems)}
    algos = [{"uuid": algo["uuid"], "problem_index": index_of[algo["problem"]]}
             for algo in made.memory.collections["algo"].values()]
    return Filled(sizes=asdict(sizes) | {"batch": sizes.batch}, counts=counts,
                  events=len(made.registry_events), stream_events=len(made.stream_events),
                  last_ms=made.stream_events[-1]["ms"] if made.stream_events else 0,
                  seconds=round(time.monotonic() - started, 2),
                  problems=[problem["uuid"] for problem in problems], algos=algos,
                  learnuplet_sample=sample)
