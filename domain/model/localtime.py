"""Local wall-clock time of a store's timezone, turned into UTC instants.

The contract fixes one answer for every local time, even one a DST change
skips or repeats: the answer of pytz's ``tz.localize(naive, is_dst=False)``.
Calling pytz for every business-hours row of every day would be slow, so a
``ZoneClock`` asks pytz once per local date and reuses the offset on dates that
no transition comes near; only the few dates beside a transition go through
pytz value by value.

Dates are numbered as days since 1970-01-01 (a Thursday).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, tzinfo

import numpy as np
import pytz

from domain.model.clock import MICROS_PER_DAY, MICROS_PER_SECOND, from_micros, to_micros
from domain.model.inputs import Int64Array

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY = date(1970, 1, 1).weekday()
# A date is "clean" when no offset change happens within this many days of
# it; pytz itself looks one day either side of a local time.
_CLEAN_MARGIN = timedelta(days=2)


def weekday_of(day: int) -> int:
    """0 = Monday ... 6 = Sunday, for a day number."""
    return (day + _EPOCH_WEEKDAY) % 7


def day_number(local_date: date) -> int:
    return local_date.toordinal() - _EPOCH_ORDINAL


def date_of(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


def _micros_of_offset(offset: timedelta | None) -> int:
    if offset is None:
        raise ValueError("timezone without a UTC offset")
    return (offset.days * 86_400 + offset.seconds) * MICROS_PER_SECOND + offset.microseconds


class ZoneClock:
    """Local time to UTC for one IANA zone, exactly as ``localize(is_dst=False)``."""

    def __init__(self, zone_name: str) -> None:
        self.zone_name = zone_name
        self._zone = pytz.timezone(zone_name)
        transitions: list[datetime] | None = getattr(self._zone, "_utc_transition_times", None)
        self._transitions = transitions or []
        # day number -> the one UTC offset of that date, or None near a transition
        self._offsets: dict[int, int | None] = {}
        self._exact: dict[tuple[int, int], int] = {}

    @property
    def tzinfo(self) -> tzinfo:
        return self._zone

    def local_day_of(self, instant_us: int) -> int:
        """The local calendar date (as a day number) an instant falls on."""
        return day_number(from_micros(instant_us).astimezone(self._zone).date())

    def midnight(self, day: int) -> int:
        """UTC instant of local ``day 00:00``."""
        return int(self.to_utc(day, np.zeros(1, dtype=np.int64))[0])

    def to_utc(self, day: int, micros_of_day: Int64Array) -> Int64Array:
        """UTC instants of local times on ``day`` (microseconds of that day, may exceed 24 h)."""
        offset = self._clean_offset(day)
        naive = day * MICROS_PER_DAY + micros_of_day
        if offset is not None:
            return naive - offset
        return np.fromiter(
            (self._localize_exact(day, int(m)) for m in micros_of_day),
            dtype=np.int64,
            count=len(micros_of_day),
        )

    def _clean_offset(self, day: int) -> int | None:
        if day not in self._offsets:
            self._offsets[day] = self._offset_if_clean(day)
        return self._offsets[day]

    def _offset_if_clean(self, day: int) -> int | None:
        midnight = datetime.combine(date_of(day), datetime.min.time())
        if self._transitions:
            first = bisect_left(self._transitions, midnight - _CLEAN_MARGIN)
            if first < len(self._transitions) and self._transitions[first] <= midnight + _CLEAN_MARGIN:
                return None
        noon = midnight + timedelta(hours=12)
        return _micros_of_offset(self._zone.localize(noon, is_dst=False).utcoffset())

    def _localize_exact(self, day: int, micros: int) -> int:
        key = (day, micros)
        if key not in self._exact:
            naive = datetime.combine(date_of(day), datetime.min.time()) + timedelta(microseconds=micros)
            self._exact[key] = to_micros(self._zone.localize(naive, is_dst=False))
        return self._exact[key]


class ZoneClocks:
    """One ``ZoneClock`` per zone name, made on first use."""

    def __init__(self) -> None:
        self._clocks: dict[str, ZoneClock] = {}

    def __getitem__(self, zone_name: str) -> ZoneClock:
        clock = self._clocks.get(zone_name)
        if clock is None:
            clock = self._clocks[zone_name] = ZoneClock(zone_name)
        return clock
