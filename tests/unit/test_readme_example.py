"""The worked example of the README, computed by hand there and checked here."""

from __future__ import annotations

from datetime import datetime

import pytz

from domain.model.clock import to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import render_csv
from domain.model.uptime import UptimeCalculator

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


NEW_YORK = pytz.timezone("America/New_York")
UTC_ZONE = StoreTimezones({"overnight": "UTC"})


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return to_micros(pytz.utc.localize(datetime(year, month, day, hour, minute)))


def test_fall_back_day_open_00_00_to_00_00_lasts_25_hours() -> None:
    polls = StatusPolls.from_rows(
        [
            ("sunday", utc(2023, 11, 5, 5, 30), False),  # the first 01:30, EDT
            ("sunday", utc(2023, 11, 5, 15), True),  # 10:00 EST
            ("sunday", utc(2023, 11, 6, 17), True),  # now: Monday 12:00 EST, closed
        ]
    )
    hours = BusinessHours.from_rows([("sunday", 6, 0, 0)])
    zones = StoreTimezones({"sunday": "America/New_York"})

    rows = UptimeCalculator().compute(utc(2023, 11, 6, 17), polls, hours, zones)

    # Sunday 00:00 EDT (04:00 UTC) to Monday 00:00 EST (05:00 UTC): 25 h,
    # down 04:00-15:00 UTC = 11 h, up 15:00-05:00 UTC = 14 h; the day window
    # from Sunday 17:00 UTC holds 12 h of it.
    assert int(rows.uptime_week[0] + rows.downtime_week[0]) == 25 * HOUR
    assert render_csv(rows).splitlines()[1] == "sunday,0.00,12.00,14.00,0.00,0.00,11.00"


def test_overnight_row_of_the_date_before_the_week_runs_into_it() -> None:
    now = utc(2023, 1, 31, 2)  # Tuesday; the week starts Tuesday 01-24 02:00
    polls = StatusPolls.from_rows([("overnight", utc(2023, 1, 24, 3), False), ("overnight", now, True)])
    hours = BusinessHours.from_rows([("overnight", 0, 18 * HOUR, 3 * HOUR + HOUR // 2)])

    rows = UptimeCalculator().compute(now, polls, hours, UTC_ZONE)

    # Monday 01-23 18:00 -> 01-24 03:30 covers the week's first 1.5 h (down),
    # Monday 01-30 18:00 -> now 8 h (down until midnight, up after).
    assert render_csv(rows).splitlines()[1] == "overnight,60.00,2.00,2.00,0.00,6.00,7.50"
