"""The page of one algo: what its chain document says of the whole chain.

Its ranks are a page of GET /learnuplet?algo= (the blueprint pages them with the API's tokens):
an algo's learnuplets are created in rank order, so the ledger order is the rank order.
"""
from __future__ import annotations

from typing import Any

from .counts import chain_counts


def chain_summary(chain: dict[str, Any] | None) -> dict[str, Any]:
    """Length, tasks by status, best model and active rank (None: no chain planned yet)."""
    if chain is None:
        return {"length": 0, "counts": None, "best": None, "active": None}
    return {"length": chain.get("length") or 0, "counts": chain_counts(chain),
            "best": chain.get("best"), "active": chain.get("active")}
