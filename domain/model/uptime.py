"""Uptime and downtime of every store in the last hour, day and week.

uptime = time inside the window, inside business hours and ``active`` on the
timeline; downtime the same for ``inactive``. The timeline has a status at
every instant, so uptime + downtime = business time, to the microsecond.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.model.calendar import LocalDays, local_days_touching, store_days
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR
from domain.model.inputs import BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.model.interval import Interval
from domain.model.localtime import ZoneClocks
from domain.model.report import ReportRows
from domain.model.schedule import BusinessSchedule, OpeningRows, dates_for_rows, key_stride, opening_intervals
from domain.model.timeline import SortedPolls, StatusTimeline

WEEK = 7 * MICROS_PER_DAY
# How far before the week a report must see polls: the first local day of a
# store can begin up to a day (plus a zone offset) before the week does.
LOOKBACK = 3 * MICROS_PER_DAY


@attrs.frozen
class ReportWindows:
    """The rolling UTC windows ``[now - length, now)``."""

    hour: Interval
    day: Interval
    week: Interval

    @classmethod
    def ending_at(cls, now: int) -> ReportWindows:
        return cls(
            hour=Interval(now - MICROS_PER_HOUR, now),
            day=Interval(now - MICROS_PER_DAY, now),
            week=Interval(now - WEEK, now),
        )


def earliest_poll_needed(now: int, span: int = WEEK) -> int:
    """Polls before this instant matter only through each store's latest one.

    ``span`` is how far back from ``now`` the figures reach: the week of a
    report, or the days of a trend.
    """
    return now - span - LOOKBACK


@attrs.frozen
class StoreWeek:
    """Everything the figures are measured on, for the stores of one report."""

    store_ids: tuple[str, ...]
    windows: ReportWindows
    schedule: BusinessSchedule
    timeline: StatusTimeline


@attrs.frozen
class StoreSpan:
    """The schedule and timeline of many stores over one window ``span`` (a week, or N days)."""

    store_ids: tuple[str, ...]
    span: Interval
    schedule: BusinessSchedule
    timeline: StatusTimeline


class UptimeCalculator:
    """Computes the report figures for all stores at once (numpy, no I/O)."""

    def __init__(self, clocks: ZoneClocks | None = None) -> None:
        self._clocks = clocks or ZoneClocks()

    def compute(
        self, now: int, polls: StatusPolls, hours: BusinessHours, timezones: StoreTimezones
    ) -> ReportRows:
        week = self.store_week(now, polls, hours, timezones)
        return measure(week)

    def store_week(
        self, now: int, polls: StatusPolls, hours: BusinessHours, timezones: StoreTimezones
    ) -> StoreWeek:
        """The schedule and timeline of every store with at least one poll, over the week."""
        windows = ReportWindows.ending_at(now)
        span = self.store_span(windows.week, polls, hours, timezones)
        return StoreWeek(span.store_ids, windows, span.schedule, span.timeline)

    def store_span(
        self, span: Interval, polls: StatusPolls, hours: BusinessHours, timezones: StoreTimezones
    ) -> StoreSpan:
        """The schedule and timeline of every store with at least one poll, over ``span``.

        The schedule is clipped to ``span``; the timeline covers the local days
        that touch it. Polls must reach back to ``earliest_poll_needed`` of
        the span (with each store's latest before that).
        """
        # Only stores with a poll are reported; renumber them densely.
        polled = np.bincount(polls.store_index, minlength=len(polls.store_ids)) > 0
        store_ids = tuple(s for s, keep in zip(polls.store_ids, polled.tolist()) if keep)
        new_index = np.cumsum(polled) - 1
        if not store_ids:
            empty = np.zeros(0, dtype=np.int64)
            schedule = BusinessSchedule.unite(span, empty, empty, empty)
            timeline = StatusTimeline(empty, empty, empty, np.zeros(0, dtype=np.bool_))
            return StoreSpan((), span, schedule, timeline)

        zone_names = sorted({timezones.of(s) for s in store_ids})
        zone_number = {name: i for i, name in enumerate(zone_names)}
        zone_of_store = np.array([zone_number[timezones.of(s)] for s in store_ids], dtype=np.int64)
        days_of_zone: list[LocalDays] = [local_days_touching(self._clocks[name], span) for name in zone_names]

        schedule = self._schedule(span, store_ids, zone_of_store, zone_names, hours)
        days = store_days(zone_of_store, days_of_zone)
        origin = StatusTimeline.origin_for(days)
        # The keys must hold every day end and poll after the origin: a week
        # keeps the usual stride, a span of many days takes a wider one.
        reach = max(int(days.last_end.max()), int(polls.timestamp_us.max())) - origin
        sorted_polls = SortedPolls.of(
            new_index[polls.store_index], polls.timestamp_us, polls.active, origin, key_stride(reach)
        )
        timeline = StatusTimeline.build(sorted_polls, days)
        return StoreSpan(store_ids, span, schedule, timeline)

    def _schedule(
        self,
        span: Interval,
        store_ids: tuple[str, ...],
        zone_of_store: Int64Array,
        zone_names: list[str],
        hours: BusinessHours,
    ) -> BusinessSchedule:
        position = {store_id: i for i, store_id in enumerate(store_ids)}
        hours_store_position = np.array([position.get(s, -1) for s in hours.store_ids], dtype=np.int64)
        row_store = hours_store_position[hours.store_index] if len(hours) else np.zeros(0, dtype=np.int64)
        known = row_store >= 0
        rows = OpeningRows(row_store[known], hours.weekday[known], hours.start_us[known], hours.end_us[known])

        stores: list[Int64Array] = []
        starts: list[Int64Array] = []
        ends: list[Int64Array] = []
        row_zone = zone_of_store[rows.store]
        for zone, name in enumerate(zone_names):
            in_zone = row_zone == zone
            if not in_zone.any():
                continue
            zone_rows = OpeningRows(
                rows.store[in_zone], rows.weekday[in_zone], rows.start_us[in_zone], rows.end_us[in_zone]
            )
            clock = self._clocks[name]
            s, a, b = opening_intervals(zone_rows, clock, dates_for_rows(clock, span))
            stores.append(s)
            starts.append(a)
            ends.append(b)

        # A store without any row is open all the time.
        has_rows = np.zeros(len(store_ids), dtype=np.bool_)
        has_rows[rows.store] = True
        always_open = np.flatnonzero(~has_rows).astype(np.int64)
        stores.append(always_open)
        starts.append(np.full(len(always_open), span.start, dtype=np.int64))
        ends.append(np.full(len(always_open), span.end, dtype=np.int64))
        return BusinessSchedule.unite(span, np.concatenate(stores), np.concatenate(starts), np.concatenate(ends))


def measure(week: StoreWeek) -> ReportRows:
    """Uptime and downtime per store and window, from the schedule and timeline."""
    count = len(week.store_ids)
    every_store = np.arange(count, dtype=np.int64)
    timeline = week.timeline
    up = timeline.active
    up_store, up_start, up_end = timeline.store[up], timeline.start[up], timeline.end[up]

    figures: list[tuple[Int64Array, Int64Array]] = []
    for window in (week.windows.hour, week.windows.day, week.windows.week):
        start = np.clip(up_start, window.start, window.end)
        end = np.clip(up_end, window.start, window.end)
        inside = end > start
        covered = week.schedule.covered_before(up_store[inside], end[inside]) - week.schedule.covered_before(
            up_store[inside], start[inside]
        )
        # float sums of integers below 2**53 are exact
        uptime = np.bincount(up_store[inside], weights=covered, minlength=count).astype(np.int64)
        business = week.schedule.business_time(every_store, window)
        figures.append((uptime, business - uptime))

    (up_hour, down_hour), (up_day, down_day), (up_week, down_week) = figures
    return ReportRows(week.store_ids, up_hour, up_day, up_week, down_hour, down_day, down_week)


def uptime_before(span: StoreSpan, store: Int64Array, instant: Int64Array) -> Int64Array:
    """Uptime of each ``store[i]`` in ``[span.start, instant[i])``: business time that is ``active``.

    So the uptime in any ``[a, b)`` inside the span is ``uptime_before(b) -
    uptime_before(a)``: many consecutive windows (the days of a trend) cost
    one pass over the timeline and a search per boundary, not a pass per
    window. Integer sums: exact to the microsecond.
    """
    timeline, schedule = span.timeline, span.schedule
    if len(timeline.store) == 0:
        return np.zeros(len(store), dtype=np.int64)
    # Business time active in each segment (0 for inactive ones), summed
    # within each store: the uptime before each segment starts.
    seg_store = timeline.store
    inside = schedule.covered_before(seg_store, timeline.end) - schedule.covered_before(seg_store, timeline.start)
    up = np.where(timeline.active, inside, 0)
    before_global = np.cumsum(up) - up
    first_of_store = np.searchsorted(seg_store, seg_store, side="left")
    up_before_segment = before_global - before_global[first_of_store]

    # The segment holding each instant: the last of its store that starts at or before it.
    origin = int(timeline.start.min())
    stride = key_stride(max(int(timeline.end.max()), int(instant.max(initial=origin))) - origin)
    keys = seg_store * stride + (timeline.start - origin)
    at = np.maximum(instant, origin)
    segment = np.searchsorted(keys, store * stride + (at - origin), side="right") - 1
    safe = np.maximum(segment, 0)
    valid = (segment >= 0) & (seg_store[safe] == store)
    partial = schedule.covered_before(store, np.minimum(at, timeline.end[safe])) - schedule.covered_before(
        store, timeline.start[safe]
    )
    result: Int64Array = np.where(valid, up_before_segment[safe] + np.where(timeline.active[safe], partial, 0), 0)
    return result
