"""The HTTP routes: trigger a report, poll it, list recent reports, show one store,
check health, describe the API.

A view parses the request, calls one service method and serializes the
answer; errors leave as exceptions and ``entrypoints.flask_app`` turns each
into a JSON response with its status.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from dependency_injector.wiring import Provide, Provider, inject
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from domain.model.clock import from_micros, parse_instant
from domain.model.errors import UptimeError
from domain.model.interval import Interval
from domain.model.report import REPORT_HEADER, Report, ReportStatus, RunKind
from domain.ports.reports import QueueUnavailable, ReportNotFound, ReportQueue, ReportRegistry
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, StoreDetail, StoreNotFound
from domain.use_cases.work import WorkTracker
from entrypoints import metrics
from entrypoints.container import Container
from entrypoints.logging_setup import report_id_var
from entrypoints.openapi import openapi_document

bp = Blueprint("api", __name__)
logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


@bp.route("/trigger_report", methods=["POST"])
@inject
def trigger_report(
    # The provider, not the service: the body is checked before anything is built.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    as_of = parse_trigger_body(request.get_data())
    runs = run_service()
    try:
        report = runs.trigger(as_of)
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
def get_report(
    report_id: str,
    # The provider, not the service: the id is checked before anything is
    # built, since building the service may open the database.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
    retention_days: Callable[[], int] = Provider[Container.report_retention_days],
) -> Response:
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
def health(
    registry: Callable[[], ReportRegistry] = Provider[Container.report_registry],
    queue: Callable[[], ReportQueue] = Provider[Container.report_queue],
    work: Callable[[], WorkTracker] = Provider[Container.work_tracker],
) -> tuple[Response, int]:
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


DEFAULT_RECENT_LIMIT = 20
MAX_RECENT_LIMIT = 100


@bp.route("/reports", methods=["GET"])
@inject
def recent_reports(
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    limit = parse_limit(request.args.get("limit"))
    # Reports only: trends are listed by GET /trends.
    reports = run_service().recent(limit, RunKind.REPORT)
    return _no_store(jsonify(reports=[report_summary(report) for report in reports]))


# ``path``: a store id is opaque and may hold any character, "/" included.
@bp.route("/stores/<path:store_id>", methods=["GET"])
@inject
def store_detail(
    store_id: str,
    reports: Callable[[], ReportService] = Provider[Container.report_service],
) -> Response:
    try:
        detail = reports().store_detail(store_id)
    except StoreNotFound as error:
        raise NotFound(str(error)) from None
    return _no_store(jsonify(store_detail_json(detail)))


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    return jsonify(openapi_document())


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


TRIGGER_BODY = 'a JSON object such as {"as_of": "2023-01-25T12:00:00Z"}, or nothing'


def parse_trigger_body(body: bytes) -> datetime | None:
    """The ``as_of`` instant of a trigger's body; None for no body, an empty one or ``{}``.

    ``BadRequest`` naming the field for anything else: not a JSON object, a
    field other than ``as_of``, or an ``as_of`` that is not an ISO 8601
    instant with its offset.
    """
    return as_of_field(json_body_fields(body, ("as_of",), TRIGGER_BODY))


def json_body_fields(body: bytes, fields: tuple[str, ...], example: str) -> dict[str, Any]:
    """A trigger's body as a JSON object with only ``fields``; ``{}`` for no body or an empty one.

    ``BadRequest`` for a body that is not JSON, not an object, or holds another field.
    """
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        raise BadRequest(f"the body is not JSON: send {example}") from None
    if not isinstance(document, dict):
        raise BadRequest(f"the body is not a JSON object: send {example}")
    unknown = sorted(set(document) - set(fields))
    if unknown:
        name = json.dumps(unknown[0])
        shown = name if len(name) <= 60 else name[:60] + "..."
        allowed = f"the only field is {fields[0]}" if len(fields) == 1 else f"the fields are {' and '.join(fields)}"
        raise BadRequest(f"unknown field {shown}: {allowed}")
    return document


def as_of_field(document: dict[str, Any]) -> datetime | None:
    """The body's ``as_of``: an ISO 8601 instant with its offset, or None when it is absent."""
    if "as_of" not in document:
        return None
    value = document["as_of"]
    if not isinstance(value, str):
        raise BadRequest("as_of must be a string: an ISO 8601 instant such as 2023-01-25T12:00:00Z")
    try:
        return parse_instant(value)
    except ValueError as error:
        raise BadRequest(f"as_of {error}") from None


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


def parse_limit(text: str | None) -> int:
    """The ``limit`` query parameter: 1 to MAX_RECENT_LIMIT, by default DEFAULT_RECENT_LIMIT."""
    if text is None:
        return DEFAULT_RECENT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RECENT_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_RECENT_LIMIT}")
    return int(text)


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
