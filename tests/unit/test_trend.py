"""The trend's CSV form and the service that computes it in parts, over in-memory repositories."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, from_micros, to_micros
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.trend import (
    TREND_HEADER,
    TrendSeries,
    check_days,
    day_window,
    earliest_trend_poll,
    instant_text,
    render_trend_csv,
    render_trend_lines,
)
from domain.model.uptime import UptimeCalculator
from domain.ports.data import ReportInputs, StoreRange
from domain.use_cases.reports import ReportService, RepositoryInputSource, StoreNotFound

NOW_US = to_micros(datetime(2023, 3, 14, 12, 0, tzinfo=timezone.utc))
# Ids that sort differently as text and as numbers, a spreadsheet formula, one that needs quoting.
IDS = ("10", "9", "=1+2", 'a,"b"', "-x", "x-")


def series(store_ids: tuple[str, ...], days: int, now: int = NOW_US) -> TrendSeries:
    count = len(store_ids)
    business = np.arange(count * days, dtype=np.int64).reshape(count, days) * MICROS_PER_HOUR
    uptime = business // 3
    return TrendSeries(now, days, store_ids, business, uptime, business - uptime)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- the CSV ------------------------------------------------------------------------------------


def test_the_header_is_exactly_the_agreed_one() -> None:
    assert render_trend_csv(TrendSeries.empty(NOW_US, 3)) == (
        "store_id,day,window_start_utc,window_end_utc,business_hours,uptime_hours,downtime_hours\n"
    )
    assert TREND_HEADER == "store_id,day,window_start_utc,window_end_utc,business_hours,uptime_hours,downtime_hours"


def test_one_line_per_store_and_day_in_order_with_windows_back_from_now() -> None:
    rows = parse(render_trend_lines(series(("a", "b"), 3)))

    assert [(row[0], row[1]) for row in rows] == [("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "2"), ("b", "3")]
    assert rows[0][2:4] == ["2023-03-13T12:00:00Z", "2023-03-14T12:00:00Z"]
    assert rows[2][2:4] == ["2023-03-11T12:00:00Z", "2023-03-12T12:00:00Z"]


def test_hours_have_exactly_four_decimals_and_downtime_is_its_own_figure() -> None:
    third = MICROS_PER_HOUR // 3  # 0.33333 h
    made = TrendSeries(NOW_US, 2, ("s",), [[12 * MICROS_PER_HOUR, third]], [[11 * MICROS_PER_HOUR + third, 0]], [[MICROS_PER_HOUR - third, third]])

    [first, second] = parse(render_trend_lines(made))

    assert first[4:] == ["12.0000", "11.3333", "0.6667"]
    assert second[4:] == ["0.3333", "0.0000", "0.3333"]


def test_store_ids_are_written_as_the_report_writes_them() -> None:
    text = render_trend_lines(series(IDS, 1))

    assert [line.split(",")[0] for line in text.splitlines()[:3]] == ["10", "9", "'=1+2"]
    assert [row[0] for row in parse(text)] == ["10", "9", "'=1+2", 'a,"b"', "'-x", "x-"]
    assert '"a,""b""",1,' in text


def test_instants_show_microseconds_only_when_there_are_some() -> None:
    assert instant_text(NOW_US) == "2023-03-14T12:00:00Z"
    assert instant_text(NOW_US + 479_220) == "2023-03-14T12:00:00.479220Z"
    assert instant_text(NOW_US + 1) == "2023-03-14T12:00:00.000001Z"
    [row] = parse(render_trend_lines(series(("a",), 1, NOW_US + 5)))
    assert row[2:4] == ["2023-03-13T12:00:00.000005Z", "2023-03-14T12:00:00.000005Z"]


def test_day_k_is_the_kth_24_hour_window_back_from_now() -> None:
    assert day_window(NOW_US, 1).end == NOW_US
    assert day_window(NOW_US, 1).start == NOW_US - MICROS_PER_DAY
    assert day_window(NOW_US, 90).start == NOW_US - 90 * MICROS_PER_DAY
    assert day_window(NOW_US, 5).end == day_window(NOW_US, 4).start


@pytest.mark.parametrize("days", [0, 91, -1, 1.5, True, "7"])
def test_a_trend_spans_1_to_90_days(days: Any) -> None:
    with pytest.raises(ValueError, match="days must be a whole number from 1 to 90"):
        check_days(days)
    assert check_days(1) == 1 and check_days(90) == 90


def test_figures_must_be_one_per_store_and_day() -> None:
    with pytest.raises(ValueError):
        TrendSeries(NOW_US, 2, ("a",), [[0, 0, 0]], [[0, 0, 0]], [[0, 0, 0]])
    with pytest.raises(ValueError):
        TrendSeries(NOW_US, 1, ("a", "b"), [[0]], [[0]], [[0]])


# --- the service ----------------------------------------------------------------------------------


def sample() -> tuple[StatusPolls, BusinessHours, StoreTimezones]:
    """Forty days of polls every 50 minutes for a few stores; 'fresh' started three days ago, 'gone' stopped 30 days ago."""
    rows: list[tuple[str, int, bool]] = []
    for n in range(40 * 24 * 60 // 50):
        instant = NOW_US - n * 50 * MICROS_PER_MINUTE
        for i, store_id in enumerate(IDS):
            rows.append((store_id, instant, (n + i) % 4 != 0))
        if instant >= NOW_US - 3 * MICROS_PER_DAY:
            rows.append(("fresh", instant, n % 2 == 0))
        if instant < NOW_US - 30 * MICROS_PER_DAY:
            rows.append(("gone", instant, n % 3 == 0))
    hours = [("9", day, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR) for day in range(5)]
    hours += [("fresh", day, 20 * MICROS_PER_HOUR, 4 * MICROS_PER_HOUR) for day in range(7)]
    zones: Any = StoreTimezones
    return StatusPolls.from_rows(rows), BusinessHours.from_rows(hours), zones({"9": "America/New_York", "fresh": "Europe/London"})


def service(polls: StatusPolls | None = None) -> ReportService:
    sampled_polls, hours, zones = sample()
    status = InMemoryStatusRepository(sampled_polls if polls is None else polls)
    return ReportService(
        status,
        InMemoryBusinessHoursRepository(hours),
        InMemoryTimezoneRepository(zones),
        UptimeCalculator(),
        log=InMemoryIngestionLog(),
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 1000])
def test_the_trend_in_parts_is_the_trend_of_all_stores_at_once(chunk_size: int) -> None:
    reports = service()
    whole = TREND_HEADER + "\n" + render_trend_lines(reports.trend(NOW_US, 30))

    assert "".join(reports.trend_pieces(30, chunk_size=chunk_size)) == whole


def test_one_row_per_store_with_a_poll_and_day_sorted_by_id_as_text_then_day() -> None:
    rows = parse("".join(service().trend_pieces(12)))

    assert rows[0] == TREND_HEADER.split(",")
    # Sorted by the ids themselves, as the report sorts them ("-" < "1" < "9" < "="), then guarded.
    written_ids = ["'-x", "10", "9", "'=1+2", 'a,"b"', "fresh", "gone", "x-"]
    assert [row[0] for row in rows[1::12]] == written_ids
    assert [int(row[1]) for row in rows[1:13]] == list(range(1, 13))
    assert len(rows) == 1 + 12 * len(written_ids)


def test_days_one_to_seven_of_the_service_add_up_to_its_report_week() -> None:
    reports = service()
    trend = reports.trend(NOW_US, 28)
    rows = reports.compute()

    assert trend.store_ids == rows.store_ids
    assert np.array_equal(trend.uptime[:, 0], rows.uptime_day)
    assert np.array_equal(trend.downtime[:, 0], rows.downtime_day)
    assert np.array_equal(trend.uptime[:, :7].sum(axis=1), rows.uptime_week)
    assert np.array_equal(trend.downtime[:, :7].sum(axis=1), rows.downtime_week)


def test_a_store_polled_only_lately_and_one_polled_only_long_ago() -> None:
    trend = service().trend(NOW_US, 40)
    fresh, gone = trend.store_ids.index("fresh"), trend.store_ids.index("gone")

    # 'gone' has no rows: open all day, every day, its latest poll (active: n % 3 == 0 at its last) holding since.
    assert (trend.business[gone] == MICROS_PER_DAY).all()
    assert trend.uptime[gone, :29].tolist() == [trend.uptime[gone, 0]] * 29
    # 'fresh' opens 20:00-04:00 London (UTC in March): 8 hours a day, measured before its first poll too.
    assert (trend.business[fresh] == 8 * MICROS_PER_HOUR).all()
    assert (trend.uptime[fresh] + trend.downtime[fresh] == trend.business[fresh]).all()


def test_as_of_fixes_now_at_the_latest_poll_before_it_and_leaves_later_polls_out() -> None:
    reports = service()
    as_of = NOW_US - 5 * MICROS_PER_DAY - MICROS_PER_MINUTE
    latest = max(t for _, t, _ in sample()[0].rows() if t <= as_of)
    cut = service(StatusPolls.from_rows([row for row in sample()[0].rows() if row[1] <= latest]))

    text = "".join(reports.trend_pieces(10, from_micros(as_of)))

    assert text == "".join(cut.trend_pieces(10))
    assert parse(text)[1][3] == instant_text(latest)


def test_before_every_poll_the_trend_is_its_header_alone() -> None:
    reports = service()
    first = min(t for _, t, _ in sample()[0].rows())

    assert "".join(reports.trend_pieces(5, from_micros(first - 1))) == TREND_HEADER + "\n"
    assert "".join(service(StatusPolls.empty()).trend_pieces(5)) == TREND_HEADER + "\n"


def test_the_pieces_refuse_a_span_outside_1_to_90_days() -> None:
    with pytest.raises(ValueError):
        next(service().trend_pieces(91))


def test_one_stores_trend_reads_only_that_store_from_far_enough_back() -> None:
    polls, hours, zones = sample()
    status = InMemoryStatusRepository(polls)
    read: list[tuple[int, StoreRange | None]] = []

    class Recording(RepositoryInputSource):
        def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
            read.append((start_us, stores))
            return super().read(start_us, stores, snapshot=snapshot)

    hours_repository, zones_repository = InMemoryBusinessHoursRepository(hours), InMemoryTimezoneRepository(zones)
    recording = ReportService(
        status,
        hours_repository,
        zones_repository,
        UptimeCalculator(),
        Recording(status, hours_repository, zones_repository),
        log=InMemoryIngestionLog(),
    )

    one = recording.store_trend("9", 33)

    assert read == [(earliest_trend_poll(NOW_US, 33), StoreRange("9", "9"))]
    everyone = service().trend(NOW_US, 33)
    i = everyone.store_ids.index("9")
    assert one.store_ids == ("9",)
    assert np.array_equal(one.uptime[0], everyone.uptime[i])
    assert np.array_equal(one.business[0], everyone.business[i])
    with pytest.raises(StoreNotFound):
        recording.store_trend("nope", 3)
    with pytest.raises(StoreNotFound):
        recording.store_trend("fresh", 3, from_micros(NOW_US - 4 * MICROS_PER_DAY))
