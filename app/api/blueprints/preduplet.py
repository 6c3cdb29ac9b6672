"""Preduplets (prediction tasks): requests, claims by workers, and their reports."""
from flask import Blueprint

from ...decisions.prediction import request_prediction
from ...decisions.tasks import PREDUPLET, report
from ...domain.permissions import PREDICT, REPORT
from ..answers import Preduplet, PredupletReported
from ..auth import acting_as, current_account
from ..schemas import PredDone, PredictionCreate
from ..views import add_read_routes, check_uuid, documented, ledger, parse_body, user
from .claims import add_claim_routes

bp = Blueprint("preduplet", __name__)
add_read_routes(bp, "preduplet")
add_claim_routes(bp, PREDUPLET)


@bp.post("/prediction")
@documented(summary="Request a prediction with the problem's best model", body=PredictionCreate,
            success=201, retry=True, answer=Preduplet, returns="the new preduplet (todo)",
            errors=(409,), why={400: "invalid body, or the problem does not exist",
                                409: "the problem has no trained model yet, or the uuid is "
                                     "stored with other fields"},
            permission=PREDICT)
def create_prediction():
    body = parse_body(PredictionCreate)
    result = request_prediction(ledger(), body.data, body.problem, body.uuid, user())
    return result.documents[0], 201 if result.created else 200


@bp.post("/preddone/<uuid>")
@documented(summary="Report a preduplet done or failed", body=PredDone, answer=PredupletReported,
            returns="recorded (also an identical retry of a recorded report)", errors=(409,),
            why={409: "the task's state or its worker does not allow this report"},
            permission=REPORT)
def preddone(uuid: str):
    uuid = check_uuid(uuid)
    body = parse_body(PredDone)
    report(ledger(), PREDUPLET, uuid, body.outcome(), acting_as(body.worker), user(),
           account=current_account())
    return {"updated_preduplet": uuid}
