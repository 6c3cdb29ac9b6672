"""The benchmark: `python -m bench [--small] [options]`; see docs/performance.md.

Starts FerretDB (tools/ferretdb.sh, a state file of its own; over PostgreSQL unless
FERRETDB_BACKEND=sqlite). Then for each size (1,000 / 10,000 / 100,000 learnuplets; `--small`:
1,000 only, short rounds, for CI) it pre-fills a database (bench/fill.py), starts the
Orchestrator and the baseline (bench/baseline.py) under gunicorn the same way, and runs every
scenario on both in alternation (A B A B, bench/scenarios.py): GET a problem, GET a learnuplet,
the filtered page, paging, claim + learndone with 8 workers; then, apps stopped, FerretDB alone
(the floor), on PostgreSQL the SQL FerretDB sends and its plans (largest size), and POST /data
of 1,000 and 10,000 uuids. It checks the fill (bench/check_fill.py), prints requests/s, p50,
p99 and the ratio Orchestrator/baseline per scenario and size, the issue's targets and the
scale curve, writes JSON under bench/results/ and, for a run of several sizes, a PNG of the
curves (matplotlib; skipped, saying so, when it is not installed).

Exit status: 1 if the Orchestrator answered an error (or lost/doubled a claim, left an event
unapplied, or a page skipped/repeated a document) or the fill check failed, 0 otherwise:
timings never fail the run.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from app.storage.mongo import MongoStore

from . import fill as filling
from . import report
from .cpu import cpu_seconds, used
from .meter import Meter
from .postgres import Postgres, sql_evidence
from .scenarios import (
    Claims,
    claim_scenario,
    get_scenario,
    paging_check,
    record_scenario,
    walk_pages,
)
from .servers import RESULTS, ROOT, SCAN_DB_TIMEOUT_SECONDS, Counters, Ferret, Server, log, machine

EVERY = ["get_problem", "get_learnuplet", "filtered_page", "paging", "claims", "record", "sql",
         "post_data"]
PAGE_LIMIT, PAGES = 20, 5  # paging: the first five pages of 20 (at 1,000 learnuplets, all 100 done)
COST_REQUESTS = 5  # requests (cycles) per app in a cost pass


def suite(size: int, ferret: Ferret, uri_base: str, args: Any, logdir: Path,
          largest: bool) -> tuple[dict[str, Any], list[str]]:
    sizes = filling.for_learnuplets(size)
    dbname = f"bench_{size}"
    uri = f"{uri_base.rstrip('/')}/{dbname}"
    client = MongoClient(uri_base, serverSelectionTimeoutMS=10000, socketTimeoutMS=600000)
    client.drop_database(dbname)
    db = client[dbname]
    log(f"{size:,}: filling {sizes.totals()} ...")
    filled = filling.fill(db, sizes)
    started = time.monotonic()
    MongoStore(db).prepare()  # what the server does at start-up; done here so servers start at once
    out: dict[str, Any] = {"sizes": filled.sizes, "counts": filled.counts, "events": filled.events,
                           "stream_events": filled.stream_events, "fill_seconds": filled.seconds,
                           "index_seconds": round(time.monotonic() - started, 2), "scenarios": {}}
    log(f"{size:,}: filled in {filled.seconds}s, indexes in {out['index_seconds']}s")
    postgres = ferret.postgres_state()
    pg = Postgres(postgres) if postgres else None
    meter = Meter(Counters(uri_base), pg, dbname)
    problems: list[str] = []
    pool = (args.workers, args.threads, logdir)
    slow = {"DB_TIMEOUT_SECONDS": SCAN_DB_TIMEOUT_SECONDS}
    apps = {"orchestrator": Server("orchestrator", "app:create_app()", uri, *pool, env=slow),
            "baseline": Server("baseline", "bench.baseline:create_app()", uri, *pool)}
    results = out["scenarios"]
    database = ferret.pids()  # FerretDB's and PostgreSQL's root processes, for CPU time
    spec: dict[str, Any] = {"gets": {}, "claims": {}}  # what bench/costs.py sends, per app
    try:
        apps["orchestrator"].wait("/health")
        apps["baseline"].wait(f"/problem/{filled.problems[0]}")
        if args.costs:
            log(f"{size:,}: the database's work with both servers idle ({args.idle_seconds:g} s)")
            out["background_per_second"] = idle(meter, apps, database, args.idle_seconds)
        gets = {"get_problem": [f"/problem/{u}" for u in filled.problems],
                "get_learnuplet": [f"/learnuplet/{u}" for u in filled.learnuplet_sample],
                "filtered_page": ["/learnuplet?status=todo&limit=100"]}
        for name, paths in gets.items():
            if name in args.scenarios:
                log(f"{size:,}: {report.LABELS[name]}")
                results[name] = get_scenario({"orchestrator": paths, "baseline": paths}, apps, meter, args,
                                             database)
                spec["gets"][name] = {app: paths[:COST_REQUESTS] for app in apps}
        if "paging" in args.scenarios:
            done = filled.counts["learnuplet"] // sizes.learnuplets_per_algo * sizes.done_per_algo
            log(f"{size:,}: paging status=done ({done} done), {PAGES} pages of {PAGE_LIMIT}")
            walked = {name: walk_pages(server, "status=done", PAGE_LIMIT, PAGES)
                      for name, server in apps.items()}
            problems += paging_check(walked, "done", min(done, PAGE_LIMIT * PAGES))
            paths = {name: pages for name, (pages, _) in walked.items()}
            results["paging"] = get_scenario(paths, apps, meter, args, database)
            results["paging"]["pages"] = {name: len(pages) for name, pages in paths.items()}
            spec["gets"]["paging"] = paths
        if "claims" in args.scenarios:
            log(f"{size:,}: claim + learndone, {args.claim_workers} workers")
            claims = Claims(db, filled, args.claim_pool)
            results["claims"] = claim_scenario(apps, claims, args, database)
            results["claims"].update(claims.verify())
            problems += claims.problems
            spec["claims"] = {app: claims.next_tasks(app, COST_REQUESTS) for app in apps}
        for server in apps.values():
            if not server.alive():
                problems.append(f"{server.name} died during the suite; see {server.log.name}")
    finally:
        for server in apps.values():
            server.stop()
    if args.costs:
        log(f"{size:,}: the database's work per request (both apps in-process, one request at a time)")
        out["costs"], found = subprocess_json("bench.costs", [uri], ferret, stdin=json.dumps(spec))
        problems += found
    if "record" in args.scenarios:
        log(f"{size:,}: FerretDB alone, filtered page and uuid lookup")
        results["ferretdb_record"] = record_scenario(db, filled, args.record_samples)
    if "sql" in args.scenarios and pg is not None and largest:
        log(f"{size:,}: the SQL FerretDB sends, and its plans (auto_explain)")
        out["sql_evidence"] = sql_evidence(pg, db, filled.learnuplet_sample[0])
    if "post_data" in args.scenarios:
        log(f"{size:,}: POST /data (in-process app)")
        results["post_data"], found = subprocess_json("bench.roundtrips", [uri, *map(str, args.data_sizes)],
                                                      ferret)
        problems += found + results["post_data"].get("errors", [])
    client.drop_database(dbname)
    client.close()
    return out, problems


def idle(meter: Meter, apps: dict[str, Server], database: dict[str, int], seconds: float) -> dict[str, Any]:
    """CPU per second of each component, and FerretDB's commands per second, with no request
    sent: the Orchestrator's sweeper (every 5 s in each process; the stream sweep every 30 s).
    Measured without ending FerretDB's sessions (that would fail a sweep under way)."""
    roots = {**{name: server.process.pid for name, server in apps.items()}, **database}
    before, commands = cpu_seconds(roots), meter.counters.read()[0]
    time.sleep(seconds)
    moved = meter.counters.read()[0] - commands
    return {"seconds": seconds, "cpu_ms": {name: round(spent * 1000 / seconds, 1)
                                           for name, spent in used(before, cpu_seconds(roots)).items()},
            "commands": {name: round(count / seconds, 2) for name, count in sorted(moved.items())}}


def subprocess_json(module: str, argv: list[str], ferret: Ferret,
                    stdin: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """`python -m module argv...` (so that its command listener sees only its apps); its last
    line of output, as JSON. It reads PostgreSQL's counters when given tools/postgres.sh's state."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if ferret.postgres_state():
        env["BENCH_POSTGRES_STATE"] = str(ferret.dir / "state.postgres")
    done = subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True)
    if done.returncode:
        return {}, [f"{module} failed: {done.stderr[-2000:]}"]
    return json.loads(done.stdout.strip().splitlines()[-1]), []


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


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI-sized run: 1,000 learnuplets, short rounds")
    parser.add_argument("--sizes", type=int, nargs="+",
                        help="learnuplets per suite (1000 10000 100000; on SQLite 1000; --small 1000)")
    parser.add_argument("--scenarios", nargs="+", default=EVERY, choices=EVERY)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app (2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (4)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--seconds", type=float, help="shortest load round (10; --small 3)")
    parser.add_argument("--max-round", type=float, default=60.0,
                        help="longest load round; slower routes are sampled sequentially (60)")
    parser.add_argument("--rounds", type=int, help="rounds per app, alternated A B A B (2; --small 1)")
    parser.add_argument("--samples", type=int, default=3,
                        help="sequential samples of a route too slow to load (3)")
    parser.add_argument("--claim-workers", type=int, default=8)
    parser.add_argument("--claim-seconds", type=float, help="longest claim round (20; --small 3)")
    parser.add_argument("--claim-cycles", type=int, default=60, help="cycles that end a claim round (60)")
    parser.add_argument("--claim-pool", type=int, default=20, help="chains the claim workers race over")
    parser.add_argument("--data-sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--record-samples", type=int, help="FerretDB-alone samples per size (20; --small 3)")
    parser.add_argument("--costs", action=argparse.BooleanOptionalAction,
                        help="database commands and scanned rows per request (on; --small off)")
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="servers idle, the sweepers' work measured (30: a stream sweep each)")
    parser.add_argument("--plot", type=Path, help="the PNG of the curves (bench/results/<time>-scale.png)")
    args = parser.parse_args(argv)
    sqlite = os.environ.get("FERRETDB_BACKEND") == "sqlite"
    args.sizes = args.sizes or ([1000] if args.small or sqlite else [1000, 10000, 100000])
    args.seconds = args.seconds or (3 if args.small else 10)
    args.rounds = args.rounds or (1 if args.small else 2)
    args.claim_seconds = args.claim_seconds or (3 if args.small else 20)
    args.record_samples = args.record_samples or (3 if args.small else 20)
    args.costs = (not args.small) if args.costs is None else args.costs
    args.cores = os.cpu_count() or 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # SIGTERM (a CI timeout, kill): unwind, so that the servers and FerretDB are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    ferret = Ferret()
    results: dict[str, Any] = {"command": " ".join(["python -m bench", *(argv or sys.argv[1:])]),
                               "started": time.strftime("%Y-%m-%d %H:%M"), "backend": ferret.backend,
                               "machine": machine(), "sizes": {}}
    problems: list[str] = []
    try:
        uri = ferret.start()
        log(f"FerretDB over {ferret.backend} at {uri}; server logs in {logdir}")
        for size in args.sizes:
            largest = size == max(args.sizes)
            results["sizes"][str(size)], found = suite(size, ferret, uri, args, logdir, largest)
            problems += found
        results["check_fill"], found = check_fill(uri)
        problems += found
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        problems.append(f"benchmark failed: {error!r}")
    finally:
        ferret.stop()
    for size, suite_out in results["sizes"].items():
        for scenario, out in suite_out["scenarios"].items():
            if isinstance(out, dict) and "orchestrator" in out and out["orchestrator"]["errors"]:
                problems.append(f"{size}: orchestrator errors in {scenario}: {out['orchestrator']['errors']}")
    results["targets"] = report.targets(results)
    results["problems"] = problems
    results["seconds"] = round(time.monotonic() - started, 1)
    name = RESULTS / f"{stamp}-{'small' if args.small else 'full'}.json"
    if len(results["sizes"]) > 1:
        results["plot"] = report.plot(results, args.plot or RESULTS / f"{stamp}-scale.png")
    name.write_text(json.dumps(results, indent=2))
    print(report.table(results))
    print("\n" + report.scale_table(results))
    print("\ntargets: " + json.dumps(results["targets"]))
    if "plot" in results:
        print(results["plot"])
    print(f"\n{len(problems)} problem(s){': ' if problems else ''}" + "; ".join(problems))
    print(f"total {results['seconds']}s; results in {name.relative_to(ROOT)}")
    return 1 if problems else 0
