"""The training plan: batching, chains by rank, the one best-model rule, chain moves.

Train data of a problem = its registered data minus its test dataset, in upload order, cut
into mini-batches of size_train_dataset; one learnuplet per batch; the learnuplets of one algo
form a chain by rank. A chain document summarises each chain (its length, its active rank,
its lowest waiting rank, its best model, how many of its ranks failed), so a decision finds
them by one lookup, and the dashboard counts a problem's tasks by status from its chains.
Learnuplet and model uuids derive from the algo and the rank, so applying an event again
recreates exactly the same documents.
"""
from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .states import TODO, WAITING


def train_data(data_uuids: Iterable[str], test_dataset: Iterable[str]) -> list[str]:
    """The data a problem trains on, in the given (upload) order."""
    test = set(test_dataset)
    return [uuid for uuid in data_uuids if uuid not in test]


def batches(items: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive mini-batches of `size`; the last one may be shorter."""
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def learnuplet_uuid(algo: str, rank: int) -> str:
    return str(uuidlib.uuid5(uuidlib.UUID(algo), f"learnuplet/{rank}"))


def model_uuid(algo: str, rank: int) -> str:
    return str(uuidlib.uuid5(uuidlib.UUID(algo), f"model/{rank}"))


# --- the best model ----------------------------------------------------------------------------

def model_order(done: Mapping[str, Any]) -> tuple[Any, ...]:
    """THE best-model rule, as a sort key (smallest is best): the highest perf; on equal perf
    the one done first, then the lower rank, then the model uuid (so the choice is total)."""
    return (-done["perf"], done["timestamp_done"], done["rank"], done["model_end"])


def best_of(candidates: Iterable[Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """The best of some done learnuplets (None entries ignored); None if there are none."""
    present = [candidate for candidate in candidates if candidate]
    return min(present, key=model_order) if present else None


def best_model(chain: Mapping[str, Any]) -> str:
    """The model an algo's next learnuplet starts from: its best one, else the algo itself."""
    return chain["best"]["model_end"] if chain["best"] else chain["uuid"]


def model_summary(learnuplet: Mapping[str, Any]) -> dict[str, Any]:
    """What a chain keeps of a done learnuplet to compare models."""
    return {name: learnuplet[name] for name in ("model_end", "perf", "timestamp_done", "rank")}


# --- chains ------------------------------------------------------------------------------------

def new_chain(algo: str, problem: str) -> dict[str, Any]:
    return {"uuid": algo, "problem": problem, "length": 0, "active": None, "next_waiting": None,
            "best": None, "failed": 0}


def is_running(chain: Mapping[str, Any]) -> bool:
    """Whether something of the chain is todo, pending or waiting."""
    return chain["active"] is not None or chain["next_waiting"] is not None


def extend_chain(chain: Mapping[str, Any], problem: Mapping[str, Any], data: Sequence[str],
                 at: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """New learnuplets for `data` and the chain's new fields.

    A chain with nothing running restarts at once from its best model; a running one gets new
    learnuplets that wait for their turn.
    """
    train = train_data(data, problem["test_dataset"])
    groups = batches(train, problem["size_train_dataset"])
    if not groups:
        return [], {}
    first, running = chain["length"], is_running(chain)
    start_model = None if running else best_model(chain)
    learnuplets = [_learnuplet(problem, chain["uuid"], first + offset, batch,
                               start_model if offset == 0 else None, at)
                   for offset, batch in enumerate(groups)]
    length = first + len(groups)
    if running:
        fields = {"length": length, "next_waiting": _first(chain["next_waiting"], first)}
    else:
        fields = {"length": length, "active": first,
                  "next_waiting": first + 1 if first + 1 < length else None}
    return learnuplets, fields


def _first(current: int | None, fallback: int) -> int:
    return fallback if current is None else current


def _learnuplet(problem: Mapping[str, Any], algo: str, rank: int, batch: list[str],
                start_model: str | None, at: int) -> dict[str, Any]:
    return {
        "uuid": learnuplet_uuid(algo, rank), "problem": problem["uuid"],
        "workflow": problem["workflow"], "algo": algo, "rank": rank, "train_data": batch,
        "test_data": list(problem["test_dataset"]), "model_start": start_model,
        "model_end": model_uuid(algo, rank), "status": TODO if start_model else WAITING,
        "worker": None, "perf": None, "train_perf": None, "test_perf": None,
        "timestamp_creation": at, "timestamp_claimed": None, "timestamp_done": None,
        "lease_expires": None, "attempts": 0,
    }


def advance_chain(chain: Mapping[str, Any], done: Mapping[str, Any] | None
                  ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The chain's active learnuplet finished (`done` is it if it is done, else None): the lowest
    waiting rank becomes todo from the best model so far. Returns the promotion (uuid, fields)
    or None, and the chain's new fields."""
    best = best_of([chain["best"], model_summary(done) if done else None])
    fields: dict[str, Any] = {"best": best, "active": None}
    if "failed" in chain:  # chains planned before it was kept do not know their count
        fields["failed"] = chain["failed"] + (0 if done else 1)
    rank = chain["next_waiting"]
    if rank is None:
        return None, fields
    fields.update(active=rank, next_waiting=rank + 1 if rank + 1 < chain["length"] else None)
    promoted = {"uuid": learnuplet_uuid(chain["uuid"], rank),
                "fields": {"status": TODO, "model_start": best_model({**chain, "best": best})}}
    return promoted, fields
