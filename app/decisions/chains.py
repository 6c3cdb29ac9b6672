"""Chains follow the registry: once an algo or data registration is applied, the chain of
every algo it concerns is planned or extended by an event on that chain's stream.

The registry event is the commit point of the registration; the chain events are decided
when it is applied (from the chain as it is then), and each registry event is absorbed by a
chain once (the chain document records the last registry event it absorbed). Applying a
registry event again, after a crash, commits only what is missing.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..ledger import Reading, StreamLedger, running
from ..ledger.streams import Decide
from ..storage import Writes


def chain_stream(algo: str) -> str:
    return f"chain:{algo}"


def follow_registry(streams: StreamLedger, event: Mapping[str, Any]) -> Writes:
    """Plan or extend the chains of an applied registry event; returns what that wrote."""
    if event["kind"] == "algo_registered":
        algos = [event["algo"]["uuid"]]
    elif event["kind"] == "data_registered":
        algos = event["algos"]
    else:
        return Writes()
    found: dict[str, Any] = {}  # read on the first decision, for all chains at once
    decides = [_decision(streams, event, algo, algos, found) for algo in algos]
    known = {("events", event["_id"]): event}  # the chain events' expansions read it
    learnuplets = [document for _, writes in streams.commit_all(decides, known)
                   for document in writes.inserts.get("learnuplet", [])]
    return Writes(inserts={"learnuplet": learnuplets})


def _chains(streams: StreamLedger, algos: list[str]) -> dict[str, Any]:
    """One read for any number of chains: their documents (each keeps its running
    learnuplet's state, ledger/running.py)."""
    return {chain["uuid"]: chain for chain in streams.store.get_many("chain", algos)}


def _decision(streams: StreamLedger, event: Mapping[str, Any], algo: str, algos: list[str],
              found: dict[str, Any]) -> Decide:
    """The decision for one chain; its first run uses what was read for all chains."""
    first = [True]

    def decide(reading: Reading) -> dict[str, Any] | None:
        if first:
            first.clear()
            if "chains" not in found:  # once, even if none exists yet
                found["chains"] = _chains(streams, algos)
            chain = found["chains"].get(algo)
        else:
            chain = streams.store.get("chain", algo)
        reading.observe(chain_stream(algo), "chain", algo, chain)
        return _chain_event(event, algo, chain)

    return decide


def _chain_event(event: Mapping[str, Any], algo: str,
                 chain: Mapping[str, Any] | None) -> dict[str, Any] | None:
    number = event["_id"]
    if chain is not None and chain["registry"] >= number:
        return None  # absorbed already (this registry event is being applied again)
    if event["kind"] == "algo_registered":
        return {"kind": "chain_planned", "by": event["by"], "registry": number, "algo": algo,
                "problem": event["algo"]["problem"]}
    if chain is None:
        raise RuntimeError(f"data event {number} names algo {algo}, whose chain is not planned")
    return {"kind": "chain_extended", "by": event["by"], "registry": number,
            "chain": running.summary(chain)}
