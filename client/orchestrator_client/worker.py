"""The worker kit: take runnable tasks, claim, run the user's function while heartbeats keep
the claim alive, report the outcome; and keep going through Orchestrator restarts and 503s.

    worker = Worker(Client.from_env(), train=my_training, predict=my_prediction)
    worker.run()                                  # until worker.stop() (or Ctrl-C)

`train(learnuplet)` returns a Training; `predict(preduplet)` returns the uuid under which it
stored the prediction. A function that raises reports the task failed (the error is logged).
"""
from __future__ import annotations

import enum
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .client import Client, new_uuid
from .documents import Learnuplet, Preduplet, TaskKind
from .errors import BadRequest, NotFound, StateConflict, Unavailable, Unreachable
from .lease import LeaseKeeper
from .listing import FilterValue

log = logging.getLogger(__name__)
OUTAGE_FIRST_WAIT, OUTAGE_MAX_WAIT = 1.0, 30.0  # backoff while the Orchestrator is unreachable


@dataclass(frozen=True)
class Training:
    """What a training function returns: performance overall, per train and per test data."""

    perf: float
    train_perf: dict[str, float]
    test_perf: dict[str, float]


TrainFunction = Callable[[Learnuplet], Training]
PredictFunction = Callable[[Preduplet], str]  # returns the prediction's storage uuid


class Outcome(enum.Enum):
    DONE = "done"  # ran and reported done
    FAILED = "failed"  # the function raised (or its result was refused): reported failed
    LOST = "lost"  # the claim lapsed while running: the result was dropped
    SKIPPED = "skipped"  # not claimed: another worker has it, it is finished, or it is gone


class TaskSource(Protocol):
    """Where a worker finds tasks: a Poller, or a PushReceiver."""

    def candidates(self) -> Iterator[tuple[TaskKind, dict[str, Any]]]:
        """Tasks that may be runnable now (without waiting)."""
        ...

    def wait(self, stop: threading.Event) -> None:
        """Until more tasks may be available, or `stop` is set."""
        ...


class Poller:
    """Lists `todo` tasks of the given kinds, matching `filters`, one page at a time."""

    def __init__(self, client: Client, kinds: list[TaskKind], filters: dict[str, FilterValue],
                 poll_seconds: float = 5.0, page_size: int = 20):
        self.client, self.kinds, self.filters = client, kinds, filters
        self.poll_seconds, self.page_size = poll_seconds, page_size

    def candidates(self) -> Iterator[tuple[TaskKind, dict[str, Any]]]:
        for kind in self.kinds:
            page = self.client.tasks(kind).fetch_page({**self.filters, "status": "todo"},
                                                      self.page_size)
            for task in page.documents:
                yield kind, task

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.poll_seconds)


class Worker:
    """Runs tasks one at a time as one worker uuid (`worker`, a fresh one by default)."""

    def __init__(self, client: Client, *, train: TrainFunction | None = None,
                 predict: PredictFunction | None = None, worker: str | None = None,
                 source: TaskSource | None = None, filters: dict[str, FilterValue] | None = None,
                 poll_seconds: float = 5.0, heartbeat_fraction: float = 1 / 3):
        if train is None and predict is None:
            raise ValueError("give train, predict or both")
        self.client, self.train, self.predict = client, train, predict
        self.uuid = worker or new_uuid()
        # preduplets first: a prediction is short, and someone is usually waiting for it
        kinds: list[TaskKind] = ["preduplet"] if predict else []
        kinds += ["learnuplet"] if train else []
        self.source = source or Poller(client, kinds, filters or {}, poll_seconds)
        self.heartbeat_fraction = heartbeat_fraction
        self.outcomes: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.heartbeats = 0  # heartbeats the Orchestrator accepted, over all tasks
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish (and report) the task under way, then return from run()."""
        self._stopping.set()

    def run(self, max_tasks: int | None = None) -> None:
        """Take and run tasks until stop(), or until `max_tasks` ran (skipped ones not counted).

        While the Orchestrator cannot be reached (restart, outage, 503), wait and try again.
        """
        ran, outages = 0, 0
        while not self._stopping.is_set() and (max_tasks is None or ran < max_tasks):
            try:
                outcome = self.run_once()
            except (Unreachable, Unavailable) as error:
                outages += 1
                wait = min(OUTAGE_MAX_WAIT, OUTAGE_FIRST_WAIT * 2 ** (outages - 1))
                log.warning("Orchestrator unavailable (%s); trying again in %.0f s", error, wait)
                self._stopping.wait(wait * random.uniform(0.5, 1.0))
                continue
            outages = 0
            if outcome is None:
                self.source.wait(self._stopping)
            else:
                ran += 1

    def run_once(self) -> Outcome | None:
        """Claim the first candidate this worker wins and run it; None if it won none."""
        for kind, task in self.source.candidates():
            outcome = self.run_task(kind, task)
            if outcome is not Outcome.SKIPPED:
                return outcome
            if self._stopping.is_set():
                break
        return None

    def run_task(self, kind: TaskKind, task: dict[str, Any]) -> Outcome:
        """Claim one task; if won, run it under heartbeats and report the outcome."""
        uuid = task["uuid"]
        if (self.train if kind == "learnuplet" else self.predict) is None:
            return self._count(Outcome.SKIPPED)  # a pushed task of a kind this worker does not run
        try:
            self.client.claim(kind, uuid, self.uuid)
        except (StateConflict, NotFound):
            return self._count(Outcome.SKIPPED)
        log.info("%s %s: claimed as worker %s", kind, uuid, self.uuid)
        # the lease is kept until the report is recorded, which may take an outage's length
        with LeaseKeeper(self.client, kind, uuid, self.uuid, self.heartbeat_fraction) as lease:
            report = self._execute(kind, task)
            if lease.lost.is_set():
                log.warning("%s %s: lease lost while running; result dropped", kind, uuid)
                outcome = Outcome.LOST
            else:
                outcome = self._report(kind, uuid, report)
        self.heartbeats += lease.beats
        return self._count(outcome)

    def _execute(self, kind: TaskKind, task: dict[str, Any]) -> dict[str, Any]:
        """The user's function; the report's fields, `failed` if it raised."""
        try:
            if kind == "learnuplet":
                assert self.train is not None
                training = self.train(task)  # type: ignore[arg-type]
                if not isinstance(training, Training):
                    raise TypeError(f"train() returned {type(training).__name__}, not Training")
                return {"status": "done", "perf": training.perf,
                        "train_perf": training.train_perf, "test_perf": training.test_perf}
            assert self.predict is not None
            return {"status": "done", "prediction_storage_uuid": self.predict(task)}  # type: ignore[arg-type]
        except Exception:
            log.exception("%s %s failed", kind, task["uuid"])
            return {"status": "failed"}

    def _report(self, kind: TaskKind, uuid: str, report: dict[str, Any]) -> Outcome:
        """Send the report until it is recorded: through outages (an identical report sent
        again is answered 200), turning a result the server refuses as invalid into failed."""
        outages = 0
        while True:
            try:
                self._send(kind, uuid, report)
                log.info("%s %s: reported %s", kind, uuid, report["status"])
                return Outcome(report["status"])
            except BadRequest as refused:
                if report["status"] == "failed":
                    raise
                log.error("%s %s: result refused (%s %s); reporting failed",
                          kind, uuid, refused.detail, refused.fields)
                report = {"status": "failed"}
            except (StateConflict, NotFound) as refused:
                log.warning("%s %s: report refused (%s); result dropped", kind, uuid, refused.detail)
                return Outcome.LOST
            except (Unreachable, Unavailable) as error:
                outages += 1
                if self._stopping.is_set() and outages > 1:
                    log.error("%s %s: stopping without reporting (%s); the lease will lapse and "
                              "the task run again", kind, uuid, error)
                    return Outcome.LOST
                wait = min(OUTAGE_MAX_WAIT, OUTAGE_FIRST_WAIT * 2 ** (outages - 1))
                log.warning("%s %s: report did not get through (%s); again in %.0f s",
                            kind, uuid, error, wait)
                self._stopping.wait(wait * random.uniform(0.5, 1.0))

    def _send(self, kind: TaskKind, uuid: str, report: dict[str, Any]) -> None:
        fields = {key: value for key, value in report.items() if key != "status"}
        done = report["status"] == "done"
        if kind == "learnuplet" and done:
            self.client.learn_done(uuid, worker=self.uuid, **fields)
        elif kind == "learnuplet":
            self.client.learn_failed(uuid, worker=self.uuid)
        elif done:
            self.client.pred_done(uuid, worker=self.uuid, **fields)
        else:
            self.client.pred_failed(uuid, worker=self.uuid)

    def _count(self, outcome: Outcome) -> Outcome:
        self.outcomes[outcome] += 1
        return outcome

