"""Turning the status file's timestamps into UTC microseconds, a column at a time."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from adapters.csv.parts import column_data, column_text, value_offsets
from adapters.csv.rules import _BLOCK_ROWS, _MONTH_DAYS, _UTC_SUFFIX
from domain.model.clock import MICROS_PER_SECOND, to_micros
from domain.model.inputs import BoolArray, Int64Array

# --- Timestamps --------------------------------------------------------------------------------


def parse_instants(values: pa.BinaryArray) -> tuple[Int64Array, BoolArray]:
    """UTC microseconds of each row's timestamp, and whether it could be read.

    A timestamp is read as ISO 8601 after a trailing ``UTC`` is removed; an
    offset is applied; one without an offset is UTC. A fraction finer than a
    microsecond is cut. Those written the usual way are read straight from
    the column's bytes; the others by a general parse.
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.bool_)
    offsets, data = value_offsets(values), column_data(values)
    if len(data) < 32:  # room for every position the byte reading looks at
        data = np.concatenate((data, np.zeros(32, dtype=np.uint8)))
    instants, readable = _canonical_instants(data, offsets[:-1], offsets[1:])
    unread = np.flatnonzero(~readable)
    if len(unread):
        texts = [column_text(value) for value in values.take(unread).to_pylist()]
        instants[unread], readable[unread] = _text_instants(pd.Series(texts, dtype="str"))
    return instants, readable


def _canonical_instants(data: NDArray[np.uint8], start: Int64Array, end: Int64Array) -> tuple[Int64Array, BoolArray]:
    """The timestamps in ``data[start:end]`` written the usual way, read straight from the bytes.

    The usual way: ``YYYY-MM-DD HH:MM:SS`` (or a ``T`` between date and time),
    an optional fraction of up to 9 digits, then `` UTC``, ``Z`` or nothing.
    A field written otherwise, or naming a date or time that does not exist,
    is not read here (``readable`` False) but by the general parse. Nearly
    every timestamp is written the usual way, and reading them from the bytes
    saves pandas making, cutting and parsing millions of strings.
    """
    instants = np.zeros(len(start), dtype=np.int64)
    readable = np.zeros(len(start), dtype=np.bool_)
    # A block at a time: the many temporary columns then stay small enough
    # to be reused from the cache instead of being fresh memory each time.
    for first in range(0, len(start), _BLOCK_ROWS):
        block = slice(first, first + _BLOCK_ROWS)
        instants[block], readable[block] = _canonical_block(data, start[block], end[block])
    return instants, readable


def _canonical_block(data: NDArray[np.uint8], start: Int64Array, end: Int64Array) -> tuple[Int64Array, BoolArray]:
    length = end - start
    # A field that could reach past the end of the data (only on the last
    # lines) is left to the general parse, so no position needs a bounds check.
    near_edge = (start + 29 > len(data)) | (end < 4)
    start, end = np.where(near_edge, 0, start), np.where(near_edge, 4, end)
    readable = ~near_edge

    def check(condition: BoolArray) -> None:
        np.logical_and(readable, condition, out=readable)

    def number(*offsets: int) -> Int64Array:
        value = np.zeros(len(start), dtype=np.int64)
        for offset in offsets:
            digit = data[start + offset] - np.uint8(ord("0"))  # other bytes wrap round to more than 9
            check(digit <= 9)
            value = value * 10 + digit
        return value

    utc = (length >= 23) & (data[end - 4] == ord(" ")) & (data[end - 3] == ord("U"))
    utc &= (data[end - 2] == ord("T")) & (data[end - 1] == ord("C"))
    zulu = ~utc & (data[end - 1] == ord("Z"))
    fraction_digits = length - 4 * utc - zulu - 20
    check((fraction_digits == -1) | ((fraction_digits >= 1) & (fraction_digits <= 9)))

    year = number(0, 1, 2, 3)
    check(data[start + 4] == ord("-"))
    month = number(5, 6)
    check(data[start + 7] == ord("-"))
    day = number(8, 9)
    check((data[start + 10] == ord(" ")) | (data[start + 10] == ord("T")))
    hour = number(11, 12)
    check(data[start + 13] == ord(":"))
    minute = number(14, 15)
    check(data[start + 16] == ord(":"))
    second = number(17, 18)
    check((fraction_digits < 1) | (data[start + 19] == ord(".")))
    micro = np.zeros(len(start), dtype=np.int64)
    for i in range(9):
        present = i < fraction_digits
        digit = data[start + 20 + i] - np.uint8(ord("0"))
        check(~present | (digit <= 9))
        if i < 6:  # digits past the microsecond are checked, then cut
            micro = micro * 10 + digit * present

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    check((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days))
    check((hour <= 23) & (minute <= 59) & (second <= 59))

    # Days since 1970-01-01 of the proleptic Gregorian date, counted from
    # 1 March 0000 so that a leap day ends its year.
    shifted_year = year - (month <= 2)
    era = shifted_year // 400
    year_of_era = shifted_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    seconds = days * 86_400 + (hour * 60 + minute) * 60 + second
    return np.where(readable, seconds * MICROS_PER_SECOND + micro, 0), readable


def _text_instants(values: pd.Series) -> tuple[Int64Array, BoolArray]:
    """The timestamps of ``values`` (see ``_table_instants``), in their order.

    Nearly all go through one vectorised parse; the ones it cannot read are
    cleaned and tried again, then one by one.
    """
    text = values
    if values.head(100).str.endswith(" UTC").any():
        text = values.str.removesuffix(" UTC")
    instants, readable = _iso_micros(text)
    failed = np.flatnonzero(~readable)
    if len(failed):
        cleaned = values.iloc[failed].str.strip().str.replace(_UTC_SUFFIX, "", regex=True)
        again, read_again = _iso_micros(cleaned)
        instants[failed[read_again]] = again[read_again]
        readable[failed[read_again]] = True
        for row, value in zip(failed[~read_again].tolist(), cleaned.to_numpy()[~read_again].tolist()):
            instant = _one_instant(value)
            if instant is not None:
                instants[row] = instant
                readable[row] = True
    return instants, readable


def _iso_micros(text: pd.Series) -> tuple[Int64Array, BoolArray]:
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    readable = np.array(parsed.notna(), dtype=np.bool_)
    instants = np.array(parsed.dt.as_unit("us").astype("int64"), dtype=np.int64)  # a writable copy
    return instants, readable


def _one_instant(text: str) -> int | None:
    """One timestamp that the vectorised parse could not read (e.g. beyond its range)."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return to_micros(moment)
