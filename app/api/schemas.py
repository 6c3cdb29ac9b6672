"""Request bodies: one pydantic declaration each, strict, also the source of /openapi.json."""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# A UUID in canonical 8-4-4-4-12 form, stored lowercase.
UUID = Annotated[str, StringConstraints(pattern=UUID_PATTERN), AfterValidator(str.lower),
                 Field(json_schema_extra={"format": "uuid"})]
Perf = Annotated[float, Field(allow_inf_nan=False)]

# Free text is stored and indexed (GET /algo?name=). Every server we support must take it:
# FerretDB over PostgreSQL refuses NUL (U+0000) in any string, and an index entry over about
# 2,700 bytes (it indexes the whole value). Unpaired surrogates cannot be encoded in UTF-8
# (nor in BSON); the JSON parser already refuses them. docs/api.md, "Limits", lists these.
TEXT_MAX_CHARACTERS, TEXT_MAX_BYTES = 1000, 2000


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (an unpaired surrogate is not)") from None
    if size > TEXT_MAX_BYTES:
        raise ValueError(f"must be at most {TEXT_MAX_BYTES} bytes in UTF-8 (is {size})")
    return value


NO_NUL_PATTERN = "^[^\\u0000]*$"
Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX_CHARACTERS, json_schema_extra={
    "pattern": NO_NUL_PATTERN,
    "description": f"no NUL; at most {TEXT_MAX_BYTES} bytes in UTF-8"}),
    AfterValidator(_storable)]


def _whole_number(value: Any) -> Any:
    # JSON has one number type, and JSON Schema calls 2.0 an integer: so does the server.
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("list has repeated UUIDs")
    return values


# Every document stays far below the 16 MiB MongoDB accepts (a list of 100,000 uuids is about
# 5 MB of BSON); a learnuplet, which holds two lists, has its own bound (decisions/bounds.py).
MAX_LIST_UUIDS = 100_000
UNIQUE = {"uniqueItems": True}
UUIDList = Annotated[list[UUID], Field(max_length=MAX_LIST_UUIDS, json_schema_extra=UNIQUE),
                     AfterValidator(_unique)]
NonEmptyUUIDList = Annotated[list[UUID], Field(min_length=1, max_length=MAX_LIST_UUIDS,
                                               json_schema_extra=UNIQUE), AfterValidator(_unique)]
# {data UUID: performance}; a key that is not a UUID is an error, not an ignored extra
PerfByData = Annotated[dict[UUID, Perf], Field(json_schema_extra={"additionalProperties": False})]


class Body(BaseModel):
    # Strict: "2", 2.5 and true are not integers; unknown fields are errors, not silently dropped.
    model_config = ConfigDict(strict=True, extra="forbid")

    def field_errors(self) -> list[tuple[str, str]]:
        """Errors that depend on several fields, as (field, reason); none by default."""
        return []


class ProblemCreate(Body):
    uuid: UUID
    workflow: UUID
    test_dataset: UUIDList
    size_train_dataset: WholeNumber = Field(ge=1, le=2**63 - 1)  # BSON holds at most 8-byte ints


class AlgoCreate(Body):
    uuid: UUID
    problem: UUID
    name: Text


class DataCreate(Body):
    uuid: UUID | NonEmptyUUIDList = Field(description="one data UUID or a list of them")
    problems: UUID | NonEmptyUUIDList = Field(description="one problem UUID or a list of them")

    def uuids(self) -> list[str]:
        return [self.uuid] if isinstance(self.uuid, str) else self.uuid

    def problem_uuids(self) -> list[str]:
        return [self.problems] if isinstance(self.problems, str) else self.problems


class PredictionCreate(Body):
    data: UUID = Field(description="UUID of the file on Storage to predict on")
    problem: UUID
    uuid: UUID | None = Field(
        default=None, description="optional client-chosen preduplet UUID, makes retries safe")


class Claim(Body):
    worker: UUID


def _state_what_done_requires(schema: dict[str, Any], model: type[Report]) -> None:
    """The schema says it too: with status done, REQUIRED_WHEN_DONE are present and not null."""
    names = list(model.REQUIRED_WHEN_DONE)
    if names:
        schema["if"] = {"properties": {"status": {"const": "done"}}, "required": ["status"]}
        schema["then"] = {"required": names,
                          "properties": {name: {"not": {"type": "null"}} for name in names}}


class Report(Body):
    """A task's outcome. With status done the fields REQUIRED_WHEN_DONE must be given."""
    model_config = ConfigDict(json_schema_extra=_state_what_done_requires)
    REQUIRED_WHEN_DONE: ClassVar[tuple[str, ...]] = ()

    status: Literal["done", "failed"]
    worker: UUID | None = Field(default=None, description="the reporting worker, if it says")

    def field_errors(self) -> list[tuple[str, str]]:
        if self.status != "done":
            return []
        return [(name, "required when status is done") for name in self.REQUIRED_WHEN_DONE
                if getattr(self, name) is None]


class LearnDone(Report):
    REQUIRED_WHEN_DONE = ("perf", "train_perf", "test_perf")
    perf: Perf | None = None
    train_perf: PerfByData | None = None
    test_perf: PerfByData | None = None

    @field_validator("train_perf", "test_perf", mode="before")
    @classmethod
    def _one_value_per_data(cls, value: Any) -> Any:
        # Keys are stored lowercase: two that differ only in case would silently become one.
        if isinstance(value, dict):
            lowered = [key.lower() for key in value if isinstance(key, str)]
            if len(set(lowered)) != len(lowered):
                raise ValueError("keys name the same data twice (they differ only in letter case)")
        return value

    def outcome(self) -> dict[str, Any]:
        """The fields a report stores on the learnuplet."""
        if self.status == "failed":
            return {"status": "failed"}
        return {"status": "done", "perf": self.perf, "train_perf": self.train_perf,
                "test_perf": self.test_perf}


class PredDone(Report):
    REQUIRED_WHEN_DONE = ("prediction_storage_uuid",)
    prediction_storage_uuid: UUID | None = None

    def outcome(self) -> dict[str, Any]:
        if self.status == "failed":
            return {"status": "failed"}
        return {"status": "done", "prediction_storage_uuid": self.prediction_storage_uuid}
