"""Pre-fill a database fast, with documents shaped exactly as the Orchestrator writes them.

Nothing goes through HTTP: the ledger's events are built here (the same kinds and fields
as app/registration.py and app/tasks.py commit), and the documents they create are derived
with the app's own code (app.planning.chain_segment), `_id` and `seq` as app/ledger.py gives them
(`<event number:012d>.<index:06d>`), each document's `version` = the last event that wrote
it, and a ledger head at the last event. So the Orchestrator started on this database sees
a consistent ledger and keeps working (claims, reports, new data extend the chains).

History, in ledger order: every problem, then every problem's data in one batch (test data
first), then every algo (its chain covers all the problem's train data), then for each algo
its first `done_per_algo` learnuplets claimed and reported done, so the next one is todo
and the rest wait.
"""
from __future__ import annotations

import math
import random
import time
import uuid as uuidlib
from dataclasses import asdict, dataclass, field
from typing import Any

from app.planning import better_model, chain_segment
from app.states import DONE, PENDING, TODO
from pymongo.database import Database

BY = "bench"
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


FULL = Sizes()
SMALL = Sizes(problems=10, algos_per_problem=10, data_per_problem=100, learnuplets_per_algo=10,
              done_per_algo=1)


@dataclass
class Filled:
    """What the scenarios need to know about the filled database."""

    sizes: dict[str, Any]
    counts: dict[str, int]
    events: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    # algo uuid -> problem index, in fill order
    algos: list[dict[str, Any]] = field(default_factory=list)
    learnuplet_sample: list[str] = field(default_factory=list)


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def _placed(document: dict[str, Any], version: int, index: int) -> dict[str, Any]:
    """The document as Ledger.apply stores it: `_id` = uuid, `seq` = ledger order, `version`."""
    return {"_id": document["uuid"], "seq": f"{version:012d}.{index:06d}", **document,
            "version": version}


class _Writer:
    """Buffers documents per collection and bulk-inserts them in chunks."""

    def __init__(self, db: Database):
        self.db = db
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, document: dict[str, Any]) -> None:
        buffer = self.buffers.setdefault(name, [])
        buffer.append(document)
        if len(buffer) >= CHUNK:
            self.flush(name)

    def flush(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.buffers):
            buffer = self.buffers.get(key) or []
            if buffer:
                self.db[key].insert_many(buffer, ordered=False)
                self.counts[key] = self.counts.get(key, 0) + len(buffer)
                self.buffers[key] = []


def fill(db: Database, sizes: Sizes, random_seed: int = 5) -> Filled:
    """Fill an EMPTY database `db`; returns what the scenarios need. Indexes are left to the app."""
    started = time.monotonic()
    rng = random.Random(random_seed)
    out = _Writer(db)
    version = 0
    at = int(time.time()) - 86400

    def event(content: dict[str, Any]) -> int:
        nonlocal version, at
        version += 1
        at += 1
        out.add("events", {"_id": version, **content})
        return version

    problems: list[dict[str, Any]] = []
    for _ in range(sizes.problems):
        problem = {"uuid": _uuid(rng), "workflow": _uuid(rng),
                   "test_dataset": [_uuid(rng) for _ in range(sizes.test_data_per_problem)],
                   "size_train_dataset": sizes.batch, "timestamp_upload": at + 1}
        v = event({"kind": "problem_registered", "at": at + 1, "by": BY, "problem": problem})
        out.add("problem", _placed(problem, v, 0))
        problems.append(problem)

    data_of: list[list[str]] = []
    for problem in problems:
        uuids = problem["test_dataset"] + [
            _uuid(rng) for _ in range(sizes.data_per_problem - sizes.test_data_per_problem)]
        v = event({"kind": "data_registered", "at": at + 1, "by": BY, "seed": _uuid(rng),
                   "data": uuids, "problems": [problem["uuid"]], "chains": []})
        for index, uuid in enumerate(uuids):
            out.add("data", _placed({"uuid": uuid, "problems": [problem["uuid"]],
                                     "timestamp_upload": at}, v, index))
        data_of.append(uuids)

    # Algos and their chains: the learnuplets stay in memory until their final state is known.
    chains: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    algos: list[dict[str, Any]] = []
    for index, problem in enumerate(problems):
        for number in range(sizes.algos_per_problem):
            algo = {"uuid": _uuid(rng), "problem": problem["uuid"], "name": f"algo-{index}-{number}",
                    "timestamp_upload": at + 1}
            seed = _uuid(rng)
            v = event({"kind": "algo_registered", "at": at + 1, "by": BY, "seed": seed, "algo": algo})
            out.add("algo", _placed(algo, v, 0))
            chain = chain_segment(problem=problem, algo=algo["uuid"], data=data_of[index],
                                  first_rank=0, start_model=algo["uuid"], seed=seed, now=at)
            chain = [_placed(doc, v, i) for i, doc in enumerate(chain)]
            chains.append((algo, chain))
            algos.append({"uuid": algo["uuid"], "problem_index": index})

    # Claim and report the first learnuplets of each chain, as workers would have.
    for _algo, chain in chains:
        best: dict[str, Any] | None = None
        for rank in range(min(sizes.done_per_algo, len(chain))):
            task = chain[rank]
            worker = _uuid(rng)
            v = event({"kind": "task_claimed", "at": at + 1, "by": BY, "collection": "learnuplet",
                       "uuid": task["uuid"], "worker": worker})
            task.update(status=PENDING, worker=worker, timestamp_claimed=at, version=v)
            outcome = {"status": DONE, "perf": round(rng.random(), 6),
                       "train_perf": {d: round(rng.random(), 6) for d in task["train_data"]},
                       "test_perf": {d: round(rng.random(), 6) for d in task["test_data"]}}
            finished = {**task, **outcome}
            if better_model(best, finished):
                best = finished
            promote = None
            if rank + 1 < len(chain):
                promote = {"uuid": chain[rank + 1]["uuid"], "model_start": best["model_end"]}
            v = event({"kind": "task_reported", "at": at + 1, "by": BY, "collection": "learnuplet",
                       "uuid": task["uuid"], "outcome": outcome, "promote": promote})
            task.update(outcome, timestamp_done=at, version=v)
            if promote:
                chain[rank + 1].update(status=TODO, model_start=promote["model_start"], version=v)
        for doc in chain:
            out.add("learnuplet", doc)

    out.flush()
    db.ledger.insert_one({"_id": "head", "version": version})
    sample_rng = random.Random(random_seed + 1)
    every = [doc["uuid"] for _, chain in chains for doc in chain]
    sample = sample_rng.sample(every, min(1000, len(every)))
    return Filled(sizes=asdict(sizes) | {"batch": sizes.batch}, counts=out.counts, events=version,
                  seconds=round(time.monotonic() - started, 2),
                  problems=[p["uuid"] for p in problems], algos=algos, learnuplet_sample=sample)
