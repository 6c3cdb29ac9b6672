"""Request bodies: one pydantic declaration each, strict, also the source of /openapi.json."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# A UUID in canonical 8-4-4-4-12 form, stored lowercase.
UUID = Annotated[str, StringConstraints(pattern=UUID_PATTERN), AfterValidator(str.lower),
                 Field(json_schema_extra={"format": "uuid"})]
Perf = Annotated[float, Field(allow_inf_nan=False)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("list has repeated UUIDs")
    return values


UUIDList = Annotated[list[UUID], AfterValidator(_unique)]
NonEmptyUUIDList = Annotated[list[UUID], Field(min_length=1), AfterValidator(_unique)]


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
    size_train_dataset: int = Field(ge=1, le=2**63 - 1)  # BSON holds at most 8-byte ints


class AlgoCreate(Body):
    uuid: UUID
    problem: UUID
    name: str = Field(min_length=1, max_length=1000)


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


class LearnDone(Body):
    status: Literal["done", "failed"]
    perf: Perf | None = None
    train_perf: dict[UUID, Perf] | None = None
    test_perf: dict[UUID, Perf] | None = None
    worker: UUID | None = Field(default=None, description="the reporting worker, if it says")

    @field_validator("train_perf", "test_perf", mode="before")
    @classmethod
    def _one_value_per_data(cls, value: Any) -> Any:
        # Keys are stored lowercase: two that differ only in case would silently become one.
        if isinstance(value, dict):
            lowered = [key.lower() for key in value if isinstance(key, str)]
            if len(set(lowered)) != len(lowered):
                raise ValueError("keys name the same data twice (they differ only in letter case)")
        return value

    def field_errors(self) -> list[tuple[str, str]]:
        if self.status != "done":
            return []
        return [(name, "required when status is done") for name in ("perf", "train_perf", "test_perf")
                if getattr(self, name) is None]

    def outcome(self) -> dict[str, Any]:
        """The fields a report stores on the learnuplet."""
        if self.status == "failed":
            return {"status": "failed"}
        return {"status": "done", "perf": self.perf, "train_perf": self.train_perf,
                "test_perf": self.test_perf}


class PredDone(Body):
    status: Literal["done", "failed"]
    prediction_storage_uuid: UUID | None = None
    worker: UUID | None = Field(default=None, description="the reporting worker, if it says")

    def field_errors(self) -> list[tuple[str, str]]:
        if self.status == "done" and self.prediction_storage_uuid is None:
            return [("prediction_storage_uuid", "required when status is done")]
        return []

    def outcome(self) -> dict[str, Any]:
        if self.status == "failed":
            return {"status": "failed"}
        return {"status": "done", "prediction_storage_uuid": self.prediction_storage_uuid}
