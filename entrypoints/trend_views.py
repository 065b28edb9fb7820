"""The daily trend: one store's at once, the fleet's as a run on the workers.

``GET /stores/<store_id>/trend``: one store's days, computed at once. Day
``k`` is the ``k``-th 24-hour window back from ``now`` (the latest poll, or
the latest at or before ``as_of``); each day's business time, uptime and
downtime are measured under the report's rules, so day 1 is the store's
report row for the last day. Only that store's polls and rows are read.

``POST /trigger_trend``, ``GET /get_trend/<trend_id>``, ``GET /trends``: the
fleet's trend, triggered and polled as a report is (it is a run of the
same machinery, ``ReportRunService``); complete, it is the CSV of
``store-monitor trend`` or, asked for JSON, the fleet's days, its full weeks
and the stores slipping most, from the summary recorded with the run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dependency_injector.wiring import Provider, inject
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from domain.model.clock import parse_instant
from domain.model.errors import quoted
from domain.model.fleet_trend import FleetTrend
from domain.model.report import Report, ReportStatus, RunKind
from domain.model.trend import DEFAULT_TREND_DAYS, MAX_TREND_DAYS, MIN_TREND_DAYS, TrendSeries, check_days
from domain.ports.reports import ReportNotFound
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, StoreNotFound
from entrypoints.container import Container
from entrypoints.logging_setup import report_id_var
from entrypoints.views import (
    as_of_field,
    json_body_fields,
    micros_text,
    not_found_message,
    parse_limit,
    parse_run_id,
    report_state,
    utc_text,
)

bp = Blueprint("trend", __name__)


# ``path``: a store id may hold "/". This rule has more static parts than
# ``/stores/<path:store_id>``, so Werkzeug tries it first: a path ending in
# "/trend" is the trend of the id before it.
@bp.route("/stores/<path:store_id>/trend", methods=["GET"])
@inject
def store_trend(
    store_id: str,
    # The provider, not the service: the query is checked before anything is built.
    reports: Callable[[], ReportService] = Provider[Container.report_service],
) -> Response:
    days = parse_days(request.args.get("days"))
    as_of = parse_as_of(request.args.get("as_of"))
    try:
        series = reports().store_trend(store_id, days, as_of)
    except StoreNotFound as error:
        message = str(error) if as_of is None else f"no store with id {quoted(store_id)} has any status poll by as_of"
        raise NotFound(message) from None
    response = jsonify(trend_json(store_id, series))
    # A trend at the latest poll changes with every ingestion: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_days(text: str | None) -> int:
    """The ``days`` query parameter: a whole number from 1 to 90, by default 28."""
    if text is None:
        return DEFAULT_TREND_DAYS
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f"days must be a whole number from {MIN_TREND_DAYS} to {MAX_TREND_DAYS}")
    return _checked_days(int(text))


def parse_as_of(text: str | None) -> datetime | None:
    """The ``as_of`` query parameter: an ISO 8601 instant with its UTC offset, or None."""
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        raise BadRequest(f"as_of {error}") from None


def trend_json(store_id: str, series: TrendSeries) -> dict[str, object]:
    """The JSON body: ``now``, the number of days, and one entry per day, day 1 first."""
    days = series.hours(store_id)
    return {
        "store_id": store_id,
        "now": micros_text(series.now),
        "days": series.days,
        "series": [
            {
                "day": day,
                "window_start_utc": micros_text(series.window(day).start),
                "window_end_utc": micros_text(series.window(day).end),
                "business_hours": business,
                "uptime_hours": uptime,
                "downtime_hours": downtime,
            }
            for day, (business, uptime, downtime) in enumerate(days, start=1)
        ],
    }


# --- the fleet's trend, a run on the workers -------------------------------------------------

CSV = "text/csv"
JSON = "application/json"
TREND_BODY = '{"days": 28, "as_of": "2023-01-25T12:00:00Z"} (both optional), or nothing'


@bp.route("/trigger_trend", methods=["POST"])
@inject
def trigger_trend(
    # The provider, not the service: the body is checked before anything is built.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    days, as_of = parse_trend_body(request.get_data())
    trend = run_service().trigger_trend(days, as_of)
    report_id_var.set(trend.report_id)
    return jsonify(trend_id=trend.report_id)


# ``path`` lets ids with slashes reach the view and get a 400 instead of a routing 404.
@bp.route("/get_trend/<path:trend_id>", methods=["GET"])
@inject
def get_trend(
    trend_id: str,
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
    retention_days: Callable[[], int] = Provider[Container.report_retention_days],
) -> Response:
    checked_id = parse_run_id(trend_id, "trend_id")
    report_id_var.set(checked_id)
    runs = run_service()
    try:
        trend = runs.status(checked_id, RunKind.TREND)
        if trend.status is not ReportStatus.COMPLETE:
            return _no_store(jsonify(report_state(trend)))
        if wants_json():
            response = jsonify(fleet_trend_json(checked_id, runs.fleet_trend(checked_id)))
        else:
            # Passed on as it is read: a trend's file can be larger than the server should hold.
            response = Response(
                runs.content_pieces(checked_id, RunKind.TREND),
                mimetype=CSV,
                headers={"Content-Disposition": f"attachment; filename=trend-{checked_id}.csv"},
            )
    except ReportNotFound:
        raise NotFound(not_found_message(checked_id, retention_days(), "trend")) from None
    # The same URL answers CSV or JSON by the Accept header: caches must keep them apart.
    response.headers["Vary"] = "Accept"
    return response


@bp.route("/trends", methods=["GET"])
@inject
def recent_trends(
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    limit = parse_limit(request.args.get("limit"))
    trends = run_service().recent(limit, RunKind.TREND)
    return _no_store(jsonify(trends=[trend_summary(trend) for trend in trends]))


def wants_json() -> bool:
    """Whether the request's Accept header prefers JSON to CSV; CSV when it says nothing, or ``*/*``."""
    return request.accept_mimetypes.best_match([CSV, JSON], default=CSV) == JSON


def parse_trend_body(body: bytes) -> tuple[int, datetime | None]:
    """``days`` (by default 28) and ``as_of`` (None: at the latest poll) of a trend's trigger.

    No body, an empty one or ``{}`` takes both defaults. ``BadRequest``
    naming the field for anything else: not a JSON object, another field,
    ``days`` not a whole number from 1 to 90, ``as_of`` not an ISO 8601
    instant with its offset.
    """
    document = json_body_fields(body, ("days", "as_of"), TREND_BODY)
    days = document.get("days", DEFAULT_TREND_DAYS)
    # 7.0 is the integer 7 to JSON Schema (and so to the document); true is no number of days.
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    return _checked_days(days), as_of_field(document)


def _checked_days(days: object) -> int:
    try:
        return check_days(days)
    except ValueError as error:
        raise BadRequest(str(error)) from None


def fleet_trend_json(trend_id: str, trend: FleetTrend) -> dict[str, object]:
    """The JSON body of a complete trend: the fleet's days (day 1 first), its full weeks, the stores slipping most."""
    return {
        "status": ReportStatus.COMPLETE.value,
        "trend_id": trend_id,
        "now": None if trend.now is None else micros_text(trend.now),
        "days": trend.days,
        "fleet": [
            {
                "day": day.day,
                "window_start_utc": micros_text(day.window.start),
                "window_end_utc": micros_text(day.window.end),
                "business_hours": day.business_hours,
                "uptime_hours": day.uptime_hours,
                "uptime_percent": day.uptime_percent,
                "stores_below_90": day.stores_below_90,
                "stores_below_50": day.stores_below_50,
            }
            for day in trend.fleet
        ],
        "weeks": [
            {
                "week": week.week,
                "window_start_utc": micros_text(week.window.start),
                "window_end_utc": micros_text(week.window.end),
            }
            for week in trend.weeks
        ],
        "slipping": [
            {
                "store_id": store.store_id,
                "weekly_uptime_percent": list(store.weekly_uptime_percent),
                "change": store.change,
            }
            for store in trend.slipping
        ],
    }


def trend_summary(trend: Report) -> dict[str, object]:
    """One trend of the ``/trends`` list."""
    return {
        "trend_id": trend.report_id,
        "status": trend.status.value,
        "progress": {"done": trend.progress_done, "total": trend.progress_total},
        "created_at": utc_text(trend.created_at),
        "finished_at": None if trend.finished_at is None else utc_text(trend.finished_at),
        "error": trend.error,
        "as_of": None if trend.as_of is None else utc_text(trend.as_of),
        "days": trend.days,
    }


def _no_store(response: Response) -> Response:
    # A polled state changes: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response

