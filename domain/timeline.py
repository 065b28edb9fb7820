"""The status timeline: which status every store had at every instant of the week.

Built one local calendar day at a time, as the contract says:
- on a day with polls, each poll's status holds until the next poll of the
  day; the first poll's status also holds from the day's start, the last
  poll's to the day's end;
- on a day without polls, the latest poll before the day decides the whole
  day; a store with none before takes the earliest poll after it.

As a step function this is: at each day start, the status described above,
then a step at every poll of the day.
"""

from __future__ import annotations

import attrs
import numpy as np

from domain.calendar import StoreDays
from domain.inputs import BoolArray, Int64Array
from domain.interval import Interval
from domain.schedule import KEY_STRIDE


@attrs.frozen
class SortedPolls:
    """Polls of the report's stores, sorted by (store, instant)."""

    store: Int64Array
    instant: Int64Array
    active: BoolArray

    @classmethod
    def of(cls, store: Int64Array, instant: Int64Array, active: BoolArray) -> SortedPolls:
        in_order = len(store) < 2 or bool(
            np.all((store[1:] > store[:-1]) | ((store[1:] == store[:-1]) & (instant[1:] >= instant[:-1])))
        )
        if not in_order:
            order = np.lexsort((instant, store))
            store, instant, active = store[order], instant[order], active[order]
        return cls(store, instant, active)


@attrs.frozen
class StatusTimeline:
    """Segments ``[start, end)`` with one status each, sorted by store then start.

    Together the segments of a store cover its local days touching the week
    without gaps.
    """

    store: Int64Array
    start: Int64Array
    end: Int64Array
    active: BoolArray

    @classmethod
    def build(cls, polls: SortedPolls, days: StoreDays) -> StatusTimeline:
        origin = int(days.starts.min()) - 1 if len(days.starts) else 0

        def key(store: Int64Array, instant: Int64Array) -> Int64Array:
            # Polls long before the days collapse to just before the origin;
            # the stable order keeps the latest of them last.
            keys: Int64Array = store * KEY_STRIDE + (np.maximum(instant, origin) - origin)
            return keys

        poll_keys = key(polls.store, polls.instant)
        count = len(poll_keys)
        first = np.searchsorted(poll_keys, key(days.store, days.starts), side="left")
        after_day = np.searchsorted(poll_keys, key(days.store, days.ends), side="left")
        has_polls = after_day > first
        at_first = np.minimum(first, count - 1)
        before = np.maximum(first - 1, 0)
        has_before = (first > 0) & (polls.store[before] == days.store)
        # first poll of the day; else the latest before the day; else the
        # earliest after it (which is at ``first`` too: the day holds none)
        day_status = np.where(has_polls | ~has_before, polls.active[at_first], polls.active[before])

        in_days = polls.instant >= days.first_start[polls.store]
        break_store = np.concatenate((days.store, polls.store[in_days]))
        break_at = np.concatenate((days.starts, polls.instant[in_days]))
        break_status = np.concatenate((day_status, polls.active[in_days]))
        # Day starts come first in the concatenation, so a stable sort puts a
        # poll at the very instant a day starts after that day's start.
        order = np.argsort(key(break_store, break_at), kind="stable")
        break_store, break_at, break_status = break_store[order], break_at[order], break_status[order]

        ends = np.empty_like(break_at)
        ends[:-1] = break_at[1:]
        last_of_store = np.ones(len(break_store), dtype=np.bool_)
        last_of_store[:-1] = break_store[1:] != break_store[:-1]
        ends[last_of_store] = days.last_end[break_store[last_of_store]]
        return cls(break_store, break_at, ends, break_status)

    def segments_of(self, store: int) -> list[tuple[Interval, bool]]:
        mine = self.store == store
        return [
            (Interval(s, e), bool(a))
            for s, e, a in zip(self.start[mine].tolist(), self.end[mine].tolist(), self.active[mine].tolist())
            if e > s
        ]
