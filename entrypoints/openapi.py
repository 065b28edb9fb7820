"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

spectree writes it from the routes of the app and the models each view
declares (``entrypoints.api_spec``), so it lists exactly the routes the app
serves, with every status each can answer with. Every operation needs the
bearer token (when the server sets ``API_TOKEN``) unless it says
``security: []``, and each of those also documents its 401.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from entrypoints import ingest_views, metrics, poll_views, trend_views, views, web
from entrypoints.api_spec import JSON, ApiResponse, api

OPENAPI_PATH = "/openapi.json"

bp = Blueprint("docs", __name__)


@bp.route(OPENAPI_PATH, methods=["GET"])
@api.operation(
    "openapi",
    tag="service",
    resp=ApiResponse(HTTP_200=(None, "The OpenAPI document.")),
    document={"responses": {"200": {"content": {JSON: {"schema": {"type": "object"}}}}}},
)
def openapi() -> Response:
    """This document"""
    return jsonify(openapi_document(current_app))


# GET /metrics is served beside the figures it gives (entrypoints.metrics).
api.route(
    metrics.METRICS_PATH,
    "get",
    {
        "operationId": "metrics",
        "summary": "The service's Prometheus figures",
        "description": (
            "Reports triggered, completed and failed, ingested rows by file and outcome, report durations and "
            "queue waits, summed over the API and worker processes."
        ),
        "tags": ["service"],
        "responses": {
            "200": {
                "description": "The figures in the Prometheus text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    },
)

# The blueprints whose routes make the API, as ``entrypoints.flask_app`` registers them.
BLUEPRINTS = (views.bp, web.bp, ingest_views.bp, poll_views.bp, trend_views.bp, metrics.bp, bp)


def openapi_document(app: Flask | None = None) -> dict[str, Any]:
    """The document of ``app``'s routes; by default of an app that only routes (it serves nothing)."""
    if app is None:
        app = Flask(__name__, static_folder=None)
        for blueprint in BLUEPRINTS:
            app.register_blueprint(blueprint)
    return api.document(app)
