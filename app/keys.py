"""Keys naming what a decision reads and an event writes (see Ledger.commit).

Two decisions conflict when one writes a key the other read or writes; decisions whose keys
are disjoint commute, so the ledger commits the later one without deciding it again.
A key must cover every document the event changes and every fact the decision relied on.
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
    """Which algos a problem has."""
    return f"algos:{problem_uuid}"


def data_of(problem_uuid: str) -> str:
    """Which data a problem has (its train set)."""
    return f"data:{problem_uuid}"


def chain(algo_uuid: str) -> str:
    """An algo's chain: its length, whether it runs, its waiting ranks, its best model."""
    return f"chain:{algo_uuid}"


def models_of(problem_uuid: str) -> str:
    """A problem's done learnuplets, hence its best model."""
    return f"models:{problem_uuid}"


def task(uuid: str) -> str:
    """One learnuplet's or preduplet's state."""
    return f"task:{uuid}"
