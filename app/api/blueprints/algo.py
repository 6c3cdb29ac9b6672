"""Algos: registering one plans its training chain over the problem's train data."""
from flask import Blueprint

from ...decisions.registration import register_algo
from ...domain.permissions import REGISTER
from ..answers import AlgoCreated
from ..schemas import AlgoCreate
from ..views import add_read_routes, documented, ledger, limits, parse_body, user

bp = Blueprint("algo", __name__)
add_read_routes(bp, "algo")


@bp.post("/algo")
@documented(summary="Register an algo and plan its learnuplets", body=AlgoCreate, success=201,
            retry=True, answer=AlgoCreated, returns="the new algo and the learnuplets planned",
            errors=(409,), why={400: "invalid body, or its problem does not exist",
                                409: "the uuid is stored with other fields",
                                413: "the chain would exceed MAX_EVENT_DOCUMENTS or "
                                     "MAX_EVENT_UUIDS, or the body MAX_CONTENT_LENGTH"},
            permission=REGISTER)
def create_algo():
    result = register_algo(ledger(), parse_body(AlgoCreate).model_dump(), user(), limits())
    body = {"new_algo": result.documents[0], "new_learnuplets": result.new_learnuplets}
    return body, 201 if result.created else 200
