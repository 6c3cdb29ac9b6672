"""Problems: what to learn, with which workflow, tested on which data."""
from flask import Blueprint

from ...decisions.registration import register_problem
from ...domain.permissions import REGISTER
from ..answers import ProblemCreated
from ..schemas import ProblemCreate
from ..views import add_read_routes, documented, ledger, parse_body, user

bp = Blueprint("problem", __name__)
add_read_routes(bp, "problem")


@bp.post("/problem")
@documented(summary="Register a problem", body=ProblemCreate, success=201, retry=True,
            answer=ProblemCreated, returns="the new problem", errors=(409,),
            why={409: "the uuid is stored with other fields"}, permission=REGISTER)
def create_problem():
    result = register_problem(ledger(), parse_body(ProblemCreate).model_dump(), user())
    return {"new_problem": result.documents[0]}, 201 if result.created else 200
