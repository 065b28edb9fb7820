"""Instants as integer microseconds since the Unix epoch, UTC.

Polls carry microseconds; integers keep every sum exact, so uptime plus
downtime equals business time to the microsecond.
"""

from datetime import datetime, timedelta, timezone

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_micros(instant: datetime) -> int:
    """UTC microseconds of an aware datetime."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: an instant needs a timezone")
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Aware UTC datetime of integer microseconds."""
    return _EPOCH + timedelta(microseconds=int(micros))
