"""The problems page and the page of one problem: from problems, chains and algos, plus the
learnuplets of the shown algos looked up by uuid (derived from algo and rank)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.planning import best_of, learnuplet_uuid, model_order
from ..storage import Store
from .charts import Scale, heat_level, learning_curve
from .counts import chain_counts, total_counts

CURVE_RANKS = 200  # ranks drawn per learning curve (the first ones): bounds a page's reads
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
    tasks = _tasks_by_algo(store, shown)
    scale = Scale.of(task.get("perf") for found in tasks.values() for task in found)
    rows = [_board_row(chain, offset + place, names, tasks.get(chain["uuid"], []), scale)
            for place, chain in enumerate(shown, start=1)]
    test_data = list(problem.get("test_dataset", []))[:TEST_COLUMNS]
    return {"rows": rows, "total": len(board), "offset": offset, "limit": limit,
            "test_data": test_data, "test_columns_cut": len(problem.get("test_dataset", [])) >
            TEST_COLUMNS, "heat": _heatmap(rows, test_data), "scale": scale,
            "curve_ranks": CURVE_RANKS}


def _tasks_by_algo(store: Store, chains: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The learnuplets of the first CURVE_RANKS ranks of each chain, and of its best rank:
    one lookup by uuid, so its cost follows the page, not the database."""
    uuids = []
    for chain in chains:
        ranks = set(range(min(chain.get("length") or 0, CURVE_RANKS)))
        if chain.get("best"):
            ranks.add(chain["best"]["rank"])
        uuids += [learnuplet_uuid(chain["uuid"], rank) for rank in sorted(ranks)]
    found: dict[str, list[dict[str, Any]]] = {}
    for task in store.get_many("learnuplet", uuids) if uuids else []:
        found.setdefault(task["algo"], []).append(task)
    return found


def _board_row(chain: dict[str, Any], place: int, names: Mapping[str, str],
               tasks: list[dict[str, Any]], scale: Scale) -> dict[str, Any]:
    best = chain.get("best")
    best_task = next((task for task in tasks if best and task["rank"] == best["rank"]), None)
    drawn = [task for task in tasks if task["rank"] < CURVE_RANKS]
    return {"place": place if best else None, "algo": chain["uuid"],
            "name": names.get(chain["uuid"], ""), "best": best, "counts": chain_counts(chain),
            "length": chain.get("length") or 0,
            "curve": learning_curve(drawn, min(chain.get("length") or 0, CURVE_RANKS), scale),
            "test_perf": (best_task or {}).get("test_perf") or {}}


def _heatmap(rows: list[dict[str, Any]], test_data: list[str]) -> list[list[dict[str, Any]]]:
    """Each shown algo's best model's test perf per test datum, with its colour step."""
    scale = Scale.of(row["test_perf"].get(data) for row in rows for data in test_data)
    return [[{"value": row["test_perf"].get(data),
              "level": heat_level(row["test_perf"].get(data), scale)} for data in test_data]
            for row in rows]
