"""Data: registering train data extends the chain of every algo of its problems."""
from flask import Blueprint

from ..registration import register_data
from ..schemas import DataCreate
from ..web import document_list, documented, ledger, one_document, parse_body, user

bp = Blueprint("data", __name__)


@bp.get("/data")
@documented(summary="List data", collection="data")
def list_data():
    return document_list("data")


@bp.get("/data/<uuid>")
@documented(summary="One data", collection="data")
def get_data(uuid: str):
    return one_document("data", uuid)


@bp.post("/data")
@documented(summary="Register data (one uuid or a batch, all or nothing)", body=DataCreate,
            success=201, returns="{new_datas: [data], new_learnuplets: int}")
def create_data():
    result = register_data(ledger(), parse_body(DataCreate), user())
    body = {"new_datas": result.documents, "new_learnuplets": result.new_learnuplets}
    return body, 201 if result.created else 200
