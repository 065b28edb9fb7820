"""Status polls as numpy columns sorted by ``(store, instant)``: deduplicating
and selecting them a whole column at a time, so that a week of polls of every
store (about 2M rows) is added and queried in well under a second.

Shared by the in-memory status repository (``adapters.memory.data``) and the
read-only CSV backend (``adapters.csv.repositories``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from domain.model.inputs import BoolArray, Int64Array, StatusPolls
from domain.ports.data import StoreRange


def store_bounds(store_ids: tuple[str, ...], stores: StoreRange | None) -> tuple[int, int]:
    """Positions ``[lo, hi)`` of the sorted ``store_ids`` that lie in ``stores``."""
    if stores is None:
        return 0, len(store_ids)
    lo = bisect_left(store_ids, stores.first)
    return lo, max(lo, bisect_right(store_ids, stores.last))


def poll_positions(ids: list[str], of: tuple[str, ...]) -> Int64Array:
    """For each id of ``of``, its position in the sorted ``ids`` (-1 where absent)."""
    position = {store_id: i for i, store_id in enumerate(ids)}
    return np.array([position.get(store_id, -1) for store_id in of], dtype=np.int64)


# Sort keys pack (store, instant, status) into one int64 while they fit.
_PACKED_LIMIT = 2**62

# Store positions: int64 in the repository, int32 in the CSV backend's larger tables.
StoreArray = TypeVar("StoreArray", Int64Array, NDArray[np.int32])


def unique_polls(store: StoreArray, time: Int64Array, active: BoolArray) -> tuple[StoreArray, Int64Array, BoolArray]:
    """The rows sorted by ``(store, time)``, keeping the first row of each key."""
    if len(time) == 0:
        return store, time, active
    first_time = int(time.min())
    span = int(time.max()) - first_time + 1
    if (int(store.max()) + 1) * span * 2 >= _PACKED_LIMIT:
        return _unique_polls_by_argsort(store, time, active)
    # A plain sort of packed keys is several times faster than an argsort;
    # the arithmetic is done in place, as a fleet's week is tens of millions of rows.
    packed = store.astype(np.int64)
    packed *= span
    packed += time
    packed -= first_time
    packed <<= 1
    packed |= active
    packed.sort()
    starts = starts_of_runs(packed)
    if not starts.all():
        packed = packed[starts]
    del starts
    clash = _status_clashes(packed)
    if len(clash):
        # The same key with both statuses: the earlier row decides.
        clashing = packed[clash] >> 1
        key = store.astype(np.int64) * span + (time - first_time)
        rows = np.flatnonzero(np.isin(key, clashing))
        _, first = np.unique(key[rows], return_index=True)
        winner_active = active[rows[first]]
        # Per clash the inactive entry comes first; drop the loser.
        drop = np.where(winner_active, clash, clash + 1)
        packed = np.delete(packed, drop)
    unique_active = (packed & 1).astype(np.bool_)
    packed >>= 1
    # Store s holds the keys [s * span, (s + 1) * span): count them rather than divide.
    stores = int(store.max()) + 1
    ends = np.searchsorted(packed, np.arange(1, stores + 1, dtype=np.int64) * span)
    unique_store = np.repeat(np.arange(stores).astype(store.dtype), np.diff(ends, prepend=0))
    packed %= span
    packed += first_time
    return unique_store, packed, unique_active


def _unique_polls_by_argsort(
    store: StoreArray, time: Int64Array, active: BoolArray
) -> tuple[StoreArray, Int64Array, BoolArray]:
    order = np.lexsort((time, store))  # stable: earlier rows first within a key
    store, time, active = store[order], time[order], active[order]
    keep = np.ones(len(time), dtype=np.bool_)
    keep[1:] = (store[1:] != store[:-1]) | (time[1:] != time[:-1])
    return store[keep], time[keep], active[keep]


def _status_clashes(packed: Int64Array, block: int = 1 << 20) -> Int64Array:
    """Positions ``i`` of sorted distinct packed keys where ``i`` and ``i + 1`` differ only in the status bit.

    A block at a time: over the whole column the shifted copies would take
    three times its memory.
    """
    pairs = max(len(packed) - 1, 0)
    found = []
    for first in range(0, pairs, block):
        last = min(first + block, pairs)
        found.append(first + np.flatnonzero((packed[first + 1 : last + 1] >> 1) == (packed[first:last] >> 1)))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def starts_of_runs(values: NDArray[np.integer[Any]]) -> BoolArray:
    start = np.ones(len(values), dtype=np.bool_)
    start[1:] = values[1:] != values[:-1]
    return start


def sorted_polls_since(
    store_ids: tuple[str, ...], store: StoreArray, time: Int64Array, active: BoolArray, start_us: int
) -> StatusPolls:
    """Of polls sorted by ``(store, instant)``, those from ``start_us`` on and each store's latest earlier one."""
    since = time >= start_us
    # A store's polls before start_us come first in its run; the last of
    # them is followed by another store or by a poll at or after start_us.
    last_before = ~since
    last_before[:-1] &= (store[1:] != store[:-1]) | since[1:]
    keep = since | last_before
    store, time, active = store[keep], time[keep], active[keep]
    present = np.unique(store)
    return StatusPolls(tuple(store_ids[i] for i in present.tolist()), np.searchsorted(present, store), time, active)
