"""Checking a batch's columns against the reading rules, value by distinct value."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytz

from adapters.csv.instants import parse_instants
from adapters.csv.parts import Part, column_text
from adapters.csv.rules import (
    _ASCII_SPACE,
    _CONTROL_CHARACTER,
    _MAX_REMEMBERED,
    _SHOWN_CHARS,
    _TIME_OF_DAY,
    _WEEKDAY,
    MAX_STORE_ID_CHARS,
    _Value,
)
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_SECOND, to_micros
from domain.model.errors import quoted
from domain.model.ingestion import HoursBatch, InputBatch, StatusBatch, TimezoneBatch
from domain.model.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones

# --- Checking a batch's columns ----------------------------------------------------------------


def _show(value: str) -> str:
    return quoted(value, _SHOWN_CHARS)


class _Checks:
    """Rejects rows of a part column by column; a row is explained by the first check it fails."""

    def __init__(self, part: Part, labels: dict[str, str]) -> None:
        self.part = part
        self.labels = labels
        self.bad: BoolArray = np.zeros(len(part.lines), dtype=np.bool_)

    def reject(self, mask: BoolArray, column: str, problem: str) -> None:
        rows = np.flatnonzero(mask & ~self.bad)
        self.bad |= mask
        label = self.labels[column]
        values = self.part.values[column]

        def reason(i: int) -> str:
            value = column_text(values[int(rows[i])].as_py())
            if not value.strip():
                return f"{label} is blank"
            return f"{label} {_show(value)} {problem}"

        self.part.rejections.add(self.part.lines[rows], reason)

    def valid(self) -> BoolArray:
        return ~self.bad


class _Distinct(Generic[_Value]):
    """A column's distinct values as written, each converted once per file.

    The values seen are kept as one pyarrow array, so that a batch finds the
    ones it repeats without leaving pyarrow; only new ones reach Python.
    """

    def __init__(self, convert: Callable[[str], _Value]) -> None:
        self._convert = convert
        self.converted: list[_Value] = []
        self._seen: pa.Array[Any] = pa.array([], type=pa.binary())

    def codes(self, column: pa.BinaryArray) -> Int64Array:
        """Per row, the position of its value's conversion in ``converted``."""
        if len(self.converted) > _MAX_REMEMBERED:
            self.converted, self._seen = [], pa.array([], type=pa.binary())
        encoded = cast("pa.DictionaryArray[Any, Any]", pc.dictionary_encode(column))
        values = encoded.dictionary
        found = pc.index_in(values, value_set=self._seen).fill_null(-1)
        position = np.array(found.to_numpy(zero_copy_only=False), dtype=np.int64)
        new = np.flatnonzero(position < 0)
        if len(new):
            fresh = values.take(new)
            texts = cast("list[bytes]", fresh.to_pylist())
            position[new] = len(self.converted) + np.arange(len(new), dtype=np.int64)
            self.converted.extend(self._convert(column_text(text)) for text in texts)
            self._seen = pa.concat_arrays([self._seen, fresh])
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return position[indices] if len(indices) else np.empty(0, dtype=np.int64)


class _Numbers:
    """A column's distinct values converted to integers, each once per file."""

    def __init__(self, convert: Callable[[str], int]) -> None:
        self._distinct = _Distinct(convert)
        self._numbers = np.empty(0, dtype=np.int64)

    def __call__(self, column: pa.BinaryArray) -> Int64Array:
        codes = self._distinct.codes(column)
        if len(self._numbers) != len(self._distinct.converted):
            self._numbers = np.array(self._distinct.converted, dtype=np.int64)
        return self._numbers[codes]


_NO_PROBLEM, _BLANK_ID, _CONTROL_ID, _LONG_ID = range(4)
_STORE_ID_PROBLEMS = (
    (_BLANK_ID, "is blank"),
    (_CONTROL_ID, "holds a control character (U+0000 to U+001F or U+007F)"),
    (_LONG_ID, f"is longer than {MAX_STORE_ID_CHARS} characters"),
)


def _store_id(written: str) -> tuple[str, int]:
    """The id (trimmed) and what is wrong with it.

    Around the id, spaces, tabs and line ends are white space, trimmed; any
    other control character, even at either end, rejects the row.
    """
    name = written.strip()
    if not name:
        return name, _BLANK_ID
    if _CONTROL_CHARACTER.search(written.strip(_ASCII_SPACE)) is not None:
        return name, _CONTROL_ID
    if len(name) > MAX_STORE_ID_CHARS:
        return name, _LONG_ID
    return name, _NO_PROBLEM


class _StoreIds:
    """The store ids of a file: each distinct one trimmed and checked once, and ranked among the others."""

    def __init__(self) -> None:
        self._ids = _Distinct(_store_id)
        self._problems = np.empty(0, dtype=np.int64)
        # Per code, the position of its name among ``_sorted``, the distinct names in order.
        self._rank = np.empty(0, dtype=np.int64)
        self._sorted: list[str] = []

    def check(self, checks: _Checks, column: str) -> Int64Array:
        """Per row, the code of its store id; rows whose id is blank, holds a
        control character or is too long are rejected."""
        codes = self._ids.codes(checks.part.values[column])
        entries = self._ids.converted
        if len(self._rank) != len(entries):
            self._problems = np.array([problem for _, problem in entries], dtype=np.int64)
            self._sorted = sorted({name for name, _ in entries})
            position = {name: i for i, name in enumerate(self._sorted)}
            self._rank = np.array([position[name] for name, _ in entries], dtype=np.int64)
        problems = self._problems[codes]
        for problem, reason in _STORE_ID_PROBLEMS:
            checks.reject(problems == problem, column, reason)
        return codes

    def vocabulary(self, codes: Int64Array) -> tuple[tuple[str, ...], Int64Array]:
        """The sorted distinct names that ``codes`` use, and each code's position among them."""
        ranks = self._rank[codes]
        present = np.zeros(len(self._sorted), dtype=np.bool_)
        present[ranks] = True
        used = np.flatnonzero(present)
        return tuple(map(self._sorted.__getitem__, used.tolist())), (np.cumsum(present) - 1)[ranks]


class _FileChecks:
    """What every file's batches share: the labels of the columns and the store ids."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.store_ids = _StoreIds()


class StatusChecks(_FileChecks):
    def __init__(self, labels: dict[str, str], now: datetime) -> None:
        super().__init__(labels)
        self.latest = to_micros(now) + MICROS_PER_DAY
        self.future = (
            f"is more than a day after this machine's clock ({now.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
        )
        self.statuses = _Numbers(_status_value)

    def batches(self, parts: Iterable[Part]) -> Iterator[StatusBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: Part) -> StatusBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        active = self._statuses(part.values["status"])
        checks.reject(active < 0, "status", "is not 'active' or 'inactive'")
        instants, readable = parse_instants(part.values["timestamp_utc"])
        checks.reject(~readable, "timestamp_utc", "is not a timestamp (such as 2023-01-22 12:09:39.388884 UTC)")
        checks.reject(instants < 0, "timestamp_utc", "is before 1970-01-01 UTC")
        checks.reject(instants > self.latest, "timestamp_utc", self.future)

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        instants = instants[valid]
        repeated = repeated_polls(store_index, instants)
        keep = ~repeated
        polls = StatusPolls(store_ids, store_index[keep], instants[keep], active[valid][keep] == 1)
        return InputBatch(polls, part.counts(int(repeated.sum())), part.resume)

    def _statuses(self, values: pa.BinaryArray) -> Int64Array:
        """1 for active, 0 for inactive, -1 for anything else."""
        # Nearly every value is written exactly so; comparing is faster than hashing.
        active = _is(values, b"active")
        inactive = _is(values, b"inactive")
        statuses = np.where(active, 1, np.where(inactive, 0, -1)).astype(np.int64)
        others = np.flatnonzero(~(active | inactive))
        if len(others):
            statuses[others] = self.statuses(values.take(others))
        return statuses


def _is(values: pa.BinaryArray, text: bytes) -> BoolArray:
    equal = pc.equal(values, pa.scalar(text, type=pa.binary()))
    return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=np.bool_)


class HoursChecks(_FileChecks):
    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__(labels)
        self.weekdays = _Numbers(_weekday)
        self.times = _Numbers(_time_of_day)

    def batches(self, parts: Iterable[Part]) -> Iterator[HoursBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: Part) -> HoursBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        weekday = self.weekdays(part.values["dayOfWeek"])
        checks.reject(weekday < 0, "dayOfWeek", "is not a whole number from 0 (Monday) to 6 (Sunday)")
        start = self.times(part.values["start_time_local"])
        checks.reject(start < 0, "start_time_local", "is not a time of day (HH:MM:SS or HH:MM)")
        end = self.times(part.values["end_time_local"])
        checks.reject(end < 0, "end_time_local", "is not a time of day (HH:MM:SS or HH:MM)")

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        columns = (store_index, weekday[valid], start[valid], end[valid])
        repeated = repeated_rows(columns)
        keep = ~repeated
        hours = BusinessHours(store_ids, *(column[keep] for column in columns))
        return InputBatch(hours, part.counts(int(repeated.sum())), part.resume)


class TimezoneChecks(_FileChecks):
    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__(labels)
        self.zones = _Distinct(_timezone_name)

    def batches(self, parts: Iterable[Part]) -> Iterator[TimezoneBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: Part) -> TimezoneBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        zones = self.zones.codes(part.values["timezone_str"])
        unknown = np.array([name is None for name in self.zones.converted], dtype=np.bool_)[zones]
        checks.reject(unknown, "timezone_str", "is not a timezone name pytz knows")

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        first = ~pd.Series(store_index).duplicated(keep="first").to_numpy()
        by_store = {
            store_ids[store]: str(self.zones.converted[zone])
            for store, zone in zip(store_index[first].tolist(), zones[valid][first].tolist())
        }
        return InputBatch(StoreTimezones(by_store), part.counts(int(len(first) - first.sum())), part.resume)


def repeated_polls(store_index: Int64Array, instants: Int64Array) -> BoolArray:
    """True for each row whose ``(store, instant)`` an earlier row has."""
    if len(instants) == 0:
        return np.zeros(0, dtype=np.bool_)
    first = int(instants.min())
    span = int(instants.max()) - first + 1
    if (int(store_index.max()) + 1) * span >= 2**62:
        return repeated_rows((store_index, instants))
    key = store_index * span + (instants - first)
    # Sorting one int64 column to see that nothing repeats (the usual case)
    # is ten times faster than hashing it to find what repeats.
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():
        return np.zeros(len(key), dtype=np.bool_)
    return np.asarray(pd.Series(key).duplicated(keep="first").to_numpy(), dtype=np.bool_)


def repeated_rows(columns: Sequence[Int64Array]) -> BoolArray:
    """True for each row that an earlier row repeats in every column."""
    if len(columns[0]) == 0:
        return np.zeros(0, dtype=np.bool_)
    frame = pd.DataFrame(dict(enumerate(columns)))
    return np.asarray(frame.duplicated(keep="first").to_numpy(), dtype=np.bool_)


def _status_value(text: str) -> int:
    """1 for active, 0 for inactive, -1 for anything else."""
    return {"active": 1, "inactive": 0}.get(text.strip().lower(), -1)


def _weekday(text: str) -> int:
    """0 (Monday) to 6 (Sunday); -1 if not such a whole number."""
    text = text.strip()
    if _WEEKDAY.fullmatch(text) and int(text) <= 6:
        return int(text)
    return -1


def _time_of_day(text: str) -> int:
    """Microseconds since local midnight of ``HH:MM[:SS[.fraction]]``; -1 if not a time."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        return -1
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return -1
    fraction = int((match[4] or "").ljust(6, "0")[:6])
    return ((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + fraction


def _timezone_name(text: str) -> str | None:
    """The IANA name pytz knows for ``text``, or None."""
    name = text.strip()
    if name in pytz.all_timezones_set:
        return name
    try:
        return str(pytz.timezone(name))  # also accepts other spellings, e.g. 'utc'
    except (KeyError, ValueError, OSError):
        return None


