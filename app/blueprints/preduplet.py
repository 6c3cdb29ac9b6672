"""Preduplets (prediction tasks): requests, claims by workers, and their reports."""
from flask import Blueprint

from ..schemas import PredDone, PredictionCreate
from ..tasks import PREDUPLET, report, request_prediction
from ..web import add_read_routes, check_uuid, documented, ledger, parse_body, user
from .claims import add_claim_routes

bp = Blueprint("preduplet", __name__)
add_read_routes(bp, "preduplet")
add_claim_routes(bp, PREDUPLET)


@bp.post("/prediction")
@documented(summary="Request a prediction with the problem's best model", body=PredictionCreate,
            success=201, returns="preduplet")
def create_prediction():
    result = request_prediction(ledger(), parse_body(PredictionCreate), user())
    return result.documents[0], 201 if result.created else 200


@bp.post("/preddone/<uuid>")
@documented(summary="Report a preduplet done or failed", body=PredDone, success=200,
            returns="{updated_preduplet: uuid}")
def preddone(uuid: str):
    uuid = check_uuid(uuid)
    report(ledger(), PREDUPLET, uuid, parse_body(PredDone), user())
    return {"updated_preduplet": uuid}
