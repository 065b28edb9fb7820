"""The worked example of the README, computed by hand there and checked here."""

from __future__ import annotations

from datetime import datetime

import pytz

from domain.clock import to_micros
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.report import render_csv
from domain.uptime import UptimeCalculator

CHICAGO = pytz.timezone("America/Chicago")
HOUR = 3600 * 1_000_000


def chicago(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return to_micros(CHICAGO.localize(datetime(year, month, day, hour, minute)))


def test_worked_example_of_the_readme() -> None:
    polls = StatusPolls.from_rows(
        [
            ("store-1", chicago(2023, 1, 23, 10, 14), True),
            ("store-1", chicago(2023, 1, 23, 13, 2), False),
            ("store-1", chicago(2023, 1, 23, 15, 45), True),
        ]
    )
    # Mondays 09:00-17:00; no timezone row, so America/Chicago.
    hours = BusinessHours.from_rows([("store-1", 0, 9 * HOUR, 17 * HOUR)])

    rows = UptimeCalculator().compute(chicago(2023, 1, 23, 16, 30), polls, hours, StoreTimezones())

    # hour 15:30-16:30: down until 15:45, up after -> 45 min up, 15 down.
    # day: open 09:00-16:30 = 7.5 h; down 13:02-15:45 = 2 h 43 min = 2.7167 h.
    # week: adds last Monday 16:30-17:00, up (the earliest poll after decides).
    assert render_csv(rows).splitlines()[1] == "store-1,45.00,4.78,5.28,15.00,2.72,2.72"
