"""The local calendar days of each store that touch the report's week.

Both the business schedule and the status timeline are built one local
calendar day at a time; this module decides which days those are and where
each begins and ends in UTC.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.model.inputs import Int64Array
from domain.model.interval import Interval
from domain.model.localtime import ZoneClock


@attrs.frozen
class LocalDays:
    """Days of one zone: day numbers and their ``[start, end)`` in UTC microseconds."""

    days: Int64Array
    starts: Int64Array
    ends: Int64Array

    def __len__(self) -> int:
        return len(self.days)


def local_days_touching(clock: ZoneClock, window: Interval) -> LocalDays:
    """Every local date whose day ``[D 00:00, D+1 00:00)`` meets ``window``.

    A day's bounds are its local midnights as ``localize(is_dst=False)`` gives
    them, so the days partition time even where a DST change moves midnight.
    """
    first = clock.local_day_of(window.start) - 1
    last = clock.local_day_of(window.end - 1) + 1
    candidates = range(first, last + 1)
    midnights = [clock.midnight(day) for day in range(first, last + 2)]
    kept = [
        i
        for i in range(len(candidates))
        if midnights[i] < midnights[i + 1]
        and midnights[i] < window.end
        and midnights[i + 1] > window.start
    ]
    return LocalDays(
        days=np.array([candidates[i] for i in kept], dtype=np.int64),
        starts=np.array([midnights[i] for i in kept], dtype=np.int64),
        ends=np.array([midnights[i + 1] for i in kept], dtype=np.int64),
    )


@attrs.frozen
class StoreDays:
    """For many stores at once: every (store, local day) pair, sorted by store then day."""

    store: Int64Array
    day: Int64Array
    starts: Int64Array
    ends: Int64Array
    # per store: the start of its first day and the end of its last day
    first_start: Int64Array
    last_end: Int64Array


def store_days(zone_of_store: Int64Array, days_of_zone: list[LocalDays]) -> StoreDays:
    """Expand each zone's days to the stores of that zone."""
    counts = np.array([len(d) for d in days_of_zone], dtype=np.int64)
    zone_first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    all_days = np.concatenate([d.days for d in days_of_zone]).astype(np.int64)
    all_starts = np.concatenate([d.starts for d in days_of_zone]).astype(np.int64)
    all_ends = np.concatenate([d.ends for d in days_of_zone]).astype(np.int64)

    per_store = counts[zone_of_store]
    store = np.repeat(np.arange(len(zone_of_store), dtype=np.int64), per_store)
    row_first = np.repeat(np.cumsum(per_store) - per_store, per_store)
    table = np.repeat(zone_first[zone_of_store], per_store) + (np.arange(len(store)) - row_first)
    zone_first_start = np.array([d.starts[0] for d in days_of_zone], dtype=np.int64)
    zone_last_end = np.array([d.ends[-1] for d in days_of_zone], dtype=np.int64)
    return StoreDays(
        store=store,
        day=all_days[table],
        starts=all_starts[table],
        ends=all_ends[table],
        first_start=zone_first_start[zone_of_store],
        last_end=zone_last_end[zone_of_store],
    )
