"""The HTTP routes: trigger a report, poll it, check health, describe the API.

A view parses the request, calls one service method and serializes the
answer; errors leave as exceptions and ``entrypoints.flask_app`` turns each
into a JSON response with its status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from dependency_injector.wiring import Provide, Provider, inject
from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import BadRequest, NotFound

from domain.errors import UptimeError
from domain.ports import ReportNotFound, ReportQueue, ReportRegistry
from domain.report import Report, ReportStatus
from domain.services import ReportRunService
from entrypoints.container import Container
from entrypoints.openapi import openapi_document

bp = Blueprint("api", __name__)

OK = "ok"
UNAVAILABLE = "unavailable"


@bp.route("/trigger_report", methods=["POST"])
@inject
def trigger_report(runs: ReportRunService = Provide[Container.report_run_service]) -> Response:
    report = runs.trigger()
    return jsonify(report_id=report.report_id)


# ``path`` lets ids with slashes ('../etc/passwd') reach the view and get a
# 400 instead of a routing 404.
@bp.route("/get_report/<path:report_id>", methods=["GET"])
@inject
def get_report(
    report_id: str,
    # The provider, not the service: the id is checked before anything is
    # built, since building the service may open the database.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
    retention_days: Callable[[], int] = Provider[Container.report_retention_days],
) -> Response:
    checked_id = parse_report_id(report_id)
    runs = run_service()
    try:
        report = runs.status(checked_id)
        if report.status is not ReportStatus.COMPLETE:
            return _no_store(jsonify(report_state(report)))
        content = runs.content(checked_id)
    except ReportNotFound:
        raise NotFound(not_found_message(checked_id, retention_days())) from None
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=report-{checked_id}.csv"},
    )


@bp.route("/health", methods=["GET"])
@inject
def health(
    registry: Callable[[], ReportRegistry] = Provider[Container.report_registry],
    queue: Callable[[], ReportQueue] = Provider[Container.report_queue],
) -> tuple[Response, int]:
    parts = {"database": _check(lambda: registry().ping()), "broker": _check(lambda: queue().ping())}
    failing = {part: reason for part, reason in parts.items() if reason != OK}
    if not failing:
        return _no_store(jsonify(status=OK, **parts)), 200
    # Like every error answer, an unhealthy one carries "error".
    error = "; ".join(f"{part}: {reason}" for part, reason in failing.items())
    return _no_store(jsonify(status=UNAVAILABLE, **parts, error=error)), 503


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    return jsonify(openapi_document())


def parse_report_id(text: str) -> str:
    """``text`` if it is a UUID in canonical form, else ``BadRequest``.

    Only the canonical form is accepted, so one report has one URL and nothing
    but hex digits and dashes ever reaches the registry or the storage.
    """
    try:
        canonical = str(uuid.UUID(text))
    except ValueError:
        canonical = ""
    if canonical != text:
        raise BadRequest("report_id must be a UUID in canonical form: 8-4-4-4-12 lowercase hex digits")
    return text


def not_found_message(report_id: str, retention_days: int) -> str:
    """Why a well-formed id names no report: unknown, or deleted after its retention."""
    message = f"no report with id {report_id}"
    if retention_days > 0:
        message += (
            f": it was never triggered, or it finished more than {retention_days} days ago"
            f" and was deleted (reports are kept {retention_days} days)"
        )
    return message


def report_state(report: Report) -> dict[str, object]:
    """The JSON body of a report that is not complete."""
    if report.status is ReportStatus.FAILED:
        return {"status": report.status.value, "error": report.error or "unknown error"}
    return {
        "status": report.status.value,
        "progress": {"done": report.progress_done, "total": report.progress_total},
    }


def _check(ping: Callable[[], None]) -> str:
    """``ok``, or the one-line reason the part does not answer."""
    try:
        ping()
    except UptimeError as error:
        return _first_line(str(error)) or type(error).__name__
    except Exception as error:  # noqa: BLE001 - a health check reports any failure, it never raises
        return f"{type(error).__name__}: {_first_line(str(error))}"
    return OK


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _no_store(response: Response) -> Response:
    # A polled state changes: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response
