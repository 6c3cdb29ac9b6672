"""Tasks by status, from chain documents alone (no count over the learnuplets).

A chain's ranks run in order: those below the active rank are finished, the active one is
todo or pending (its status is kept on the chain, ledger/running.py), and those from
`next_waiting` on wait. The chain also counts its failed ranks (`failed`, domain/planning.py),
so done = finished - failed. A chain planned before it kept that count says None for both.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..domain.states import DONE, FAILED, PENDING, STATUSES, TODO, WAITING

FINISHED = "finished"
COLUMNS = (*STATUSES, FINISHED)


def chain_counts(chain: Mapping[str, Any]) -> dict[str, int | None]:
    """The chain's learnuplets by status, and how many finished."""
    length, active, waiting_from = chain.get("length") or 0, chain.get("active"), \
        chain.get("next_waiting")
    counts: dict[str, int | None] = dict.fromkeys(COLUMNS, 0)
    if active is not None:
        running = chain.get("running_status") if chain.get("running_status") in (TODO, PENDING) \
            else TODO
        counts[running] = 1
        finished = active
    else:
        finished = waiting_from if waiting_from is not None else length
    counts[WAITING] = length - waiting_from if waiting_from is not None else 0
    counts[FINISHED] = finished
    failed = chain.get("failed")
    counts[FAILED] = failed
    counts[DONE] = None if failed is None else finished - failed
    return counts


def total_counts(chains: Iterable[Mapping[str, Any]]) -> dict[str, int | None]:
    """The counts of several chains added up (None where any chain does not know)."""
    total: dict[str, int | None] = dict.fromkeys(COLUMNS, 0)
    for chain in chains:
        for name, value in chain_counts(chain).items():
            current = total[name]
            total[name] = None if current is None or value is None else current + value
    return total
