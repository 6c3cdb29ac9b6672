"""Issue 9's targets under contention: `python -m bench.contention [--small] [--enforce]`.

Starts FerretDB (tools/ferretdb.sh, a state file of its own) and the Orchestrator under
gunicorn (4 workers × 4 threads, MONGO_URI), everything on loopback, and measures three things
through the HTTP API only:

1. cycles: database commands per claim + learndone cycle, with 1 worker, then with 8 workers
   at once. Each worker works through a chain of its own (claim rank r, report it done, which
   makes rank r + 1 todo, claim that...), so no two workers ever want the same task: every
   command the 8 workers need beyond the uncontended count is the price of racing commits.
   The commands are counted by FerretDB itself: `serverStatus` → `metrics.commands` (per
   command name, since the server started; verified on FerretDB v1.24, and MongoDB has the
   same field), read before and after the phase; the difference, without the handshake and
   monitoring commands (hello/isMaster, ping, endSessions, buildInfo) and the serverStatus
   calls themselves, divided by the cycles. For this the Orchestrator runs with
   SWEEP_SECONDS=0, so that nothing but the phase's requests talks to FerretDB meanwhile.
   Target: 8 workers ≤ 1.5 × 1 worker.
2. creates: 50 independent POST /problem one after another, then the same 50 at once (50
   threads, each with a connection of its own, released together). Target: the wall time
   at once ≤ 3 × the wall time one after another.
3. mixed: about 60 s (--small: 20 s) on a second Orchestrator with the default settings
   (sweeper on): 8 workers poll the todo learnuplets of a problem, claim one, send a
   heartbeat, report it done (80 %) or failed; one more client uploads data, registers an
   algo now and then and requests predictions. p50/p99/max latency per route and overall.
   Targets: p99 ≤ 1 s, no request over 3 s. Any 5xx or connection error is an error.

Prints a table and writes JSON to bench/results/<time>-contention[-small].json.
Exit status 1 if the Orchestrator answered an error (5xx, connection error, an unexpected
4xx), lost or doubled a claim, or left its ledger behind; with --enforce also if a target
was missed. Timings alone never fail a run without --enforce (as in bench/run.py).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from collections import Counter, defaultdict
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any

from .load import Http, percentile
from .servers import AUTH, RESULTS, ROOT, Counters, Ferret, Server, log, machine

# The targets.
CYCLE_RATIO_TARGET = 1.5  # commands per cycle, 8 workers / 1 worker
CREATES_RATIO_TARGET = 3.0  # wall time, 50 at once / 50 one after another
P99_TARGET_MS, MAX_TARGET_MS = 1000.0, 3000.0  # the mixed workload, every request
HTTP_TIMEOUT = 65.0  # longer than gunicorn's worker timeout (60 s): a hung request shows as one
POLL_LIMIT = 10  # todo learnuplets a mixed-workload worker lists at a time


def new() -> str:
    return str(uuidlib.uuid4())


class SetupError(RuntimeError):
    """A request the bench needs in order to build its data failed."""


def call(client: Http, method: str, path: str, body: Any = None,
         expect: tuple[int, ...] = (200, 201)) -> Any:
    status, answer, _ = client.request(method, path, body)
    if status not in expect:
        raise SetupError(f"{method} {path} -> {status}: {str(answer)[:300]}")
    return answer


def new_problem(test_dataset: list[str]) -> dict[str, Any]:
    return {"uuid": new(), "workflow": new(), "test_dataset": test_dataset, "size_train_dataset": 1}


def done_report(task: dict[str, Any], worker: str, perf: float) -> dict[str, Any]:
    return {"status": "done", "perf": perf, "worker": worker,
            "train_perf": dict.fromkeys(task["train_data"], perf),
            "test_perf": dict.fromkeys(task["test_data"], perf)}


def learnuplets(client: Http, query: str) -> list[dict[str, Any]]:
    """Every learnuplet matching `query`, following next_page_token (bounded)."""
    found, token = [], None
    for _ in range(100):
        path = f"/learnuplet?{query}&limit=1000" + (f"&page_token={token}" if token else "")
        body = call(client, "GET", path, expect=(200,))
        found += body["learnuplets"]
        token = body.get("next_page_token")
        if not token:
            return found
    raise SetupError(f"more than 100 pages of /learnuplet?{query}")


def ms(seconds: list[float]) -> dict[str, float]:
    return {"count": len(seconds), "p50_ms": round(percentile(seconds, 50) * 1000, 1),
            "p99_ms": round(percentile(seconds, 99) * 1000, 1),
            "max_ms": round(max(seconds, default=float("nan")) * 1000, 1)}


# --- 1. commands per claim + learndone cycle -----------------------------------------------

def build_chains(base: str, chains: int, length: int) -> list[list[dict[str, Any]]]:
    """A problem (batches of 1) with `length` train data and `chains` algos: each algo's chain
    has rank 0 todo and `length - 1` waiting ranks."""
    client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
    test = new()
    problem = call(client, "POST", "/problem", new_problem([test]))["new_problem"]["uuid"]
    call(client, "POST", "/data", {"uuid": [test, *(new() for _ in range(length))],
                                   "problems": problem})
    built = []
    for number in range(chains):
        algo = call(client, "POST", "/algo", {"uuid": new(), "problem": problem,
                                              "name": f"chain-{number}"})["new_algo"]["uuid"]
        built.append(sorted(learnuplets(client, f"algo={algo}"), key=lambda doc: doc["rank"]))
    client.close()
    return built


def warm_up(base: str, connections: int = 16) -> None:
    """New connections at once, so every gunicorn worker has served (and opened its pool)."""
    def one() -> None:
        client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
        for _ in range(3):
            client.request("GET", "/ready")
        client.close()

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def cycle_phase(base: str, counters: Counters, chains: list[list[dict[str, Any]]], cycles: int,
                seconds: float) -> dict[str, Any]:
    """Each chain worked through by a worker thread of its own: up to `cycles` claim + learndone
    cycles each, until `seconds` have passed (a cycle under way is finished)."""
    lock = threading.Lock()
    cycle_times: list[float] = []
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    done: dict[str, str] = {}
    start = threading.Barrier(len(chains) + 1)
    deadline = [0.0]

    def worker(chain: list[dict[str, Any]]) -> None:
        client, me = Http(base, AUTH, timeout=HTTP_TIMEOUT), new()
        client.request("GET", "/health")  # connect before the clock starts
        start.wait()
        for task in chain[:cycles]:
            if time.monotonic() >= deadline[0]:
                break
            try:
                claimed, answer, claim_s = client.request(
                    "POST", f"/worker/learnuplet/{task['uuid']}", {"worker": me})
                reported, answer2, report_s = (None, None, 0.0)
                if claimed == 200:
                    reported, answer2, report_s = client.request(
                        "POST", f"/learndone/{task['uuid']}", done_report(task, me, 0.5))
            except (OSError, HTTPException) as error:
                with lock:
                    errors.append(f"{task['uuid']}: {error!r}")
                break
            with lock:
                statuses[f"claim {claimed}"] += 1
                if reported is not None:
                    statuses[f"learndone {reported}"] += 1
                if claimed == 200 and reported == 200:
                    cycle_times.append(claim_s + report_s)
                    done[task["uuid"]] = me
                else:
                    errors.append(f"{task['uuid']}: claim {claimed} {str(answer)[:200]}, "
                                  f"learndone {reported} {str(answer2)[:200]}")
            if claimed != 200 or reported != 200:
                break
        client.close()

    threads = [threading.Thread(target=worker, args=(chain,)) for chain in chains]
    for thread in threads:
        thread.start()
    before_total, before_failed = counters.read()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    after_total, after_failed = counters.read()
    commands = after_total - before_total
    failed = after_failed - before_failed
    count = len(cycle_times)
    per_cycle = {name: round(value / count, 2) for name, value in sorted(commands.items())} if count else {}
    return {"workers": len(chains), "cycles": count, "seconds": round(wall, 2),
            "cycles_per_s": round(count / wall, 2) if wall else 0.0,
            "commands": sum(commands.values()),
            "commands_per_cycle": round(sum(commands.values()) / count, 2) if count else None,
            "per_command_per_cycle": per_cycle,
            "failed_commands_per_cycle": ({name: round(value / count, 2)
                                           for name, value in sorted(failed.items()) if value}
                                          if count else {}),
            "cycle_latency": ms(cycle_times), "statuses": dict(statuses), "errors": errors,
            "done": done}


def check_cycles(base: str, result: dict[str, Any]) -> list[str]:
    """Every reported cycle left its learnuplet done by the worker that claimed it."""
    client, problems = Http(base, AUTH, timeout=HTTP_TIMEOUT), []
    for uuid, worker in list(result.pop("done").items()):
        stored = call(client, "GET", f"/learnuplet/{uuid}", expect=(200,))
        if (stored["status"], stored["worker"]) != ("done", worker):
            problems.append(f"learnuplet {uuid}: {stored['status']} by {stored['worker']}, "
                            f"reported done by {worker}")
    client.close()
    return problems


# --- 2. 50 creates at once vs one after another ----------------------------------------------

def creates_round(base: str, count: int) -> dict[str, Any]:
    bodies = [new_problem([new()]) for _ in range(2 * count)]
    errors: list[str] = []

    client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
    client.request("GET", "/health")
    sequential: list[float] = []
    started = time.monotonic()
    for body in bodies[:count]:
        status, answer, seconds = client.request("POST", "/problem", body)
        sequential.append(seconds)
        if status != 201:
            errors.append(f"one after another: {status} {str(answer)[:200]}")
    sequential_wall = time.monotonic() - started
    client.close()

    at_once: list[float] = []
    ends: list[float] = []
    lock = threading.Lock()
    release = threading.Barrier(count + 1)

    def send(body: dict[str, Any]) -> None:
        mine = Http(base, AUTH, timeout=HTTP_TIMEOUT)
        mine.request("GET", "/health")  # connected before the release
        release.wait()
        try:
            status, answer, seconds = mine.request("POST", "/problem", body)
        except (OSError, HTTPException) as error:
            status, answer, seconds = None, repr(error), float("nan")
        with lock:
            at_once.append(seconds)
            ends.append(time.monotonic())
            if status != 201:
                errors.append(f"at once: {status} {str(answer)[:200]}")
        mine.close()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies[count:]]
    for thread in threads:
        thread.start()
    release.wait()
    released = time.monotonic()
    for thread in threads:
        thread.join()
    concurrent_wall = max(ends) - released
    return {"count": count, "sequential_s": round(sequential_wall, 3),
            "concurrent_s": round(concurrent_wall, 3),
            "ratio": round(concurrent_wall / sequential_wall, 2) if sequential_wall else None,
            "sequential_latency": ms(sequential), "concurrent_latency": ms(at_once),
            "errors": errors}


def creates_phase(base: str, count: int, rounds: int) -> dict[str, Any]:
    runs = [creates_round(base, count) for _ in range(rounds)]
    sequential = sum(run["sequential_s"] for run in runs)
    concurrent = sum(run["concurrent_s"] for run in runs)
    return {"count": count, "rounds": runs, "sequential_s": round(sequential, 3),
            "concurrent_s": round(concurrent, 3),
            "ratio": round(concurrent / sequential, 2) if sequential else None,
            "errors": [error for run in runs for error in run["errors"]]}


# --- 3. the mixed workload -------------------------------------------------------------------

class Recorder:
    """Latency and status of every request of the mixed workload, by route."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: list[str] = []
        self.unexpected: list[str] = []
        self.claims: dict[str, list[str]] = defaultdict(list)  # task -> workers it answered 200
        self.reports: dict[str, tuple[str, str]] = {}  # task -> (status, worker) answered 200

    def send(self, client: Http, route: str, method: str, path: str, body: Any = None,
             expected: tuple[int, ...] = (200, 201)) -> tuple[int | None, Any]:
        started = time.perf_counter()
        try:
            status, answer, _ = client.request(method, path, body)
        except (OSError, HTTPException) as error:
            status, answer = None, repr(error)
        seconds = time.perf_counter() - started
        with self.lock:
            self.latencies[route].append(seconds)
            self.statuses[route][str(status)] += 1
            if status is None or status >= 500:
                self.errors.append(f"{route}: {status} after {seconds:.2f}s {str(answer)[:200]}")
            elif status not in expected:
                self.unexpected.append(f"{route}: {status} {str(answer)[:200]}")
        return status, answer


def mixed_setup(base: str, problems: int, algos: int, train: int) -> list[str]:
    client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
    made = []
    for _ in range(problems):
        test = [new(), new()]
        problem = call(client, "POST", "/problem", new_problem(test))["new_problem"]["uuid"]
        call(client, "POST", "/data", {"uuid": [*test, *(new() for _ in range(train))],
                                       "problems": problem})
        for number in range(algos):
            call(client, "POST", "/algo", {"uuid": new(), "problem": problem, "name": f"algo-{number}"})
        made.append(problem)
    client.close()
    return made


def mixed_worker(base: str, problems: list[str], record: Recorder, deadline: float,
                 seed: int) -> None:
    """Poll a problem's todo learnuplets, claim one, heartbeat, report; again until the deadline."""
    rng, client, me = random.Random(seed), Http(base, AUTH, timeout=HTTP_TIMEOUT), new()
    queue: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if not queue:
            status, body = record.send(
                client, "GET /learnuplet?problem&status=todo", "GET",
                f"/learnuplet?problem={rng.choice(problems)}&status=todo&limit={POLL_LIMIT}")
            queue = list(body["learnuplets"]) if status == 200 else []
            rng.shuffle(queue)
            if not queue:
                time.sleep(0.2)
                continue
        task = queue.pop()
        status, _ = record.send(client, "POST /worker/learnuplet", "POST",
                                f"/worker/learnuplet/{task['uuid']}", {"worker": me},
                                expected=(200, 409))  # 409: another worker was first
        if status != 200:
            continue
        with record.lock:
            record.claims[task["uuid"]].append(me)
        time.sleep(rng.uniform(0.02, 0.1))  # the work
        record.send(client, "POST /worker/learnuplet/heartbeat", "POST",
                    f"/worker/learnuplet/{task['uuid']}/heartbeat", {"worker": me})
        outcome = "done" if rng.random() < 0.8 else "failed"
        report = (done_report(task, me, round(rng.random(), 4)) if outcome == "done"
                  else {"status": "failed", "worker": me})
        status, _ = record.send(client, f"POST /learndone ({outcome})", "POST",
                                f"/learndone/{task['uuid']}", report)
        if status == 200:
            with record.lock:
                record.reports[task["uuid"]] = (outcome, me)
    client.close()


def mixed_uploader(base: str, problems: list[str], record: Recorder, deadline: float) -> None:
    """Data every iteration, an algo every 8th, a prediction every 3rd; 0.5 s apart."""
    client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
    iteration = 0
    while time.monotonic() < deadline:
        problem = problems[iteration % len(problems)]
        record.send(client, "POST /data", "POST", "/data",
                    {"uuid": [new(), new()], "problems": problem})
        if iteration % 8 == 7:
            record.send(client, "POST /algo", "POST", "/algo",
                        {"uuid": new(), "problem": problem, "name": f"late-{iteration}"})
        if iteration % 3 == 2:  # 409 until some learnuplet of the problem is done
            record.send(client, "POST /prediction", "POST", "/prediction",
                        {"data": new(), "problem": problem}, expected=(201, 409))
        iteration += 1
        time.sleep(0.5)
    client.close()


def mixed_phase(base: str, workers: int, seconds: float) -> dict[str, Any]:
    problems = mixed_setup(base, problems=2, algos=3, train=10)
    record = Recorder()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=mixed_worker, args=(base, problems, record, deadline, i))
               for i in range(workers)]
    threads.append(threading.Thread(target=mixed_uploader, args=(base, problems, record, deadline)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    everything = [value for values in record.latencies.values() for value in values]
    result = {"seconds": round(wall, 1), "requests": len(everything),
              "overall": ms(everything),
              "routes": {route: {**ms(values), "statuses": dict(record.statuses[route])}
                         for route, values in sorted(record.latencies.items())},
              "errors_5xx_or_connection": record.errors, "unexpected_4xx": record.unexpected}
    result["problems"] = check_mixed(base, problems, record)
    return result


def check_mixed(base: str, problems: list[str], record: Recorder) -> list[str]:
    """Exactly once: one 200 claim per task, every 200 report stored; the ledger applied."""
    found = [f"task {uuid} claimed with 200 by {len(who)} workers"
             for uuid, who in record.claims.items() if len(who) > 1]
    client = Http(base, AUTH, timeout=HTTP_TIMEOUT)
    stored = {doc["uuid"]: doc for problem in problems for doc in learnuplets(client, f"problem={problem}")}
    for uuid, (outcome, worker) in record.reports.items():
        doc = stored.get(uuid)
        if doc is None or (doc["status"], doc["worker"]) != (outcome, worker):
            found.append(f"learnuplet {uuid} reported {outcome} by {worker} (200) but stored as "
                         f"{doc and (doc['status'], doc['worker'])}")
    status, answer, _ = client.request("GET", "/ready")
    if status != 200:
        found.append(f"GET /ready after the workload: {status} {str(answer)[:200]}")
    client.close()
    return found


# --- the run ---------------------------------------------------------------------------------

def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cycles, creates, mixed = results.get("cycles"), results.get("creates"), results.get("mixed")
    out: dict[str, dict[str, Any]] = {}
    if cycles and cycles["one"]["commands_per_cycle"] and cycles["many"]["commands_per_cycle"]:
        ratio = round(cycles["many"]["commands_per_cycle"] / cycles["one"]["commands_per_cycle"], 2)
        out["commands per cycle, 8 workers / 1"] = {"value": ratio, "limit": CYCLE_RATIO_TARGET,
                                                    "met": ratio <= CYCLE_RATIO_TARGET}
    if creates and creates["ratio"] is not None:
        out["50 creates, at once / one after another"] = {
            "value": creates["ratio"], "limit": CREATES_RATIO_TARGET,
            "met": creates["ratio"] <= CREATES_RATIO_TARGET}
    if mixed:
        overall = mixed["overall"]
        out["mixed p99 ms"] = {"value": overall["p99_ms"], "limit": P99_TARGET_MS,
                               "met": overall["p99_ms"] <= P99_TARGET_MS}
        out["mixed max ms"] = {"value": overall["max_ms"], "limit": MAX_TARGET_MS,
                               "met": overall["max_ms"] <= MAX_TARGET_MS}
    return out


def table(results: dict[str, Any]) -> str:
    lines = []
    cycles = results.get("cycles")
    if cycles:
        lines.append(f"{'claim + learndone cycles':28} {'cycles':>6} {'cyc/s':>6} {'cmd/cycle':>9} "
                     f"{'p50 ms':>8} {'p99 ms':>8}  commands per cycle")
        for key in ("one", "many"):
            row = cycles[key]
            lines.append(f"{str(row['workers']) + ' worker(s)':28} {row['cycles']:>6} "
                         f"{row['cycles_per_s']:>6} {row['commands_per_cycle']!s:>9} "
                         f"{row['cycle_latency']['p50_ms']:>8} {row['cycle_latency']['p99_ms']:>8}  "
                         f"{row['per_command_per_cycle']}")
            if row["errors"]:
                lines.append(f"{'':28} {len(row['errors'])} worker(s) stopped on an error: "
                             f"{row['errors'][0][:150]}")
        if cycles["many"].get("drained_s", 0) > 1.5:
            lines.append(f"{'':28} FerretDB busy {cycles['many']['drained_s']} s more after the "
                         "8-worker phase (requests the clients had given up on)")
    creates = results.get("creates")
    if creates:
        lines.append(f"\n{creates['count']} POST /problem: one after another {creates['sequential_s']} s, "
                     f"at once {creates['concurrent_s']} s, ratio {creates['ratio']}")
        for run in creates["rounds"]:
            lines.append(f"  round: sequential p50 {run['sequential_latency']['p50_ms']} ms; at once "
                         f"p50 {run['concurrent_latency']['p50_ms']} ms, max "
                         f"{run['concurrent_latency']['max_ms']} ms")
    mixed = results.get("mixed")
    if mixed:
        lines.append(f"\nmixed workload, {mixed['seconds']} s, {mixed['requests']} requests")
        lines.append(f"{'route':38} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
        rows = [*mixed["routes"].items(), ("overall", mixed["overall"])]
        for route, row in rows:
            lines.append(f"{route:38} {row['count']:>6} {row['p50_ms']:>8} {row['p99_ms']:>8} "
                         f"{row['max_ms']:>8}  {row.get('statuses', '')}")
        lines.append(f"5xx or connection errors: {len(mixed['errors_5xx_or_connection'])}; "
                     f"unexpected 4xx: {len(mixed['unexpected_4xx'])}")
    lines.append("\ntargets (issue 9):")
    for name, target in results["targets"].items():
        lines.append(f"  {name:42} {target['value']!s:>8}  limit {target['limit']:<7} "
                     f"{'met' if target['met'] else 'MISSED'}")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.contention",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI-sized run (under 2 minutes)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (4)")
    parser.add_argument("--cycle-workers", type=int, default=8, help="concurrent cycle workers (8)")
    parser.add_argument("--cycles", type=int, help="cycles per worker (30; --small 10)")
    parser.add_argument("--cycle-seconds", type=float, help="bound on a cycle phase (90; --small 25)")
    parser.add_argument("--creates", type=int, default=50, help="POST /problem per round (50)")
    parser.add_argument("--create-rounds", type=int, help="rounds of creates (2; --small 1)")
    parser.add_argument("--seconds", type=float, help="mixed workload seconds (60; --small 20)")
    args = parser.parse_args(argv)
    args.cycles = args.cycles or (10 if args.small else 30)
    args.cycle_seconds = args.cycle_seconds or (25 if args.small else 90)
    args.create_rounds = args.create_rounds or (1 if args.small else 2)
    args.seconds = args.seconds or (20 if args.small else 60)
    return args


def run_counted(uri_base: str, args: argparse.Namespace, logdir: Path,
                results: dict[str, Any]) -> list[str]:
    """Phases 1 and 2, on an Orchestrator with SWEEP_SECONDS=0."""
    problems: list[str] = []
    counters = Counters(uri_base)
    server = Server("orchestrator-counted", "app:create_app()", f"{uri_base.rstrip('/')}/bench_contention",
                    args.workers, args.threads, logdir, env={"SWEEP_SECONDS": "0"})
    try:
        server.wait("/health")
        chains = build_chains(server.base, 1 + args.cycle_workers, args.cycles + 1)
        warm_up(server.base)
        log(f"cycles: 1 worker, up to {args.cycles} cycles")
        one = cycle_phase(server.base, counters, chains[:1], args.cycles, args.cycle_seconds)
        log(f"cycles: {args.cycle_workers} workers, up to {args.cycles} cycles each")
        many = cycle_phase(server.base, counters, chains[1:], args.cycles, args.cycle_seconds)
        # Requests a client gave up on (timeouts) still run: let them end before the creates.
        many["drained_s"] = counters.wait_quiet()
        for phase in (one, many):
            problems += [f"cycles, {phase['workers']} worker(s): {error}" for error in phase["errors"]]
            problems += check_cycles(server.base, phase)
        results["cycles"] = {"one": one, "many": many,
                             "counted_by": "FerretDB serverStatus metrics.commands, "
                                           "Orchestrator with SWEEP_SECONDS=0"}
        log(f"creates: {args.creates} POST /problem one after another, then at once "
            f"({args.create_rounds} round(s))")
        results["creates"] = creates_phase(server.base, args.creates, args.create_rounds)
        problems += [f"creates: {error}" for error in results["creates"]["errors"]]
        if not server.alive():
            problems.append(f"{server.name} died; see {server.log.name}")
    finally:
        server.stop()
        counters.close()
    return problems


def run_mixed(uri_base: str, args: argparse.Namespace, logdir: Path,
              results: dict[str, Any]) -> list[str]:
    """Phase 3, on an Orchestrator with the default settings."""
    server = Server("orchestrator-mixed", "app:create_app()", f"{uri_base.rstrip('/')}/bench_mixed",
                    args.workers, args.threads, logdir)
    try:
        server.wait("/health")
        log(f"mixed workload: {args.cycle_workers} workers and an uploader, {args.seconds:.0f} s")
        mixed = mixed_phase(server.base, args.cycle_workers, args.seconds)
        results["mixed"] = mixed
        problems = [f"mixed: {error}" for error in
                    mixed["errors_5xx_or_connection"] + mixed["unexpected_4xx"] + mixed["problems"]]
        if not server.alive():
            problems.append(f"{server.name} died; see {server.log.name}")
        return problems
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="bench-contention-logs-"))
    results: dict[str, Any] = {
        "command": " ".join(["python -m bench.contention", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(), "gunicorn": {"workers": args.workers, "threads": args.threads}}
    problems: list[str] = []
    ferret = Ferret()
    phases: list[Callable[..., list[str]]] = [run_counted, run_mixed]
    try:
        uri = ferret.start()
        log(f"FerretDB at {uri}; server logs in {logdir}")
        for phase in phases:
            problems += phase(uri, args, logdir, results)
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        problems.append(f"benchmark failed: {error!r}")
    finally:
        ferret.stop()
    results["targets"] = targets(results)
    results["problems"] = problems
    results["seconds"] = round(time.monotonic() - started, 1)
    name = RESULTS / f"{stamp}-contention{'-small' if args.small else ''}.json"
    name.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\n{len(problems)} problem(s){': ' if problems else ''}" + "; ".join(problems[:20]))
    print(f"total {results['seconds']}s; results in {name.relative_to(ROOT)}")
    missed = [name for name, target in results["targets"].items() if not target["met"]]
    return 1 if problems or (args.enforce and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
