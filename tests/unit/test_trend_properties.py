"""Properties of the daily trend over random small inputs.

The trend is held to the literal reference (``reference_daily_series``, each
day measured on its own) to the microsecond, and to the report: its day 1 is
the report's last day and its days 1 to 7 add up to the report's last week.
Inputs put clock changes inside the period, overnight and 24-hour rows,
stores that start polling in the middle of the period and stores whose polls
stopped long before ``now``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import DayFigures, HoursRow, PollRow, reference_daily_series
from test_report_properties import (
    ANCHORS,
    DST_ZONES,
    SOME_STORE_IDS,
    TRANSITION_ZONES,
    Inputs,
    calculate,
    hours_rows,
    transitions_of,
)

from domain.model.clock import MICROS_PER_DAY
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.trend import TrendSeries, daily_series, earliest_trend_poll
from domain.model.uptime import UptimeCalculator

EXAMPLES = settings(max_examples=150, deadline=None)
STORE_KINDS = ("spread", "spread", "late_start", "stale", "dense_recent")


@attrs.frozen
class TrendInputs:
    days: int
    inputs: Inputs


@st.composite
def trend_inputs(draw: st.DrawFn, days: st.SearchStrategy[int] | None = None) -> TrendInputs:
    """Stores of a few zones, ``now`` placed so that a clock change of the main zone falls in the period."""
    period_days = draw(
        days if days is not None else st.one_of(st.integers(1, 9), st.integers(7, 35), st.sampled_from((28, 90)))
    )
    period = period_days * MICROS_PER_DAY
    zone = draw(st.sampled_from(TRANSITION_ZONES))
    change = draw(st.one_of(st.sampled_from(transitions_of(zone)), st.sampled_from(ANCHORS)))
    # From a day before the change (it falls just after now) to a day after the period
    # (just before its first day): mostly inside.
    now_us = change + draw(st.integers(-MICROS_PER_DAY, period + MICROS_PER_DAY))
    store_ids = draw(SOME_STORE_IDS)
    polls: list[PollRow] = []
    hours: list[HoursRow] = []
    timezones: dict[str, str] = {}
    for store_id in store_ids:
        kind = draw(st.sampled_from(STORE_KINDS))
        if kind == "spread":
            offsets = st.integers(-period - 4 * MICROS_PER_DAY, 0)
        elif kind == "late_start":
            # Its first poll is inside the period: the days before take that poll's status.
            first = draw(st.integers(-period, 0))
            offsets = st.integers(first, 0)
        elif kind == "stale":
            # Polled long ago, never since: its latest poll holds every day.
            offsets = st.integers(-period - 40 * MICROS_PER_DAY, -period // 2)
        else:
            offsets = st.integers(-2 * MICROS_PER_DAY, 0)
        instants = draw(st.lists(offsets, min_size=1, max_size=14, unique=True))
        polls.extend((store_id, now_us + offset, draw(st.booleans())) for offset in instants)
        hours.extend(draw(hours_rows(store_id)))
        store_zone = draw(st.sampled_from((zone, zone, None, *DST_ZONES)))
        if store_zone is not None:
            timezones[store_id] = store_zone
    # The latest poll is ``now``, as the contract defines it.
    polls.append((store_ids[0], now_us, draw(st.booleans())))
    return TrendInputs(period_days, Inputs(now_us, polls, hours, timezones))


def series_of(trend: TrendInputs, polls: list[PollRow] | None = None) -> TrendSeries:
    inputs = trend.inputs
    # Called untyped: mypy cannot see through the ``dict`` converter of StoreTimezones.
    make_timezones: Any = StoreTimezones
    return daily_series(
        UptimeCalculator(),
        inputs.now_us,
        trend.days,
        StatusPolls.from_rows(inputs.polls if polls is None else polls),
        BusinessHours.from_rows(inputs.hours),
        make_timezones(inputs.timezones),
    )


def as_figures(series: TrendSeries) -> dict[str, list[DayFigures]]:
    return {
        store_id: [
            (int(series.business[i, k]), int(series.uptime[i, k]), int(series.downtime[i, k]))
            for k in range(series.days)
        ]
        for i, store_id in enumerate(series.store_ids)
    }


def oracle(trend: TrendInputs) -> dict[str, list[DayFigures]]:
    inputs = trend.inputs
    return reference_daily_series(inputs.now_us, trend.days, inputs.polls, inputs.hours, inputs.timezones)


@EXAMPLES
@given(trend_inputs())
def test_the_series_agrees_with_the_reference_to_the_microsecond(trend: TrendInputs) -> None:
    series = series_of(trend)

    assert list(series.store_ids) == sorted({store_id for store_id, _, _ in trend.inputs.polls})
    assert as_figures(series) == oracle(trend)


@settings(max_examples=300, deadline=None)
@given(trend_inputs(days=st.integers(1, 3)))
def test_short_series_agree_with_the_reference_around_clock_changes(trend: TrendInputs) -> None:
    assert as_figures(series_of(trend)) == oracle(trend)


@EXAMPLES
@given(trend_inputs())
def test_day_one_is_the_reports_last_day(trend: TrendInputs) -> None:
    series = series_of(trend)
    report = calculate(trend.inputs)

    for i, store_id in enumerate(series.store_ids):
        up_hour, up_day, up_week, down_hour, down_day, down_week = report[store_id]
        assert (int(series.uptime[i, 0]), int(series.downtime[i, 0])) == (up_day, down_day)


@EXAMPLES
@given(trend_inputs(days=st.integers(7, 40)))
def test_days_one_to_seven_add_up_to_the_reports_week(trend: TrendInputs) -> None:
    series = series_of(trend)
    report = calculate(trend.inputs)

    for i, store_id in enumerate(series.store_ids):
        up_hour, up_day, up_week, down_hour, down_day, down_week = report[store_id]
        assert int(series.uptime[i, :7].sum()) == up_week
        assert int(series.downtime[i, :7].sum()) == down_week


@EXAMPLES
@given(trend_inputs())
def test_uptime_plus_downtime_is_business_time_within_each_day(trend: TrendInputs) -> None:
    series = series_of(trend)

    assert np.array_equal(series.uptime + series.downtime, series.business)
    assert (series.uptime >= 0).all() and (series.downtime >= 0).all()
    # A day is 24 hours of UTC: its business time cannot be longer.
    assert (series.business <= MICROS_PER_DAY).all()


@EXAMPLES
@given(trend_inputs())
def test_polls_before_the_lookback_matter_only_through_each_stores_latest(trend: TrendInputs) -> None:
    # What a repository hands the calculator (``polls_since``): every poll from
    # ``earliest_trend_poll(now, days)`` on, plus each store's latest poll before it.
    start = earliest_trend_poll(trend.inputs.now_us, trend.days)
    latest_before: dict[str, PollRow] = {}
    for poll in sorted(trend.inputs.polls, key=lambda poll: poll[1]):
        if poll[1] < start:
            latest_before[poll[0]] = poll
    kept = [poll for poll in trend.inputs.polls if poll[1] >= start] + list(latest_before.values())

    assert as_figures(series_of(trend, kept)) == oracle(trend)


@EXAMPLES
@given(trend_inputs(), st.integers(1, 90))
def test_a_longer_series_begins_with_the_shorter_one(trend: TrendInputs, other_days: int) -> None:
    shorter, longer = sorted((trend.days, other_days))
    short = series_of(attrs.evolve(trend, days=shorter))
    long = series_of(attrs.evolve(trend, days=longer))

    assert short.store_ids == long.store_ids
    for figures in ("business", "uptime", "downtime"):
        assert np.array_equal(getattr(short, figures), getattr(long, figures)[:, :shorter])
