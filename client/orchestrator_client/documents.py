"""The documents the Orchestrator returns, as typed dictionaries (docs/api.md, Documents).

They are plain dicts at run time: a field a newer server adds is kept, never dropped.
"""
from __future__ import annotations

from typing import Literal, TypedDict

Status = Literal["waiting", "todo", "pending", "done", "failed"]
TaskKind = Literal["learnuplet", "preduplet"]
Collection = Literal["problem", "algo", "data", "learnuplet", "preduplet"]
COLLECTIONS: tuple[Collection, ...] = ("problem", "algo", "data", "learnuplet", "preduplet")


class Problem(TypedDict):
    uuid: str
    workflow: str
    test_dataset: list[str]
    size_train_dataset: int
    timestamp_upload: int
    version: int


class Algo(TypedDict):
    uuid: str
    problem: str
    name: str
    timestamp_upload: int
    version: int


class Data(TypedDict):
    uuid: str
    problems: list[str]
    timestamp_upload: int
    version: int


class Task(TypedDict, total=False):
    """What learnuplets and preduplets share: their state, claim and lease."""

    uuid: str
    problem: str
    workflow: str
    status: Status
    worker: str | None
    timestamp_claimed: int | None
    timestamp_done: int | None
    lease_expires: int | None
    attempts: int
    lapsed_workers: list[str]  # once a claim has lapsed
    version: int


class Learnuplet(Task, total=False):
    algo: str
    rank: int
    train_data: list[str]
    test_data: list[str]
    model_start: str | None
    model_end: str
    perf: float | None
    train_perf: dict[str, float] | None
    test_perf: dict[str, float] | None
    timestamp_creation: int


class Preduplet(Task, total=False):
    data: str
    model: str
    prediction_storage_uuid: str | None
    timestamp_request: int
