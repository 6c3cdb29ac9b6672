"""Prediction requests: a todo preduplet with the problem's best model."""
from __future__ import annotations

import uuid as uuidlib
from typing import Any

from ..domain.errors import Conflict
from ..domain.planning import best_of
from ..domain.states import TODO
from ..ledger import Ledgers
from .registration import Registered, create_on_stream, require_problems


def request_prediction(ledgers: Ledgers, data: str, problem_uuid: str, uuid: str | None,
                       by: str) -> Registered:
    """Create the preduplet `uuid` (a new one when None) for `data` on the problem's best model."""
    uuid = uuid or str(uuidlib.uuid4())

    def new_event() -> dict[str, Any]:
        problem = require_problems(ledgers, [problem_uuid], "problem")[0]
        chains = ledgers.store.chains_of([problem_uuid])
        best = best_of(chain["best"] for chain in chains)
        if best is None:
            raise Conflict(f"problem {problem_uuid} has no trained model yet: no learnuplet "
                           "of it is done, so there is nothing to predict with")
        return {"kind": "prediction_requested", "by": by,
                "chains": sorted(chain["uuid"] for chain in chains), "preduplet": {
                    "uuid": uuid, "problem": problem_uuid, "workflow": problem["workflow"],
                    "data": data, "model": best["model_end"], "status": TODO, "worker": None,
                    "prediction_storage_uuid": None, "timestamp_claimed": None,
                    "timestamp_done": None, "lease_expires": None, "attempts": 0}}

    return create_on_stream(ledgers, f"preduplet:{uuid}", "preduplet", uuid,
                            {"data": data, "problem": problem_uuid}, new_event)
