"""The benchmark: `python -m bench [--small] [options]`; see docs/performance.md.

Starts FerretDB (tools/ferretdb.sh, with a state file of its own), pre-fills a database,
starts the Orchestrator and the baseline (bench/baseline.py) under gunicorn the same way,
drives both in alternation (A B A B), prints requests/s, p50, p99 and the ratio
Orchestrator/baseline per scenario, checks the fill (bench/check_fill.py: the app finds it
consistent and keeps working on it; the same history sent through the API writes the same
database), and writes JSON under bench/results/.

Exit status: 1 if the Orchestrator answered an error (or lost/doubled a claim, left an event
unapplied, or a page skipped/repeated a document) or the fill check failed, 0 otherwise:
timings never fail the run.

FerretDB's SQLite backend scans the whole collection for every filter but `_id` (about
0.2-0.4 ms per learnuplet on this machine), so at 100,000 learnuplets a single learnuplet
lookup takes tens of seconds. The full run therefore has two suites: the issue's sizes
("full": GET /problem under load, and learnuplet lookups and the filtered page sampled
sequentially, for the record) and a 1,000-learnuplet database ("small": every scenario,
under load). `--small` runs only the small suite, with short rounds (CI).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from app.clock import SystemClock
from app.ledger import StreamLedger
from app.ledger.events import STREAM_KINDS
from app.ledger.streams import EVENTS
from app.storage.mongo import MongoStore

from . import fill as filling
from .load import Http, load, run_sampled, summary
from .servers import AUTH, RESULTS, ROOT, Ferret, Server, log, machine

SLOW_SECONDS = 1.0  # a probe slower than this: sample sequentially instead of loading


def alternate(rounds: int, run: Any, apps: dict[str, Server]) -> dict[str, Any]:
    """A B A B: `rounds` runs of each app, interleaved; each run is scored separately."""
    runs: dict[str, list[dict[str, Any]]] = {"orchestrator": [], "baseline": []}
    for _ in range(rounds):
        for name in ("orchestrator", "baseline"):
            runs[name].append(run(apps[name]))
    return combine(runs)


def combine(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs}
    for name, items in runs.items():
        total = sum(item["requests"] for item in items)
        seconds = sum(item["seconds"] for item in items)
        out[name] = {"requests": total, "rps": round(total / seconds, 2) if seconds else 0.0,
                     "p50_ms": round(sorted(i["p50_ms"] for i in items)[len(items) // 2], 2),
                     "p99_ms": round(max(i["p99_ms"] for i in items), 2),
                     "errors": sum(item["errors"] for item in items),
                     "tool": items[0].get("tool")}
    base = out["baseline"]["rps"]
    out["ratio"] = round(out["orchestrator"]["rps"] / base, 3) if base else None
    return out


def loaded_latency(probe_s: float, connections: int, workers: int, threads: int) -> float:
    """What one request costs under load, from one unloaded request: the requests in flight
    (at most the server's threads) share the machine's cores (a FerretDB scan is CPU-bound)."""
    in_flight = min(connections, workers * threads)
    return probe_s * max(1.0, in_flight / (os.cpu_count() or 1))


def get_scenario(paths_orc: list[str], paths_base: list[str], seconds: float, connections: int,
                 rounds: int, apps: dict[str, Server], samples: int) -> dict[str, Any]:
    # One unloaded request decides the mode. A route is sampled sequentially when it is slow
    # alone (a FerretDB scan), or when under load one request would take more than a third
    # of a round: wrk counts only the requests that complete within the round, so a round
    # shorter than the loaded latency reports 0 requests (filtered_page on FerretDB did).
    probe = run_sampled(apps["orchestrator"].base, paths_orc[:1], AUTH, 1)
    probe_s = probe["p50_ms"] / 1000
    workers, threads = apps["orchestrator"].concurrency
    expected_s = loaded_latency(probe_s, connections, workers, threads)
    slow = probe_s > SLOW_SECONDS or expected_s > seconds / 3

    def drain(measured: dict[str, Any]) -> None:
        # wrk stops at the deadline and drops the requests still in flight, but the server
        # finishes them: wait about that long, so they do not slow the next (other) app's round.
        longest = measured.get("max_ms", 0) / 1000
        if measured["requests"] < connections:
            longest = max(longest, seconds)
        time.sleep(min(longest, 10))

    def run(server: Server) -> dict[str, Any]:
        paths = paths_orc if server.name == "orchestrator" else paths_base
        if slow:
            return run_sampled(server.base, paths, AUTH, samples)
        measured = load(server.base, paths, AUTH, seconds, connections)
        drain(measured)
        return measured

    if not slow:  # warm both (connection pools, FerretDB's cache) before anything is scored
        for name in ("orchestrator", "baseline"):
            paths = paths_orc if name == "orchestrator" else paths_base
            drain(load(apps[name].base, paths, AUTH, 1, connections))
    result = alternate(rounds, run, apps)
    mode = "sequential samples (FerretDB scan, too slow to load)" if slow else "load"
    if not slow and any(item["requests"] < connections for items in result["runs"].values()
                        for item in items):
        # Fewer completed requests than connections: the latencies are those of the few
        # fast requests, or there are none. Sample both apps sequentially instead.
        slow = True
        result = alternate(rounds, run, apps)
        mode = ("sequential samples (the load rounds completed fewer requests than "
                "connections: too slow to load)")
    result["mode"] = mode
    result["probe_ms"] = probe["p50_ms"]
    result["expected_loaded_ms"] = round(expected_s * 1000, 1)
    return result


def paging_scenario(apps: dict[str, Server], filter_query: str, page_size: int, expected: int,
                    rounds: int) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []

    def run(server: Server) -> dict[str, Any]:
        client = Http(server.base, AUTH)
        latencies, seen, errors = [], [], 0
        token_param, token = ("page_token", None) if server.name == "orchestrator" else ("after", None)
        started = time.perf_counter()
        while True:
            path = f"/learnuplet?{filter_query}&limit={page_size}"
            if token:
                path += f"&{token_param}={token}"
            status, body, elapsed = client.request("GET", path)
            latencies.append(elapsed)
            if status != 200:
                errors += 1
                break
            seen += [doc["uuid"] for doc in body["learnuplets"]]
            token = body.get("next_page_token") if server.name == "orchestrator" else body.get("next_after")
            if not token:
                break
        elapsed = time.perf_counter() - started
        client.close()
        if server.name == "orchestrator" and (len(seen) != expected or len(set(seen)) != len(seen)):
            errors += 1
            problems.append(f"paging returned {len(seen)} items ({len(set(seen))} distinct), "
                            f"expected {expected}")
        return {"tool": "sequential", "requests": len(latencies), "seconds": round(elapsed, 3),
                "items": len(seen), "total_s": round(elapsed, 3), **summary(latencies),
                "errors": errors}

    result = alternate(rounds, run, apps)
    for name in ("orchestrator", "baseline"):
        result[name]["total_s_per_pass"] = round(
            sum(r["total_s"] for r in result["runs"][name]) / len(result["runs"][name]), 3)
    result["mode"] = f"{filter_query}, limit={page_size}, {expected} items"
    return result, problems


def claim_scenario(apps: dict[str, Server], db: Any, filled: filling.Filled, workers: int,
                   seconds: float, rounds: int, pool: int) -> tuple[dict[str, Any], list[str]]:
    """claim + learndone cycles by `workers` concurrent workers racing over `pool` chains."""
    half = filled.sizes["problems"] // 2
    sides = {"orchestrator": [a["uuid"] for a in filled.algos if a["problem_index"] < half][:pool],
             "baseline": [a["uuid"] for a in filled.algos if a["problem_index"] >= half][:pool]}
    chains: dict[str, list[dict[str, Any]]] = {}
    for doc in db.learnuplet.find({"algo": {"$in": sides["orchestrator"] + sides["baseline"]}},
                                  {"_id": 0, "uuid": 1, "algo": 1, "rank": 1, "status": 1,
                                   "train_data": 1, "test_data": 1}):
        chains.setdefault(doc["algo"], []).append(doc)
    positions: dict[str, int] = {}
    for algo, chain in chains.items():
        chain.sort(key=lambda doc: doc["rank"])
        positions[algo] = next((i for i, doc in enumerate(chain) if doc["status"] == "todo"), len(chain))
    claims: dict[str, list[str]] = {}
    problems: list[str] = []
    lock = threading.Lock()

    def run(server: Server) -> dict[str, Any]:
        algos = [a for a in sides[server.name] if a in chains]
        deadline = time.perf_counter() + seconds
        stats = {"cycles": 0, "conflicts": 0, "errors": 0}
        cycle_times: list[float] = []

        def worker(number: int) -> None:
            rng, client = random.Random(number), Http(server.base, AUTH)
            wid = str(uuidlib.uuid4())
            while time.perf_counter() < deadline:
                live = [a for a in algos if positions[a] < len(chains[a])]
                if not live:
                    break
                algo = rng.choice(live)
                task = chains[algo][positions[algo]]
                status, body, t1 = client.request("POST", f"/worker/learnuplet/{task['uuid']}",
                                                  {"worker": wid})
                if status == 409:
                    with lock:
                        stats["conflicts"] += 1
                    continue
                if status != 200:
                    with lock:
                        stats["errors"] += 1
                        if server.name == "orchestrator":  # the baseline's errors are data, not failures
                            problems.append(f"{server.name} claim {status}: {str(body)[:200]}")
                    continue
                with lock:
                    claims.setdefault(task["uuid"], []).append(wid)
                report = {"status": "done", "perf": round(rng.random(), 6), "worker": wid,
                          "train_perf": {d: 0.5 for d in task["train_data"]},
                          "test_perf": {d: 0.5 for d in task["test_data"]}}
                status, body, t2 = client.request("POST", f"/learndone/{task['uuid']}", report)
                with lock:
                    if status != 200:
                        stats["errors"] += 1
                        if server.name == "orchestrator":
                            problems.append(f"{server.name} learndone {status}: {str(body)[:200]}")
                    else:
                        stats["cycles"] += 1
                        cycle_times.append(t1 + t2)
                        task["claimed_by"] = wid
                        positions[algo] = max(positions[algo], chains[algo].index(task) + 1)
            client.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return {"tool": f"{workers} threads", "requests": stats["cycles"], "seconds": round(elapsed, 3),
                "conflicts_409": stats["conflicts"], **summary(cycle_times), "errors": stats["errors"]}

    result = alternate(rounds, run, apps)
    # Exactly once: every successful claim is the only one of its task, and the task is done by it.
    orchestrator_tasks = {doc["uuid"]: doc for a in sides["orchestrator"] for doc in chains.get(a, [])}
    double = [uuid for uuid, who in claims.items() if len(who) > 1 and uuid in orchestrator_tasks]
    # The baseline's conditional update is not atomic on FerretDB: its doubles show why the
    # Orchestrator commits through the ledger. Reported, never a failure.
    result["baseline_double_claims"] = sum(1 for uuid, who in claims.items()
                                           if len(who) > 1 and uuid not in orchestrator_tasks)
    stored = {doc["uuid"]: doc for doc in db.learnuplet.find(
        {"uuid": {"$in": [u for u in claims if u in orchestrator_tasks]}},
        {"_id": 0, "uuid": 1, "status": 1, "worker": 1})}
    lost = [uuid for uuid in claims if uuid in orchestrator_tasks
            and (stored.get(uuid, {}).get("status") != "done"
                 or stored[uuid].get("worker") != claims[uuid][0])]
    result["double_claims"] = len(double)
    result["lost_claims"] = len(lost)
    result["ledger_unapplied"] = unapplied_events(db, filled)
    result["mode"] = f"{workers} workers racing over {pool} chains per app; requests = cycles"
    for name in ("orchestrator", "baseline"):
        result[name]["conflicts_409"] = sum(r["conflicts_409"] for r in result["runs"][name])
    if double:
        problems.append(f"double claims: {double[:5]}")
    if lost:
        problems.append(f"lost claims (claimed with 200 but not done by the claimer): {lost[:5]}")
    if result["ledger_unapplied"]:
        problems.append(f"{result['ledger_unapplied']} committed event(s) left unapplied")
    return result, problems


def unapplied_events(db: Any, filled: filling.Filled) -> int:
    """Committed events not applied: registry events past the head, and the stream events the
    servers committed (those after the fill) whose seal does not show them applied."""
    head = db.ledger.find_one({"_id": "head"})["version"]
    behind = db.events.count_documents({"_id": {"$gt": head}})
    streams = StreamLedger(MongoStore(db), STREAM_KINDS, SystemClock())
    return behind + len(streams.unapplied_among(list(db[EVENTS].find({"ms": {"$gt": filled.last_ms}}))))


def record_scenario(db: Any, filled: filling.Filled, samples: int) -> dict[str, Any]:
    """FerretDB alone: the filtered page query and a uuid lookup, as the API sends them."""
    page, lookup = [], []
    for index in range(samples):
        started = time.perf_counter()
        list(db.learnuplet.find({"status": "todo"}, sort=[("seq", 1)], limit=101))
        page.append(time.perf_counter() - started)
        started = time.perf_counter()
        db.learnuplet.find_one({"_id": filled.learnuplet_sample[index]}, {"_id": 0})
        lookup.append(time.perf_counter() - started)
    return {"learnuplets": db.learnuplet.estimated_document_count(), "samples": samples,
            "filtered_page": summary(page), "uuid_lookup": summary(lookup)}


def suite(name: str, uri_base: str, sizes: filling.Sizes, scenarios: list[str], args: Any,
          logdir: Path) -> tuple[dict[str, Any], list[str]]:
    dbname = f"bench_{name}"
    uri = f"{uri_base.rstrip('/')}/{dbname}"
    client = MongoClient(uri_base, serverSelectionTimeoutMS=10000, socketTimeoutMS=600000)
    client.drop_database(dbname)
    db = client[dbname]
    log(f"suite {name}: filling {sizes.totals()} ...")
    filled = filling.fill(db, sizes)
    started = time.monotonic()
    MongoStore(db).prepare()  # what the server does at start-up; done here so servers start at once
    out: dict[str, Any] = {"sizes": filled.sizes, "counts": filled.counts, "events": filled.events,
                           "stream_events": filled.stream_events, "fill_seconds": filled.seconds,
                           "index_seconds": round(time.monotonic() - started, 2), "scenarios": {}}
    log(f"suite {name}: filled in {filled.seconds}s, indexes in {out['index_seconds']}s")
    problems: list[str] = []
    pool = (args.workers, args.threads, logdir)
    apps = {"orchestrator": Server("orchestrator", "app:create_app()", uri, *pool),
            "baseline": Server("baseline", "bench.baseline:create_app()", uri, *pool)}
    try:
        apps["orchestrator"].wait("/health")
        apps["baseline"].wait(f"/problem/{filled.problems[0]}")
        results = out["scenarios"]
        wrk = dict(seconds=args.seconds, connections=args.connections, rounds=args.rounds,
                   apps=apps, samples=args.samples)
        if "get_problem" in scenarios:
            log(f"suite {name}: GET /problem/<uuid>")
            paths = [f"/problem/{u}" for u in filled.problems]
            results["get_problem"] = get_scenario(paths, paths, **wrk)
        if "get_learnuplet" in scenarios:
            log(f"suite {name}: GET /learnuplet/<uuid>")
            paths = [f"/learnuplet/{u}" for u in filled.learnuplet_sample]
            results["get_learnuplet"] = get_scenario(paths, paths, **wrk)
        if "filtered_page" in scenarios:
            log(f"suite {name}: GET /learnuplet?status=todo&limit=100")
            paths = ["/learnuplet?status=todo&limit=100"]
            results["filtered_page"] = get_scenario(paths, paths, **wrk)
        if "paging" in scenarios:
            done = filled.counts["learnuplet"] // sizes.learnuplets_per_algo * sizes.done_per_algo
            page = max(1, min(args.page_size, done // 5))  # about five pages (each a scan on FerretDB)
            log(f"suite {name}: paging status=done ({done} items), limit={page}")
            results["paging"], found = paging_scenario(apps, "status=done", page, done, args.rounds)
            problems += found
        if "claims" in scenarios:
            log(f"suite {name}: claim + learndone, {args.claim_workers} workers")
            results["claims"], found = claim_scenario(apps, db, filled, args.claim_workers,
                                                      args.claim_seconds, args.rounds, args.claim_pool)
            problems += found
        for server in apps.values():
            if not server.alive():
                problems.append(f"{server.name} died during the suite; see {server.log.name}")
    finally:
        for server in apps.values():
            server.stop()
    # Before post_data, which adds 1,100 learnuplets to the database.
    if "record" in scenarios:
        log(f"suite {name}: FerretDB alone, filtered page and uuid lookup")
        out["scenarios"]["ferretdb_record"] = record_scenario(db, filled, args.record_samples)
    if "post_data" in scenarios:
        log(f"suite {name}: POST /data round trips (in-process app)")
        done = subprocess.run([sys.executable, "-m", "bench.roundtrips", uri, *map(str, args.data_sizes)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True)
        if done.returncode:
            problems.append(f"roundtrips failed: {done.stderr[-2000:]}")
        else:
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            out["scenarios"]["post_data"] = measured
            problems += measured["errors"]
    client.drop_database(dbname)
    client.close()
    return out, problems


def check_fill(uri: str) -> tuple[dict[str, Any], list[str]]:
    """bench/check_fill.py: the filled database is what the app writes, and the app works on it."""
    log("check_fill: a SMALL fill through the app, and a tiny history replayed through the API")
    done = subprocess.run([sys.executable, "-m", "bench.check_fill", uri], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    try:
        out = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {}, [f"check_fill failed: {done.stderr[-2000:]}"]
    return out, [f"check_fill: {error}" for error in out["errors"]]


def table(results: dict[str, Any]) -> str:
    header = f"{'suite/scenario':34} {'app':13} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>10} {'errors':>6}"
    lines = [header + "  ratio"]
    for suite_name, suite_out in results["suites"].items():
        for scenario, out in suite_out["scenarios"].items():
            if scenario == "post_data":
                for row in out["results"]:
                    lines.append(f"{suite_name}/post_data {row['uuids']:>6} uuids: {row['seconds']:.3f}s, "
                                 f"{row['round_trips']} round trips {row['commands']}")
                continue
            if scenario == "ferretdb_record":
                lines.append(f"{suite_name}/ferretdb alone at {out['learnuplets']} learnuplets: "
                             f"filtered page p50 {out['filtered_page']['p50_ms']} ms p99 "
                             f"{out['filtered_page']['p99_ms']} ms; uuid lookup p50 "
                             f"{out['uuid_lookup']['p50_ms']} ms p99 {out['uuid_lookup']['p99_ms']} ms")
                continue
            for app in ("orchestrator", "baseline"):
                row = out[app]
                ratio = f"{out['ratio']}" if app == "orchestrator" else ""
                lines.append(f"{suite_name + '/' + scenario:34} {app:13} {row['rps']:>9} "
                             f"{row['p50_ms']:>9} {row['p99_ms']:>10} {row['errors']:>6}  {ratio}")
            if scenario == "claims":
                lines.append(f"{'':34} orchestrator: double claims {out['double_claims']}, lost claims "
                             f"{out['lost_claims']}, unapplied events {out['ledger_unapplied']}, "
                             f"409s {out['orchestrator']['conflicts_409']}; baseline double claims "
                             f"{out['baseline_double_claims']}")
    check = results.get("check_fill")
    if check:
        consistency, replayed = check["consistency"], check["replay"]
        claimed = consistency["claim_and_report"]
        promoted = all(passed for name, passed in claimed.items() if name != "rank")
        lines.append(f"check_fill: SMALL fill in {consistency['fill_seconds']}s; registry head "
                     f"{consistency['registry_head']}, {consistency['registry_events']} registry events; "
                     f"{consistency['unapplied_stream_events']} of {consistency['stream_events']} stream "
                     f"events unapplied; sweep applied {consistency['swept']}")
        lines.append(f"{'':12}claim + learndone of rank {claimed['rank']} promoted the next: {promoted}; "
                     f"replay of {replayed['requests']} requests through the API: "
                     f"{len(replayed['differences'])} differences; {len(check['errors'])} errors")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI-sized run (about a minute)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app (2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (4)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--seconds", type=float, help="seconds per load round (10; --small 3)")
    parser.add_argument("--rounds", type=int, help="rounds per app, alternated A B A B (2; --small 1)")
    parser.add_argument("--samples", type=int, help="sequential samples when a route is too slow to load (3)")
    parser.add_argument("--claim-workers", type=int, default=8)
    parser.add_argument("--claim-seconds", type=float, help="seconds per claim round (20; --small 5)")
    parser.add_argument("--claim-pool", type=int, default=20, help="chains the claim workers race over")
    parser.add_argument("--page-size", type=int, default=1000, help="limit when paging (1000)")
    parser.add_argument("--data-sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--record-samples", type=int, help="FerretDB-alone samples per size")
    parser.add_argument("--problems", type=int, help="override the full suite's problems (100)")
    parser.add_argument("--skip-full", action="store_true", help="full run without the 100,000 suite")
    parser.add_argument("--full-scenarios", nargs="+", default=["get_problem", "record"],
                        help="scenarios of the 100,000 suite (get_learnuplet, filtered_page, paging, "
                        "claims and post_data are FerretDB scans of 20-60 s each there)")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3 if args.small else 10)
    args.rounds = args.rounds or (1 if args.small else 2)
    args.samples = args.samples or 3
    args.claim_seconds = args.claim_seconds or (3 if args.small else 20)
    args.record_samples = args.record_samples or (3 if args.small else 20)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict[str, Any] = {"command": " ".join(["python -m bench", *(argv or sys.argv[1:])]),
                               "machine": machine(), "suites": {}}
    problems: list[str] = []
    ferret = Ferret()
    try:
        uri = ferret.start()
        log(f"FerretDB at {uri}; server logs in {logdir}")
        every = ["get_problem", "get_learnuplet", "filtered_page", "paging", "claims", "post_data", "record"]
        if not args.small and not args.skip_full:
            full = filling.Sizes(problems=args.problems or filling.FULL.problems)
            record_samples = args.record_samples
            args.record_samples = min(args.record_samples, 2)  # each is a full scan there
            results["suites"]["full"], found = suite("full", uri, full, args.full_scenarios, args, logdir)
            args.record_samples = record_samples
            problems += found
        results["suites"]["small"], found = suite("small", uri, filling.SMALL, every, args, logdir)
        problems += found
        results["check_fill"], found = check_fill(uri)
        problems += found
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        problems.append(f"benchmark failed: {error!r}")
    finally:
        ferret.stop()
    for suite_out in results["suites"].values():
        for scenario, out in suite_out["scenarios"].items():
            if isinstance(out, dict) and "orchestrator" in out and out["orchestrator"]["errors"]:
                problems.append(f"orchestrator errors in {scenario}: {out['orchestrator']['errors']}")
    results["problems"] = problems
    results["seconds"] = round(time.monotonic() - started, 1)
    name = RESULTS / f"{stamp}-{'small' if args.small else 'full'}.json"
    name.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\n{len(problems)} problem(s){': ' if problems else ''}" + "; ".join(problems))
    print(f"total {results['seconds']}s; results in {name.relative_to(ROOT)}")
    return 1 if problems else 0
