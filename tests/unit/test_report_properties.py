"""Properties of the report over random small inputs.

Random stores in DST-heavy and odd-offset zones, random business hours (overnight,
24-hour, overlapping rows) and random polls over about nine days around a DST
change, with now = the latest poll. The main property: ``UptimeCalculator``
agrees with the literal reference implementation to the microsecond.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import attrs
import pytz
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import Figures, HoursRow, PollRow, reference_business_time, reference_report

from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, MICROS_PER_SECOND, to_micros
from domain.model.inputs import DEFAULT_TIMEZONE, BusinessHours, StatusPolls, StoreTimezones
from domain.model.uptime import UptimeCalculator, earliest_poll_needed

WEEK = 7 * MICROS_PER_DAY
QUARTER_HOUR = 15 * MICROS_PER_MINUTE
POLL_SPAN = 9 * MICROS_PER_DAY
EXAMPLES = settings(max_examples=150, deadline=None)

# Zones with DST, skipped or repeated midnights, half-hour DST, odd offsets.
DST_ZONES = (
    "UTC",
    "America/Chicago",
    "America/New_York",
    "America/St_Johns",
    "America/Havana",
    "America/Santiago",
    "Asia/Beirut",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Asia/Kathmandu",
)
# Zones whose offset has not changed for decades: shifting by whole weeks keeps local times.
FIXED_ZONES = ("UTC", "Etc/GMT+5", "Etc/GMT-14", "Asia/Kolkata", "Asia/Kathmandu")


def utc_midnight(date_text: str) -> int:
    return to_micros(datetime.fromisoformat(date_text).replace(tzinfo=timezone.utc))


# UTC midnights a few days before DST changes of 2023 (and one quiet week): with polls
# over nine days from there, the change falls inside the week window.
ANCHORS = tuple(
    utc_midnight(date_text)
    for date_text in (
        "2023-01-17",
        "2023-03-07",  # New York, Havana, St Johns, Chicago: 03-12
        "2023-03-20",  # Beirut, London: 03-26
        "2023-03-28",  # Santiago, Lord Howe, Chatham: 04-02
        "2023-08-29",  # Santiago: 09-03
        "2023-09-19",  # Chatham: 09-24
        "2023-09-25",  # Lord Howe: 10-01
        "2023-10-23",  # Beirut, London: 10-29
        "2023-10-31",  # New York, Havana, Chicago: 11-05
    )
)

# Store ids that sort differently as strings and as numbers.
STORE_IDS = ("1", "10", "9", "a,b", "8419537941919820732")


@attrs.frozen
class Inputs:
    now_us: int
    polls: list[PollRow]
    hours: list[HoursRow]
    timezones: dict[str, str]

    def zone_of(self, store_id: str) -> str:
        return self.timezones.get(store_id, DEFAULT_TIMEZONE)

    def hours_of(self, store_id: str) -> list[HoursRow]:
        return [row for row in self.hours if row[0] == store_id]


# Local times of day where DST changes happen, plus the ends of the day.
NOTABLE_TIMES = tuple(
    minutes * MICROS_PER_MINUTE for minutes in (0, 30, 60, 90, 120, 150, 165, 180, 225, 720, 1380, 1410)
) + (86_399 * MICROS_PER_SECOND, 86_400 * MICROS_PER_SECOND - 1)

times_of_day = st.one_of(
    st.sampled_from(NOTABLE_TIMES),
    st.integers(0, 95).map(lambda quarter: quarter * QUARTER_HOUR),
    st.integers(0, MICROS_PER_DAY - 1),
)

# Offsets of polls from the anchor: on a quarter-hour grid (so they hit local
# midnights of every zone here), on whole minutes, anywhere, or in the last hours
# of the span (so the hour and day windows see changes).
poll_offsets = st.one_of(
    st.integers(0, POLL_SPAN // QUARTER_HOUR - 1).map(lambda n: n * QUARTER_HOUR),
    st.integers(0, POLL_SPAN // MICROS_PER_MINUTE - 1).map(lambda n: n * MICROS_PER_MINUTE),
    st.integers(0, POLL_SPAN - 1),
    st.integers(POLL_SPAN - 3 * MICROS_PER_HOUR, POLL_SPAN - 1),
)
# Polls long before the others: stale stores, and history a report must look back on.
early_offsets = st.integers(-30 * MICROS_PER_DAY, -1)


# Made once, drawn from for every store: a strategy made anew is validated anew at each draw.
HOURS_ROW_COUNTS = st.sampled_from((0, 0, 1, 2, 3, 5, 8))
WEEKDAYS = st.integers(0, 6)
ONE_IN_SIX = st.integers(0, 5)
SOME_STORE_IDS = st.lists(st.sampled_from(STORE_IDS), min_size=1, max_size=4, unique=True)
POLL_OFFSET_LISTS = st.lists(poll_offsets, min_size=1, max_size=12, unique=True)
EARLY_OFFSET_LISTS = st.lists(early_offsets, max_size=2, unique=True)


@st.composite
def hours_rows(draw: st.DrawFn, store_id: str) -> list[HoursRow]:
    """No rows (open 24/7), or a few: plain, overnight, 24-hour, overlapping."""
    count = draw(HOURS_ROW_COUNTS)
    rows = []
    for _ in range(count):
        weekday = draw(WEEKDAYS)
        start = draw(times_of_day)
        end = start if draw(ONE_IN_SIX) == 0 else draw(times_of_day)
        rows.append((store_id, weekday, start, end))
    return rows


@st.composite
def report_inputs(draw: st.DrawFn, zones: Sequence[str] = DST_ZONES, allow_default: bool = True) -> Inputs:
    store_ids = draw(SOME_STORE_IDS)
    anchor = draw(st.sampled_from(ANCHORS))
    polls: list[PollRow] = []
    hours: list[HoursRow] = []
    timezones: dict[str, str] = {}
    for store_id in store_ids:
        offsets = draw(POLL_OFFSET_LISTS)
        offsets += draw(EARLY_OFFSET_LISTS)
        polls.extend((store_id, anchor + offset, draw(st.booleans())) for offset in offsets)
        hours.extend(draw(hours_rows(store_id)))
        # None: the store is left out of the timezone list and uses the default zone.
        zone = draw(st.sampled_from((None, *zones) if allow_default else tuple(zones)))
        if zone is not None:
            timezones[store_id] = zone
    now_us = max(instant for _, instant, _ in polls)
    return Inputs(now_us, polls, hours, timezones)


def calculate(inputs: Inputs) -> dict[str, Figures]:
    # Called untyped: mypy cannot see through the ``dict`` converter of StoreTimezones.
    make_timezones: Any = StoreTimezones
    rows = UptimeCalculator().compute(
        inputs.now_us,
        StatusPolls.from_rows(inputs.polls),
        BusinessHours.from_rows(inputs.hours),
        make_timezones(inputs.timezones),
    )
    assert list(rows.store_ids) == sorted({store_id for store_id, _, _ in inputs.polls})
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


def oracle(inputs: Inputs) -> dict[str, Figures]:
    return reference_report(inputs.now_us, inputs.polls, inputs.hours, inputs.timezones)


@EXAMPLES
@given(report_inputs())
def test_calculator_agrees_with_the_reference_to_the_microsecond(inputs: Inputs) -> None:
    assert calculate(inputs) == oracle(inputs)


@EXAMPLES
@given(report_inputs())
def test_uptime_plus_downtime_is_business_time(inputs: Inputs) -> None:
    for store_id, (up_hour, up_day, up_week, down_hour, down_day, down_week) in calculate(inputs).items():
        business = reference_business_time(inputs.now_us, inputs.hours_of(store_id), inputs.zone_of(store_id))
        assert (up_hour + down_hour, up_day + down_day, up_week + down_week) == business


@EXAMPLES
@given(report_inputs())
def test_figures_grow_with_the_window_and_stay_within_it(inputs: Inputs) -> None:
    for up_hour, up_day, up_week, down_hour, down_day, down_week in calculate(inputs).values():
        assert 0 <= up_hour <= up_day <= up_week
        assert 0 <= down_hour <= down_day <= down_week
        assert up_hour + down_hour <= MICROS_PER_HOUR
        assert up_day + down_day <= MICROS_PER_DAY
        assert up_week + down_week <= WEEK


@EXAMPLES
@given(report_inputs())
def test_a_store_without_hours_is_open_the_whole_of_every_window(inputs: Inputs) -> None:
    without_hours = {store_id for store_id, _, _ in inputs.polls} - {row[0] for row in inputs.hours}
    result = calculate(inputs)
    for store_id in without_hours:
        up_hour, up_day, up_week, down_hour, down_day, down_week = result[store_id]
        assert (up_hour + down_hour, up_day + down_day, up_week + down_week) == (
            MICROS_PER_HOUR,
            MICROS_PER_DAY,
            WEEK,
        )


@EXAMPLES
@given(report_inputs(zones=FIXED_ZONES, allow_default=False), st.integers(-300, 300))
def test_shifting_everything_by_whole_weeks_changes_nothing(inputs: Inputs, weeks: int) -> None:
    shift = weeks * WEEK
    shifted = Inputs(
        inputs.now_us + shift,
        [(store_id, instant + shift, active) for store_id, instant, active in inputs.polls],
        inputs.hours,
        inputs.timezones,
    )
    assert calculate(shifted) == calculate(inputs)
    assert oracle(shifted) == oracle(inputs)


@EXAMPLES
@given(report_inputs(), st.integers(0, 2**32 - 1))
def test_row_order_and_repeated_hours_rows_change_nothing(inputs: Inputs, seed: int) -> None:
    shuffler = random.Random(seed)
    polls = list(inputs.polls)
    shuffler.shuffle(polls)
    hours = inputs.hours + inputs.hours[: len(inputs.hours) // 2]
    shuffler.shuffle(hours)
    assert calculate(Inputs(inputs.now_us, polls, hours, inputs.timezones)) == calculate(inputs)


@EXAMPLES
@given(report_inputs())
def test_polls_before_the_lookback_matter_only_through_each_stores_latest(inputs: Inputs) -> None:
    # What a repository hands the calculator (``polls_since``): every poll from
    # ``earliest_poll_needed(now)`` on, plus each store's latest poll before it.
    start = earliest_poll_needed(inputs.now_us)
    latest_before: dict[str, PollRow] = {}
    for poll in sorted(inputs.polls, key=lambda poll: poll[1]):
        if poll[1] < start:
            latest_before[poll[0]] = poll
    kept = [poll for poll in inputs.polls if poll[1] >= start] + list(latest_before.values())
    assert calculate(attrs.evolve(inputs, polls=kept)) == oracle(inputs)


# Zones whose clocks change in every way there is: north and south, 30- and 45-minute
# offsets and DST steps, changes at midnight (Asuncion, Tehran, Havana, Beirut, Santiago),
# negative DST (Dublin), Ramadan breaks (Casablanca), a skipped date (Apia).
TRANSITION_ZONES = (
    "America/New_York",
    "America/Santiago",
    "America/Asuncion",
    "America/Havana",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Europe/Dublin",
    "Europe/Berlin",
    "Africa/Casablanca",
    "Asia/Beirut",
    "Asia/Tehran",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Apia",
)


def transitions_of(zone_name: str) -> list[int]:
    """The zone's UTC offset changes from 1995 to 2035, as instants."""
    first, last = utc_midnight("1995-01-01"), utc_midnight("2035-01-01")
    changes = getattr(pytz.timezone(zone_name), "_utc_transition_times", [])
    instants = (to_micros(change.replace(tzinfo=timezone.utc)) for change in changes)
    return [instant for instant in instants if first <= instant < last]


@st.composite
def inputs_around_a_clock_change(draw: st.DrawFn) -> Inputs:
    """Stores of one zone, ``now`` from a day before one of its clock changes to eight after.

    So the change falls in the hour, the day, the week, or just before the week, where
    the rows of the date before the week run into it.
    """
    zone = draw(st.sampled_from(TRANSITION_ZONES))
    change = draw(st.sampled_from(transitions_of(zone)))
    now_us = change + draw(st.integers(-MICROS_PER_DAY, 8 * MICROS_PER_DAY))
    store_ids = draw(st.lists(st.sampled_from(STORE_IDS), min_size=1, max_size=3, unique=True))
    polls: list[PollRow] = []
    hours: list[HoursRow] = []
    for store_id in store_ids:
        offsets = draw(st.lists(st.integers(-POLL_SPAN, 0), min_size=1, max_size=10, unique=True))
        polls.extend((store_id, now_us + offset, draw(st.booleans())) for offset in offsets)
        hours.extend(draw(hours_rows(store_id)))
    # The latest poll is ``now``, as the contract defines it.
    polls.append((store_ids[0], now_us, draw(st.booleans())))
    return Inputs(now_us, polls, hours, {store_id: zone for store_id in store_ids})


@settings(max_examples=400, deadline=None)
@given(inputs_around_a_clock_change())
def test_calculator_agrees_with_the_reference_around_clock_changes_in_many_zones(inputs: Inputs) -> None:
    assert calculate(inputs) == oracle(inputs)
