"""``GET /stores/<store_id>/trend``: one store's daily trend, computed at once.

Day ``k`` is the ``k``-th 24-hour window back from ``now`` (the latest poll,
or the latest at or before ``as_of``); each day's business time, uptime and
downtime are measured under the report's rules, so day 1 is the store's
report row for the last day. Only that store's polls and rows are read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dependency_injector.wiring import Provider, inject
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from domain.clock import parse_instant
from domain.errors import quoted
from domain.services import ReportService, StoreNotFound
from domain.trend import DEFAULT_TREND_DAYS, MAX_TREND_DAYS, MIN_TREND_DAYS, TrendSeries
from entrypoints.container import Container
from entrypoints.views import micros_text

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
    if not (text.isascii() and text.isdigit()) or not MIN_TREND_DAYS <= int(text) <= MAX_TREND_DAYS:
        raise BadRequest(f"days must be a whole number from {MIN_TREND_DAYS} to {MAX_TREND_DAYS}")
    return int(text)


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
