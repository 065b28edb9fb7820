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


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset, as an aware UTC datetime.

    ``2023-01-25T12:00:00Z``, ``2023-01-25 07:00:00.5-05:00``... Anything else
    (a date alone, a time without an offset) is no instant: ``ValueError``
    says what is wrong, in words that follow the name of the value
    ("as_of has no UTC offset...").
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not an ISO 8601 date and time such as 2023-01-25T12:00:00Z") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("has no UTC offset, so it is no instant: add Z or +HH:MM, as in 2023-01-25T12:00:00Z")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 in UTC") from None
