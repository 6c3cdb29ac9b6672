"""The scenarios of `python -m bench`, each run on both apps in alternation (A B A B).

Every scenario runs under load: 8 connections (wrk, or threads) on the GET routes, 8 worker
threads on claim + learndone. A round lasts `--seconds`, longer when one request under load
would take more than a quarter of that (so that every connection completes several
requests), up to `--max-round`; only a route so slow that a connection would complete fewer
than two in that round (FerretDB's SQLite backend at 10,000 learnuplets and more) is sampled
sequentially instead, and the JSON says so.

What a request costs the database is measured apart, with the servers stopped
(bench/costs.py).
"""
from __future__ import annotations

import random
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from app.clock import SystemClock
from app.ledger import StreamLedger
from app.ledger.events import STREAM_KINDS
from app.ledger.streams import EVENTS
from app.storage.mongo import MongoStore

from . import fill as filling
from .cpu import cpu_seconds, used, wait_idle
from .load import Http, load, run_sampled, summary
from .meter import Meter
from .servers import AUTH, Server

ROUND_REQUESTS = 4  # a load round lasts long enough for each connection to complete this many
MIN_ROUND_REQUESTS = 2  # ... or at least this many in the longest round; else sampled sequentially
APPS = ("orchestrator", "baseline")


def alternate(rounds: int, run: Callable[[Server], dict[str, Any]], apps: dict[str, Server],
              database: dict[str, int]) -> dict[str, Any]:
    """A B A B: `rounds` runs of each app, interleaved; each run is scored separately, with the
    CPU time its app's processes and the database's (`database`: name -> root pid) used. Each
    starts once the database is idle (what the previous round left running has finished)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
    for _ in range(rounds):
        for name in APPS:
            idle_s = wait_idle(database)
            roots = {"app": apps[name].process.pid, **database}
            before = cpu_seconds(roots)
            measured = run(apps[name])
            measured["cpu_s"] = used(before, cpu_seconds(roots))
            measured["waited_idle_s"] = idle_s
            runs[name].append(measured)
    return combine(runs)


def combine(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Requests/s over every round; p50 the median of the rounds' p50s, p99 the worst round's."""
    out: dict[str, Any] = {"runs": runs}
    for name, items in runs.items():
        total = sum(item["requests"] for item in items)
        seconds = sum(item["seconds"] for item in items)
        out[name] = {"requests": total, "rps": round(total / seconds, 3) if seconds else 0.0,
                     "p50_ms": round(sorted(i["p50_ms"] for i in items)[len(items) // 2], 2),
                     "p99_ms": round(max(i["p99_ms"] for i in items), 2),
                     "errors": sum(item["errors"] for item in items),
                     "tool": items[0].get("tool"),
                     # CPU per request (cycle, page) by component: where the time goes
                     "cpu_ms": {part: round(sum(i["cpu_s"].get(part, 0) for i in items) * 1000 / total, 2)
                                for part in items[0].get("cpu_s", {})} if total else {}}
    base = out["baseline"]["rps"]
    out["ratio"] = round(out["orchestrator"]["rps"] / base, 3) if base else None
    return out


def loaded_latency(probe_s: float, connections: int, workers: int, threads: int, cores: int) -> float:
    """What one request costs under load, from one unloaded request: the requests in flight
    (at most the server's threads) share the machine's cores (a FerretDB scan is CPU-bound)."""
    in_flight = min(connections, workers * threads)
    return probe_s * max(1.0, in_flight / cores)


def get_scenario(paths: dict[str, list[str]], apps: dict[str, Server], meter: Meter,
                 args: Any, database: dict[str, int]) -> dict[str, Any]:
    """GET `paths[app]` (rotating) under load, A B A B; or sequential samples when too slow."""
    # One unloaded request sets the round's length: wrk counts only the requests that complete
    # within the round, so a round shorter than the loaded latency reports 0 requests.
    probe = run_sampled(apps["orchestrator"].base, paths["orchestrator"][:1], AUTH, 1)
    workers, threads = apps["orchestrator"].concurrency
    expected_s = loaded_latency(probe["p50_ms"] / 1000, args.connections, workers, threads, args.cores)
    seconds = max(args.seconds, min(args.max_round, ROUND_REQUESTS * expected_s))
    sampled = expected_s > args.max_round / MIN_ROUND_REQUESTS

    def run(server: Server) -> dict[str, Any]:
        if sampled:
            return run_sampled(server.base, paths[server.name], AUTH, args.samples)
        measured = load(server.base, paths[server.name], AUTH, seconds, args.connections)
        # wrk drops the requests in flight at its deadline, but the server finishes them:
        # wait until FerretDB is quiet, so they do not slow the next (other) app's round.
        measured["drained_s"] = meter.counters.wait_quiet(limit=120)
        return measured

    if not sampled:  # warm both (connection pools, caches) before anything is scored
        for name in APPS:
            load(apps[name].base, paths[name], AUTH, 1, args.connections)
            meter.counters.wait_quiet(limit=120)
    result = alternate(args.rounds, run, apps, database)
    mode = f"load, {args.connections} connections, rounds of {seconds:.0f} s"
    if not sampled and any(item["requests"] < args.connections
                           for items in result["runs"].values() for item in items):
        # Fewer completed requests than connections: the latencies are those of the few
        # fast requests, or there are none. Sample both apps sequentially instead.
        sampled = True
        result = alternate(args.rounds, run, apps, database)
        mode = "sequential samples (the load rounds completed fewer requests than connections)"
    elif sampled:
        mode = f"sequential samples ({args.samples}): under load one request would take {expected_s:.0f} s"
    result.update(mode=mode, probe_ms=probe["p50_ms"], expected_loaded_ms=round(expected_s * 1000, 1),
                  round_seconds=None if sampled else round(seconds, 1))
    return result


def walk_pages(server: Server, query: str, limit: int, pages: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The first `pages` page paths of `/learnuplet?<query>&limit=` (the Orchestrator follows
    next_page_token, the baseline `after=<seq>`), and the documents they hold, in order."""
    client, paths, seen = Http(server.base, AUTH), [], []
    token_param, token_field = (("page_token", "next_page_token") if server.name == "orchestrator"
                                else ("after", "next_after"))
    path = f"/learnuplet?{query}&limit={limit}"
    while path and len(paths) < pages:
        status, body, _ = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{server.name} GET {path}: {status} {str(body)[:200]}")
        paths.append(path)
        seen += body["learnuplets"]
        token = body.get(token_field)
        path = f"/learnuplet?{query}&limit={limit}&{token_param}={token}" if token else ""
    client.close()
    return paths, seen


def paging_check(walked: dict[str, tuple[list[str], list[dict[str, Any]]]], status: str,
                 expected: int) -> list[str]:
    """The Orchestrator's pages hold `expected` distinct documents of that status, the same as
    the baseline's, in the same order (both sort by `seq`)."""
    orchestrator = [doc["uuid"] for doc in walked["orchestrator"][1]]
    baseline = [doc["uuid"] for doc in walked["baseline"][1]]
    problems = []
    if len(orchestrator) != expected or len(set(orchestrator)) != len(orchestrator):
        problems.append(f"paging returned {len(orchestrator)} items ({len(set(orchestrator))} "
                        f"distinct), expected {expected}")
    if any(doc["status"] != status for doc in walked["orchestrator"][1]):
        problems.append(f"paging status={status} returned other statuses")
    if orchestrator != baseline:
        problems.append("the Orchestrator's pages differ from the baseline's (both page in seq order)")
    return problems


class Claims:
    """claim + learndone cycles: `workers` threads racing over `pool` chains per app.

    The Orchestrator and the baseline work on disjoint algos (the first half of the problems,
    the second half): the baseline's updates bypass the ledger, and its claim also takes a
    `waiting` task because it has no chain to promote the next rank."""

    def __init__(self, db: Any, filled: filling.Filled, pool: int):
        half = filled.sizes["problems"] // 2
        self.db, self.filled = db, filled
        self.sides = {"orchestrator": [a["uuid"] for a in filled.algos if a["problem_index"] < half][:pool],
                      "baseline": [a["uuid"] for a in filled.algos if a["problem_index"] >= half][:pool]}
        self.chains: dict[str, list[dict[str, Any]]] = {}
        for doc in db.learnuplet.find({"algo": {"$in": self.sides["orchestrator"] + self.sides["baseline"]}},
                                      {"_id": 0, "uuid": 1, "algo": 1, "rank": 1, "status": 1,
                                       "train_data": 1, "test_data": 1}):
            self.chains.setdefault(doc["algo"], []).append(doc)
        self.positions: dict[str, int] = {}
        for algo, chain in self.chains.items():
            chain.sort(key=lambda doc: doc["rank"])
            self.positions[algo] = next((i for i, doc in enumerate(chain) if doc["status"] == "todo"),
                                        len(chain))
        self.claims: dict[str, list[str]] = {}
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def run(self, server: Server, workers: int, seconds: float, cycles: int) -> dict[str, Any]:
        """Cycles until `seconds` have passed or `cycles` are done, whichever comes first."""
        algos = [a for a in self.sides[server.name] if a in self.chains]
        deadline = time.perf_counter() + seconds
        stats = {"cycles": 0, "conflicts": 0, "errors": 0}
        cycle_times: list[float] = []

        def worker(number: int) -> None:
            rng, client, wid = random.Random(number), Http(server.base, AUTH), str(uuidlib.uuid4())
            while time.perf_counter() < deadline and stats["cycles"] < cycles:
                live = [a for a in algos if self.positions[a] < len(self.chains[a])]
                if not live:
                    break
                algo = rng.choice(live)
                outcome, elapsed = self.cycle(server.name, client, algo, wid, rng)
                with self.lock:
                    stats[outcome] += 1
                    if outcome == "cycles":
                        cycle_times.append(elapsed)
            client.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {"tool": f"{workers} threads", "requests": stats["cycles"],
                "seconds": round(time.perf_counter() - started, 3), "conflicts_409": stats["conflicts"],
                **summary(cycle_times), "errors": stats["errors"]}

    def cycle(self, app: str, client: Http, algo: str, wid: str, rng: random.Random) -> tuple[str, float]:
        """Claim the chain's current task and report it done: 'cycles', 'conflicts' or 'errors'."""
        task = self.chains[algo][self.positions[algo]]
        status, body, claimed = client.request("POST", f"/worker/learnuplet/{task['uuid']}", {"worker": wid})
        if status == 409:
            return "conflicts", 0.0
        if status != 200:
            return self.error(app, "claim", status, body), 0.0
        with self.lock:
            self.claims.setdefault(task["uuid"], []).append(wid)
        report = {"status": "done", "perf": round(rng.random(), 6), "worker": wid,
                  "train_perf": dict.fromkeys(task["train_data"], 0.5),
                  "test_perf": dict.fromkeys(task["test_data"], 0.5)}
        status, body, reported = client.request("POST", f"/learndone/{task['uuid']}", report)
        if status != 200:
            return self.error(app, "learndone", status, body), 0.0
        with self.lock:
            self.positions[algo] = max(self.positions[algo], self.chains[algo].index(task) + 1)
        return "cycles", claimed + reported

    def error(self, app: str, route: str, status: int, body: Any) -> str:
        if app == "orchestrator":  # the baseline's errors are data, not failures
            with self.lock:
                self.problems.append(f"{app} {route} {status}: {str(body)[:200]}")
        return "errors"

    def next_tasks(self, app: str, count: int) -> list[dict[str, Any]]:
        """The current task of `count` chains of the app's side (for bench/costs.py)."""
        live = [a for a in self.sides[app] if self.positions.get(a, 0) < len(self.chains.get(a, []))]
        return [{name: self.chains[algo][self.positions[algo]][name]
                 for name in ("uuid", "train_data", "test_data")} for algo in live[:count]]

    def verify(self) -> dict[str, Any]:
        """Exactly once: every 200 claim is the only one of its task, and the task is done by it."""
        ours = {doc["uuid"] for a in self.sides["orchestrator"] for doc in self.chains.get(a, [])}
        double = [uuid for uuid, who in self.claims.items() if len(who) > 1 and uuid in ours]
        stored = {doc["uuid"]: doc for doc in self.db.learnuplet.find(
            {"uuid": {"$in": [u for u in self.claims if u in ours]}},
            {"_id": 0, "uuid": 1, "status": 1, "worker": 1})}
        lost = [uuid for uuid in self.claims if uuid in ours
                and (stored.get(uuid, {}).get("status") != "done"
                     or stored[uuid].get("worker") != self.claims[uuid][0])]
        out = {"double_claims": len(double), "lost_claims": len(lost),
               # the baseline's conditional update (find, then update by _id, on FerretDB):
               # its doubles are reported, never a failure
               "baseline_double_claims": sum(1 for uuid, who in self.claims.items()
                                             if len(who) > 1 and uuid not in ours),
               "ledger_unapplied": unapplied_events(self.db, self.filled)}
        if double:
            self.problems.append(f"double claims: {double[:5]}")
        if lost:
            self.problems.append(f"lost claims (claimed with 200 but not done by the claimer): {lost[:5]}")
        if out["ledger_unapplied"]:
            self.problems.append(f"{out['ledger_unapplied']} committed event(s) left unapplied")
        return out


def claim_scenario(apps: dict[str, Server], claims: Claims, args: Any,
                   database: dict[str, int]) -> dict[str, Any]:
    result = alternate(args.rounds, lambda server: claims.run(server, args.claim_workers, args.claim_seconds,
                                                              args.claim_cycles), apps, database)
    for name in APPS:
        result[name]["conflicts_409"] = sum(r["conflicts_409"] for r in result["runs"][name])
    result["mode"] = (f"{args.claim_workers} workers racing over {args.claim_pool} chains per app, "
                      f"rounds of {args.claim_seconds:.0f} s or {args.claim_cycles} cycles; "
                      "requests = cycles")
    return result


def unapplied_events(db: Any, filled: filling.Filled) -> int:
    """Committed events not applied: registry events past the head, and the stream events the
    servers committed (those after the fill) whose seal does not show them applied."""
    head = db.ledger.find_one({"_id": "head"})["version"]
    behind = db.events.count_documents({"_id": {"$gt": head}})
    streams = StreamLedger(MongoStore(db), STREAM_KINDS, SystemClock())
    return behind + len(streams.unapplied_among(list(db[EVENTS].find({"ms": {"$gt": filled.last_ms}}))))


def record_scenario(db: Any, filled: filling.Filled, samples: int) -> dict[str, Any]:
    """FerretDB alone (PyMongo, no app): the filtered page query and a uuid lookup."""
    page, lookup = [], []
    for index in range(samples):
        started = time.perf_counter()
        list(db.learnuplet.find({"status": "todo"}, sort=[("seq", 1)], limit=101))
        page.append(time.perf_counter() - started)
        started = time.perf_counter()
        db.learnuplet.find_one({"_id": filled.learnuplet_sample[index % len(filled.learnuplet_sample)]},
                               {"_id": 0})
        lookup.append(time.perf_counter() - started)
    return {"learnuplets": db.learnuplet.estimated_document_count(), "samples": samples,
            "filtered_page": summary(page), "uuid_lookup": summary(lookup)}
