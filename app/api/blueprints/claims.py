"""The claim and heartbeat routes, the same for both task kinds (not a blueprint itself)."""
from flask import Blueprint, current_app

from ...decisions.tasks import claim, heartbeat
from ...domain.permissions import CLAIM, HEARTBEAT
from ..answers import claimed_answer, extended_answer
from ..auth import acting_as
from ..schemas import Claim
from ..views import check_uuid, documented, ledger, parse_body, user


def add_claim_routes(bp: Blueprint, kind: str) -> None:
    """POST /worker/<kind>/<uuid> (claim) and POST /worker/<kind>/<uuid>/heartbeat."""

    @documented(summary=f"Claim a todo {kind} (todo -> pending)", body=Claim,
                answer=claimed_answer(kind), returns=f"the {kind} is yours", errors=(409,),
                why={409: f"the {kind} is not todo (claimed by another worker, or finished)"},
                permission=CLAIM)
    def claim_task(uuid: str) -> dict[str, str]:
        uuid = check_uuid(uuid)
        claim(ledger(), kind, uuid, acting_as(parse_body(Claim).worker), user(),
              current_app.config["LEASE_SECONDS"])
        return {f"{kind}_worker_set": uuid}

    @documented(summary="Extend the claim's lease (only by the claiming worker)", body=Claim,
                answer=extended_answer(kind), returns="the lease now lapses at lease_expires",
                errors=(409,), why={409: f"the worker does not hold a claim on this {kind}"},
                permission=HEARTBEAT)
    def extend_lease(uuid: str) -> dict[str, str | int]:
        uuid = check_uuid(uuid)
        expires = heartbeat(ledger(), kind, uuid, acting_as(parse_body(Claim).worker), user(),
                            current_app.config["LEASE_SECONDS"])
        return {f"{kind}_lease_extended": uuid, "lease_expires": expires}

    bp.add_url_rule(f"/worker/{kind}/<uuid>", "claim", claim_task, methods=["POST"])
    bp.add_url_rule(f"/worker/{kind}/<uuid>/heartbeat", "heartbeat", extend_lease,
                    methods=["POST"])
