"""The daily trend: each store's business time, uptime and downtime, day by day.

Day ``k`` (from 1) is the ``k``-th 24-hour window back from ``now``:
``[now - k * 24 h, now - (k - 1) * 24 h)``, in UTC, as the report's windows
are. Every day is measured under exactly the report's rules, on one schedule
and one timeline built over the whole span, so day 1 is the report's last
day and days 1 to 7 add up to its last week, to the microsecond.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, from_micros
from domain.model.inputs import BusinessHours, Int64Array, StatusPolls, StoreTimezones, str_tuple
from domain.model.interval import Interval
from domain.model.report import csv_field
from domain.model.uptime import UptimeCalculator, earliest_poll_needed, uptime_before

MIN_TREND_DAYS = 1
MAX_TREND_DAYS = 90
DEFAULT_TREND_DAYS = 28

TREND_HEADER = "store_id,day,window_start_utc,window_end_utc,business_hours,uptime_hours,downtime_hours"


def check_days(days: object) -> int:
    """``days`` when it is a whole number of days a trend can span, else ``ValueError`` (whatever it is)."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_TREND_DAYS <= days <= MAX_TREND_DAYS:
        raise ValueError(f"days must be a whole number from {MIN_TREND_DAYS} to {MAX_TREND_DAYS}")
    return days


def trend_span(now: int, days: int) -> Interval:
    """The UTC window all ``days`` days cover: ``[now - days * 24 h, now)``."""
    return Interval(now - days * MICROS_PER_DAY, now)


def earliest_trend_poll(now: int, days: int) -> int:
    """Polls before this instant matter only through each store's latest one."""
    return earliest_poll_needed(now, days * MICROS_PER_DAY)


def day_window(now: int, day: int) -> Interval:
    """Day ``day`` (1 = the one ending at ``now``): ``[now - day * 24 h, now - (day - 1) * 24 h)``."""
    return Interval(now - day * MICROS_PER_DAY, now - (day - 1) * MICROS_PER_DAY)


def _int64_matrix(values: object) -> Int64Array:
    array: Int64Array = np.ascontiguousarray(values, dtype=np.int64)
    if array.ndim != 2:
        raise ValueError("a trend's figures are a (stores x days) matrix")
    return array


@attrs.frozen
class TrendSeries:
    """Per store (sorted by id) and day (column 0 is day 1), figures in microseconds.

    ``downtime = business - uptime`` in every cell, exactly.
    """

    now: int
    days: int
    store_ids: tuple[str, ...] = attrs.field(converter=str_tuple)
    business: Int64Array = attrs.field(converter=_int64_matrix)
    uptime: Int64Array = attrs.field(converter=_int64_matrix)
    downtime: Int64Array = attrs.field(converter=_int64_matrix)

    def __attrs_post_init__(self) -> None:
        check_days(self.days)
        shape = (len(self.store_ids), self.days)
        if not self.business.shape == self.uptime.shape == self.downtime.shape == shape:
            raise ValueError(f"a trend of {shape[0]} stores over {shape[1]} days needs {shape} figures")

    def __len__(self) -> int:
        return len(self.store_ids)

    @classmethod
    def empty(cls, now: int, days: int) -> TrendSeries:
        nothing = np.zeros((0, days), dtype=np.int64)
        return cls(now, days, (), nothing, nothing, nothing)

    def window(self, day: int) -> Interval:
        return day_window(self.now, day)

    def hours(self, store_id: str) -> list[tuple[float, float, float]]:
        """``(business, uptime, downtime)`` in hours rounded to 4 decimals, day 1 first."""
        i = self.store_ids.index(store_id)
        return [_hours(self, i, k) for k in range(self.days)]


def _hours(series: TrendSeries, i: int, k: int) -> tuple[float, float, float]:
    return (
        round(int(series.business[i, k]) / MICROS_PER_HOUR, 4),
        round(int(series.uptime[i, k]) / MICROS_PER_HOUR, 4),
        round(int(series.downtime[i, k]) / MICROS_PER_HOUR, 4),
    )


def daily_series(
    calculator: UptimeCalculator,
    now: int,
    days: int,
    polls: StatusPolls,
    hours: BusinessHours,
    timezones: StoreTimezones,
) -> TrendSeries:
    """The trend of every store with a poll, over ``days`` days back from ``now``.

    ``polls`` must hold every poll from ``earliest_trend_poll(now, days)`` to
    ``now`` and each store's latest before that (later ones are the caller's
    to leave out, as for a report).
    """
    check_days(days)
    span = calculator.store_span(trend_span(now, days), polls, hours, timezones)
    count = len(span.store_ids)
    if count == 0:
        return TrendSeries.empty(now, days)
    # Boundaries now, now - 24 h, ..., now - days * 24 h; day k lies between the (k-1)-th and the k-th.
    boundaries = now - np.arange(days + 1, dtype=np.int64) * MICROS_PER_DAY
    store = np.repeat(np.arange(count, dtype=np.int64), days + 1)
    instant = np.tile(boundaries, count)
    business_before = span.schedule.covered_before(store, instant).reshape(count, days + 1)
    up_before = uptime_before(span, store, instant).reshape(count, days + 1)
    business = business_before[:, :-1] - business_before[:, 1:]
    uptime = up_before[:, :-1] - up_before[:, 1:]
    return TrendSeries(now, days, span.store_ids, business, uptime, business - uptime)


def instant_text(instant_us: int) -> str:
    """ISO 8601 in UTC with a "Z"; microseconds only when there are some."""
    return from_micros(instant_us).isoformat().replace("+00:00", "Z")


def render_trend_lines(series: TrendSeries) -> str:
    """The trend's CSV lines without the header: per store (in order), day 1 to N.

    Lines of consecutive store ranges, joined in order under ``TREND_HEADER``,
    give the whole file.
    """
    windows = [
        (instant_text(window.start), instant_text(window.end))
        for window in (series.window(day) for day in range(1, series.days + 1))
    ]
    # Microseconds below 2**53 convert to float exactly: the same hours as ``_hours``.
    business = (series.business / MICROS_PER_HOUR).tolist()
    uptime = (series.uptime / MICROS_PER_HOUR).tolist()
    downtime = (series.downtime / MICROS_PER_HOUR).tolist()
    lines: list[str] = []
    for i, store_id in enumerate(series.store_ids):
        field = csv_field(store_id)
        for k, (start, end) in enumerate(windows):
            lines.append(
                f"{field},{k + 1},{start},{end},"
                f"{round(business[i][k], 4):.4f},{round(uptime[i][k], 4):.4f},{round(downtime[i][k], 4):.4f}\n"
            )
    return "".join(lines)


def render_trend_csv(series: TrendSeries) -> str:
    return TREND_HEADER + "\n" + render_trend_lines(series)
