"""Preduplets (prediction tasks): requests, claims by workers, and their reports."""
from flask import Blueprint, current_app

from ..schemas import Claim, PredDone, PredictionCreate
from ..tasks import PREDUPLET, claim, heartbeat, report_preduplet, request_prediction
from ..web import check_uuid, document_list, documented, ledger, one_document, parse_body, user

bp = Blueprint("preduplet", __name__)


@bp.get("/preduplet")
@documented(summary="List preduplets", collection="preduplet")
def list_preduplets():
    return document_list("preduplet")


@bp.get("/preduplet/<uuid>")
@documented(summary="One preduplet", collection="preduplet")
def get_preduplet(uuid: str):
    return one_document("preduplet", uuid)


@bp.post("/prediction")
@documented(summary="Request a prediction with the problem's best model", body=PredictionCreate,
            success=201, returns="preduplet")
def create_prediction():
    result = request_prediction(ledger(), parse_body(PredictionCreate), user())
    return result.documents[0], 201 if result.created else 200


@bp.post("/worker/preduplet/<uuid>")
@documented(summary="Claim a todo preduplet (todo -> pending)", body=Claim, success=200,
            returns="{preduplet_worker_set: uuid}")
def claim_preduplet(uuid: str):
    uuid = check_uuid(uuid)
    claim(ledger(), PREDUPLET, uuid, parse_body(Claim).worker, user(),
          current_app.config["LEASE_SECONDS"])
    return {"preduplet_worker_set": uuid}


@bp.post("/worker/preduplet/<uuid>/heartbeat")
@documented(summary="Extend the claim's lease (only by the claiming worker)", body=Claim, success=200,
            returns="{preduplet_lease_extended: uuid, lease_expires: int}")
def heartbeat_preduplet(uuid: str):
    uuid = check_uuid(uuid)
    expires = heartbeat(ledger(), PREDUPLET, uuid, parse_body(Claim).worker, user(),
                        current_app.config["LEASE_SECONDS"])
    return {"preduplet_lease_extended": uuid, "lease_expires": expires}


@bp.post("/preddone/<uuid>")
@documented(summary="Report a preduplet done or failed", body=PredDone, success=200,
            returns="{updated_preduplet: uuid}")
def preddone(uuid: str):
    uuid = check_uuid(uuid)
    report_preduplet(ledger(), uuid, parse_body(PredDone), user())
    return {"updated_preduplet": uuid}
