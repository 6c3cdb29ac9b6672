"""Keys naming what a decision reads and an event writes (see Ledger.commit).

Two decisions conflict when one writes a key the other read or writes; decisions whose keys
are disjoint commute, so the ledger commits the later one without deciding it again.
A key must cover every document an event changes and every fact its decision relied on
(tests/ledger/test_event_keys.py checks both for every event kind).
"""
from __future__ import annotations

DATA = "data"  # the data uuid namespace: which data uuids exist


def problem(uuid: str) -> str:
    """A problem's existence and fields."""
    return f"problem:{uuid}"


def algo(uuid: str) -> str:
    """An algo uuid's existence."""
    return f"algo:{uuid}"


def algos_of(problem_uuid: str) -> str:
    """Which algos (so which chains) a problem has."""
    return f"algos:{problem_uuid}"


def data_of(problem_uuid: str) -> str:
    """Which data a problem has (its train set)."""
    return f"data:{problem_uuid}"


def chain(algo_uuid: str) -> str:
    """An algo's chain document (length, active and waiting ranks, best model), and which
    learnuplets it has."""
    return f"chain:{algo_uuid}"


def task(uuid: str) -> str:
    """One learnuplet's or preduplet's state."""
    return f"task:{uuid}"


def entry(uuid: str) -> str:
    """One delivery outbox entry (the delivery ledger's only key)."""
    return f"entry:{uuid}"
