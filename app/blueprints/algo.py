"""Algos: registering one plans its training chain over the problem's train data."""
from flask import Blueprint

from ..registration import register_algo
from ..schemas import AlgoCreate
from ..web import document_list, documented, ledger, one_document, parse_body, user

bp = Blueprint("algo", __name__)


@bp.get("/algo")
@documented(summary="List algos", collection="algo")
def list_algos():
    return document_list("algo")


@bp.get("/algo/<uuid>")
@documented(summary="One algo", collection="algo")
def get_algo(uuid: str):
    return one_document("algo", uuid)


@bp.post("/algo")
@documented(summary="Register an algo and plan its learnuplets", body=AlgoCreate, success=201,
            returns="{new_algo: algo, new_learnuplets: int}")
def create_algo():
    result = register_algo(ledger(), parse_body(AlgoCreate), user())
    body = {"new_algo": result.documents[0], "new_learnuplets": result.new_learnuplets}
    return body, 201 if result.created else 200
