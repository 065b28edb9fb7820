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

from domain.model.calendar import StoreDays
from domain.model.inputs import BoolArray, Int64Array
from domain.model.interval import Interval
from domain.model.schedule import KEY_STRIDE


# One sort key holds store, time and status: (store * stride + time) * 2 + active.
def max_stores(stride: int) -> int:
    """How many stores fit the sort keys of one computation with ``stride``."""
    return 1 << (62 - stride.bit_length())


MAX_STORES = max_stores(KEY_STRIDE)


@attrs.frozen
class SortedPolls:
    """Polls sorted by (store, instant), as keys measured from ``origin``.

    Polls before ``origin`` matter only through each store's latest one, which
    is kept, moved to just before the origin.
    """

    origin: int
    keys: Int64Array  # store * stride + (instant - origin)
    store: Int64Array
    instant: Int64Array
    active: BoolArray
    # Above every ``instant - origin`` the keys are asked about (see ``key_stride``).
    stride: int = KEY_STRIDE

    @classmethod
    def of(
        cls, store: Int64Array, instant: Int64Array, active: BoolArray, origin: int, stride: int = KEY_STRIDE
    ) -> SortedPolls:
        limit = max_stores(stride)
        if len(store) and int(store.max()) >= limit:
            raise ValueError(f"at most {limit} stores fit one computation; split the report")
        # A time past the stride would run into the next store's keys.
        if len(instant) and int(instant.max()) - origin >= stride:
            raise ValueError("the polls reach beyond the span their sort keys can hold")
        early = instant < origin
        if early.any():
            store, instant, active = _latest_before(store, instant, active, early, origin)
        # Sorting one packed int64 is several times faster than a lexsort of
        # three columns, and polls arrive unsorted from CSV files.
        packed = ((store * stride + (instant - origin)) << 1) | active.astype(np.int64)
        packed.sort()
        keys = packed >> 1
        sorted_store = keys // stride
        return cls(
            origin, keys, sorted_store, keys - sorted_store * stride + origin, (packed & 1).astype(np.bool_), stride
        )

    def key(self, store: Int64Array, instant: Int64Array) -> Int64Array:
        """Keys of (store, instant) pairs on the same scale, instants at or after ``origin``."""
        keys: Int64Array = store * self.stride + (instant - self.origin)
        return keys


def _latest_before(
    store: Int64Array, instant: Int64Array, active: BoolArray, early: BoolArray, origin: int
) -> tuple[Int64Array, Int64Array, BoolArray]:
    """Keep every poll from ``origin`` on, and each store's latest earlier poll at ``origin``."""
    early_store, early_instant, early_active = store[early], instant[early], active[early]
    order = np.lexsort((early_instant, early_store))
    ordered_store = early_store[order]
    is_latest = np.append(ordered_store[1:] != ordered_store[:-1], True)
    latest = order[is_latest]
    later = ~early
    return (
        np.concatenate((early_store[latest], store[later])),
        np.concatenate((np.full(len(latest), origin, dtype=np.int64), instant[later])),
        np.concatenate((early_active[latest], active[later])),
    )


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
    def origin_for(cls, days: StoreDays) -> int:
        """Polls before this instant only say how each store's first day begins."""
        return int(days.starts.min()) - 1 if len(days.starts) else 0

    @classmethod
    def build(cls, polls: SortedPolls, days: StoreDays) -> StatusTimeline:
        if polls.origin > cls.origin_for(days):
            raise ValueError("the polls' origin lies after the first day starts")
        key = polls.key
        poll_keys = polls.keys
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
