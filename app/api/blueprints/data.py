"""Data: registering train data extends the chain of every algo of its problems."""
from flask import Blueprint

from ...decisions.registration import register_data
from ...domain.permissions import REGISTER
from ..schemas import DataCreate
from ..views import add_read_routes, documented, ledger, limits, parse_body, user

bp = Blueprint("data", __name__)
add_read_routes(bp, "data")


@bp.post("/data")
@documented(summary="Register data (one uuid or a batch, all or nothing)", body=DataCreate,
            success=201, returns="{new_datas: [data], new_learnuplets: int}",
            permission=REGISTER)
def create_data():
    body = parse_body(DataCreate)
    result = register_data(ledger(), body.uuids(), body.problem_uuids(), user(), limits())
    answer = {"new_datas": result.documents, "new_learnuplets": result.new_learnuplets}
    return answer, 201 if result.created else 200
