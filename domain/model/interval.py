"""Half-open time intervals ``[start, end)`` in UTC microseconds."""

from __future__ import annotations

from datetime import datetime

import attrs

from domain.model.clock import from_micros, to_micros


def _end_not_before_start(instance: Interval, attribute: attrs.Attribute[int], end: int) -> None:
    if end < instance.start:
        raise ValueError(f"interval ends ({end}) before it starts ({instance.start})")


@attrs.frozen(order=True)
class Interval:
    """``[start, end)``; both ends are UTC microseconds since the epoch."""

    start: int = attrs.field(converter=int)
    end: int = attrs.field(converter=int, validator=_end_not_before_start)

    @classmethod
    def between(cls, start: datetime, end: datetime) -> Interval:
        return cls(to_micros(start), to_micros(end))

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def is_empty(self) -> bool:
        return self.end == self.start

    def contains(self, instant: int) -> bool:
        return self.start <= instant < self.end

    def intersection(self, other: Interval) -> Interval:
        """The common part; an empty interval when they do not meet."""
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        return Interval(start, max(start, end))

    def shifted(self, micros: int) -> Interval:
        return Interval(self.start + micros, self.end + micros)

    def as_datetimes(self) -> tuple[datetime, datetime]:
        return from_micros(self.start), from_micros(self.end)


def union_length(intervals: list[Interval]) -> int:
    """Total length covered by possibly overlapping intervals (counted once)."""
    total = 0
    covered_until: int | None = None
    for interval in sorted(intervals):
        if covered_until is None or interval.start > covered_until:
            total += interval.length
            covered_until = interval.end
        elif interval.end > covered_until:
            total += interval.end - covered_until
            covered_until = interval.end
    return total
