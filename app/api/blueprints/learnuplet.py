"""Learnuplets (training tasks): listing, claims by workers, and their reports."""
from flask import Blueprint

from ...decisions.tasks import LEARNUPLET, report
from ...domain.permissions import REPORT
from ..answers import LearnupletReported
from ..auth import acting_as, current_account
from ..schemas import LearnDone
from ..views import add_read_routes, check_uuid, documented, ledger, parse_body, user
from .claims import add_claim_routes

bp = Blueprint("learnuplet", __name__)
add_read_routes(bp, "learnuplet")
add_claim_routes(bp, LEARNUPLET)


@bp.post("/learndone/<uuid>")
@documented(summary="Report a learnuplet done or failed", body=LearnDone,
            answer=LearnupletReported,
            returns="recorded (also an identical retry of a recorded report)", errors=(409,),
            why={400: "invalid body, or performance keyed by data the learnuplet does not hold",
                 409: "the task's state or its worker does not allow this report"},
            permission=REPORT)
def learndone(uuid: str):
    uuid = check_uuid(uuid)
    body = parse_body(LearnDone)
    report(ledger(), LEARNUPLET, uuid, body.outcome(), acting_as(body.worker), user(),
           check_perf=True, account=current_account())
    return {"updated_learnuplet": uuid}
