"""What the audit trail costs: `python -m bench.audit [--small]` (issue 11; docs/audit.md).

Starts FerretDB (tools/ferretdb.sh, over PostgreSQL unless FERRETDB_BACKEND=sqlite) and
measures, through the HTTP API and FerretDB's own command counters:

1. writes: claim + learndone cycles by 8 workers (each on a chain of its own), on the
   Orchestrator with sealing on (SEAL_EVENTS=true) and off, everything else equal, the
   sweeper every second (SWEEP_SECONDS=1: the sealer, every sixth tick, runs every 6 s, 5x
   as often as by default, the worst case), alternated (on, off, on, off ...) on fresh
   chains, one server at a time.
   Cycles/s, and database commands per cycle: every command FerretDB received during the
   phase (the sealer's included) divided by the cycles. Targets: on/off throughput >= 0.85,
   commands per cycle on - off <= 1.
2. verify: a database pre-filled with the suite's events and documents (bench/fill.py, which
   also seals them as running servers would) at 100,000 learnuplets (--small: 1,000), then
   `Verifier.run()` timed in this process: events/s. It also proves the fill re-derives.

Prints a table; writes JSON to bench/results/<time>-audit[-small].json. Exit status 1 if the
Orchestrator erred, a cycle was lost, or verify failed; timings never fail the run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from . import fill as filling
from .contention import build_chains, check_cycles, cycle_phase, warm_up
from .servers import PASSWORD, RESULTS, ROOT, USER, Counters, Ferret, Server, log, machine

THROUGHPUT_TARGET, COMMANDS_TARGET = 0.85, 1.0
PROFILE = os.environ.get("BENCH_PROFILE")  # a file for cProfile's stats of verify


def write_round(uri_base: str, seal: bool, round_number: int, args: argparse.Namespace,
                logdir: Path) -> dict[str, Any]:
    name = f"audit_{'on' if seal else 'off'}_{round_number}"
    server = Server(name, "app:create_app()", f"{uri_base.rstrip('/')}/{name}", 4, 4, logdir,
                    env={"SEAL_EVENTS": str(seal).lower(), "SWEEP_SECONDS": "1"})
    counters = Counters(uri_base)
    try:
        server.wait("/health")
        chains = build_chains(server.base, args.workers, args.cycles + 1)
        warm_up(server.base)
        time.sleep(2)  # the sweeper's first ticks (the sealer seals the set-up)
        result = cycle_phase(server.base, counters, chains, args.cycles, args.seconds)
        result["problems"] = result["errors"] + check_cycles(server.base, result)
        if not server.alive():
            result["problems"].append(f"{name} died; see {server.log.name}")
        return result
    finally:
        server.stop()
        counters.close()


def writes(uri_base: str, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for number in range(args.rounds):
        for seal in (True, False):
            log(f"writes, round {number + 1}: sealing {'on' if seal else 'off'}")
            rounds["on" if seal else "off"].append(write_round(uri_base, seal, number, args, logdir))
    summary = {side: {"cycles_per_s": round(statistics.median(r["cycles_per_s"] for r in runs), 2),
                      "commands_per_cycle": round(statistics.median(
                          r["commands_per_cycle"] or 0 for r in runs), 2)}
               for side, runs in rounds.items()}
    ratio = summary["on"]["cycles_per_s"] / summary["off"]["cycles_per_s"] \
        if summary["off"]["cycles_per_s"] else 0.0
    extra = summary["on"]["commands_per_cycle"] - summary["off"]["commands_per_cycle"]
    return {"rounds": rounds, "summary": summary, "throughput_ratio": round(ratio, 2),
            "extra_commands_per_cycle": round(extra, 2),
            "targets": {"throughput": {"target": f">= {THROUGHPUT_TARGET}",
                                       "met": ratio >= THROUGHPUT_TARGET},
                        "commands": {"target": f"<= +{COMMANDS_TARGET}",
                                     "met": extra <= COMMANDS_TARGET}}}


def verify_speed(uri_base: str, size: int) -> dict[str, Any]:
    from app import create_app
    from app.api.views import LEDGER
    from app.ledger.verify import Tampered, Verifier

    name = f"audit_verify_{size}"
    client: MongoClient = MongoClient(uri_base, serverSelectionTimeoutMS=10000)
    client.drop_database(name)
    log(f"verify: filling {size:,} learnuplets")
    filled = filling.fill(client[name], filling.for_learnuplets(size))
    app = create_app({"MONGO_URI": f"{uri_base.rstrip('/')}/{name}", "USER_AUTH": USER,
                      "PWD_AUTH": PASSWORD, "SWEEP_SECONDS": 0, "DB_TIMEOUT_SECONDS": 600})
    log(f"verify: {filled.events + filled.stream_events:,} events")
    started = time.monotonic()
    try:
        if PROFILE:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        report = Verifier(app.extensions[LEDGER], progress=log).run()
        if PROFILE:
            profiler.disable()
            profiler.dump_stats(PROFILE)
        problem = None
    except Tampered as error:
        report, problem = None, str(error)
    seconds = time.monotonic() - started
    client.drop_database(name)
    client.close()
    events = filled.events + filled.stream_events
    return {"learnuplets": size, "events": events, "documents": sum(filled.counts.values()),
            "seconds": round(seconds, 1), "events_per_s": round(events / seconds),
            "summary": report.summary() if report else None, "problem": problem}


def table(results: dict[str, Any]) -> str:
    lines = []
    if "writes" in results:
        w = results["writes"]
        lines += ["sealing  cycles/s  commands/cycle",
                  *(f"{side:<8} {s['cycles_per_s']:>8}  {s['commands_per_cycle']:>14}"
                    for side, s in w["summary"].items()),
                  f"throughput on/off {w['throughput_ratio']} (target >= {THROUGHPUT_TARGET}), "
                  f"commands on - off {w['extra_commands_per_cycle']:+} (target <= +{COMMANDS_TARGET})"]
    if "verify" in results:
        v = results["verify"]
        lines.append(f"verify at {v['learnuplets']:,} learnuplets: {v['events']:,} events in "
                     f"{v['seconds']} s = {v['events_per_s']:,} events/s"
                     + (f"; FAILED: {v['problem']}" if v["problem"] else ""))
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="CI: short rounds, 1,000 learnuplets")
    parser.add_argument("--size", type=int, help="learnuplets of the verify database")
    parser.add_argument("--verify-only", action="store_true", help="skip the write rounds")
    args = parser.parse_args(argv)
    args.workers, args.rounds = 8, 1 if args.small else 3
    args.cycles, args.seconds = (20, 10.0) if args.small else (200, 30.0)
    args.size = args.size or (1000 if args.small else 100_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logdir = Path(tempfile.mkdtemp(prefix="bench-audit-logs-"))
    results: dict[str, Any] = {"command": " ".join(["python -m bench.audit", *(argv or sys.argv[1:])]),
                               "machine": machine()}
    problems: list[str] = []
    ferret = Ferret()
    try:
        uri = ferret.start()
        log(f"FerretDB at {uri}; server logs in {logdir}")
        if not args.verify_only:
            results["writes"] = writes(uri, args, logdir)
            problems += [problem for runs in results["writes"]["rounds"].values()
                         for run in runs for problem in run["problems"]]
        results["verify"] = verify_speed(uri, args.size)
        if results["verify"]["problem"]:
            problems.append(f"verify: {results['verify']['problem']}")
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        problems.append(f"benchmark failed: {error!r}")
    finally:
        ferret.stop()
    results["problems"] = problems
    results["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = RESULTS / f"{stamp}-audit{'-small' if args.small else ''}.json"
    name.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\n{len(problems)} problem(s){': ' if problems else ''}" + "; ".join(problems[:20]))
    print(f"total {results['seconds']}s; results in {name.relative_to(ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
