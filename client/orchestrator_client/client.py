"""The Client: one method per route of the Orchestrator API (docs/api.md)."""
from __future__ import annotations

import os
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import requests

from .documents import Algo, Data, Learnuplet, Preduplet, Problem, TaskKind
from .errors import StateConflict
from .listing import Listing
from .transport import NO_RETRY, RetryPolicy, Transport

D = TypeVar("D")
DEFAULT_URL = "http://localhost:5000"
DEFAULT_TIMEOUT = (5.0, 30.0)  # seconds to connect, seconds to wait for the answer


@dataclass(frozen=True)
class Registration(Generic[D]):
    """What a create answered: the document(s), the learnuplets it planned, and whether it
    created them (201) or found them already stored with the same fields (200, a retry)."""

    documents: list[D]
    new_learnuplets: int
    created: bool

    @property
    def document(self) -> D:
        return self.documents[0]


def new_uuid() -> str:
    return str(uuidlib.uuid4())


class Client:
    """A session with one Orchestrator: credentials, timeouts and retries for every call.

    Failed calls raise an ApiError subclass (BadRequest, NotFound, Conflict, StateConflict,
    ...) carrying the problem's status, type, detail and field errors, or Unreachable.
    """

    def __init__(self, base_url: str = DEFAULT_URL, auth: tuple[str, str] | None = None, *,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, session: requests.Session | None = None):
        self.transport = Transport(base_url, auth, timeout, retry or RetryPolicy(), session)
        self.problems: Listing[Problem] = Listing(self.transport, "problem")
        self.algos: Listing[Algo] = Listing(self.transport, "algo")
        self.data: Listing[Data] = Listing(self.transport, "data")
        self.learnuplets: Listing[Learnuplet] = Listing(self.transport, "learnuplet")
        self.preduplets: Listing[Preduplet] = Listing(self.transport, "preduplet")
        # the audit trail: sealed events, filtered by after, kind, collection, uuid
        self.events: Listing[dict[str, Any]] = Listing(self.transport, "event", "/events")

    @classmethod
    def from_env(cls, **options: Any) -> Client:
        """ORCHESTRATOR_URL (default http://localhost:5000), USER_AUTH and PWD_AUTH."""
        auth = (os.environ["USER_AUTH"], os.environ["PWD_AUTH"]) if "USER_AUTH" in os.environ else None
        return cls(os.environ.get("ORCHESTRATOR_URL", DEFAULT_URL), auth, **options)

    def tasks(self, kind: TaskKind) -> Listing[Any]:
        """The listing of learnuplets or preduplets."""
        return self.learnuplets if kind == "learnuplet" else self.preduplets

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- no credentials needed ---------------------------------------------------------------
    def health(self) -> dict[str, str]:
        """`GET /health`: the process answers."""
        status: dict[str, str] = self.transport.request("GET", "/health").json()
        return status

    def ready(self) -> dict[str, str]:
        """`GET /ready`, asked once: Unavailable (503) while the database is down or behind."""
        status: dict[str, str] = self.transport.request("GET", "/ready", retry=NO_RETRY).json()
        return status

    def version(self) -> str:
        """`GET /version`: the server's version."""
        answer: dict[str, str] = self.transport.request("GET", "/version").json()
        return answer["version"]

    def openapi(self) -> dict[str, Any]:
        """`GET /openapi.json`: the server's OpenAPI description."""
        document: dict[str, Any] = self.transport.request("GET", "/openapi.json").json()
        return document

    def ledger(self) -> dict[str, Any]:
        """`GET /ledger`: the audit chain's head (version, hash, applied_version)."""
        head: dict[str, Any] = self.transport.request("GET", "/ledger").json()
        return head

    # --- creates: idempotent by uuid, so a uuid is chosen here when the caller gives none ----
    def create_problem(self, *, workflow: str, test_dataset: list[str], size_train_dataset: int,
                       uuid: str | None = None) -> Registration[Problem]:
        body = {"uuid": uuid or new_uuid(), "workflow": workflow, "test_dataset": test_dataset,
                "size_train_dataset": size_train_dataset}
        answer = self.transport.request("POST", "/problem", body=body)
        return Registration([answer.json()["new_problem"]], 0, answer.response.status_code == 201)

    def create_algo(self, *, problem: str, name: str,
                    uuid: str | None = None) -> Registration[Algo]:
        body = {"uuid": uuid or new_uuid(), "problem": problem, "name": name}
        answer = self.transport.request("POST", "/algo", body=body)
        result = answer.json()
        return Registration([result["new_algo"]], result["new_learnuplets"],
                            answer.response.status_code == 201)

    def create_data(self, *, uuids: str | list[str],
                    problems: str | list[str]) -> Registration[Data]:
        """Register data (one uuid or an all-or-nothing batch) for one or several problems."""
        answer = self.transport.request("POST", "/data", body={"uuid": uuids, "problems": problems})
        result = answer.json()
        return Registration(result["new_datas"], result["new_learnuplets"],
                            answer.response.status_code == 201)

    def request_prediction(self, *, data: str, problem: str,
                           uuid: str | None = None) -> Registration[Preduplet]:
        """A todo preduplet predicting `data` with the problem's best model (Conflict if the
        problem has none yet). The uuid makes a retry find the same preduplet."""
        body = {"uuid": uuid or new_uuid(), "data": data, "problem": problem}
        answer = self.transport.request("POST", "/prediction", body=body)
        return Registration([answer.json()], 0, answer.response.status_code == 201)

    # --- compute workers -----------------------------------------------------------------------
    def claim(self, kind: TaskKind, uuid: str, worker: str) -> None:
        """Claim a todo task for `worker` (todo -> pending); StateConflict if it is not todo
        (another worker won it, or it is finished), NotFound if there is no such task.

        If the answer to a first try was lost and the retry meets that try's own claim, the
        server answers 409; the task is then checked, and the claim is ours if it names us.
        """
        try:
            self.transport.request("POST", f"/worker/{kind}/{uuid}", body={"worker": worker})
        except StateConflict as conflict:
            if conflict.tries == 1 or not self._holds(kind, uuid, worker):
                raise

    def _holds(self, kind: TaskKind, uuid: str, worker: str) -> bool:
        task = self.tasks(kind).get(uuid)
        return bool(task["status"] == "pending" and task["worker"] == worker)

    def heartbeat(self, kind: TaskKind, uuid: str, worker: str) -> int:
        """Extend the lease of a task `worker` holds; returns its new `lease_expires` (Unix
        seconds). StateConflict: the claim is no longer ours, stop working on the task."""
        answer = self.transport.request("POST", f"/worker/{kind}/{uuid}/heartbeat",
                                        body={"worker": worker})
        return int(answer.json()["lease_expires"])

    def learn_done(self, uuid: str, *, perf: float, train_perf: dict[str, float],
                   test_perf: dict[str, float], worker: str | None = None) -> None:
        """Report a learnuplet trained: overall perf, and per train and test data."""
        self._report("learndone", uuid, {"status": "done", "perf": perf, "train_perf": train_perf,
                                         "test_perf": test_perf}, worker)

    def learn_failed(self, uuid: str, *, worker: str | None = None) -> None:
        self._report("learndone", uuid, {"status": "failed"}, worker)

    def pred_done(self, uuid: str, *, prediction_storage_uuid: str,
                  worker: str | None = None) -> None:
        """Report a preduplet done, with where its prediction is stored."""
        self._report("preddone", uuid, {"status": "done",
                                        "prediction_storage_uuid": prediction_storage_uuid}, worker)

    def pred_failed(self, uuid: str, *, worker: str | None = None) -> None:
        self._report("preddone", uuid, {"status": "failed"}, worker)

    def _report(self, route: str, uuid: str, body: dict[str, Any], worker: str | None) -> None:
        # Name the worker whenever known: the server then refuses a result from a worker whose
        # claim lapsed instead of letting it overwrite the work of the one that took over.
        if worker is not None:
            body["worker"] = worker
        self.transport.request("POST", f"/{route}/{uuid}", body=body)
