"""Business hours as UTC intervals: the weekly rows laid on every local date.

For every local date ``D`` and every row of ``D``'s weekday: ``start < end``
opens ``[D start, D end)``; ``start > end`` opens overnight
``[D start, D+1 end)``; ``start == end`` opens the whole day
``[D start, D+1 start)``. All three are wall-clock: on a date whose clocks
change the interval is as long as the clock says (23 or 25 hours). A row laid
on the date before the week still counts where it runs into the week. The
intervals of a store are united, then clipped to the week. A store without any
row is open all the time.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.model.inputs import BoolArray, Int64Array
from domain.model.interval import Interval
from domain.model.localtime import ZoneClock, weekday_of

# Store index and time share one int64 sort key: time needs < 2**41 µs
# (25 days) of range after the origin, which leaves room for 4M stores.
# Longer spans (a trend of 90 days) take a wider stride: see ``key_stride``.
KEY_STRIDE = 1 << 41


def key_stride(length_us: int) -> int:
    """The stride of sort keys for times ``0 <= t <= length_us`` after an origin.

    ``KEY_STRIDE`` for a week and its margins, as before; a power of two
    above ``length_us`` for longer spans (fewer stores then fit one key).
    """
    return max(KEY_STRIDE, 1 << (int(length_us) + 1).bit_length())


@attrs.frozen
class OpeningRows:
    """Weekly rows of many stores (store is an index into the report's stores)."""

    store: Int64Array
    weekday: Int64Array
    start_us: Int64Array
    end_us: Int64Array


def dates_for_rows(clock: ZoneClock, window: Interval) -> range:
    """Local dates whose rows can reach into ``window``.

    A row lasts at most a day and a bit, so it ends on the date after the one
    it is laid on: the date before the window's first local date can run into
    it. One more date on each side costs nothing, as rows are clipped anyway.
    """
    return range(clock.local_day_of(window.start) - 2, clock.local_day_of(window.end - 1) + 2)


def opening_intervals(rows: OpeningRows, clock: ZoneClock, days: range) -> tuple[Int64Array, Int64Array, Int64Array]:
    """The UTC intervals ``(store, start, end)`` the rows of one zone open on the local ``days``."""
    stores: list[Int64Array] = []
    starts: list[Int64Array] = []
    ends: list[Int64Array] = []
    for day in days:
        on_day = rows.weekday == weekday_of(day)
        if not on_day.any():
            continue
        open_at, close_at = rows.start_us[on_day], rows.end_us[on_day]
        start = clock.to_utc(day, open_at)
        # Same day for start < end; the next date's ``end`` overnight, and its
        # ``start`` (that is ``end`` too) for a whole day.
        end = np.where(open_at < close_at, clock.to_utc(day, close_at), clock.to_utc(day + 1, close_at))
        stores.append(rows.store[on_day])
        starts.append(start)
        ends.append(end)
    if not stores:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(stores), np.concatenate(starts), np.concatenate(ends)


@attrs.frozen
class BusinessSchedule:
    """Disjoint business intervals per store inside one window, sorted by store then start.

    ``covered_before`` answers "how much business time of store s lies before
    instant t" for many (s, t) at once, which is all the calculator needs.
    """

    window: Interval
    store: Int64Array
    start: Int64Array
    end: Int64Array
    _cumulative_before: Int64Array
    _keys: Int64Array
    _stride: int = KEY_STRIDE

    @classmethod
    def unite(cls, window: Interval, store: Int64Array, start: Int64Array, end: Int64Array) -> BusinessSchedule:
        """Clip intervals to ``window`` and merge the overlapping or touching ones."""
        stride = key_stride(window.length)
        start = np.clip(start, window.start, window.end)
        end = np.clip(end, window.start, window.end)
        nonempty = end > start
        store, start, end = store[nonempty], start[nonempty], end[nonempty]
        order = np.lexsort((start, store))
        store, start, end = store[order], start[order], end[order]
        if len(store) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(window, empty, empty, empty, empty, empty, stride)

        # Running maximum of the end within each store: the store term of the
        # key dominates, so earlier stores never leak into a later one.
        reach = np.maximum.accumulate(store * stride + (end - window.start)) - store * stride + window.start
        begins_block: BoolArray = np.ones(len(store), dtype=np.bool_)
        begins_block[1:] = (store[1:] != store[:-1]) | (start[1:] > reach[:-1])
        first = np.flatnonzero(begins_block)
        last = np.append(first[1:] - 1, len(store) - 1)
        merged_store, merged_start, merged_end = store[first], start[first], reach[last]

        lengths = merged_end - merged_start
        before_global = np.cumsum(lengths) - lengths
        store_first_block = np.searchsorted(merged_store, merged_store, side="left")
        cumulative = before_global - before_global[store_first_block]
        keys = merged_store * stride + (merged_start - window.start)
        return cls(window, merged_store, merged_start, merged_end, cumulative, keys, stride)

    def covered_before(self, store: Int64Array, instant: Int64Array) -> Int64Array:
        """Business time of each ``store[i]`` in ``[window.start, instant[i])``."""
        if len(self.store) == 0:
            return np.zeros(len(store), dtype=np.int64)
        instant = np.clip(instant, self.window.start, self.window.end)
        query = store * self._stride + (instant - self.window.start)
        block = np.searchsorted(self._keys, query, side="right") - 1
        safe = np.maximum(block, 0)
        valid = (block >= 0) & (self.store[safe] == store)
        covered = self._cumulative_before[safe] + np.minimum(instant, self.end[safe]) - self.start[safe]
        return np.where(valid, covered, 0)

    def business_time(self, store: Int64Array, window: Interval) -> Int64Array:
        """Business time of each store inside ``window``."""
        ends = np.full(len(store), window.end, dtype=np.int64)
        starts = np.full(len(store), window.start, dtype=np.int64)
        return self.covered_before(store, ends) - self.covered_before(store, starts)

    def intervals_of(self, store: int) -> list[Interval]:
        mine = self.store == store
        return [Interval(s, e) for s, e in zip(self.start[mine].tolist(), self.end[mine].tolist())]
