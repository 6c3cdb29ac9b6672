"""Response bodies: one pydantic declaration each, the source of /openapi.json's response schemas.

The documents are declared with the field types of the request bodies (schemas.py), so what a
client may send and what it reads back are described by the same types. Documents may gain
fields (with COMPUTE_URL set, the delivery fields), so none refuses unknown ones.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..domain.states import STATUSES
from .schemas import UUID, PerfByData, Text

Status = Literal[STATUSES]  # type: ignore[valid-type]
Timestamp = int  # Unix seconds


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")

    uuid: UUID
    version: int = Field(description="number of the last event that wrote the document")


class Problem(Document):
    """A machine-learning problem (not an error: errors are `Error`)."""
    workflow: UUID
    test_dataset: list[UUID]
    size_train_dataset: int
    timestamp_upload: Timestamp


class Algo(Document):
    problem: UUID
    name: Text
    timestamp_upload: Timestamp


class Data(Document):
    problems: list[UUID]
    timestamp_upload: Timestamp


class Task(Document):
    """What learnuplets and preduplets share: the state machine, the claim and its lease."""
    problem: UUID
    workflow: UUID
    status: Status
    worker: UUID | None
    timestamp_claimed: Timestamp | None
    timestamp_done: Timestamp | None
    lease_expires: Timestamp | None
    attempts: int
    lapsed_workers: list[UUID] = Field(default=None, description="once a claim has lapsed")
    # With push delivery on (COMPUTE_URL): docs/compute.md.
    delivery: Literal["pending", "delivered"] = None  # type: ignore[assignment]
    delivery_attempts: int = None  # type: ignore[assignment]
    delivery_error: str | None = None


class Learnuplet(Task):
    algo: UUID
    rank: int
    train_data: list[UUID]
    test_data: list[UUID]
    model_start: UUID | None
    model_end: UUID
    perf: float | None
    train_perf: PerfByData | None
    test_perf: PerfByData | None
    timestamp_creation: Timestamp


class Preduplet(Task):
    data: UUID
    model: UUID
    prediction_storage_uuid: UUID | None
    timestamp_request: Timestamp


DOCUMENTS: dict[str, type[Document]] = {"problem": Problem, "algo": Algo, "data": Data,
                                        "learnuplet": Learnuplet, "preduplet": Preduplet}


class ProblemCreated(Answer):
    new_problem: Problem


class AlgoCreated(Answer):
    new_algo: Algo
    new_learnuplets: int = Field(ge=0, description="learnuplets planned for its chain")


class DataCreated(Answer):
    new_datas: list[Data]
    new_learnuplets: int = Field(ge=0, description="learnuplets added to the chains")


class LearnupletReported(Answer):
    updated_learnuplet: UUID


class PredupletReported(Answer):
    updated_preduplet: UUID


class Health(Answer):
    status: Literal["ok"]


class Ready(Answer):
    status: Literal["ready"]


class Version(Answer):
    version: str = Field(description="the version of the installed orchestrator package")


class AuditEvent(Answer):
    """One sealed event of the audit chain (docs/audit.md)."""
    version: int = Field(description="its number in the audit chain: 1, 2, 3 ...")
    kind: str
    at: Timestamp = Field(description="commit time")
    by: str | None = Field(description="the account whose request committed it")
    documents: list[str] = Field(description="`collection/uuid` of the documents it wrote")
    event_hash: str = Field(description="SHA-256 of `event` as canonical JSON")
    prev_hash: str = Field(description="`hash` of the entry before (64 zeros for the first)")
    hash: str = Field(description="SHA-256 of prev_hash followed by event_hash (hex)")
    event: dict[str, Any] = Field(description="the event as stored and hashed")


class EventList(Answer):
    events: list[AuditEvent]
    next_page_token: str | None = Field(default=None, description=(
        "present when more events match: pass it back as page_token"))


class LedgerHead(Answer):
    version: int = Field(description="the last sealed event's number (0: none yet)")
    hash: str = Field(description="its hash: with version, a checkpoint to keep")
    applied_version: int = Field(description="every sealed event up to here is applied to the "
                                 "documents (events are sealed once applied)")


class FieldError(BaseModel):
    field: str = Field(description="the bad field, nested ones with dots (`test_dataset.0`)")
    message: str


class Error(BaseModel):
    """Every error: RFC 9457 problem details (application/problem+json)."""
    type: str = Field(description="`about:blank` or `urn:morpheo:orchestrator:problem:<kind>`")
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default=None, description="for invalid bodies, paths and "
                                     "query parameters: one entry per bad field")


def _answer(name: str, **fields: Any) -> type[Answer]:
    return create_model(name, __base__=Answer, **fields)


def list_answer(collection: str) -> type[Answer]:
    """`{"<collection>s": [...], "next_page_token": ...}` (docs/api.md, Pagination)."""
    return _answer(f"{collection.capitalize()}List",
                   **{f"{collection}s": (list[DOCUMENTS[collection]], ...)},
                   next_page_token=(str | None, Field(default=None, description=(
                       "present when more documents match: pass it back as page_token"))))


def claimed_answer(kind: str) -> type[Answer]:
    return _answer(f"{kind.capitalize()}Claimed", **{f"{kind}_worker_set": (UUID, ...)})


def extended_answer(kind: str) -> type[Answer]:
    return _answer(f"{kind.capitalize()}LeaseExtended", **{f"{kind}_lease_extended": (UUID, ...)},
                   lease_expires=(Timestamp, Field(description="when the lease now lapses")))
