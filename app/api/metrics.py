"""Prometheus metrics, served by GET /metrics (blueprints/metrics.py; docs/deployment.md).

Counted as things happen, in each process: requests by method, route (the URL rule, so
`/problem/<uuid>`, not one series per uuid) and status, with their latency; the ledger's
commit contention (conflicts, retries: the ledgers call a hook, they import nothing of this);
push attempts. Under gunicorn every worker writes its counts to files of its own in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, which gunicorn_config.py sets
up and cleans), and a scrape, whichever worker answers it, adds up every worker's files.
Without that variable (python -m app, tests) the counts live in this app's own registry.

Read from the database when scraped, never per request (DatabaseCollector): tasks by kind
and status, the ledgers' applied and newest events, the push backlog. Each is one grouped
count or a lookup by key: on FerretDB every filter is a scan, so there are few of them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, exposition, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ..delivery.outbox import PENDING_DELIVERY, SENDING
from ..domain.states import STATUSES
from ..ledger import Ledgers
from ..ledger.commit import Observe
from ..ledger.streams import CHECKPOINT
from ..storage.errors import DatabaseError

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
# Seconds; API answers take milliseconds, a large upload seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Other methods are counted as OTHER: a client must not be able to make series up at will.
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
OTHER = "other"
TASKS = ("learnuplet", "preduplet")
# The ledgers with one head (the streams have one per aggregate): metric label -> head, events
LEDGERS = {"registry": ("head", "events"), "delivery": ("delivery", "delivery_events")}
UNAPPLIED_COUNTED = 1000  # unapplied events counted at most (a scrape reads their keys)
# commit.CONTENTION -> (counter, labels)
CONTENTION: dict[str, tuple[str, dict[str, str]]] = {
    "conflict": ("conflicts", {"outcome": "retried"}),
    "commuted": ("conflicts", {"outcome": "commuted"}),
    "refused": ("conflicts", {"outcome": "refused"}),
    "recheck": ("retries", {"reason": "recheck"}),
    "half_applied": ("retries", {"reason": "half_applied"}),
    "busy": ("busy", {}),
}


class Metrics:
    """The counters of one app (of the process, in multiprocess mode), and the scrape."""

    def __init__(self, ledgers: Callable[[], Ledgers | None], push: bool):
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        # multiprocess: every metric goes to the process's files, and only there
        self.registry = None if self.multiprocess else CollectorRegistry()
        self._database = CollectorRegistry()  # its own: scrapes may run in several threads
        self._database.register(DatabaseCollector(ledgers, push))
        self._counters = _process_counters() if self.multiprocess else _new_counters(self.registry)
        self._by_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (the cost of every request: two dictionary lookups and
        two increments once the labels were seen)."""
        if method not in METHODS:
            method = OTHER
        key = (method, route, status)
        children = self._by_request.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self._counters["requests"].labels(*labels),
                        self._counters["latency"].labels(*labels))
            self._by_request[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def contention(self, ledger: str) -> Observe:
        """The hook a ledger calls with each of commit.CONTENTION."""
        counters = {what: self._counters[name].labels(ledger=ledger, **labels)
                    for what, (name, labels) in CONTENTION.items()}
        return lambda what: counters[what].inc()

    def delivery(self) -> Observe:
        """The hook the dispatcher calls after each push: "delivered" or "failed"."""
        counters = {outcome: self._counters["pushes"].labels(outcome=outcome)
                    for outcome in ("delivered", "failed")}
        return lambda outcome: counters[outcome].inc()

    def scrape(self) -> bytes:
        """The Prometheus text of every counter (of every worker) and the database gauges."""
        counters = self.registry
        if counters is None:  # read every worker's files, as prometheus_client documents
            counters = CollectorRegistry()
            MultiProcessCollector(counters)
        return generate_latest(counters) + generate_latest(self._database)


def _new_counters(registry: CollectorRegistry | None) -> dict[str, Any]:
    request_labels = ("method", "route", "status")
    return {
        "requests": Counter("orchestrator_http_requests", "HTTP requests answered",
                            request_labels, registry=registry),
        "latency": Histogram("orchestrator_http_request_duration_seconds",
                             "Time to answer an HTTP request, from routing to the response",
                             request_labels, buckets=LATENCY_BUCKETS, registry=registry),
        "conflicts": Counter("orchestrator_commit_conflicts",
                             "Event numbers lost to a concurrent commit, by what followed",
                             ("ledger", "outcome"), registry=registry),
        "retries": Counter("orchestrator_commit_retries",
                           "Decisions made again after waiting for an unapplied event",
                           ("ledger", "reason"), registry=registry),
        "busy": Counter("orchestrator_commit_busy",
                        "Commits given up after COMMIT_ATTEMPTS (answered 503)",
                        ("ledger",), registry=registry),
        "pushes": Counter("orchestrator_delivery_attempts",
                          "Pushes of tasks to COMPUTE_URL, by outcome", ("outcome",),
                          registry=registry),
    }


_PROCESS: dict[str, Any] = {}


def _process_counters() -> dict[str, Any]:
    """Multiprocess mode keeps a value per metric and labels in this process's files: two sets
    of counters in one process (two apps) would overwrite each other's, so there is one."""
    if not _PROCESS:
        _PROCESS.update(_new_counters(None))
    return _PROCESS


class DatabaseCollector:
    """The gauges read from the database at each scrape. If the database does not answer,
    `orchestrator_database_up` is 0 and they are left out: the scrape itself still works."""

    def __init__(self, ledgers: Callable[[], Ledgers | None], push: bool):
        self._ledgers = ledgers
        self._push = push

    def describe(self) -> list[Metric]:
        return []  # read from the database: nothing to describe without reading it

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("orchestrator_database_up",
                               "1 if this scrape's database reads succeeded, else 0")
        ledgers = self._ledgers()
        try:
            families = list(self._read(ledgers)) if ledgers is not None else []
        except DatabaseError:
            families, ledgers = [], None
        up.add_metric([], 1 if ledgers is not None else 0)
        yield up
        yield from families

    def _read(self, ledgers: Ledgers) -> Iterator[Metric]:
        store = ledgers.store
        tasks = GaugeMetricFamily("orchestrator_tasks", "Tasks by kind and status",
                                  labels=("kind", "status"))
        for kind in TASKS:
            for status, count in store.count_by(kind, "status", list(STATUSES)).items():
                tasks.add_metric([kind, status], count)
        yield tasks
        yield from _ledger_gauges(store, {name: ledger for name, ledger in LEDGERS.items()
                                          if name == "registry" or self._push})
        checkpoint = store.checkpoint(CHECKPOINT)
        if checkpoint:
            yield _gauge("orchestrator_stream_sweep_lag_seconds",
                         "Seconds since the commit time the stream sweep has checked up to",
                         max(0.0, ledgers.now() - checkpoint / 1000))
        if self._push:
            backlog = GaugeMetricFamily("orchestrator_delivery_backlog",
                                        "Tasks waiting to be pushed to COMPUTE_URL, by state",
                                        labels=("state",))
            for state, count in store.count_by("outbox", "state",
                                               [PENDING_DELIVERY, SENDING]).items():
                backlog.add_metric([state], count)
            yield backlog


def _ledger_gauges(store: Any, ledgers: Mapping[str, tuple[str, str]]) -> Iterator[Metric]:
    applied = GaugeMetricFamily("orchestrator_ledger_applied_version",
                                "Number of the ledger's last applied event (its head)",
                                labels=("ledger",))
    newest = GaugeMetricFamily("orchestrator_ledger_newest_event",
                               "Number of the ledger's newest committed event",
                               labels=("ledger",))
    unapplied = GaugeMetricFamily("orchestrator_ledger_unapplied_events",
                                  f"Events committed but not applied yet (counted up to "
                                  f"{UNAPPLIED_COUNTED})", labels=("ledger",))
    for name, (head_name, events) in ledgers.items():
        head = store.head(head_name) or 0
        behind = store.count_events_after(events, head, UNAPPLIED_COUNTED)
        applied.add_metric([name], head)
        newest.add_metric([name], head + behind)  # numbers follow one another
        unapplied.add_metric([name], behind)
    yield from (applied, newest, unapplied)


def _gauge(name: str, documentation: str, value: float) -> Metric:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge
