"""How long each /ui page takes at a bench size: `python -m bench.dashboard` (about 1 min).

    python -m bench.dashboard                         # FerretDB over PostgreSQL, 10,000 learnuplets
    python -m bench.dashboard --store embedded        # the embedded store (quick start)
    python -m bench.dashboard --learnuplets 100000    # another size (bench/fill.py's shapes)

The database is filled as bench/fill.py fills it (the app's own events and documents), then a
server process made by create_app on it gets some live work through the API: claims left
pending (the workers page), failed reports (failure marks, counts), predictions claimed.
Each page is then requested SAMPLES times in process (the Flask test client: the server's
own time, queries and rendering, no network) after one warm-up; prints one JSON object with
the median, 90th percentile and slowest time per page, and exits 1 when a page's median is
over BUDGET_MS. A benchmark, not a test: run by hand (docs/dashboard.md has the results).
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from typing import Any

from app import create_app, stop_background
from app.domain.planning import learnuplet_uuid
from app.ledger.streams import CHECKPOINT, EVENTS
from app.storage import Writes
from app.storage.embedded import EmbeddedStore

from . import fill as filling

BUDGET_MS = 300
SAMPLES = 15
USER, PASSWORD = "bench", "bench-password"
CLAIMS, FAILURES, PREDICTIONS = 20, 5, 5


def fill_embedded(folder: str, sizes: filling.Sizes) -> list[str]:
    """An embedded store's directory holding the fill; returns the problems."""
    made, problems = filling.history(sizes, random.Random(5), int(time.time()) - sizes.events())
    store = EmbeddedStore(folder)
    for name, documents in made.memory.collections.items():
        store.write(Writes(inserts={name: list(documents.values())}), 1, "version")
    store.insert_events(filling.REGISTRY_EVENTS, made.registry_events)
    store.insert_events(EVENTS, made.stream_events)
    store.create_head("head")
    store.move_head("head", len(made.registry_events))
    store.move_checkpoint(CHECKPOINT, int(time.time() * 1000))
    store.close()
    return [problem["uuid"] for problem in problems]


class Client:
    def __init__(self, app: Any):
        self.flask = app.test_client()
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get(self, url: str) -> Any:
        return self.flask.get(url, headers=self.headers)

    def post(self, url: str, body: Any) -> Any:
        response = self.flask.post(url, json=body, headers=self.headers)
        assert response.status_code in (200, 201), (url, response.get_json())
        return response.get_json()


def live_work(client: Client, store: Any, problems: list[str]) -> dict[str, Any]:
    """Claims left pending, failures, predictions claimed: what the workers page shows."""
    rng = random.Random(7)
    chains = [chain for chain in store.chains_of(problems) if chain.get("running_status") == "todo"]
    workers = [str(uuidlib.UUID(int=rng.getrandbits(128), version=4)) for _ in range(4)]
    for index, chain in enumerate(chains[:CLAIMS + FAILURES]):
        task = learnuplet_uuid(chain["uuid"], chain["active"])
        worker = rng.choice(workers)
        client.post(f"/worker/learnuplet/{task}", {"worker": worker})
        if index >= CLAIMS:
            client.post(f"/learndone/{task}", {"status": "failed", "worker": worker})
    for problem in problems[:PREDICTIONS]:
        made = client.post("/prediction", {"data": workers[0], "problem": problem})
        client.post(f"/worker/preduplet/{made['uuid']}", {"worker": rng.choice(workers)})
    return {"claims": CLAIMS, "failures": FAILURES, "predictions": PREDICTIONS}


def time_pages(client: Client, pages: dict[str, str]) -> dict[str, Any]:
    out = {}
    for name, url in pages.items():
        assert client.get(url).status_code == 200, url  # warm-up (templates compiled)
        times = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
        times.sort()
        out[name] = {"url": url, "median_ms": round(statistics.median(times), 1),
                     "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1),
                     "max_ms": round(times[-1], 1), "bytes": len(response.data)}
    return out


def run(store_kind: str, total: int, uri: str | None = None) -> dict[str, Any]:
    sizes = filling.for_learnuplets(total)
    config = {"USER_AUTH": USER, "PWD_AUTH": PASSWORD, "SWEEP_SECONDS": 0}
    folder, ferret, dropped = tempfile.mkdtemp(prefix="bench-dashboard-"), None, None
    try:
        started = time.monotonic()
        if store_kind == "embedded":
            problems = fill_embedded(folder, sizes)
            config["DATA_DIR"] = folder
        else:
            from pymongo import MongoClient

            from .servers import Ferret
            if uri is None:
                ferret = Ferret()
                uri = ferret.start()
            name = f"dashboard_{total}_{int(time.time())}"
            with MongoClient(uri) as mongo:
                problems = filling.fill(mongo[name], sizes).problems
            dropped = (uri, name)
            config["MONGO_URI"] = f"{uri.rstrip('/')}/{name}"  # as bench/run.py names them
        app = create_app(config)
        client, store = Client(app), app.extensions["orchestrator.store"]
        work = live_work(client, store, problems)
        filled_seconds = round(time.monotonic() - started, 1)
        algo = store.chains_of([problems[0]])[0]["uuid"]
        pages = {"problems": "/ui/", "problem": f"/ui/problem/{problems[0]}",
                 "algo": f"/ui/algo/{algo}", "workers": "/ui/workers", "changes": "/ui/changes"}
        timed = time_pages(client, pages)
        stop_background(app)
        return {"store": store_kind, "learnuplets": total, "sizes": sizes.totals(),
                "live_work": work, "prepared_seconds": filled_seconds, "samples": SAMPLES,
                "budget_ms": BUDGET_MS, "pages": timed,
                "over_budget": [name for name, page in timed.items()
                                if page["median_ms"] > BUDGET_MS]}
    finally:
        if dropped and ferret is None:  # a server of someone else's: leave it as it was
            from pymongo import MongoClient

            with MongoClient(dropped[0]) as mongo:
                mongo.drop_database(dropped[1])
        if ferret is not None:
            ferret.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("ferretdb", "embedded"), default="ferretdb")
    parser.add_argument("--learnuplets", type=int, default=10_000)
    parser.add_argument("--uri", help="a running MongoDB-protocol server to use (a new "
                        "database on it) instead of starting FerretDB")
    args = parser.parse_args(argv)
    out = run(args.store, args.learnuplets, args.uri)
    print(json.dumps(out, indent=1))
    return 1 if out["over_budget"] else 0


if __name__ == "__main__":
    sys.exit(main())
