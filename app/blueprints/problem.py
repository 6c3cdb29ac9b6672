"""Problems: what to learn, with which workflow, tested on which data."""
from flask import Blueprint

from ..registration import register_problem
from ..schemas import ProblemCreate
from ..web import document_list, documented, ledger, one_document, parse_body, user

bp = Blueprint("problem", __name__)


@bp.get("/problem")
@documented(summary="List problems", collection="problem")
def list_problems():
    return document_list("problem")


@bp.get("/problem/<uuid>")
@documented(summary="One problem", collection="problem")
def get_problem(uuid: str):
    return one_document("problem", uuid)


@bp.post("/problem")
@documented(summary="Register a problem", body=ProblemCreate, success=201,
            returns="{new_problem: problem}")
def create_problem():
    result = register_problem(ledger(), parse_body(ProblemCreate), user())
    return {"new_problem": result.documents[0]}, 201 if result.created else 200
