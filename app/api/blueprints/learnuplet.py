"""Learnuplets (training tasks): listing, claims by workers, and their reports."""
from flask import Blueprint

from ...decisions.tasks import LEARNUPLET, report
from ...domain.permissions import REPORT
from ..auth import acting_as, current_account
from ..schemas import LearnDone
from ..views import add_read_routes, check_uuid, documented, ledger, parse_body, user
from .claims import add_claim_routes

bp = Blueprint("learnuplet", __name__)
add_read_routes(bp, "learnuplet")
add_claim_routes(bp, LEARNUPLET)


@bp.post("/learndone/<uuid>")
@documented(summary="Report a learnuplet done or failed", body=LearnDone, success=200,
            returns="{updated_learnuplet: uuid}", permission=REPORT)
def learndone(uuid: str):
    uuid = check_uuid(uuid)
    body = parse_body(LearnDone)
    report(ledger(), LEARNUPLET, uuid, body.outcome(), acting_as(body.worker), user(),
           check_perf=True, account=current_account())
    return {"updated_learnuplet": uuid}
