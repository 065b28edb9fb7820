"""Uptime and downtime of every store in the last hour, day and week.

uptime = time inside the window, inside business hours and ``active`` on the
timeline; downtime the same for ``inactive``. The timeline has a status at
every instant, so uptime + downtime = business time, to the microsecond.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.calendar import LocalDays, local_days_touching, store_days
from domain.clock import MICROS_PER_DAY, MICROS_PER_HOUR
from domain.inputs import BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.interval import Interval
from domain.localtime import ZoneClocks
from domain.report import ReportRows
from domain.schedule import BusinessSchedule, OpeningRows, dates_for_rows, opening_intervals
from domain.timeline import SortedPolls, StatusTimeline

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


def earliest_poll_needed(now: int) -> int:
    """Polls before this instant matter only through each store's latest one."""
    return now - WEEK - LOOKBACK


@attrs.frozen
class StoreWeek:
    """Everything the figures are measured on, for the stores of one report."""

    store_ids: tuple[str, ...]
    windows: ReportWindows
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
        """The schedule and timeline of every store with at least one poll."""
        windows = ReportWindows.ending_at(now)
        # Only stores with a poll are reported; renumber them densely.
        polled = np.bincount(polls.store_index, minlength=len(polls.store_ids)) > 0
        store_ids = tuple(s for s, keep in zip(polls.store_ids, polled.tolist()) if keep)
        new_index = np.cumsum(polled) - 1
        if not store_ids:
            empty = np.zeros(0, dtype=np.int64)
            schedule = BusinessSchedule.unite(windows.week, empty, empty, empty)
            timeline = StatusTimeline(empty, empty, empty, np.zeros(0, dtype=np.bool_))
            return StoreWeek((), windows, schedule, timeline)

        zone_names = sorted({timezones.of(s) for s in store_ids})
        zone_number = {name: i for i, name in enumerate(zone_names)}
        zone_of_store = np.array([zone_number[timezones.of(s)] for s in store_ids], dtype=np.int64)
        days_of_zone: list[LocalDays] = [
            local_days_touching(self._clocks[name], windows.week) for name in zone_names
        ]

        schedule = self._schedule(windows.week, store_ids, zone_of_store, zone_names, hours)
        days = store_days(zone_of_store, days_of_zone)
        sorted_polls = SortedPolls.of(
            new_index[polls.store_index], polls.timestamp_us, polls.active, StatusTimeline.origin_for(days)
        )
        timeline = StatusTimeline.build(sorted_polls, days)
        return StoreWeek(store_ids, windows, schedule, timeline)

    def _schedule(
        self,
        week: Interval,
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
            s, a, b = opening_intervals(zone_rows, clock, dates_for_rows(clock, week))
            stores.append(s)
            starts.append(a)
            ends.append(b)

        # A store without any row is open all week.
        has_rows = np.zeros(len(store_ids), dtype=np.bool_)
        has_rows[rows.store] = True
        always_open = np.flatnonzero(~has_rows).astype(np.int64)
        stores.append(always_open)
        starts.append(np.full(len(always_open), week.start, dtype=np.int64))
        ends.append(np.full(len(always_open), week.end, dtype=np.int64))
        return BusinessSchedule.unite(week, np.concatenate(stores), np.concatenate(starts), np.concatenate(ends))


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
