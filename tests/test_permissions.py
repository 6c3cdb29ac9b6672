"""The whole permission matrix through HTTP: every route × every role × listed/unlisted worker.

The expected answers are written out below by hand (EXPECTED), not derived from the table in
app/domain/permissions.py, so a wrong entry there fails here. Each allowed request must
succeed and every event it commits must record the account (`by`); each refused one is 403
problem JSON naming what is missing, and commits nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from account_files import LISTED_WORKER, as_account, write_accounts
from conftest import USER, ApiClient, new_uuid
from helpers import EVENTS, done_body, problem_details

from app import create_app
from app.api.auth import PUBLIC_ENDPOINTS

OTHER_WORKER = new_uuid()  # a worker uuid no account lists

# Who may do what, written independently of the code's table. "ok": the request succeeds;
# "403": it is refused. Columns: the administrator of USER_AUTH/PWD_AUTH, then the accounts of
# the file (tests/account_files.py); worker-listed acts only as LISTED_WORKER.
EXPECTED = """
case                                    env-admin admin-file storage-1 worker-any worker-listed analyst-1
GET /problem                            ok        ok         ok        ok         ok            ok
GET /problem/<uuid>                     ok        ok         ok        ok         ok            ok
GET /algo                               ok        ok         ok        ok         ok            ok
GET /algo/<uuid>                        ok        ok         ok        ok         ok            ok
GET /data                               ok        ok         ok        ok         ok            ok
GET /data/<uuid>                        ok        ok         ok        ok         ok            ok
GET /learnuplet                         ok        ok         ok        ok         ok            ok
GET /learnuplet/<uuid>                  ok        ok         ok        ok         ok            ok
GET /preduplet                          ok        ok         ok        ok         ok            ok
GET /preduplet/<uuid>                   ok        ok         ok        ok         ok            ok
GET /metrics                            ok        ok         ok        ok         ok            ok
GET /ui/                                ok        ok         ok        ok         ok            ok
GET /ui/problem/<uuid>                  ok        ok         ok        ok         ok            ok
GET /ui/algo/<uuid>                     ok        ok         ok        ok         ok            ok
GET /ui/workers                         ok        ok         ok        ok         ok            ok
GET /ui/changes                         ok        ok         ok        ok         ok            ok
GET /ui/dashboard.css                   ok        ok         ok        ok         ok            ok
GET /problem/<uuid>/history             ok        ok         ok        ok         ok            ok
GET /algo/<uuid>/history                ok        ok         ok        ok         ok            ok
GET /data/<uuid>/history                ok        ok         ok        ok         ok            ok
GET /learnuplet/<uuid>/history          ok        ok         ok        ok         ok            ok
GET /preduplet/<uuid>/history           ok        ok         ok        ok         ok            ok
GET /events                             ok        ok         ok        ok         ok            ok
GET /ledger                             ok        ok         ok        ok         ok            ok
POST /problem                           ok        ok         ok        403        403           403
POST /algo                              ok        ok         ok        403        403           403
POST /data                              ok        ok         ok        403        403           403
POST /prediction                        ok        ok         403       403        403           ok
claim learnuplet as listed              ok        ok         403       ok         ok            403
claim learnuplet as unlisted            ok        ok         403       ok         403           403
heartbeat learnuplet as listed          ok        ok         403       ok         ok            403
heartbeat learnuplet as unlisted        ok        ok         403       ok         403           403
learndone as listed                     ok        ok         403       ok         ok            403
learndone as unlisted                   ok        ok         403       ok         403           403
learndone naming none, held by listed   ok        ok         403       ok         ok            403
learndone naming none, held by unlisted ok        ok         403       ok         403           403
claim preduplet as listed               ok        ok         403       ok         ok            403
claim preduplet as unlisted             ok        ok         403       ok         403           403
heartbeat preduplet as listed           ok        ok         403       ok         ok            403
heartbeat preduplet as unlisted         ok        ok         403       ok         403           403
preddone as listed                      ok        ok         403       ok         ok            403
preddone as unlisted                    ok        ok         403       ok         403           403
preddone naming none, held by listed    ok        ok         403       ok         ok            403
preddone naming none, held by unlisted  ok        ok         403       ok         403           403
"""


def parse_expected(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    lines = [line for line in text.strip().splitlines()]
    accounts = lines[0].split()[1:]
    table = {}
    for line in lines[1:]:
        words = line.split()
        table[" ".join(words[:-len(accounts)])] = dict(zip(accounts, words[-len(accounts):], strict=True))
    return accounts, table


ACCOUNT_NAMES, EXPECTED_TABLE = parse_expected(EXPECTED)


@dataclass
class World:
    """What a case's request acts on, made by the administrator."""

    admin: ApiClient
    problem: dict[str, Any] = field(default_factory=dict)
    learnuplet: dict[str, Any] = field(default_factory=dict)
    preduplet: dict[str, Any] = field(default_factory=dict)

    def build(self, task: str | None, holder: str | None) -> None:
        self.problem = self.admin.problem(size=1)
        self.admin.data(self.problem["uuid"], count=1)
        algo = self.admin.algo(self.problem["uuid"])["new_algo"]["uuid"]
        self.learnuplet = self.admin.learnuplets(algo=algo)[0]
        if task == "preduplet":
            self._claim("learnuplet", self.learnuplet["uuid"], new_uuid())
            done = self.admin.post(f"/learndone/{self.learnuplet['uuid']}",
                                   done_body(self.learnuplet, 0.5))
            assert done.status_code == 200, done.get_json()
            created = self.admin.post("/prediction", {"data": new_uuid(), "problem": self.problem["uuid"]})
            assert created.status_code == 201, created.get_json()
            self.preduplet = created.get_json()
        if holder is not None:
            uuid = self.learnuplet["uuid"] if task == "learnuplet" else self.preduplet["uuid"]
            self._claim(task, uuid, holder)

    def _claim(self, kind: str, uuid: str, worker: str) -> None:
        response = self.admin.post(f"/worker/{kind}/{uuid}", {"worker": worker})
        assert response.status_code == 200, response.get_json()


@dataclass
class Case:
    endpoint: str  # the route's endpoint, to check that the cases cover every route
    method: str
    url: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    task: str | None = None  # the task the world needs: learnuplet or preduplet
    holder: str | None = None  # the worker that holds the task's claim beforehand
    success: int = 200


def _worker(worker: str) -> Callable[[World], Any]:
    return lambda world: {"worker": worker}


def _learndone(worker: str | None) -> Callable[[World], Any]:
    def body(world: World) -> dict[str, Any]:
        return {**done_body(world.learnuplet, 0.7), **({"worker": worker} if worker else {})}
    return body


def _preddone(worker: str | None) -> Callable[[World], Any]:
    return lambda world: {"status": "done", "prediction_storage_uuid": new_uuid(),
                          **({"worker": worker} if worker else {})}


def _task_cases(kind: str, report: str, report_body: Callable[[str | None], Any]) -> dict[str, Case]:
    uuid = (lambda world: world.learnuplet["uuid"]) if kind == "learnuplet" \
        else (lambda world: world.preduplet["uuid"])
    cases = {}
    for label, worker in (("listed", LISTED_WORKER), ("unlisted", OTHER_WORKER)):
        cases[f"claim {kind} as {label}"] = Case(
            f"{kind}.claim", "POST", lambda world: f"/worker/{kind}/{uuid(world)}", _worker(worker),
            task=kind)
        cases[f"heartbeat {kind} as {label}"] = Case(
            f"{kind}.heartbeat", "POST", lambda world: f"/worker/{kind}/{uuid(world)}/heartbeat",
            _worker(worker), task=kind, holder=worker)
        cases[f"{report} as {label}"] = Case(
            f"{kind}.{report}", "POST", lambda world: f"/{report}/{uuid(world)}", report_body(worker),
            task=kind, holder=worker)
        cases[f"{report} naming none, held by {label}"] = Case(
            f"{kind}.{report}", "POST", lambda world: f"/{report}/{uuid(world)}", report_body(None),
            task=kind, holder=worker)
    return cases


def _read_cases() -> dict[str, Case]:
    cases = {}
    for collection in ("problem", "algo", "data", "learnuplet", "preduplet"):
        cases[f"GET /{collection}"] = Case(f"{collection}.list", "GET", lambda world, c=collection: f"/{c}")
        cases[f"GET /{collection}/<uuid>"] = Case(
            f"{collection}.get", "GET", lambda world, c=collection: f"/{c}/{_one(world, c)}",
            task="preduplet")
        cases[f"GET /{collection}/<uuid>/history"] = Case(
            f"audit.{collection}_history", "GET",
            lambda world, c=collection: f"/{c}/{_one(world, c)}/history", task="preduplet")
    cases["GET /events"] = Case("audit.events", "GET", lambda world: "/events")
    cases["GET /ledger"] = Case("audit.ledger_head", "GET", lambda world: "/ledger")
    cases["GET /metrics"] = Case("metrics.metrics", "GET", lambda world: "/metrics")
    return cases


def _one(world: World, collection: str) -> str:
    listed = world.admin.get(f"/{collection}").get_json()[f"{collection}s"]
    return listed[0]["uuid"]


def _dashboard_cases() -> dict[str, Case]:
    """The /ui pages: reads, like GET /problem (the learnuplet's algo names its chain)."""
    urls: dict[str, tuple[str, Callable[[World], str]]] = {
        "GET /ui/": ("dashboard.problems", lambda world: "/ui/"),
        "GET /ui/problem/<uuid>": ("dashboard.problem",
                                   lambda world: f"/ui/problem/{_one(world, 'problem')}"),
        "GET /ui/algo/<uuid>": ("dashboard.algo", lambda world: f"/ui/algo/{_one(world, 'algo')}"),
        "GET /ui/workers": ("dashboard.workers", lambda world: "/ui/workers"),
        "GET /ui/changes": ("dashboard.changes", lambda world: "/ui/changes"),
        "GET /ui/dashboard.css": ("dashboard.stylesheet", lambda world: "/ui/dashboard.css"),
    }
    return {name: Case(endpoint, "GET", url, task="preduplet")
            for name, (endpoint, url) in urls.items()}


CASES: dict[str, Case] = {
    **_read_cases(),
    **_dashboard_cases(),
    "POST /problem": Case("problem.create_problem", "POST", lambda world: "/problem", lambda world: {
        "uuid": new_uuid(), "workflow": new_uuid(), "test_dataset": [], "size_train_dataset": 1},
        success=201),
    "POST /algo": Case("algo.create_algo", "POST", lambda world: "/algo", lambda world: {
        "uuid": new_uuid(), "problem": world.problem["uuid"], "name": "another"}, success=201),
    "POST /data": Case("data.create_data", "POST", lambda world: "/data", lambda world: {
        "uuid": [new_uuid()], "problems": world.problem["uuid"]}, success=201),
    "POST /prediction": Case("preduplet.create_prediction", "POST", lambda world: "/prediction",
                             lambda world: {"data": new_uuid(), "problem": world.problem["uuid"]},
                             task="preduplet", success=201),
    **_task_cases("learnuplet", "learndone", _learndone),
    **_task_cases("preduplet", "preddone", _preddone),
}


def test_the_expectation_covers_every_case_and_every_account():
    assert set(EXPECTED_TABLE) == set(CASES)
    assert ACCOUNT_NAMES == ["env-admin", "admin-file", "storage-1", "worker-any", "worker-listed",
                             "analyst-1"]


def test_the_cases_cover_every_protected_route(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules()} - PUBLIC_ENDPOINTS
    assert routes == {case.endpoint for case in CASES.values()}


@pytest.fixture
def accounts_app(config, tmp_path):
    return create_app({**config, "ACCOUNTS_FILE": write_accounts(tmp_path)})


def _events(store: Any) -> list[dict[str, Any]]:
    return [event for name in EVENTS for event in store.dump(name)]


@pytest.mark.parametrize("account", ACCOUNT_NAMES)
@pytest.mark.parametrize("case_name", list(CASES))
def test_permission_matrix(accounts_app, case_name, account):
    case, expected = CASES[case_name], EXPECTED_TABLE[case_name][account]
    admin = ApiClient(accounts_app.test_client())
    world = World(admin)
    world.build(case.task, case.holder)
    store = accounts_app.extensions["orchestrator.store"]
    before = {(event.get("_id"), event.get("stream")) for event in _events(store)}
    headers = admin.headers if account == "env-admin" else as_account(account)
    body = case.body(world) if case.body else None
    response = admin.flask.open(case.url(world), method=case.method, headers=headers,
                                json=body if case.method == "POST" else None)
    new_events = [event for event in _events(store)
                  if (event.get("_id"), event.get("stream")) not in before]
    if expected == "ok":
        assert response.status_code == case.success, response.get_json()
        name = USER if account == "env-admin" else account
        assert all(event["by"] == name for event in new_events), new_events
        assert bool(new_events) == (case.method == "POST")  # every change is recorded
    else:
        detail = problem_details(response, 403)["detail"]
        assert problem_details(response, 403)["type"].endswith(":forbidden")
        assert account in detail
        assert "worker" in detail or ("role" in detail and "permission" in detail), detail
        assert new_events == []
