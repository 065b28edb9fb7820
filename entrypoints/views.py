"""The HTTP routes: trigger a report, poll it, list recent reports, show one store, check health.

A view is declared with its request and answer models (``entrypoints.api_spec``),
which validate the request before it runs and document it; it calls one
service method and serializes the answer. Errors leave as exceptions and
``entrypoints.flask_app`` turns each into a JSON response with its status.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from dependency_injector.wiring import Provider, inject
from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import BadRequest, NotFound

from domain.model.clock import from_micros
from domain.model.errors import UptimeError
from domain.model.interval import Interval
from domain.model.report import REPORT_HEADER, Report, ReportStatus, RunKind
from domain.ports.reports import ReportNotFound, ReportRegistry
from domain.ports.work import QueueUnavailable, WorkQueue
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, StoreDetail, StoreNotFound
from domain.use_cases.work import WorkTracker
from entrypoints import metrics
from entrypoints.api_models import Error, Health, ReportList, ReportState
from entrypoints.api_models import StoreDetail as StoreDetailModel
from entrypoints.api_models import TriggerResponse
from entrypoints.api_requests import RecentQuery, TriggerRequest
from entrypoints.api_spec import ApiResponse, api
from entrypoints.container import Container
from entrypoints.logging_setup import report_id_var

bp = Blueprint("api", __name__)
logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


def csv_answer(kind: str) -> dict[str, object]:
    """What a run's 200 adds to its JSON states: the CSV of a complete run, as an attachment."""
    return {
        "headers": {
            "Content-Disposition": {
                "description": f"With the CSV: attachment; filename={kind}-<{kind}_id>.csv",
                "schema": {"type": "string"},
            }
        },
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }


UNAVAILABLE_503 = (Error, "The database does not answer.")
RUN_ID = "The id returned by {}, in canonical (lowercase) form."
# A trigger's body may be absent: the run is then at the latest poll (with its defaults).
OPTIONAL_BODY = {"requestBody": {"required": False, "description": "Optional: the instant the report is as of."}}


@bp.route("/trigger_report", methods=["POST"])
@inject
@api.operation(
    "triggerReport",
    tag="reports",
    json=TriggerRequest,
    resp=ApiResponse(
        HTTP_200=(TriggerResponse, "The report was recorded and its work queued."),
        HTTP_400=(
            Error,
            "The body is not a JSON object, has a field other than as_of, or as_of is not an ISO 8601 instant with "
            "its offset; the error names the field.",
        ),
        HTTP_503=(
            Error,
            "The database or the work queue does not answer; a report that could not be queued is recorded as "
            "Failed with the reason.",
        ),
    ),
    document=OPTIONAL_BODY,
)
def trigger_report(
    json: TriggerRequest,
    # The provider, not the service: the body is checked before anything is built.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    """Start computing a new report

    Records a running report, then queues its work. Poll GET /get_report/{report_id} until it is Complete or
    Failed. The report reads the data as the latest complete ingestion left it when the work is planned.
    """
    runs = run_service()
    try:
        report = runs.trigger(json.as_of)
    except QueueUnavailable:
        # The service failed the report it had recorded.
        metrics.REPORTS_FAILED.inc()
        raise
    report_id_var.set(report.report_id)
    metrics.REPORTS_TRIGGERED.inc()
    logger.info("report triggered")
    return jsonify(report_id=report.report_id)


# ``path`` lets ids with slashes ('../etc/passwd') reach the view and get a
# 400 instead of a routing 404.
@bp.route("/get_report/<path:report_id>", methods=["GET"])
@inject
@api.operation(
    "getReport",
    tag="reports",
    path_parameters={"report_id": RUN_ID.format("POST /trigger_report")},
    resp=ApiResponse(
        HTTP_200=(ReportState, "Running or Failed: a JSON status. Complete: the report CSV, as an attachment."),
        HTTP_400=(Error, "The report id is not a canonical UUID."),
        HTTP_404=(
            Error,
            "No report has this id: it was never triggered, or it finished more than REPORT_RETENTION_DAYS days "
            "ago and was deleted.",
        ),
        HTTP_500=(Error, "The report is complete but its file cannot be read."),
        HTTP_503=UNAVAILABLE_503,
    ),
    document={"responses": {"200": csv_answer("report")}},
)
def get_report(
    report_id: str,
    # The provider, not the service: the id is checked before anything is
    # built, since building the service may open the database.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
    retention_days: Callable[[], int] = Provider[Container.report_retention_days],
) -> Response:
    """The state of a report, or its CSV once complete"""
    checked_id = parse_run_id(report_id)
    report_id_var.set(checked_id)
    runs = run_service()
    try:
        # A trend's id names no report (GET /get_trend serves it).
        report = runs.status(checked_id, RunKind.REPORT)
        if report.status is not ReportStatus.COMPLETE:
            return _no_store(jsonify(report_state(report)))
        content = runs.content(checked_id, RunKind.REPORT)
    except ReportNotFound:
        raise NotFound(not_found_message(checked_id, retention_days())) from None
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=report-{checked_id}.csv"},
    )


@bp.route("/health", methods=["GET"])
@inject
@api.operation(
    "health",
    tag="service",
    # Open to all, so a load balancer can probe it without the token.
    public=True,
    resp=ApiResponse(
        HTTP_200=(Health, "Both answer and a worker is alive."),
        HTTP_503=(Health, "At least one does not; its reason is given."),
    ),
)
def health(
    registry: Callable[[], ReportRegistry] = Provider[Container.report_registry],
    queue: Callable[[], WorkQueue] = Provider[Container.work_queue],
    work: Callable[[], WorkTracker] = Provider[Container.work_tracker],
) -> tuple[Response, int]:
    """Whether the database and the work queue answer, and a worker is alive"""
    # The open door says which dependency is down, never its settings: the reason goes to the log.
    parts = {
        name: _quiet(name, _check(ping))
        for name, ping in (("database", lambda: registry().ping()), ("broker", lambda: queue().ping()))
    }
    # Heartbeats live in the database: with it down, that is the one reason given.
    parts["worker"] = _check(lambda: _alive_worker(work())) if parts["database"] == OK else UNKNOWN
    failing = {part: reason for part, reason in parts.items() if reason not in (OK, UNKNOWN)}
    if not failing:
        return _no_store(jsonify(status=OK, **parts)), 200
    # Like every error answer, an unhealthy one carries "error".
    error = "; ".join(f"{part}: {reason}" for part, reason in failing.items())
    return _no_store(jsonify(status=UNAVAILABLE, **parts, error=error)), 503


BAD_LIMIT = (Error, "limit is not a whole number from 1 to 100.")


@bp.route("/reports", methods=["GET"])
@inject
@api.operation(
    "recentReports",
    tag="reports",
    query=RecentQuery,
    resp=ApiResponse(
        HTTP_200=(ReportList, "The reports, newest first."), HTTP_400=BAD_LIMIT, HTTP_503=UNAVAILABLE_503
    ),
)
def recent_reports(
    query: RecentQuery,
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    """The most recently triggered reports, newest first

    A running report whose work was lost is failed here, as when it is polled.
    """
    # Reports only: trends are listed by GET /trends.
    reports = run_service().recent(query.limit, RunKind.REPORT)
    return _no_store(jsonify(reports=[report_summary(report) for report in reports]))


# ``path``: a store id is opaque and may hold any character, "/" included.
@bp.route("/stores/<path:store_id>", methods=["GET"])
@inject
@api.operation(
    "storeDetail",
    tag="stores",
    path_parameters={"store_id": "The store's id exactly as in the report, URL-encoded."},
    resp=ApiResponse(
        HTTP_200=(StoreDetailModel, "The store at the data's current now."),
        HTTP_404=(Error, "No store with this id has any status poll."),
        HTTP_503=UNAVAILABLE_503,
    ),
)
def store_detail(
    store_id: str,
    reports: Callable[[], ReportService] = Provider[Container.report_service],
) -> Response:
    """One store in detail: its figures, business hours, status timeline and polls"""
    try:
        detail = reports().store_detail(store_id)
    except StoreNotFound as error:
        raise NotFound(str(error)) from None
    return _no_store(jsonify(store_detail_json(detail)))


def parse_run_id(text: str, name: str = "report_id") -> str:
    """``text`` if it is a UUID in canonical form, else ``BadRequest`` naming the parameter.

    Only the canonical form is accepted, so one run has one URL and nothing
    but hex digits and dashes ever reaches a registry or a storage.
    """
    try:
        canonical = str(uuid.UUID(text))
    except ValueError:
        canonical = ""
    if canonical != text:
        raise BadRequest(f"{name} must be a UUID in canonical form: 8-4-4-4-12 lowercase hex digits")
    return text


def not_found_message(run_id: str, retention_days: int, kind: str = "report") -> str:
    """Why a well-formed id names no run of this kind: unknown (or another kind's), or deleted after its retention."""
    message = f"no {kind} with id {run_id}"
    if retention_days > 0:
        message += (
            f": it was never triggered, or it finished more than {retention_days} days ago"
            f" and was deleted ({kind}s are kept {retention_days} days)"
        )
    return message


def report_state(report: Report) -> dict[str, object]:
    """The JSON body of a report (or trend) that is not complete."""
    if report.status is ReportStatus.FAILED:
        return {"status": report.status.value, "error": report.error or "unknown error"}
    state: dict[str, object] = {
        "status": report.status.value,
        "progress": {"done": report.progress_done, "total": report.progress_total},
    }
    if report.as_of is not None:
        state["as_of"] = utc_text(report.as_of)
    return state


def utc_text(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with microseconds and a "Z": 2024-10-03T12:00:00.000000Z."""
    return instant.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def micros_text(instant_us: int) -> str:
    return utc_text(from_micros(instant_us))


def interval_json(span: Interval) -> dict[str, str]:
    return {"start": micros_text(span.start), "end": micros_text(span.end)}


def report_summary(report: Report) -> dict[str, object]:
    """One report of the ``/reports`` list."""
    return {
        "report_id": report.report_id,
        "status": report.status.value,
        "progress": {"done": report.progress_done, "total": report.progress_total},
        "created_at": utc_text(report.created_at),
        "finished_at": None if report.finished_at is None else utc_text(report.finished_at),
        "error": report.error,
        "as_of": None if report.as_of is None else utc_text(report.as_of),
    }


FIGURE_NAMES = tuple(REPORT_HEADER.split(",")[1:])


def store_detail_json(detail: StoreDetail) -> dict[str, object]:
    """The JSON body of ``/stores/<store_id>``: instants as UTC ISO text, figures by their CSV column."""
    windows = detail.windows
    return {
        "store_id": detail.store_id,
        "timezone": detail.timezone,
        "now": micros_text(detail.now),
        "windows": {
            "hour": interval_json(windows.hour),
            "day": interval_json(windows.day),
            "week": interval_json(windows.week),
        },
        "figures": dict(zip(FIGURE_NAMES, detail.figures)),
        "business_hours": [interval_json(span) for span in detail.business_hours],
        "status": [
            {**interval_json(segment.span), "status": _status_word(segment.active)} for segment in detail.status
        ],
        "polls": [{"at": micros_text(poll.instant), "status": _status_word(poll.active)} for poll in detail.polls],
        "days": [{"date": day.date.isoformat(), **interval_json(day.span)} for day in detail.days],
    }


def _status_word(active: bool) -> str:
    # The words of store_status.csv.
    return "active" if active else "inactive"


def _check(ping: Callable[[], None]) -> str:
    """``ok``, or the one-line reason the part does not answer."""
    try:
        ping()
    except UptimeError as error:
        return _first_line(str(error)) or type(error).__name__
    except Exception as error:  # noqa: BLE001 - a health check reports any failure, it never raises
        return f"{type(error).__name__}: {_first_line(str(error))}"
    return OK


def _quiet(part: str, reason: str) -> str:
    """``ok``, or ``unavailable`` with ``reason`` logged (it may name hosts and ports)."""
    if reason == OK:
        return OK
    logger.warning("health: the %s does not answer: %s", part, reason)
    return UNAVAILABLE


def _alive_worker(work: WorkTracker) -> None:
    problem = work.worker_problem()
    if problem is not None:
        raise UptimeError(problem)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _no_store(response: Response) -> Response:
    # A polled state changes: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response
