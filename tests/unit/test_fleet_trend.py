"""The fleet trend as a run (``ReportRunService.trigger_trend``), over the in-memory fakes.

Its CSV must be ``store-monitor trend``'s (``ReportService.trend_pieces``);
its summary is checked against figures this module computes on its own from
the trend's series of all stores at once (exact microseconds, summed and
compared here with Python integers and fractions), and against sums of the
CSV's rounded hours.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest
from fakes import RecordingWorkQueue, in_memory_work
from test_services import StaticReader

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
from domain.model.clock import MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, from_micros, to_micros
from domain.model.fleet_trend import SLIPPING_STORES, FleetTrend, TrendSummary, combine, summarize_part
from domain.model.ingestion import FileSummary, ParsedInput
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.report import ReportStatus, RunKind
from domain.model.trend import TREND_HEADER, TrendSeries, day_window
from domain.model.uptime import UptimeCalculator
from domain.model.work_units import PLAN_REPORT_TASK
from domain.ports.data import StoreRange
from domain.ports.reports import ReportNotFound
from domain.ports.work import QueueUnavailable
from domain.use_cases.ingest import IngestService
from domain.use_cases.report_runs import ReportNotReady, ReportRunService
from domain.use_cases.reports import ReportService
from domain.use_cases.work import WorkTracker

# Two weeks after New York's clocks went forward: a 28-day trend spans the change.
NOW = datetime(2023, 3, 26, 15, 42, 7, 123456, tzinfo=timezone.utc)
NOW_US = to_micros(NOW)
POLL_EVERY = 61 * MICROS_PER_MINUTE
HISTORY_DAYS = 33
# Slipping stores (their last week worse than the one before), more than a trend names.
SLIPPING_IDS = [f"slip-{i:02d}" for i in range(24)]
# Two stores with the same polls, hours and zone: the same change, told apart by id.
TIES = ["tie-b", "tie-a"]
STEADY_IDS = ["10", "9", "=odd", 'a,"b"', "steady"]


def inactive_chance(store_id: str, day: int) -> float:
    """How likely a poll of ``store_id`` on trend day ``day`` (1 = the last) says inactive."""
    if store_id in TIES:
        return 0.9 if day <= 7 else 0.0
    if store_id in SLIPPING_IDS:
        i = SLIPPING_IDS.index(store_id)
        return (0.05 + 0.03 * i) if day <= 7 else 0.02
    return 0.2 if store_id == "steady" else 0.05 * (len(store_id) % 4)


def sample_polls(end_us: int = NOW_US) -> StatusPolls:
    rows: list[tuple[str, int, bool]] = []
    for store_id in [*SLIPPING_IDS, *TIES, *STEADY_IDS]:
        # The ties draw the same numbers.
        draw = random.Random("tie" if store_id in TIES else store_id)
        instant = end_us
        while instant > end_us - HISTORY_DAYS * MICROS_PER_DAY:
            day = (end_us - instant) // MICROS_PER_DAY + 1
            rows.append((store_id, instant, draw.random() >= inactive_chance(store_id, day)))
            instant -= POLL_EVERY
    # Polled for the last four days only, and once, long ago, only.
    rows += [("late", end_us - hours * MICROS_PER_HOUR, hours % 5 != 0) for hours in range(1, 96, 3)]
    rows.append(("gone", end_us - 60 * MICROS_PER_DAY, False))
    return StatusPolls.from_rows(rows)


def sample_hours() -> BusinessHours:
    rows = [(store_id, day, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR) for store_id in TIES for day in range(7)]
    rows += [("9", day, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR) for day in range(5)]
    rows += [("=odd", day, 22 * MICROS_PER_HOUR, 3 * MICROS_PER_HOUR) for day in (4, 5)]
    rows += [("slip-03", day, 8 * MICROS_PER_HOUR, 20 * MICROS_PER_HOUR) for day in range(7)]
    return BusinessHours.from_rows(rows)


def sample_zones() -> StoreTimezones:
    zones: Any = StoreTimezones
    made: StoreTimezones = zones(
        {"tie-a": "America/New_York", "tie-b": "America/New_York", "9": "America/New_York", "=odd": "Asia/Kolkata"}
    )
    return made


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2023, 3, 27, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class Run:
    """A run service over the sample, its registry, storage and clock."""

    service: ReportRunService
    reports: ReportService
    registry: InMemoryReportRegistry
    storage: PiecesStorage
    clock: ManualClock
    status: InMemoryStatusRepository
    hours: InMemoryBusinessHoursRepository
    timezones: InMemoryTimezoneRepository
    log: InMemoryIngestionLog
    work: WorkTracker

    def complete(self, trend_id: str) -> bytes:
        """Plan the run and compute every part (in reverse order), as workers would."""
        plan = self.service.plan(trend_id)
        for index, chunk in reversed(list(enumerate(plan.chunks))):
            self.service.run_chunk(trend_id, index, chunk)
        return self.service.content(trend_id, RunKind.TREND)

    def cli_csv(self, days: int, as_of: datetime | None = None) -> bytes:
        """What ``store-monitor trend`` writes from the same data."""
        return "".join(self.reports.trend_pieces(days, as_of, chunk_size=7)).encode("utf-8")


class PiecesStorage(InMemoryReportStorage):
    """Keeps the size of every piece it is given to save."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[int] = []

    def save_pieces(self, report_id: str, pieces: Iterable[bytes]) -> str:
        def counted() -> Iterator[bytes]:
            for piece in pieces:
                self.pieces.append(len(piece))
                yield piece

        return super().save_pieces(report_id, counted())


def make_run(
    chunk_size: int = 4,
    polls: StatusPolls | None = None,
    hours: BusinessHours | None = None,
    zones: StoreTimezones | None = None,
    queue: RecordingWorkQueue | None = None,
) -> Run:
    """The sample (or the given data) behind a run service, its units of work in memory, published to ``queue``."""
    status = InMemoryStatusRepository(sample_polls() if polls is None else polls)
    hours_repository = InMemoryBusinessHoursRepository(sample_hours() if hours is None else hours)
    zones_repository = InMemoryTimezoneRepository(sample_zones() if zones is None else zones)
    log = InMemoryIngestionLog(status, hours_repository, zones_repository)
    reports = ReportService(status, hours_repository, zones_repository, UptimeCalculator(), log=log)
    registry, storage, clock = InMemoryReportRegistry(), PiecesStorage(), ManualClock()
    work = in_memory_work(clock, queue)
    ids = (f"run-{i}" for i in itertools.count())
    service = ReportRunService(
        reports,
        registry,
        storage,
        work,
        clock,
        lambda: next(ids),
        chunk_size,
        timedelta(minutes=10),
    )
    return Run(service, reports, registry, storage, clock, status, hours_repository, zones_repository, log, work)


# --- the figures, computed here on their own -------------------------------------------------------


@attrs.frozen
class Expected:
    fleet: list[dict[str, Any]]
    weeks: list[tuple[int, int]]
    slipping: list[tuple[str, list[float | None], float]]


def percent(up: int, business: int) -> float | None:
    return None if business == 0 else round(100 * up / business, 2)


def expected(series: TrendSeries) -> Expected:
    """The summary of a whole series, store by store, with Python integers."""
    days = series.days
    fleet = []
    for k in range(days):
        business = [int(value) for value in series.business[:, k]]
        up = [int(value) for value in series.uptime[:, k]]
        open_ = [(u, b) for u, b in zip(up, business) if b > 0]
        fleet.append(
            {
                "day": k + 1,
                "business": sum(business),
                "uptime": sum(up),
                "uptime_percent": percent(sum(up), sum(business)),
                "below_90": sum(1 for u, b in open_ if Fraction(u, b) < Fraction(90, 100)),
                "below_50": sum(1 for u, b in open_ if Fraction(u, b) < Fraction(50, 100)),
            }
        )
    weeks = days // 7
    changes: list[tuple[Fraction, str, list[float | None]]] = []
    for i, store_id in enumerate(series.store_ids):
        weekly = [
            (
                sum(int(series.uptime[i, k]) for k in range(7 * w, 7 * w + 7)),
                sum(int(series.business[i, k]) for k in range(7 * w, 7 * w + 7)),
            )
            for w in range(weeks)
        ]
        if weeks < 2 or weekly[0][1] == 0 or weekly[1][1] == 0:
            continue
        change = Fraction(*weekly[0]) - Fraction(*weekly[1])
        if change < 0:
            changes.append((change, store_id, [percent(u, b) for u, b in weekly]))
    changes.sort()
    return Expected(
        fleet,
        [(day_window(series.now, 7 * w).start, day_window(series.now, 7 * w - 6).end) for w in range(1, weeks + 1)],
        [(store_id, weekly, round(float(100 * change), 2)) for change, store_id, weekly in changes[:SLIPPING_STORES]],
    )


def csv_day_sums(content: bytes) -> dict[int, tuple[float, float]]:
    """Per day, the business and uptime hours of the CSV's lines, summed."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    assert rows[0] == TREND_HEADER.split(",")
    sums: dict[int, tuple[float, float]] = {}
    for row in rows[1:]:
        business, up = sums.get(int(row[1]), (0.0, 0.0))
        sums[int(row[1])] = (business + float(row[4]), up + float(row[5]))
    return sums


def check_against_series(trend: FleetTrend, series: TrendSeries) -> None:
    wanted = expected(series)
    assert trend.now == series.now and trend.days == series.days
    assert [day.day for day in trend.fleet] == list(range(1, series.days + 1))
    for day, figures in zip(trend.fleet, wanted.fleet):
        assert day.window == day_window(series.now, day.day)
        assert day.business_hours == round(figures["business"] / MICROS_PER_HOUR, 4)
        assert day.uptime_hours == round(figures["uptime"] / MICROS_PER_HOUR, 4)
        assert day.uptime_percent == figures["uptime_percent"]
        assert (day.stores_below_90, day.stores_below_50) == (figures["below_90"], figures["below_50"])
        assert day.stores_below_50 <= day.stores_below_90
    assert [(week.week, week.window.start, week.window.end) for week in trend.weeks] == [
        (w, start, end) for w, (start, end) in enumerate(wanted.weeks, start=1)
    ]
    assert [(store.store_id, list(store.weekly_uptime_percent), store.change) for store in trend.slipping] == (
        wanted.slipping
    )


# --- the run --------------------------------------------------------------------------------------


def test_a_trend_run_shows_its_progress_in_parts_and_completes_with_the_clis_csv() -> None:
    run = make_run(chunk_size=4)
    stores = len(run.reports.store_ids(run.reports.snapshot()))
    trend = run.service.trigger_trend(28)
    assert (trend.kind, trend.days, trend.status) == (RunKind.TREND, 28, ReportStatus.RUNNING)
    assert run.service.status(trend.report_id, RunKind.TREND).progress_total == 0

    plan = run.service.plan(trend.report_id)
    parts = -(-stores // 4)
    assert len(plan.chunks) == parts > 2
    seen = [(run.service.status(trend.report_id).progress_done, run.service.status(trend.report_id).progress_total)]
    for index, chunk in reversed(list(enumerate(plan.chunks))):
        assert run.service.status(trend.report_id).status is ReportStatus.RUNNING
        with pytest.raises(ReportNotReady):
            run.service.fleet_trend(trend.report_id)
        run.service.run_chunk(trend.report_id, index, chunk)
        record = run.service.status(trend.report_id)
        seen.append((record.progress_done, record.progress_total))

    assert seen == [(done, parts) for done in range(parts + 1)]
    assert run.service.status(trend.report_id).status is ReportStatus.COMPLETE
    assert run.service.content(trend.report_id, RunKind.TREND) == run.cli_csv(28)
    # Assembled a part at a time: the header, then one piece per part, never the whole file at once.
    assert len(run.storage.pieces) == parts + 1
    assert max(run.storage.pieces) < sum(run.storage.pieces) / 2


@pytest.mark.parametrize("days", [28, 15, 14])
def test_the_summary_is_the_exact_sums_of_the_trends_series(days: int) -> None:
    run = make_run(chunk_size=3)
    trend_id = run.service.trigger_trend(days).report_id
    content = run.complete(trend_id)
    whole = run.reports.trend(NOW_US, days)
    assert whole.now == NOW_US

    summary = run.service.fleet_trend(trend_id)

    check_against_series(summary, whole)
    # The slipping stores are many more than the trend names: the most slipping first, the ties by id.
    assert len(summary.slipping) == SLIPPING_STORES
    named = [store.store_id for store in summary.slipping]
    assert named[:2] == ["tie-a", "tie-b"] and summary.slipping[0].change == summary.slipping[1].change
    assert [store.change for store in summary.slipping] == sorted(store.change for store in summary.slipping)
    assert all(store.change < 0 for store in summary.slipping)
    # And the day sums agree with the CSV's rounded hours, to their rounding.
    lines = len(whole)
    for day in summary.fleet:
        business, up = csv_day_sums(content)[day.day]
        assert abs(business - day.business_hours) <= lines * 0.00005 + 1e-9
        assert abs(up - day.uptime_hours) <= lines * 0.00005 + 1e-9


def test_parts_of_any_size_give_the_same_summary_and_csv() -> None:
    answers = []
    for chunk_size in (1, 5, 1000):
        run = make_run(chunk_size=chunk_size)
        trend_id = run.service.trigger_trend(21).report_id
        answers.append((run.complete(trend_id), run.service.fleet_trend(trend_id)))
    assert answers[0] == answers[1] == answers[2]


def test_the_recorded_summary_keeps_at_most_the_named_slipping_stores() -> None:
    run = make_run(chunk_size=40)
    trend_id = run.service.trigger_trend(28).report_id
    plan = run.service.plan(trend_id)
    assert len(plan.chunks) == 1
    run.service.run_chunk(trend_id, 0, plan.chunks[0])

    summary = run.registry.get(trend_id).summary
    assert summary is not None
    # One part of 33 stores, 26 of them slipping: only the best candidates are kept.
    assert len(summary["slipping"]) == SLIPPING_STORES
    assert len(summary["business"]) == 28


def test_fewer_than_14_days_name_no_slipping_store_and_fewer_than_7_no_week() -> None:
    run = make_run()
    for days, weeks in ((5, 0), (7, 1), (13, 1)):
        trend_id = run.service.trigger_trend(days).report_id
        run.complete(trend_id)
        summary = run.service.fleet_trend(trend_id)
        check_against_series(summary, run.reports.trend(NOW_US, days))
        assert (len(summary.fleet), len(summary.weeks), summary.slipping) == (days, weeks, ())


def test_a_trend_as_of_an_instant_is_the_trend_of_the_polls_until_it() -> None:
    run = make_run(chunk_size=6)
    as_of = NOW - timedelta(days=3, minutes=17)
    latest = max(instant for _, instant, _ in sample_polls().rows() if instant <= to_micros(as_of))
    trend = run.service.trigger_trend(14, as_of)
    assert trend.as_of == as_of

    content = run.complete(trend.report_id)

    assert content == run.cli_csv(14, as_of)
    assert run.registry.get(trend.report_id).now_us == latest
    summary = run.service.fleet_trend(trend.report_id)
    check_against_series(summary, run.reports.trend(latest, 14))
    # The polls after as_of are left out, as if never ingested.
    cut = make_run(polls=StatusPolls.from_rows([row for row in sample_polls().rows() if row[1] <= latest]))
    cut_id = cut.service.trigger_trend(14).report_id
    assert cut.complete(cut_id) == content
    assert cut.service.fleet_trend(cut_id) == summary


def test_before_every_poll_a_trend_is_its_header_and_names_no_day() -> None:
    run = make_run()
    trend_id = run.service.trigger_trend(10, NOW - timedelta(days=100)).report_id

    assert run.service.plan(trend_id).chunks == ()
    assert run.service.content(trend_id, RunKind.TREND) == (TREND_HEADER + "\n").encode()
    assert run.service.fleet_trend(trend_id) == FleetTrend(None, 10, (), (), ())


def test_a_trend_reads_the_snapshot_of_its_plan_whatever_is_ingested_before_its_parts() -> None:
    run = make_run(chunk_size=5)
    before = run.cli_csv(14)
    trend_id = run.service.trigger_trend(14).report_id
    plan = run.service.plan(trend_id)

    later = StatusPolls.from_rows([(store_id, NOW_US + MICROS_PER_HOUR, False) for store_id in ("9", "zz-new")])
    parsed = ParsedInput(
        polls=later,
        polls_summary=FileSummary(rows=len(later)),
        hours=BusinessHours.from_rows([("10", 0, 0, MICROS_PER_HOUR)]),
        hours_summary=FileSummary(rows=1),
        timezones=StoreTimezones({"10": "Asia/Tokyo"}),
        timezones_summary=FileSummary(rows=1),
    )
    IngestService(StaticReader(parsed), run.status, run.hours, run.timezones, run.log).ingest(Path("any"))
    assert run.cli_csv(14) != before
    for index, chunk in enumerate(plan.chunks):
        run.service.run_chunk(trend_id, index, chunk)

    assert run.service.content(trend_id, RunKind.TREND) == before


def test_a_known_fleet() -> None:
    """Two stores open all day: one always up, one down for the last 36 hours; a third open only on Wednesdays."""
    now = to_micros(datetime(2023, 1, 30, 12, 0, tzinfo=timezone.utc))  # a Monday
    rows = [("up", now - hours * MICROS_PER_HOUR, True) for hours in range(0, 24 * 20, 6)]
    rows += [("down", now - hours * MICROS_PER_HOUR, hours > 36) for hours in range(0, 24 * 20, 6)]
    rows += [("wed", now - 10 * MICROS_PER_DAY, True)]
    run = make_run(
        chunk_size=2,
        polls=StatusPolls.from_rows(rows),
        hours=BusinessHours.from_rows([("wed", 2, 0, 0)]),
        zones=StoreTimezones({"wed": "UTC", "up": "UTC", "down": "UTC"}),
    )
    trend_id = run.service.trigger_trend(3).report_id
    run.complete(trend_id)

    days = run.service.fleet_trend(trend_id).fleet

    # Day 1 (Sunday 12:00 to Monday 12:00): 48 business hours, 24 up; 'down' was down all day.
    assert [(day.business_hours, day.uptime_hours, day.uptime_percent) for day in days] == [
        (48.0, 24.0, 50.0),
        (48.0, 36.0, 75.0),
        (48.0, 48.0, 100.0),
    ]
    assert [(day.stores_below_90, day.stores_below_50) for day in days] == [(1, 1), (1, 0), (0, 0)]


def test_a_day_without_business_time_has_no_uptime_percent_and_no_store_below() -> None:
    now = to_micros(datetime(2023, 1, 30, 12, 0, tzinfo=timezone.utc))  # a Monday
    polls = StatusPolls.from_rows([("wed", now - hours * MICROS_PER_HOUR, False) for hours in range(0, 24 * 10, 5)])
    run = make_run(
        polls=polls,
        hours=BusinessHours.from_rows([("wed", 2, 9 * MICROS_PER_HOUR, 17 * MICROS_PER_HOUR)]),
        zones=StoreTimezones({"wed": "UTC"}),
    )
    trend_id = run.service.trigger_trend(7).report_id
    run.complete(trend_id)

    days = run.service.fleet_trend(trend_id).fleet

    # Only Wednesday 25 January 09:00-17:00 is open: day 5 (from Wednesday 12:00) holds 5 hours of it, day 6 the other 3.
    assert [day.uptime_percent for day in days] == [None, None, None, None, 0.0, 0.0, None]
    assert [day.business_hours for day in days] == [0.0, 0.0, 0.0, 0.0, 5.0, 3.0, 0.0]
    assert [(day.stores_below_90, day.stores_below_50) for day in days] == [(0, 0)] * 4 + [(1, 1)] * 2 + [(0, 0)]


# --- kinds, failures ----------------------------------------------------------------------------


def test_a_trend_is_no_report_and_a_report_no_trend() -> None:
    run = make_run()
    report = run.service.trigger().report_id
    trend = run.service.trigger_trend(7).report_id
    run.complete(trend)

    assert [r.report_id for r in run.service.recent(10)] == [report]
    assert [r.report_id for r in run.service.recent(10, RunKind.TREND)] == [trend]
    for run_id, kind in ((report, RunKind.TREND), (trend, RunKind.REPORT)):
        with pytest.raises(ReportNotFound):
            run.service.status(run_id, kind)
        with pytest.raises(ReportNotFound):
            run.service.content(run_id, kind)
    with pytest.raises(ReportNotFound):
        run.service.fleet_trend(report)


@pytest.mark.parametrize("days", [0, 91, -1])
def test_a_trend_spans_1_to_90_days(days: int) -> None:
    run = make_run()
    with pytest.raises(ValueError):
        run.service.trigger_trend(days)
    assert run.registry.reports == {}


def test_a_refused_queue_fails_the_trend_with_the_reason() -> None:
    run = make_run(queue=RecordingWorkQueue(refuse=True))
    with pytest.raises(QueueUnavailable):
        run.service.trigger_trend(14)
    [trend] = run.registry.reports.values()
    assert (trend.kind, trend.status) == (RunKind.TREND, ReportStatus.FAILED)
    assert trend.error == f"the trend could not be queued: {RecordingWorkQueue.REASON}"


def test_a_trend_whose_work_failed_says_why_once_stalled() -> None:
    queue = RecordingWorkQueue()
    run = make_run(queue=queue)
    work = run.work
    trend_id = run.service.trigger_trend(14).report_id
    # The planning message names the trend, for its label; its unit is the report's.
    assert queue.messages == [(PLAN_REPORT_TASK, (trend_id, "trend"))]
    [unit] = work.units(trend_id)
    assert unit.unit_id == f"report/{trend_id}/plan" and unit.label == "planning the trend"
    work.claim(unit.unit_id, "host:1")
    work.fail(unit.unit_id, "RepositoryError: database error: disk I/O error")

    run.clock.now += timedelta(minutes=11)
    failed = run.service.status(trend_id, RunKind.TREND)

    assert failed.status is ReportStatus.FAILED
    assert failed.error == (
        "no progress for 600 s: task failed: planning the trend: RepositoryError: database error: disk I/O error"
    )
    with pytest.raises(ReportNotReady):
        run.service.fleet_trend(trend_id)


def test_a_late_part_after_completion_changes_nothing() -> None:
    run = make_run(chunk_size=8)
    trend_id = run.service.trigger_trend(14).report_id
    plan = run.service.plan(trend_id)
    content = run.complete(trend_id)
    summary = run.service.fleet_trend(trend_id)

    assert run.service.run_chunk(trend_id, 0, plan.chunks[0]) is None
    assert run.service.content(trend_id, RunKind.TREND) == content
    assert run.service.fleet_trend(trend_id) == summary


# --- the summary's parts ---------------------------------------------------------------------------


def test_parts_joined_in_any_order_give_the_summary_of_all_stores_at_once() -> None:
    run = make_run()
    whole = run.reports.trend(NOW_US, 21)
    ids = whole.store_ids
    pieces = [StoreRange(ids[i], ids[min(i + 5, len(ids)) - 1]) for i in range(0, len(ids), 5)]
    parts = [summarize_part(run.reports.trend(NOW_US, 21, piece)) for piece in pieces]

    assert combine(21, reversed(parts)) == summarize_part(whole)
    assert TrendSummary.from_json(summarize_part(whole).to_json()) == summarize_part(whole)
    with pytest.raises(ValueError):
        combine(14, parts)


def test_the_summary_has_the_windows_of_the_csv() -> None:
    # Day k ends (k - 1) days before now, in both.
    run = make_run()
    trend_id = run.service.trigger_trend(3).report_id
    content = run.complete(trend_id).decode()
    rows = list(csv.reader(io.StringIO(content)))
    summary = run.service.fleet_trend(trend_id)

    windows = {(row[1], row[2], row[3]) for row in rows[1:]}
    assert windows == {
        (str(day.day), from_micros(day.window.start).isoformat().replace("+00:00", "Z"),
         from_micros(day.window.end).isoformat().replace("+00:00", "Z"))
        for day in summary.fleet
    }
