"""The problems page and the page of one problem: from problems, chains and algos, plus the
problem's finished learnuplets for the curves and test perfs.

Those are read by two equality filters (problem and status, as GET /learnuplet?problem=&status=
pages them), not by uuid: on FerretDB a lookup of many uuids (`$in`) decodes the whole
collection (1.8 s for 50 uuids at 10,000 learnuplets), while an equality is applied by its
database, which then sends only the matching documents.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.planning import best_of, model_order
from ..domain.states import DONE, FAILED
from ..storage import Store
from .charts import Scale, heat_level, learning_curve
from .counts import chain_counts, total_counts

CURVE_POINTS = 5000  # finished learnuplets read per status for a problem's curves (the first)
TEST_COLUMNS = 50  # test data shown in the heatmap


def _best_with_algo(chain: Mapping[str, Any]) -> dict[str, Any] | None:
    return {**chain["best"], "algo": chain["uuid"]} if chain.get("best") else None


def problem_rows(store: Store, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each problem with its tasks by status and its best model (three reads for the page)."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for chain in store.chains_of([problem["uuid"] for problem in problems]):
        chains.setdefault(chain["problem"], []).append(chain)
    bests = {uuid: best_of(_best_with_algo(chain) for chain in found)
             for uuid, found in chains.items()}
    names = _algo_names(store, [best["algo"] for best in bests.values() if best])
    return [{"problem": problem, "algos": len(chains.get(problem["uuid"], [])),
             "counts": total_counts(chains.get(problem["uuid"], [])),
             "best": bests.get(problem["uuid"]),
             "best_algo_name": names.get((bests.get(problem["uuid"]) or {}).get("algo"))}
            for problem in problems]


def _algo_names(store: Store, algos: list[str]) -> dict[str, str]:
    return {algo["uuid"]: algo.get("name", "") for algo in store.get_many("algo", algos)} \
        if algos else {}


def leaderboard(chains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chains by their best model, best first (THE rule, planning.model_order); chains
    without a done learnuplet last, in algo order."""
    ranked = sorted((chain for chain in chains if chain.get("best")),
                    key=lambda chain: model_order(chain["best"]))
    rest = sorted((chain for chain in chains if not chain.get("best")),
                  key=lambda chain: chain["uuid"])
    return ranked + rest


def problem_view(store: Store, problem: dict[str, Any], offset: int, limit: int
                 ) -> dict[str, Any]:
    """Leaderboard rows offset .. offset + limit, their learning curves and test perfs."""
    board = leaderboard(store.chains_of([problem["uuid"]]))
    shown = board[offset:offset + limit]
    names = _algo_names(store, [chain["uuid"] for chain in shown])
    tasks = _finished_by_algo(store, problem["uuid"])
    scale = Scale.of(task.get("perf") for chain in shown for task in tasks.get(chain["uuid"], []))
    rows = [_board_row(chain, offset + place, names, tasks.get(chain["uuid"], []), scale)
            for place, chain in enumerate(shown, start=1)]
    test_data = list(problem.get("test_dataset", []))[:TEST_COLUMNS]
    return {"rows": rows, "total": len(board), "offset": offset, "limit": limit,
            "test_data": test_data, "test_columns_cut": len(problem.get("test_dataset", [])) >
            TEST_COLUMNS, "heat": _heatmap(rows, test_data), "scale": scale,
            "curve_points": CURVE_POINTS}


def _finished_by_algo(store: Store, problem: str) -> dict[str, list[dict[str, Any]]]:
    """The problem's done and failed learnuplets (up to CURVE_POINTS of each), by algo."""
    found: dict[str, list[dict[str, Any]]] = {}
    for status in (DONE, FAILED):
        for task in store.page("learnuplet", {"problem": problem, "status": status}, None,
                               CURVE_POINTS):
            found.setdefault(task["algo"], []).append(task)
    return found


def _board_row(chain: dict[str, Any], place: int, names: Mapping[str, str],
               tasks: list[dict[str, Any]], scale: Scale) -> dict[str, Any]:
    best = chain.get("best")
    best_task = next((task for task in tasks if best and task["rank"] == best["rank"]), None)
    return {"place": place if best else None, "algo": chain["uuid"],
            "name": names.get(chain["uuid"], ""), "best": best, "counts": chain_counts(chain),
            "length": chain.get("length") or 0,
            "curve": learning_curve(tasks, chain.get("length") or 0, scale),
            "test_perf": (best_task or {}).get("test_perf") or {}}


def _heatmap(rows: list[dict[str, Any]], test_data: list[str]) -> list[list[dict[str, Any]]]:
    """Each shown algo's best model's test perf per test datum, with its colour step."""
    scale = Scale.of(row["test_perf"].get(data) for row in rows for data in test_data)
    return [[{"value": row["test_perf"].get(data),
              "level": heat_level(row["test_perf"].get(data), scale)} for data in test_data]
            for row in rows]
