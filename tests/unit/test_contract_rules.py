"""One small case per rule of the report contract, with figures worked out by hand.

Every case runs twice: against ``UptimeCalculator`` and against the reference
implementation in ``reference.py``; both must give the literal figures below, to
the microsecond. Figures are
``(uptime_hour, uptime_day, uptime_week, downtime_hour, downtime_day, downtime_week)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pytest
from reference import Figures, HoursRow, PollRow, reference_report

from domain.model.clock import MICROS_PER_HOUR as H
from domain.model.clock import MICROS_PER_MINUTE as M
from domain.model.clock import MICROS_PER_SECOND as S
from domain.model.clock import to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import ReportRows

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
ON, OFF = True, False

Compute = Callable[[int, Sequence[PollRow], Sequence[HoursRow], Mapping[str, str]], dict[str, Figures]]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> int:
    return to_micros(datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc))


def local(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> int:
    """A local time of day, as BusinessHours holds it."""
    return ((hour * 60 + minute) * 60 + second) * S + micro


def rows_as_dict(rows: ReportRows) -> dict[str, Figures]:
    return {
        store_id: (
            int(rows.uptime_hour[i]),
            int(rows.uptime_day[i]),
            int(rows.uptime_week[i]),
            int(rows.downtime_hour[i]),
            int(rows.downtime_day[i]),
            int(rows.downtime_week[i]),
        )
        for i, store_id in enumerate(rows.store_ids)
    }


def production(
    now_us: int, polls: Sequence[PollRow], hours: Sequence[HoursRow], timezones: Mapping[str, str]
) -> dict[str, Figures]:
    from domain.model.uptime import UptimeCalculator

    # Called untyped: mypy cannot see through the ``dict`` converter of StoreTimezones.
    make_timezones: Any = StoreTimezones
    rows = UptimeCalculator().compute(
        now_us, StatusPolls.from_rows(polls), BusinessHours.from_rows(hours), make_timezones(dict(timezones))
    )
    assert list(rows.store_ids) == sorted(rows.store_ids)
    return rows_as_dict(rows)


def reference(
    now_us: int, polls: Sequence[PollRow], hours: Sequence[HoursRow], timezones: Mapping[str, str]
) -> dict[str, Figures]:
    return reference_report(now_us, polls, hours, timezones)


@pytest.fixture(params=["production", "reference"])
def compute(request: pytest.FixtureRequest) -> Compute:
    implementations: dict[str, Compute] = {"production": production, "reference": reference}
    return implementations[request.param]


# The usual "now": Wednesday 2023-01-25 12:00 UTC.
#   hour = [01-25 11:00, 12:00), day = [01-24 12:00, 01-25 12:00), week = [01-18 12:00, 01-25 12:00)
NOW = utc(2023, 1, 25, 12)
ALL_UP = (60 * M, 24 * H, 168 * H, 0, 0, 0)


# --- the status timeline ------------------------------------------------------------


def test_status_holds_until_the_next_poll(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 25, 11, 15), ON),
        ("s", utc(2023, 1, 25, 11, 40), OFF),
        ("s", NOW, ON),
    ]
    # 01-25: ON until 11:40, OFF 11:40-12:00; days before: earliest poll after = ON.
    # (Nearest-poll interpolation would give 22.5 min down instead of 20.)
    assert compute(NOW, polls, [], {"s": "UTC"}) == {
        "s": (40 * M, 24 * H - 20 * M, 168 * H - 20 * M, 20 * M, 20 * M, 20 * M)
    }


def test_before_the_first_poll_of_a_day_its_status_holds(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 24, 20), ON),
        ("s", utc(2023, 1, 25, 6), OFF),
        ("s", utc(2023, 1, 25, 11, 30), ON),
        ("s", NOW, ON),
    ]
    # 01-25 00:00-06:00 takes the first poll of 01-25 (OFF), not 01-24's last (ON).
    # 01-18..01-24: ON (01-24 before 20:00 = first poll's status; earlier days = earliest after).
    # OFF: 01-25 00:00-11:30 = 11.5 h.  hour: ON 11:30-12:00.
    assert compute(NOW, polls, [], {"s": "UTC"}) == {
        "s": (30 * M, 12 * H + 30 * M, 156 * H + 30 * M, 30 * M, 11 * H + 30 * M, 11 * H + 30 * M)
    }


def test_after_the_last_poll_of_a_day_its_status_holds_to_the_end_of_the_day(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 24, 10), OFF),
        ("s", utc(2023, 1, 25, 11), ON),
        ("s", NOW, ON),
    ]
    # 01-24 10:00-24:00 OFF, and no further; 01-25 is ON from 00:00 (its first poll).
    # Days before 01-24 take the earliest poll after: OFF.
    # day: OFF 01-24 12:00-24:00 = 12 h, ON 01-25 00:00-12:00 = 12 h.
    # week: ON 12 h, OFF 168 - 12 = 156 h.
    assert compute(NOW, polls, [], {"s": "UTC"}) == {"s": (60 * M, 12 * H, 12 * H, 0, 12 * H, 156 * H)}


def test_a_day_without_polls_takes_the_latest_poll_before_it(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 10, 8), OFF),  # before the week: still used
        ("s", utc(2023, 1, 20, 8), ON),
        ("s", utc(2023, 1, 20, 9), OFF),
        ("s", NOW, ON),
    ]
    # 01-18 (12:00-24:00) and 01-19: latest before = 01-10 OFF  -> 12 + 24 = 36 h OFF
    # 01-20: ON 00:00-09:00 (9 h), OFF 09:00-24:00 (15 h)
    # 01-21..01-24: latest before = 01-20 09:00 OFF            -> 96 h OFF
    # 01-25: ON 00:00-12:00 (only poll is at now)               -> 12 h ON
    # week: ON 9 + 12 = 21 h; OFF 36 + 15 + 96 = 147 h.  day: OFF 12 h, ON 12 h.
    assert compute(NOW, polls, [], {"s": "UTC"}) == {"s": (60 * M, 12 * H, 21 * H, 0, 12 * H, 147 * H)}


def test_a_day_with_no_poll_before_it_takes_the_earliest_poll_after_it(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 22, 15), OFF),
        ("s", utc(2023, 1, 23, 10), ON),
        ("s", NOW, ON),
    ]
    # 01-18..01-21: nothing before -> earliest after = 01-22 15:00 OFF (not the later ON)
    # 01-22: OFF all day; 01-23: ON all day (first poll's status); 01-24: ON (latest before)
    # week: OFF 12 + 24 * 4 = 108 h; ON 24 + 24 + 12 = 60 h.
    assert compute(NOW, polls, [], {"s": "UTC"}) == {"s": (60 * M, 24 * H, 60 * H, 0, 0, 108 * H)}


def test_days_are_local_calendar_days_not_utc_days(compute: Compute) -> None:
    # New York in January is UTC-5: local midnight of 01-25 is 05:00 UTC.
    polls = [
        ("s", utc(2023, 1, 25, 3), OFF),  # 01-24 22:00 local
        ("s", utc(2023, 1, 25, 11), ON),  # 01-25 06:00 local
        ("s", NOW, ON),
    ]
    # Local 01-24 = [01-24 05:00, 01-25 05:00) UTC: OFF; local 01-25 from 05:00 UTC: ON.
    # With UTC days 01-25 would be OFF until 11:00 instead of 05:00.
    # week: ON 05:00-12:00 = 7 h, OFF 161 h.  day: ON 7 h, OFF 17 h.
    assert compute(NOW, polls, [], {"s": "America/New_York"}) == {
        "s": (60 * M, 7 * H, 7 * H, 0, 17 * H, 161 * H)
    }


def test_a_store_without_timezone_is_in_chicago(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 25, 5), OFF),  # 01-24 23:00 CST
        ("s", utc(2023, 1, 25, 7), ON),  # 01-25 01:00 CST
        ("s", NOW, ON),
    ]
    # Local 01-25 starts at 06:00 UTC (CST = UTC-6): ON 06:00-12:00 = 6 h.
    # (UTC days would give 5 h, New York days 5 h too.)
    assert compute(NOW, polls, [], {}) == {"s": (60 * M, 6 * H, 6 * H, 0, 18 * H, 162 * H)}


def test_business_hours_are_local_time_in_the_default_zone(compute: Compute) -> None:
    polls = [("s", NOW, ON)]
    # WED 05:00-07:00 CST = 11:00-13:00 UTC; 01-25: 11:00-12:00 (clipped at now),
    # 01-18: 12:00-13:00 (clipped at the week start).
    assert compute(NOW, polls, [("s", WED, local(5), local(7))], {}) == {
        "s": (60 * M, 60 * M, 2 * H, 0, 0, 0)
    }


def test_a_stale_store_keeps_its_last_status(compute: Compute) -> None:
    polls = [
        ("stale-off", utc(2023, 1, 2, 10), OFF),
        ("stale-on", utc(2022, 12, 30, 10), ON),
        ("fresh", NOW, ON),
    ]
    assert compute(NOW, polls, [], {"stale-off": "UTC", "stale-on": "UTC", "fresh": "UTC"}) == {
        "fresh": ALL_UP,
        "stale-off": (0, 0, 0, 60 * M, 24 * H, 168 * H),
        "stale-on": ALL_UP,
    }


# --- the windows ----------------------------------------------------------------------


def test_windows_are_half_open(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 25, 10), OFF),
        ("s", NOW - H, ON),  # exactly at the hour window's start
        ("s", NOW, OFF),  # exactly at now: its status lies outside every window
    ]
    # hour [11:00, 12:00) is ON in full; 01-25 00:00-11:00 OFF; days before: OFF (earliest after).
    assert compute(NOW, polls, [], {"s": "UTC"}) == {"s": (60 * M, 1 * H, 1 * H, 0, 23 * H, 167 * H)}


def test_business_hours_are_clipped_to_the_week_start_and_now(compute: Compute) -> None:
    polls = [("s", NOW, ON)]
    # WED 11:59:59-12:00:01 on 01-18 (week starts 12:00:00) and on 01-25 (now = 12:00:00):
    # 1 s inside the week each time.
    hours = [("s", WED, local(11, 59, 59), local(12, 0, 1))]
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {"s": (1 * S, 1 * S, 2 * S, 0, 0, 0)}


# --- business hours ---------------------------------------------------------------------


def test_a_store_without_hours_is_open_all_week(compute: Compute) -> None:
    polls = [
        ("all-week", utc(2023, 1, 20, 6), OFF),
        ("all-week", NOW, ON),
        ("wed-only", NOW, ON),
    ]
    hours = [("wed-only", WED, local(9), local(10))]
    # all-week: OFF 01-18 12:00 .. 01-25 00:00 = 156 h, ON 01-25 00:00-12:00.
    # wed-only: closed on every other day; 01-18 09:00-10:00 lies before the week; 01-25 09:00-10:00.
    assert compute(NOW, polls, hours, {"all-week": "UTC", "wed-only": "UTC"}) == {
        "all-week": (60 * M, 12 * H, 12 * H, 0, 12 * H, 156 * H),
        "wed-only": (0, 1 * H, 1 * H, 0, 0, 0),
    }


def test_a_store_with_rows_for_some_days_is_closed_on_the_others(compute: Compute) -> None:
    polls = [("s", utc(2023, 1, 20), OFF), ("s", NOW, ON)]
    hours = [("s", MON, local(8), local(20))]
    # Only Monday 01-23 08:00-20:00 = 12 h, OFF (latest poll before is 01-20's).
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {"s": (0, 0, 0, 0, 0, 12 * H)}


def test_overnight_row_runs_into_the_next_day(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 24, 23), ON),
        ("s", utc(2023, 1, 25, 1), OFF),
        ("s", NOW, ON),
    ]
    hours = [("s", TUE, local(22), local(2))]
    # Open TUE 01-24 22:00 -> 01-25 02:00. 01-24 is ON all day (one poll);
    # 01-25 starts OFF (its first poll, at 01:00, is OFF).  ON 22-24 = 2 h, OFF 00-02 = 2 h.
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {"s": (0, 2 * H, 2 * H, 0, 2 * H, 2 * H)}


def test_overnight_row_of_the_date_before_the_week_counts_where_it_runs_into_the_week(
    compute: Compute,
) -> None:
    polls = [("s", NOW, ON)]
    hours = [("s", TUE, local(22), local(14)), ("s", WED, local(13), local(15))]
    # The week starts WED 01-18 12:00. TUE 01-17 22:00 -> 01-18 14:00 runs into it: 12:00-14:00,
    # united with WED 01-18 13:00-15:00 -> 12:00-15:00 = 3 h.
    # TUE 01-24 22:00 -> 01-25 14:00: 14 h up to now; the hour window is inside it.
    # week 3 + 14 = 17 h; day 14 h; hour 60 min.
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {"s": (60 * M, 14 * H, 17 * H, 0, 0, 0)}


def test_equal_start_and_end_is_open_24_hours(compute: Compute) -> None:
    polls = [("s", utc(2023, 1, 24, 16), OFF), ("s", NOW, ON)]
    hours = [("s", TUE, local(10), local(10)), ("s", WED, local(0), local(0))]
    # TUE 01-24 10:00 -> 01-25 10:00; WED 01-18 00:00 -> 01-19 00:00 and 01-25 00:00 -> 01-26 00:00.
    # Timeline: OFF until 01-25 00:00 (01-24's only poll; earlier days earliest after), then ON.
    # OFF: 01-18 12:00-24:00 (12 h) + 01-24 10:00-24:00 (14 h) = 26 h.
    # ON: 01-25 00:00-12:00 = 12 h (00:00-10:00 covered by both rows, counted once).
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {"s": (60 * M, 12 * H, 12 * H, 0, 12 * H, 26 * H)}


def test_overlapping_touching_and_repeated_rows_count_once(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 24, 10), ON),
        ("s", utc(2023, 1, 24, 12, 30), OFF),
        ("s", NOW, ON),
    ]
    hours = [
        ("s", TUE, local(9), local(12)),
        ("s", TUE, local(11), local(13)),  # overlaps
        ("s", TUE, local(13), local(14)),  # touches
        ("s", TUE, local(9), local(12)),  # repeated
    ]
    # Open 01-24 09:00-14:00 (5 h). ON 09:00-12:30 = 3.5 h, OFF 12:30-14:00 = 1.5 h.
    # day from 01-24 12:00: ON 30 min, OFF 1.5 h.
    assert compute(NOW, polls, hours, {"s": "UTC"}) == {
        "s": (0, 30 * M, 3 * H + 30 * M, 0, 1 * H + 30 * M, 1 * H + 30 * M)
    }


def test_uptime_plus_downtime_is_business_time_to_the_microsecond(compute: Compute) -> None:
    polls = [
        ("s", utc(2023, 1, 25, 11, 17, 3, 123_457), OFF),
        ("s", NOW - 1, ON),
        ("s", NOW, ON),
    ]
    hours = [("s", WED, local(8), local(16))]
    # Open 01-18 12:00-16:00 and 01-25 08:00-12:00 (8 h); ON only in [now - 1 µs, now).
    result = compute(NOW, polls, hours, {"s": "UTC"})
    assert result == {"s": (1, 1, 1, 1 * H - 1, 4 * H - 1, 8 * H - 1)}
    up_hour, up_day, up_week, down_hour, down_day, down_week = result["s"]
    assert (up_hour + down_hour, up_day + down_day, up_week + down_week) == (1 * H, 4 * H, 8 * H)


# --- timezones and DST --------------------------------------------------------------------


def test_spring_forward_in_new_york(compute: Compute) -> None:
    # 2023-03-12 (SUN): 02:00 EST -> 03:00 EDT at 07:00 UTC; local day = [05:00, 03-13 04:00) UTC = 23 h.
    now = utc(2023, 3, 14, 12)  # week [03-07 12:00, 03-14 12:00), day [03-13 12:00, ...)
    polls = [
        # "hours": SUN 01:00-04:00 local = [06:00, 08:00) UTC: 2 h, not 3.
        ("hours", utc(2023, 3, 12, 6, 30), ON),  # 01:30 EST
        ("hours", utc(2023, 3, 12, 7, 30), OFF),  # 03:30 EDT
        ("hours", now, ON),
        # "day": open all week; local 03-12 is OFF and ends at 04:00 UTC on 03-13.
        ("day", utc(2023, 3, 12, 10), OFF),
        ("day", utc(2023, 3, 13, 12), ON),
        ("day", now, ON),
        # "24h": SAT 12:00=12:00 -> SAT 12:00 EST to SUN 12:00 EDT = [03-11 17:00, 03-12 16:00) UTC:
        # 23 h, as the wall clock says.
        ("24h", now, ON),
        # "skipped": SUN 02:30-03:30: 02:30 does not exist; is_dst=False puts it at 07:30 UTC,
        # the same instant as 03:30 EDT: open 0 s.  Overnight SAT 23:00 -> 02:30 = [04:00, 07:30) UTC.
        ("skipped", now, ON),
    ]
    hours = [
        ("hours", SUN, local(1), local(4)),
        ("24h", SAT, local(12), local(12)),
        ("skipped", SUN, local(2, 30), local(3, 30)),
        ("skipped", SAT, local(23), local(2, 30)),
    ]
    zones = {store: "America/New_York" for store in ("hours", "day", "24h", "skipped")}
    assert compute(now, polls, hours, zones) == {
        # ON 06:00-07:30, OFF 07:30-08:00
        "hours": (0, 0, 1 * H + 30 * M, 0, 0, 30 * M),
        # OFF from 03-07 12:00 to 03-13 04:00 = 5 d 16 h = 136 h; ON 168 - 136 = 32 h
        "day": (60 * M, 24 * H, 32 * H, 0, 0, 136 * H),
        "24h": (0, 0, 23 * H, 0, 0, 0),
        "skipped": (0, 0, 3 * H + 30 * M, 0, 0, 0),
    }


def test_fall_back_in_new_york(compute: Compute) -> None:
    # 2023-11-05 (SUN): 02:00 EDT -> 01:00 EST at 06:00 UTC; local day = [04:00, 11-06 05:00) UTC = 25 h.
    now = utc(2023, 11, 7, 12)  # week [10-31 12:00, 11-07 12:00), day [11-06 12:00, ...)
    polls = [
        # "hours": SUN 00:30-01:30; 01:30 is repeated, is_dst=False takes EST: [04:30, 06:30) UTC.
        ("hours", utc(2023, 11, 5, 5, 30), ON),  # 01:30 EDT (first time)
        ("hours", utc(2023, 11, 5, 6, 15), OFF),  # 01:15 EST (second time, later)
        ("hours", now, ON),
        # "day": open all week; local 11-05 OFF until 11-06 05:00 UTC.
        ("day", utc(2023, 11, 5, 12), OFF),
        ("day", utc(2023, 11, 6, 12), ON),
        ("day", now, ON),
        # "24h": SAT 12:00=12:00 -> SAT 12:00 EDT to SUN 12:00 EST = [11-04 16:00, 11-05 17:00) UTC:
        # 25 h, as the wall clock says.
        ("24h", now, ON),
        # "overnight": SAT 22:00 EDT -> SUN 02:00 EST = [11-05 02:00, 07:00) UTC: 5 h.
        ("overnight", now, ON),
    ]
    hours = [
        ("hours", SUN, local(0, 30), local(1, 30)),
        ("24h", SAT, local(12), local(12)),
        ("overnight", SAT, local(22), local(2)),
    ]
    zones = {store: "America/New_York" for store in ("hours", "day", "24h", "overnight")}
    assert compute(now, polls, hours, zones) == {
        # ON 04:30-06:15, OFF 06:15-06:30
        "hours": (0, 0, 1 * H + 45 * M, 0, 0, 15 * M),
        # OFF from 10-31 12:00 to 11-06 05:00 = 5 d 17 h = 137 h; ON 31 h
        "day": (60 * M, 24 * H, 31 * H, 0, 0, 137 * H),
        "24h": (0, 0, 25 * H, 0, 0, 0),
        "overnight": (0, 0, 5 * H, 0, 0, 0),
    }


def test_skipped_midnight_in_beirut(compute: Compute) -> None:
    # 2023-03-26 (SUN) 00:00 +02 -> 01:00 +03 at 03-25 22:00 UTC: midnight does not exist.
    # localize(03-26 00:00, is_dst=False) = 00:00 +02 = 03-25 22:00 UTC; 03-27 00:00 +03 = 03-26 21:00 UTC.
    # Local days: 03-25 = [03-24 22:00, 03-25 22:00), 03-26 = [03-25 22:00, 03-26 21:00) (23 h).
    now = utc(2023, 3, 28, 12)  # week [03-21 12:00, 03-28 12:00), day [03-27 12:00, ...)
    polls = [
        ("day", utc(2023, 3, 25, 21, 30), ON),  # 03-25 23:30 local
        ("day", utc(2023, 3, 26, 6), OFF),  # 03-26 09:00 local
        ("day", now, ON),
        ("hours", now, ON),
    ]
    # "hours": SUN 00:00-02:00 = [03-25 22:00, 03-25 23:00) UTC: 1 h.
    hours = [("hours", SUN, local(0), local(2))]
    zones = {"day": "Asia/Beirut", "hours": "Asia/Beirut"}
    assert compute(now, polls, hours, zones) == {
        # OFF from 03-25 22:00 through 03-26 and 03-27 (latest before) to 03-27 21:00 = 47 h
        # day: OFF 03-27 12:00-21:00 = 9 h, ON 15 h
        "day": (60 * M, 15 * H, 121 * H, 0, 9 * H, 47 * H),
        "hours": (0, 0, 1 * H, 0, 0, 0),
    }


def test_repeated_midnight_in_havana(compute: Compute) -> None:
    # 2023-11-05 01:00 -04 -> 00:00 -05 at 05:00 UTC: midnight happens twice.
    # is_dst=False takes the second: local 11-05 starts at 05:00 UTC, so local 11-04 is
    # [11-04 04:00, 11-05 05:00) UTC (25 h), and a poll at 04:30 UTC (00:30 -04) belongs to 11-04.
    now = utc(2023, 11, 6, 12)
    polls = [
        ("s", utc(2023, 11, 4, 10), ON),
        ("s", utc(2023, 11, 5, 4, 30), OFF),  # last poll of local 11-04
        ("s", utc(2023, 11, 5, 20), ON),  # only poll of local 11-05
        ("s", now, ON),
    ]
    # Local 11-04: ON until 11-05 04:30 UTC, then OFF 04:30-05:00 (30 min).
    # Local 11-05 [05:00, 11-06 05:00): ON (its only poll). Earlier days: earliest after = ON.
    # The 30 min OFF lie in the week only; the day window starts at 11-05 12:00.
    # (Starting local 11-05 at the first midnight, 04:00 UTC, would give 16 h OFF instead.)
    assert compute(now, polls, [], {"s": "America/Havana"}) == {
        "s": (60 * M, 24 * H, 168 * H - 30 * M, 0, 0, 30 * M)
    }


def test_half_hour_offset_in_kolkata(compute: Compute) -> None:
    # IST = UTC+05:30: local 01-25 = [01-24 18:30, 01-25 18:30) UTC.
    polls = [
        ("s", utc(2023, 1, 24, 20), OFF),  # 01-25 01:30 IST
        ("s", utc(2023, 1, 25, 11, 30), ON),
        ("s", NOW, ON),
    ]
    # WED 09:00-17:45 IST = 03:30-12:15 UTC on 01-18 and 01-25.
    hours = [("s", WED, local(9), local(17, 45))]
    # 01-18: 12:00-12:15 in the week, OFF (earliest poll after) = 15 min.
    # 01-25: 03:30-12:00 up to now: OFF 03:30-11:30 = 8 h, ON 11:30-12:00 = 30 min.
    assert compute(NOW, polls, hours, {"s": "Asia/Kolkata"}) == {
        "s": (30 * M, 30 * M, 30 * M, 30 * M, 8 * H, 8 * H + 15 * M)
    }


def test_half_hour_dst_on_lord_howe(compute: Compute) -> None:
    # 2023-04-02 (SUN): 02:00 +11 -> 01:30 +10:30 at 04-01 15:00 UTC.
    # Local 04-02 = [04-01 13:00, 04-02 13:30) UTC = 24.5 h.
    now = utc(2023, 4, 4, 12)  # week [03-28 12:00, 04-04 12:00), day [04-03 12:00, ...)
    polls = [
        ("day", utc(2023, 4, 2, 3), OFF),
        ("day", utc(2023, 4, 3, 3), ON),
        ("day", now, ON),
        ("hours", now, ON),
    ]
    # "hours": SUN 01:00-02:00: 01:00 +11 = 14:00 UTC, 02:00 +10:30 = 15:30 UTC: 1.5 h.
    hours = [("hours", SUN, local(1), local(2))]
    zones = {"day": "Australia/Lord_Howe", "hours": "Australia/Lord_Howe"}
    assert compute(now, polls, hours, zones) == {
        # OFF from 03-28 12:00 to 04-02 13:30 = 5 d 1.5 h = 121.5 h; ON 46.5 h
        "day": (60 * M, 24 * H, 46 * H + 30 * M, 0, 0, 121 * H + 30 * M),
        "hours": (0, 0, 1 * H + 30 * M, 0, 0, 0),
    }


def test_a_row_that_closes_before_it_opens_after_localizing_is_empty(compute: Compute) -> None:
    # The contract is silent here; the reading pinned: such a row is open for no time.
    # SUN 2023-03-12 02:45-03:15 in New York: 02:45 does not exist, is_dst=False gives
    # 02:45 EST = 07:45 UTC, while 03:15 EDT = 07:15 UTC.
    now = utc(2023, 3, 14, 12)
    polls = [("s", now, ON)]
    hours = [("s", SUN, local(2, 45), local(3, 15)), ("s", MON, local(9), local(10))]
    # Only MON 03-13 09:00-10:00 EDT = 13:00-14:00 UTC counts (inside the day window too):
    # 1 h, never 1 h - 30 min.
    assert compute(now, polls, hours, {"s": "America/New_York"}) == {"s": (0, 1 * H, 1 * H, 0, 0, 0)}


def test_a_date_the_zone_skipped_has_no_day_but_still_lays_its_rows(compute: Compute) -> None:
    # Samoa skipped FRI 2011-12-30: 12-29 24:00 -10 became 12-31 00:00 +14 at 12-30 10:00 UTC.
    # Local 12-30 = [localize(12-30 00:00), localize(12-31 00:00)) = [10:00, 10:00) UTC: an empty
    # day, so no status is laid on it. Rows repeat on every local date, though, and localize
    # still answers for 12-30: its FRI row 09:00-10:00 is 09:00-10:00 -10 = 19:00-20:00 UTC.
    now = utc(2012, 1, 1)  # week [12-25 00:00, 01-01 00:00), day [12-31 00:00, ...)
    polls = [
        ("fri-only", now, ON),
        ("all-week", utc(2011, 12, 29, 12), OFF),  # local 12-29 02:00
        ("all-week", now, ON),
    ]
    # FRI 12-23 09:00-10:00 -10 = 19:00-20:00 UTC lies before the week; FRI 12-30's row is
    # 12-30 19:00-20:00 UTC, inside local 12-31, which takes the earliest poll after (ON).
    hours = [("fri-only", FRI, local(9), local(10))]
    zones = {"fri-only": "Pacific/Apia", "all-week": "Pacific/Apia"}
    assert compute(now, polls, hours, zones) == {
        "fri-only": (0, 0, 1 * H, 0, 0, 0),
        # Local 12-29 [12-29 10:00, 12-30 10:00) OFF; 12-31 [12-30 10:00, 12-31 10:00) OFF (latest
        # before); local 01-01 from 12-31 10:00 UTC ON (its only poll, at now). Earlier: OFF.
        # ON 12-31 10:00 -> 01-01 00:00 = 14 h; OFF 168 - 14 = 154 h; day: OFF 10 h, ON 14 h.
        "all-week": (60 * M, 14 * H, 14 * H, 0, 10 * H, 154 * H),
    }


# --- which stores ---------------------------------------------------------------------


def test_only_polled_stores_appear_in_string_order(compute: Compute) -> None:
    polls = [("9", NOW, ON), ("10", NOW, OFF), ("1000000000000000001", NOW, ON)]
    hours = [("no-polls", WED, local(0), local(23))]
    result = compute(NOW, polls, hours, {"no-polls": "UTC"})
    assert list(result) == ["10", "1000000000000000001", "9"]
    assert result["10"] == (0, 0, 0, 60 * M, 24 * H, 168 * H)
