"""OpenAPI links: how the answer of one operation feeds the next (create -> list -> claim ->
heartbeat -> report), for generated clients and for the stateful tests that follow them.
"""
from __future__ import annotations

from typing import Any

SUCCESS = ("200", "201")  # a create's 201 and its identical retry's 200

# source operationId -> [(link name, target operationId, parameters, request body fields)]
Link = tuple[str, str, dict[str, str], dict[str, str]]
CREATE_LINKS: dict[str, list[Link]] = {
    "problem_create_problem": [
        ("GetProblem", "problem_get", {"uuid": "$response.body#/new_problem/uuid"}, {}),
        ("RegisterData", "data_create_data", {}, {"problems": "$response.body#/new_problem/uuid"}),
        ("RegisterAlgo", "algo_create_algo", {}, {"problem": "$response.body#/new_problem/uuid"}),
    ],
    "data_create_data": [
        ("GetData", "data_get", {"uuid": "$response.body#/new_datas/0/uuid"}, {}),
        ("RegisterAlgo", "algo_create_algo", {},
         {"problem": "$response.body#/new_datas/0/problems/0"}),
        ("ListLearnuplets", "learnuplet_list",
         {"problem": "$response.body#/new_datas/0/problems/0", "status": "todo"}, {}),
    ],
    "algo_create_algo": [
        ("GetAlgo", "algo_get", {"uuid": "$response.body#/new_algo/uuid"}, {}),
        ("RegisterData", "data_create_data", {}, {"problems": "$response.body#/new_algo/problem"}),
        ("ListLearnuplets", "learnuplet_list",
         {"algo": "$response.body#/new_algo/uuid", "status": "todo"}, {}),
    ],
    "learnuplet_get": [
        ("ClaimLearnuplet", "learnuplet_claim", {"uuid": "$response.body#/uuid"}, {}),
        ("RequestPrediction", "preduplet_create_prediction", {},
         {"problem": "$response.body#/problem"}),
    ],
    "preduplet_create_prediction": [
        ("GetPreduplet", "preduplet_get", {"uuid": "$response.body#/uuid"}, {}),
        ("ClaimPreduplet", "preduplet_claim", {"uuid": "$response.body#/uuid"}, {}),
    ],
}


def _task_links(kind: str, report: str) -> dict[str, list[Link]]:
    """List -> get / claim -> heartbeat -> report -> get, the same for both task kinds."""
    first = f"$response.body#/{kind}s/0/uuid"
    worker = {"worker": "$request.body#/worker"}
    get, claim, heartbeat = f"{kind}_get", f"{kind}_claim", f"{kind}_heartbeat"
    name = kind.capitalize()
    return {
        f"{kind}_list": [(f"Get{name}", get, {"uuid": first}, {}),
                         (f"Claim{name}", claim, {"uuid": first}, {})],
        get: [(f"Claim{name}", claim, {"uuid": "$response.body#/uuid"}, {})],
        claim: [("ExtendLease", heartbeat, {"uuid": f"$response.body#/{kind}_worker_set"}, worker),
                (f"Report{name}", report, {"uuid": f"$response.body#/{kind}_worker_set"}, worker),
                (f"Get{name}", get, {"uuid": f"$response.body#/{kind}_worker_set"}, {})],
        heartbeat: [(f"Report{name}", report,
                     {"uuid": f"$response.body#/{kind}_lease_extended"}, worker)],
        report: [(f"Get{name}", get, {"uuid": f"$response.body#/updated_{kind}"}, {})],
    }


def _merged(*tables: dict[str, list[Link]]) -> dict[str, list[Link]]:
    merged: dict[str, list[Link]] = {}
    for table in tables:
        for source, links in table.items():
            merged.setdefault(source, []).extend(links)
    return merged


LINKS = _merged(CREATE_LINKS, _task_links("learnuplet", "learnuplet_learndone"),
                _task_links("preduplet", "preduplet_preddone"))


def add_links(paths: dict[str, dict[str, Any]]) -> None:
    """Attach LINKS to the operations' success answers. (Paging is not a link: the next page
    needs the same filters as the request, and a link cannot name the ones it did not send.
    The answer's Link header gives the whole URL.)"""
    for operations in paths.values():
        for operation in operations.values():
            links = LINKS.get(operation["operationId"], [])
            for status in SUCCESS:
                if links and status in operation["responses"]:
                    operation["responses"][status]["links"] = {
                        name: {"operationId": target,
                               **({"parameters": parameters} if parameters else {}),
                               **({"requestBody": body} if body else {})}
                        for name, target, parameters, body in links}
