"""GET /metrics: Prometheus text (metrics.py). With METRICS_REQUIRE_AUTH (the default) it
needs an account, any role (reading the metrics is reading the record); without, it is
public like /health (auth.py, openapi.py: `auth_setting`)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from ...domain.permissions import READ
from ..metrics import CONTENT_TYPE
from ..views import METRICS, documented

bp = Blueprint("metrics", __name__)
ENDPOINT = "metrics.metrics"


@bp.get("/metrics")
@documented(summary="Prometheus metrics: requests, tasks, the ledgers, pushes", permission=READ,
            returns="the metrics in Prometheus text format", media="text/plain",
            schema={"type": "string"}, database=False, auth_setting="METRICS_REQUIRE_AUTH")
def metrics() -> Response:
    return Response(current_app.extensions[METRICS].scrape(), content_type=CONTENT_TYPE)
