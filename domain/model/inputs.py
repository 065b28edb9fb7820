"""The three inputs of a report, held as columns.

A week of polls for every store is millions of rows; numpy columns keep them
compact and let the calculator work on all stores at once. Store ids are
opaque strings kept once, in ``store_ids`` (sorted, unique); rows point at them
through ``store_index``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
from numpy.typing import NDArray

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

WEEKDAYS = 7
MICROS_PER_LOCAL_DAY = 86_400_000_000
DEFAULT_TIMEZONE = "America/Chicago"


def _sorted_unique(instance: object, attribute: attrs.Attribute[tuple[str, ...]], ids: tuple[str, ...]) -> None:
    # map() keeps the comparisons in C: a batch of a large fleet holds tens of thousands of ids.
    if not all(map(operator.lt, ids, ids[1:])):
        raise ValueError(f"{attribute.name} must be sorted and unique")


def str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _str_dict(mapping: Mapping[str, str]) -> dict[str, str]:
    return dict(mapping)


def _int64(values: Sequence[int] | NDArray[np.integer]) -> Int64Array:
    return np.ascontiguousarray(values, dtype=np.int64)


def _bool(values: Sequence[bool] | NDArray[np.bool_]) -> BoolArray:
    return np.ascontiguousarray(values, dtype=np.bool_)


def _same_length(instance: attrs.AttrsInstance) -> None:
    lengths = {
        field.name: len(getattr(instance, field.name))
        for field in attrs.fields(type(instance))
        if field.name != "store_ids"
    }
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")


def _index_in_range(instance: StatusPolls | BusinessHours) -> None:
    index = instance.store_index
    if len(index) and (index.min() < 0 or index.max() >= len(instance.store_ids)):
        raise ValueError("store_index points outside store_ids")


def vocabulary(store_ids: Sequence[str]) -> tuple[tuple[str, ...], Int64Array]:
    """Sorted unique ids and, per input row, its position among them."""
    unique = sorted(set(store_ids))
    position = {store_id: i for i, store_id in enumerate(unique)}
    return tuple(unique), _int64([position[store_id] for store_id in store_ids])


@attrs.frozen
class StatusPolls:
    """Status polls: at most one per ``(store, instant)``, in any order."""

    store_ids: tuple[str, ...] = attrs.field(converter=str_tuple, validator=_sorted_unique)
    store_index: Int64Array = attrs.field(converter=_int64)
    timestamp_us: Int64Array = attrs.field(converter=_int64)
    active: BoolArray = attrs.field(converter=_bool)

    def __attrs_post_init__(self) -> None:
        _same_length(self)
        _index_in_range(self)

    def __len__(self) -> int:
        return len(self.timestamp_us)

    @classmethod
    def empty(cls) -> StatusPolls:
        return cls((), [], [], [])

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, int, bool]]) -> StatusPolls:
        """From ``(store_id, timestamp_us, active)`` rows; handy for small inputs."""
        ids, index = vocabulary([row[0] for row in rows])
        return cls(ids, index, [row[1] for row in rows], [row[2] for row in rows])

    def rows(self) -> list[tuple[str, int, bool]]:
        return [
            (self.store_ids[i], int(t), bool(a))
            for i, t, a in zip(self.store_index, self.timestamp_us, self.active)
        ]

    def until(self, instant_us: int) -> StatusPolls:
        """The polls at or before ``instant_us`` (this one when none is later)."""
        keep = self.timestamp_us <= instant_us
        if keep.all():
            return self
        return StatusPolls(self.store_ids, self.store_index[keep], self.timestamp_us[keep], self.active[keep])

    @classmethod
    def joined(cls, parts: Sequence[StatusPolls]) -> StatusPolls:
        """The rows of ``parts`` one after the other, over one vocabulary.

        A row may repeat the ``(store, instant)`` of an earlier part: storing
        them keeps the first, as for the rows of one file.
        """
        if len(parts) == 1:
            return parts[0]
        store_ids = tuple(sorted(set().union(*(part.store_ids for part in parts))))
        position = {store_id: i for i, store_id in enumerate(store_ids)}
        index = [np.array([position[s] for s in part.store_ids], dtype=np.int64)[part.store_index] for part in parts]
        return cls(
            store_ids,
            np.concatenate(index) if index else [],
            np.concatenate([part.timestamp_us for part in parts]) if parts else [],
            np.concatenate([part.active for part in parts]) if parts else [],
        )


@attrs.frozen
class BusinessHours:
    """Weekly opening rows: weekday 0 = Monday; times are local microseconds of the day."""

    store_ids: tuple[str, ...] = attrs.field(converter=str_tuple, validator=_sorted_unique)
    store_index: Int64Array = attrs.field(converter=_int64)
    weekday: Int64Array = attrs.field(converter=_int64)
    start_us: Int64Array = attrs.field(converter=_int64)
    end_us: Int64Array = attrs.field(converter=_int64)

    def __attrs_post_init__(self) -> None:
        _same_length(self)
        _index_in_range(self)
        if len(self.weekday) and (self.weekday.min() < 0 or self.weekday.max() >= WEEKDAYS):
            raise ValueError("weekday outside 0-6")
        for column in (self.start_us, self.end_us):
            if len(column) and (column.min() < 0 or column.max() >= MICROS_PER_LOCAL_DAY):
                raise ValueError("time of day outside 00:00:00-23:59:59.999999")

    def __len__(self) -> int:
        return len(self.weekday)

    @classmethod
    def empty(cls) -> BusinessHours:
        return cls((), [], [], [], [])

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, int, int, int]]) -> BusinessHours:
        """From ``(store_id, weekday, start_us, end_us)`` rows."""
        ids, index = vocabulary([row[0] for row in rows])
        return cls(ids, index, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])

    def rows(self) -> list[tuple[str, int, int, int]]:
        return [
            (self.store_ids[i], int(d), int(s), int(e))
            for i, d, s, e in zip(self.store_index, self.weekday, self.start_us, self.end_us)
        ]


@attrs.frozen
class StoreTimezones:
    """IANA timezone name per store; stores not listed use ``DEFAULT_TIMEZONE``."""

    by_store: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict)

    def __len__(self) -> int:
        return len(self.by_store)

    def of(self, store_id: str) -> str:
        return self.by_store.get(store_id, DEFAULT_TIMEZONE)
