"""Bounds on the work one event may carry (docs/configuration.md, MAX_EVENT_*).

Applying an event must always finish, so that nothing committed can wedge the ledger: a
request whose event would write more than the bounds is refused before anything is
committed, with a detail saying how to split it.

One document must also stay writable: MongoDB refuses a document over 16 MiB (pymongo any
message over 48 MB), and a learnuplet holds its train and test data, and once done a
performance for each. MAX_LEARNUPLET_DATA keeps the largest learnuplet near 14 MB (about 95
bytes of BSON per datum: one list entry and one performance entry).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.errors import TooLarge
from ..domain.planning import batches, train_data

FIELDS_PER_LEARNUPLET = 6  # uuids a learnuplet holds besides its train and test data
MAX_LEARNUPLET_DATA = 150_000  # train_data + test_data of one learnuplet (not configurable)


def check_data_upload(problems: list[Mapping[str, Any]], chains: list[Mapping[str, Any]],
                      data: list[str], limits: Mapping[str, int]) -> None:
    """Refuse an upload of `data` whose learnuplets would exceed the bounds."""
    extended = {chain["problem"] for chain in chains}
    for problem in problems:
        if problem["uuid"] in extended:
            batch = min(problem["size_train_dataset"], len(train_data(data, problem["test_dataset"])))
            _check_learnuplet(batch, problem, "this upload", "send fewer data at a time, or use "
                              "a problem with a smaller size_train_dataset")
    by_uuid = {problem["uuid"]: problem for problem in problems}
    count = len(data)
    documents, uuids = count, count * (1 + len(problems))
    for chain in chains:
        problem = by_uuid[chain["problem"]]
        # at most `count` train data: the test ones among them are not told apart here
        size = problem["size_train_dataset"]
        per_chain = len(batches(range(count), size))  # type: ignore[arg-type]
        documents += per_chain
        uuids += count + per_chain * (len(problem["test_dataset"]) + FIELDS_PER_LEARNUPLET)
    _check(documents, uuids, limits, "this upload",
           "send the data in smaller batches (each POST /data is one event)")


def check_chain_plan(problem: Mapping[str, Any], data: list[str],
                     limits: Mapping[str, int]) -> None:
    """Refuse an algo whose first chain would exceed the bounds."""
    train = train_data(data, problem["test_dataset"])
    learnuplets = len(batches(train, problem["size_train_dataset"]))
    _check_learnuplet(min(problem["size_train_dataset"], len(train)), problem,
                      "this algo's chain", "the problem's mini-batches are too large")
    uuids = len(train) + learnuplets * (len(problem["test_dataset"]) + FIELDS_PER_LEARNUPLET)
    _check(learnuplets + 1, uuids, limits, "this algo's chain",
           "the problem holds too much data for one chain")


def _check_learnuplet(batch: int, problem: Mapping[str, Any], what: str, advice: str) -> None:
    """Refuse a learnuplet of `batch` train data that would hold too many data."""
    data = batch + len(problem["test_dataset"])
    if batch and data > MAX_LEARNUPLET_DATA:
        raise TooLarge(f"{what} would make a learnuplet of {data} data ({batch} train data and "
                       f"{len(problem['test_dataset'])} test data), more than "
                       f"{MAX_LEARNUPLET_DATA}; {advice}")


def _check(documents: int, uuids: int, limits: Mapping[str, int], what: str, advice: str) -> None:
    if documents > limits["MAX_EVENT_DOCUMENTS"]:
        raise TooLarge(f"{what} would write {documents} documents, more than "
                       f"MAX_EVENT_DOCUMENTS={limits['MAX_EVENT_DOCUMENTS']}; {advice}")
    if uuids > limits["MAX_EVENT_UUIDS"]:
        raise TooLarge(f"{what} would store {uuids} uuids, more than "
                       f"MAX_EVENT_UUIDS={limits['MAX_EVENT_UUIDS']} (learnuplets each copy the "
                       f"problem's test dataset); {advice}")
