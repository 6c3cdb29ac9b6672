"""The training plan (no Flask, no database): batching, rank chains, best models.

Train data of a problem = its registered data minus its test dataset, in upload order,
cut into mini-batches of size_train_dataset; one learnuplet per batch; the learnuplets
of one algo form a chain by rank.
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


def derived_uuid(seed: str, *parts: Any) -> str:
    """A UUID fixed by an event's seed, so replaying the event recreates the same documents."""
    return str(uuidlib.uuid5(uuidlib.UUID(seed), "/".join(str(part) for part in parts)))


def chain_segment(*, problem: Mapping[str, Any], algo: str, data: Sequence[str], first_rank: int,
                  start_model: str | None, seed: str, now: int) -> list[dict[str, Any]]:
    """Learnuplets that extend an algo's chain with `data`.

    With a start_model the first one is todo from that model; otherwise the chain is still
    running and every new learnuplet waits for its turn.
    """
    segment = []
    train = train_data(data, problem["test_dataset"])
    for offset, batch in enumerate(batches(train, problem["size_train_dataset"])):
        rank = first_rank + offset
        runnable = offset == 0 and start_model is not None
        segment.append({
            "uuid": derived_uuid(seed, algo, rank, "learnuplet"),
            "problem": problem["uuid"],
            "workflow": problem["workflow"],
            "algo": algo,
            "rank": rank,
            "train_data": batch,
            "test_data": list(problem["test_dataset"]),
            "model_start": start_model if runnable else None,
            "model_end": derived_uuid(seed, algo, rank, "model"),
            "status": TODO if runnable else WAITING,
            "worker": None,
            "perf": None,
            "train_perf": None,
            "test_perf": None,
            "timestamp_creation": now,
            "timestamp_claimed": None,
            "timestamp_done": None,
            "lease_expires": None,
            "attempts": 0,
        })
    return segment


def better_model(best: Mapping[str, Any] | None, candidate: Mapping[str, Any]) -> bool:
    """Whether a done learnuplet beats the best so far (highest perf; earlier rank on ties)."""
    if best is None:
        return True
    return (candidate["perf"], -candidate["rank"]) > (best["perf"], -best["rank"])


def best_model_after(algo: str, best_done: Mapping[str, Any] | None,
                     finished: Mapping[str, Any] | None = None) -> str:
    """The model an algo's next learnuplet starts from: its best done model, else the algo itself.

    `finished` is a learnuplet just reported done and not yet stored, which may beat `best_done`.
    """
    if finished is not None and better_model(best_done, finished):
        return finished["model_end"]
    return best_done["model_end"] if best_done else algo
