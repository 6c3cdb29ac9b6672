"""Data: registering train data extends the chain of every algo of its problems."""
from flask import Blueprint

from ...decisions.registration import register_data
from ...domain.permissions import REGISTER
from ..answers import DataCreated
from ..schemas import DataCreate
from ..views import add_read_routes, documented, ledger, limits, parse_body, user

bp = Blueprint("data", __name__)
add_read_routes(bp, "data")


@bp.post("/data")
@documented(summary="Register data (one uuid or a batch, all or nothing)", body=DataCreate,
            success=201, retry=True, answer=DataCreated,
            returns="the new data and the learnuplets added to the chains", errors=(409,),
            why={400: "invalid body, or one of its problems does not exist",
                 409: "a uuid is stored with other problems, or the batch mixes new and "
                      "stored uuids",
                 413: "the learnuplets would exceed MAX_EVENT_DOCUMENTS or MAX_EVENT_UUIDS, "
                      "or the body MAX_CONTENT_LENGTH"},
            permission=REGISTER)
def create_data():
    body = parse_body(DataCreate)
    result = register_data(ledger(), body.uuids(), body.problem_uuids(), user(), limits())
    answer = {"new_datas": result.documents, "new_learnuplets": result.new_learnuplets}
    return answer, 201 if result.created else 200
