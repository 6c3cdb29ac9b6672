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

from ..domain.planning import learnuplet_uuid
from ..ledger import Reading, StreamLedger
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


def _chains_with_their_running_learnuplet(streams: StreamLedger, algos: list[str]
                                          ) -> dict[str, Any]:
    """Two reads for any number of chains: the chain documents and their active learnuplets."""
    chains = {chain["uuid"]: chain for chain in streams.store.get_many("chain", algos)}
    active = [learnuplet_uuid(chain["uuid"], chain["active"]) for chain in chains.values()
              if chain["active"] is not None]
    running = {task["algo"]: task for task in streams.store.get_many("learnuplet", active)}
    return {"chains": chains, "running": running}


def _decision(streams: StreamLedger, event: Mapping[str, Any], algo: str, algos: list[str],
              found: dict[str, Any]) -> Decide:
    """The decision for one chain; its first run uses what was read for all chains."""
    first = [True]

    def decide(reading: Reading) -> dict[str, Any] | None:
        if first:
            first.clear()
            if not found:
                found.update(_chains_with_their_running_learnuplet(streams, algos))
            chain, running = found["chains"].get(algo), found["running"].get(algo)
        else:
            chain = streams.store.get("chain", algo)
            running = _running(streams, chain)
        stream = chain_stream(algo)
        reading.observe(stream, "chain", algo, chain)
        if running is not None:
            reading.observe(stream, "learnuplet", running["uuid"], running)
        return _chain_event(event, algo, chain)

    return decide


def _running(streams: StreamLedger, chain: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if chain is None or chain["active"] is None:
        return None
    return streams.store.get("learnuplet", learnuplet_uuid(chain["uuid"], chain["active"]))


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
    return {"kind": "chain_extended", "by": event["by"], "registry": number, "chain": chain}
