"""A slow, literal reading of the report contract, used as an oracle in tests.

Written store by store with datetimes, pytz and plain lists of intervals, as
close to the words of ``report-contract.md`` as possible; it shares nothing with
the production calculator but the clock helpers, so the two can check each other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

import pytz

from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, from_micros, to_micros

DEFAULT_TIMEZONE = "America/Chicago"
WEEK_US = 7 * MICROS_PER_DAY

# (store_id, timestamp_us, active)
PollRow = tuple[str, int, bool]
# (store_id, weekday 0=Monday, start local µs of the day, end local µs of the day)
HoursRow = tuple[str, int, int, int]
# (uptime_hour, uptime_day, uptime_week, downtime_hour, downtime_day, downtime_week), µs
Figures = tuple[int, int, int, int, int, int]
# [start, end) in UTC µs
Span = tuple[int, int]


def reference_report(
    now_us: int,
    polls_rows: Iterable[PollRow],
    hours_rows: Iterable[HoursRow],
    timezones: Mapping[str, str],
) -> dict[str, Figures]:
    """Uptime and downtime of every store with at least one poll, in microseconds."""
    polls_by_store: dict[str, list[tuple[int, bool]]] = {}
    for store_id, instant, active in polls_rows:
        polls_by_store.setdefault(store_id, []).append((instant, active))
    hours_by_store: dict[str, list[tuple[int, int, int]]] = {}
    for store_id, weekday, start, end in hours_rows:
        hours_by_store.setdefault(store_id, []).append((weekday, start, end))
    return {
        store_id: store_figures(
            now_us,
            sorted(polls_by_store[store_id]),
            hours_by_store.get(store_id, []),
            pytz.timezone(timezones.get(store_id, DEFAULT_TIMEZONE)),
        )
        for store_id in sorted(polls_by_store)
    }


def store_figures(
    now_us: int,
    polls: Sequence[tuple[int, bool]],
    hours: Sequence[tuple[int, int, int]],
    tz: pytz.BaseTzInfo,
) -> Figures:
    """The six figures of one store; ``polls`` sorted by instant."""
    hour_window = (now_us - MICROS_PER_HOUR, now_us)
    day_window = (now_us - MICROS_PER_DAY, now_us)
    week_window = (now_us - WEEK_US, now_us)

    business = merge(business_spans(week_window, hours, tz))
    timeline = status_timeline(dates_touching(week_window, tz), polls, tz)

    def time_with_status(window: Span, active: bool) -> int:
        total = 0
        for open_span in business:
            for segment_start, segment_end, segment_active in timeline:
                if segment_active != active:
                    continue
                start = max(window[0], open_span[0], segment_start)
                end = min(window[1], open_span[1], segment_end)
                total += max(0, end - start)
        return total

    windows = (hour_window, day_window, week_window)
    uptime = [time_with_status(window, True) for window in windows]
    downtime = [time_with_status(window, False) for window in windows]
    return (uptime[0], uptime[1], uptime[2], downtime[0], downtime[1], downtime[2])


# Memoised: the daily series asks for the same few local midnights hundreds of thousands of times.
@functools.lru_cache(maxsize=1 << 16)
def localize(tz: pytz.BaseTzInfo, day: date, local_us: int = 0) -> int:
    """UTC µs of the wall-clock time ``day 00:00 + local_us`` in ``tz`` (is_dst=False)."""
    naive = datetime(day.year, day.month, day.day) + timedelta(microseconds=local_us)
    return to_micros(tz.localize(naive, is_dst=False))


def local_day(tz: pytz.BaseTzInfo, day: date) -> Span:
    """``[localize(D 00:00), localize(D+1 00:00))``."""
    return localize(tz, day), localize(tz, day + timedelta(days=1))


def candidate_dates(window: Span) -> list[date]:
    """A generous range of local calendar dates around ``window``, in order."""
    first = from_micros(window[0]).date() - timedelta(days=3)
    last = from_micros(window[1]).date() + timedelta(days=3)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def dates_touching(window: Span, tz: pytz.BaseTzInfo) -> list[date]:
    """Every local calendar date whose local day intersects ``window``, in order."""
    # A date a zone skipped altogether (Samoa 2011-12-30) has an empty day: it touches nothing.
    return [
        day
        for day in candidate_dates(window)
        if max(local_day(tz, day)[0], window[0]) < min(local_day(tz, day)[1], window[1])
    ]


def business_spans(window: Span, hours: Sequence[tuple[int, int, int]], tz: pytz.BaseTzInfo) -> list[Span]:
    """Opening spans inside ``window``: the rows laid on every local date, clipped.

    The whole window when there are no rows at all (open 24 hours, 7 days).
    """
    if not hours:
        return [window]
    spans = []
    for day in candidate_dates(window):
        for weekday, start, end in hours:
            if weekday != day.weekday():
                continue
            opens = localize(tz, day, start)
            if start < end:
                closes = localize(tz, day, end)
            elif start > end:
                closes = localize(tz, day + timedelta(days=1), end)
            else:
                # The whole day, wall clock: 23 or 25 hours on a DST date.
                closes = localize(tz, day + timedelta(days=1), start)
            # Clipped to the window; a row inside a skipped hour can close
            # "before" it opens: empty.
            clipped = (max(opens, window[0]), min(closes, window[1]))
            if clipped[0] < clipped[1]:
                spans.append(clipped)
    return spans


def merge(spans: Iterable[Span]) -> list[Span]:
    """Union of spans as disjoint, sorted spans (touching ones joined)."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if start == end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def status_timeline(
    dates: Sequence[date], polls: Sequence[tuple[int, bool]], tz: pytz.BaseTzInfo
) -> list[tuple[int, int, bool]]:
    """``(start, end, active)`` segments covering every local day in ``dates``."""
    segments = []
    for day in dates:
        day_start, day_end = local_day(tz, day)
        todays = [(t, active) for t, active in polls if day_start <= t < day_end]
        if todays:
            # Before the first poll of the day: the first poll's status.
            segments.append((day_start, todays[0][0], todays[0][1]))
            # Each poll holds until the next; the last one to the end of the day.
            for (t, active), next_t in zip(todays, [t for t, _ in todays[1:]] + [day_end]):
                segments.append((t, next_t, active))
        else:
            before = [active for t, active in polls if t < day_start]
            after = [active for t, active in polls if t >= day_end]
            status = before[-1] if before else after[0]
            segments.append((day_start, day_end, status))
    return segments


def reference_business_time(
    now_us: int, hours_rows: Iterable[HoursRow], timezone_name: str
) -> tuple[int, int, int]:
    """Business time of one store (its rows only) in the hour, day and week windows, µs."""
    tz = pytz.timezone(timezone_name)
    week_window = (now_us - WEEK_US, now_us)
    hours = [(weekday, start, end) for _, weekday, start, end in hours_rows]
    business = merge(business_spans(week_window, hours, tz))

    def inside(window: Span) -> int:
        return sum(max(0, min(window[1], end) - max(window[0], start)) for start, end in business)

    return (
        inside((now_us - MICROS_PER_HOUR, now_us)),
        inside((now_us - MICROS_PER_DAY, now_us)),
        inside(week_window),
    )


# (business, uptime, downtime) of one window, µs
DayFigures = tuple[int, int, int]


def reference_daily_series(
    now_us: int,
    days: int,
    polls_rows: Iterable[PollRow],
    hours_rows: Iterable[HoursRow],
    timezones: Mapping[str, str],
) -> dict[str, list[DayFigures]]:
    """Per store with a poll, day 1 (``[now - 24 h, now)``) to day ``days``, each window on its own.

    Every day is measured from scratch, its business hours and timeline laid
    over that day's window alone, exactly as ``store_figures`` lays them over
    the report's week.
    """
    polls_by_store: dict[str, list[tuple[int, bool]]] = {}
    for store_id, instant, active in polls_rows:
        polls_by_store.setdefault(store_id, []).append((instant, active))
    hours_by_store: dict[str, list[tuple[int, int, int]]] = {}
    for store_id, weekday, start, end in hours_rows:
        hours_by_store.setdefault(store_id, []).append((weekday, start, end))
    series: dict[str, list[DayFigures]] = {}
    for store_id in sorted(polls_by_store):
        tz = pytz.timezone(timezones.get(store_id, DEFAULT_TIMEZONE))
        polls = sorted(polls_by_store[store_id])
        hours = hours_by_store.get(store_id, [])
        series[store_id] = [
            window_figures((now_us - day * MICROS_PER_DAY, now_us - (day - 1) * MICROS_PER_DAY), polls, hours, tz)
            for day in range(1, days + 1)
        ]
    return series


def window_figures(
    window: Span, polls: Sequence[tuple[int, bool]], hours: Sequence[tuple[int, int, int]], tz: pytz.BaseTzInfo
) -> DayFigures:
    """Business time, uptime and downtime of one store in ``window``; ``polls`` sorted by instant."""
    business = merge(business_spans(window, hours, tz))
    timeline = status_timeline(dates_touching(window, tz), polls, tz)
    totals = {True: 0, False: 0}
    for open_start, open_end in business:
        for segment_start, segment_end, active in timeline:
            totals[active] += max(0, min(open_end, segment_end) - max(open_start, segment_start))
    return sum(end - start for start, end in business), totals[True], totals[False]
