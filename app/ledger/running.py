"""A chain document keeps the state of its running learnuplet (the one todo or pending).

So a claim, a heartbeat or a report decides from ONE small document, the chain's, found by
the learnuplet's uuid (`running`), and never reads the learnuplet: on a server that scans a
collection for every lookup (FerretDB), the learnuplets are by far the largest one. Every
event of a chain's stream writes the chain document, and writes it last: so its `version`
is the number of the last event applied whole, and what it says of its running learnuplet
is what the learnuplet says.

Fields, besides `running` (the learnuplet's uuid, None when nothing runs): `running_` and
the learnuplet's status, worker, lease_expires, attempts, lapsed_workers, train_data and
test_data (the data, to check a report's performance keys).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.planning import model_uuid
from ..domain.states import TODO
from ..storage import FieldOf

PREFIX = "running_"
STATE = ("status", "worker", "lease_expires", "attempts", "lapsed_workers")
DATA = ("train_data", "test_data")
LEARNUPLET = "learnuplet"


def fields(**state: Any) -> dict[str, Any]:
    """The chain document's fields for these changes of its running learnuplet's state."""
    return {PREFIX + name: value for name, value in state.items()}


def started(task: Mapping[str, Any]) -> dict[str, Any]:
    """A learnuplet the event creates starts running (its document is known)."""
    return {"running": task["uuid"], **fields(**{name: task.get(name) for name in STATE + DATA})}


def promoted(uuid: str) -> dict[str, Any]:
    """A waiting learnuplet becomes todo: it never ran, and its data are copied from it as the
    same write updates it (one round trip, no read)."""
    return {"running": uuid, **fields(status=TODO, worker=None, lease_expires=None, attempts=0,
                                      lapsed_workers=[]),
            **fields(**{name: FieldOf(LEARNUPLET, uuid, name) for name in DATA})}


def stopped() -> dict[str, Any]:
    return {"running": None, **fields(**dict.fromkeys(STATE + DATA))}


def task_of(chain: Mapping[str, Any]) -> dict[str, Any] | None:
    """The running learnuplet as a decision reads it (None: nothing runs, or the chain
    document was written before it kept this state)."""
    uuid, rank = chain.get("running"), chain.get("active")
    if uuid is None or rank is None or any(chain.get(PREFIX + name) is None
                                           for name in ("status", *DATA)):
        return None
    return {"uuid": uuid, "algo": chain["uuid"], "problem": chain["problem"], "rank": rank,
            "model_end": model_uuid(chain["uuid"], rank),
            **{name: chain.get(PREFIX + name) for name in STATE + DATA},
            "attempts": chain.get(PREFIX + "attempts") or 0,
            "lapsed_workers": chain.get(PREFIX + "lapsed_workers") or []}


def summary(chain: Mapping[str, Any]) -> dict[str, Any]:
    """What an event records of the chain document it decided on: all but the running
    learnuplet's data (applying the event never needs them)."""
    return {name: value for name, value in chain.items()
            if name not in {PREFIX + data for data in DATA}}
