"""Learnuplets (training tasks): listing, claims by workers, and their reports."""
from flask import Blueprint, current_app

from ..schemas import Claim, LearnDone
from ..tasks import LEARNUPLET, claim, heartbeat, report_learnuplet
from ..web import check_uuid, document_list, documented, ledger, one_document, parse_body, user

bp = Blueprint("learnuplet", __name__)


@bp.get("/learnuplet")
@documented(summary="List learnuplets", collection="learnuplet")
def list_learnuplets():
    return document_list("learnuplet")


@bp.get("/learnuplet/<uuid>")
@documented(summary="One learnuplet", collection="learnuplet")
def get_learnuplet(uuid: str):
    return one_document("learnuplet", uuid)


@bp.post("/worker/learnuplet/<uuid>")
@documented(summary="Claim a todo learnuplet (todo -> pending)", body=Claim, success=200,
            returns="{learnuplet_worker_set: uuid}")
def claim_learnuplet(uuid: str):
    uuid = check_uuid(uuid)
    claim(ledger(), LEARNUPLET, uuid, parse_body(Claim).worker, user(),
          current_app.config["LEASE_SECONDS"])
    return {"learnuplet_worker_set": uuid}


@bp.post("/worker/learnuplet/<uuid>/heartbeat")
@documented(summary="Extend the claim's lease (only by the claiming worker)", body=Claim, success=200,
            returns="{learnuplet_lease_extended: uuid, lease_expires: int}")
def heartbeat_learnuplet(uuid: str):
    uuid = check_uuid(uuid)
    expires = heartbeat(ledger(), LEARNUPLET, uuid, parse_body(Claim).worker, user(),
                        current_app.config["LEASE_SECONDS"])
    return {"learnuplet_lease_extended": uuid, "lease_expires": expires}


@bp.post("/learndone/<uuid>")
@documented(summary="Report a learnuplet done or failed", body=LearnDone, success=200,
            returns="{updated_learnuplet: uuid}")
def learndone(uuid: str):
    uuid = check_uuid(uuid)
    report_learnuplet(ledger(), uuid, parse_body(LearnDone), user())
    return {"updated_learnuplet": uuid}
