"""The page of one algo: its chain, rank by rank (learnuplets looked up by derived uuid)."""
from __future__ import annotations

from typing import Any

from ..domain.planning import learnuplet_uuid
from ..storage import Store
from .counts import chain_counts


def chain_ranks(store: Store, chain: dict[str, Any] | None, first: int, limit: int
                ) -> list[dict[str, Any]]:
    """The learnuplets of ranks first .. first + limit - 1, by rank."""
    if chain is None:
        return []
    ranks = range(max(first, 0), min(first + limit, chain.get("length") or 0))
    found = store.get_many("learnuplet", [learnuplet_uuid(chain["uuid"], rank) for rank in ranks])
    return sorted(found, key=lambda task: task["rank"])


def chain_summary(chain: dict[str, Any] | None) -> dict[str, Any]:
    """What the chain document says of the whole chain."""
    if chain is None:
        return {"length": 0, "counts": None, "best": None, "active": None}
    return {"length": chain.get("length") or 0, "counts": chain_counts(chain),
            "best": chain.get("best"), "active": chain.get("active")}
