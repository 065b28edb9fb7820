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

from dependency_injector.wiring import Provider, inject
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from domain.model.errors import quoted
from domain.model.fleet_trend import FleetTrend
from domain.model.report import Report, ReportStatus, RunKind
from domain.model.trend import TrendSeries
from domain.ports.reports import ReportNotFound
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, StoreNotFound
from entrypoints.api_models import Error, StoreTrend, TrendList, TrendState, TriggerTrendResponse
from entrypoints.api_requests import RecentQuery, TrendQuery, TriggerTrendRequest
from entrypoints.api_spec import ApiResponse, api
from entrypoints.container import Container
from entrypoints.logging_setup import report_id_var
from entrypoints.views import (
    BAD_LIMIT,
    RUN_ID,
    UNAVAILABLE_503,
    csv_answer,
    micros_text,
    not_found_message,
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
@api.operation(
    "storeTrend",
    tag="trends",
    query=TrendQuery,
    path_parameters={
        "store_id": "The store's id exactly as in the report, URL-encoded; an id holding '/' may also be sent with "
        "its slashes, as everything before the last '/trend' is the id."
    },
    resp=ApiResponse(
        HTTP_200=(StoreTrend, "The store's days, day 1 first."),
        HTTP_400=(
            Error,
            "days is not a whole number from 1 to 90, or as_of is not an ISO 8601 instant with its offset; the "
            "error names the parameter.",
        ),
        HTTP_404=(Error, "No store with this id has any status poll (at or before as_of)."),
        HTTP_503=UNAVAILABLE_503,
    ),
)
def store_trend(
    store_id: str,
    query: TrendQuery,
    # The provider, not the service: the query is checked before anything is built.
    reports: Callable[[], ReportService] = Provider[Container.report_service],
) -> Response:
    """One store's business time, uptime and downtime for each of the last N days

    Computed at once, from the store's own polls and rows only. now is fixed as for a report: the latest poll
    of any store, or with as_of the latest at or before it (later polls are left out).
    """
    as_of = query.as_of
    try:
        series = reports().store_trend(store_id, query.days, as_of)
    except StoreNotFound as error:
        message = str(error) if as_of is None else f"no store with id {quoted(store_id)} has any status poll by as_of"
        raise NotFound(message) from None
    response = jsonify(trend_json(store_id, series))
    # A trend at the latest poll changes with every ingestion: no cache may answer for the server.
    response.headers["Cache-Control"] = "no-store"
    return response


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


@bp.route("/trigger_trend", methods=["POST"])
@inject
@api.operation(
    "triggerTrend",
    tag="trends",
    json=TriggerTrendRequest,
    resp=ApiResponse(
        HTTP_200=(TriggerTrendResponse, "The trend was recorded and its work queued."),
        HTTP_400=(
            Error,
            "The body is not a JSON object, has a field other than days and as_of, days is not a whole number from "
            "1 to 90, or as_of is not an ISO 8601 instant with its offset; the error names the field.",
        ),
        HTTP_503=(
            Error,
            "The database or the work queue does not answer; a trend that could not be queued is recorded as "
            "Failed with the reason.",
        ),
    ),
    document={
        "requestBody": {
            "required": False,
            "description": "Optional: how many days, and the instant the trend is as of.",
        }
    },
)
def trigger_trend(
    json: TriggerTrendRequest,
    # The provider, not the service: the body is checked before anything is built.
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    """Start computing the fleet's daily trend

    Records a running trend, then queues its work, computed on the workers in parts of REPORT_CHUNK_SIZE stores
    as a report is, from one snapshot of the data. Poll GET /get_trend/{trend_id} until it is Complete or Failed.
    """
    trend = run_service().trigger_trend(json.days, json.as_of)
    report_id_var.set(trend.report_id)
    return jsonify(trend_id=trend.report_id)


# ``path`` lets ids with slashes reach the view and get a 400 instead of a routing 404.
@bp.route("/get_trend/<path:trend_id>", methods=["GET"])
@inject
@api.operation(
    "getTrend",
    tag="trends",
    path_parameters={"trend_id": RUN_ID.format("POST /trigger_trend")},
    resp=ApiResponse(
        HTTP_200=(TrendState, "Running or Failed: a JSON status. Complete: the CSV, or the JSON summary."),
        HTTP_400=(Error, "The trend id is not a canonical UUID."),
        HTTP_404=(
            Error,
            "No trend has this id (a report's id names no trend): it was never triggered, or it finished more "
            "than REPORT_RETENTION_DAYS days ago and was deleted.",
        ),
        HTTP_500=(Error, "The trend is complete but its file cannot be read."),
        HTTP_503=UNAVAILABLE_503,
    ),
    document={"responses": {"200": csv_answer("trend")}},
)
def get_trend(
    trend_id: str,
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
    retention_days: Callable[[], int] = Provider[Container.report_retention_days],
) -> Response:
    """The state of a fleet trend, or, once complete, its CSV or its JSON summary

    Running or Failed: a JSON status, whatever Accept says. Complete: with Accept asking for application/json
    (over text/csv), the fleet's days, full weeks and the stores slipping most; otherwise the CSV of
    'store-monitor trend', as an attachment: one row per store and day, under the header
    store_id,day,window_start_utc,window_end_utc,business_hours,uptime_hours,downtime_hours.
    """
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
@api.operation(
    "recentTrends",
    tag="trends",
    query=RecentQuery,
    resp=ApiResponse(HTTP_200=(TrendList, "The trends, newest first."), HTTP_400=BAD_LIMIT, HTTP_503=UNAVAILABLE_503),
)
def recent_trends(
    query: RecentQuery,
    run_service: Callable[[], ReportRunService] = Provider[Container.report_run_service],
) -> Response:
    """The most recently triggered fleet trends, newest first

    Trends only (GET /reports lists reports only). A running trend whose work was lost is failed here, as when it
    is polled.
    """
    trends = run_service().recent(query.limit, RunKind.TREND)
    return _no_store(jsonify(trends=[trend_summary(trend) for trend in trends]))


def wants_json() -> bool:
    """Whether the request's Accept header prefers JSON to CSV; CSV when it says nothing, or ``*/*``."""
    return request.accept_mimetypes.best_match([CSV, JSON], default=CSV) == JSON


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

