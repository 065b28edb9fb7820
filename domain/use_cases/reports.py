"""The use case of computing: a report's or a trend's lines, and one store's detail, at one snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import attrs

from domain.model.calendar import local_days_touching
from domain.model.clock import to_micros
from domain.model.errors import UptimeError, quoted
from domain.model.interval import Interval
from domain.model.localtime import ZoneClock, date_of
from domain.model.report import REPORT_HEADER, ReportRows, render_lines
from domain.model.trend import (
    TREND_HEADER,
    TrendSeries,
    check_days,
    daily_series,
    earliest_trend_poll,
    render_trend_lines,
)
from domain.model.uptime import ReportWindows, UptimeCalculator, earliest_poll_needed, measure
from domain.ports.data import (
    BusinessHoursRepository,
    IngestionLog,
    ReportInputs,
    ReportInputSource,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)


def split_stores(store_ids: list[str], chunk_size: int) -> tuple[StoreRange, ...]:
    """Consecutive ranges of at most ``chunk_size`` sorted store ids."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    return tuple(
        StoreRange(store_ids[i], store_ids[min(i + chunk_size, len(store_ids)) - 1])
        for i in range(0, len(store_ids), chunk_size)
    )


class RepositoryInputSource(ReportInputSource):
    """The inputs read from the three repositories one after the other, all at one snapshot."""

    def __init__(
        self,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
    ) -> None:
        self._status = status_repository
        self._hours = hours_repository
        self._timezones = timezone_repository

    def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
        return ReportInputs(
            self._status.polls_since(start_us, stores, snapshot=snapshot),
            self._hours.hours(stores, snapshot=snapshot),
            self._timezones.timezones(stores, snapshot=snapshot),
        )


class StoreNotFound(UptimeError):
    """A store the report does not list: it has no poll at all."""

    def __init__(self, store_id: str) -> None:
        super().__init__(f"no store with id {quoted(store_id)} has any status poll")
        self.store_id = store_id


@attrs.frozen
class StatusSegment:
    """A stretch of the status timeline: ``active`` all through ``span``."""

    span: Interval
    active: bool


@attrs.frozen
class StatusPoll:
    """One observation: the store was ``active`` (or not) at ``instant`` (UTC µs)."""

    instant: int
    active: bool


@attrs.frozen
class LocalDay:
    """A calendar date of the store's zone and its ``[00:00, next 00:00)`` in UTC µs."""

    date: date
    span: Interval


@attrs.frozen
class StoreDetail:
    """One store at ``now``: the figures of its report row and what they are measured on.

    ``figures`` are the six numbers of its CSV row, in the CSV's order (hour
    in minutes, day and week in hours, rounded to two decimals). Business
    hours, status segments (consecutive ones of one status merged) and polls
    are those inside the week; ``days`` are the store's local dates that touch
    the week, so a page can lay the week out one local day per row.
    """

    store_id: str
    timezone: str
    now: int
    windows: ReportWindows
    figures: tuple[float, float, float, float, float, float]
    business_hours: tuple[Interval, ...]
    status: tuple[StatusSegment, ...]
    polls: tuple[StatusPoll, ...]
    days: tuple[LocalDay, ...]


def _merged_segments(segments: list[tuple[Interval, bool]], window: Interval) -> tuple[StatusSegment, ...]:
    """The segments clipped to ``window``, neighbours of one status joined."""
    merged: list[StatusSegment] = []
    for span, active in segments:
        inside = span.intersection(window)
        if inside.is_empty:
            continue
        last = merged[-1] if merged else None
        if last is not None and last.active == active and last.span.end == inside.start:
            merged[-1] = StatusSegment(Interval(last.span.start, inside.end), active)
        else:
            merged.append(StatusSegment(inside, active))
    return tuple(merged)


class ReportService:
    """Computes the uptime report from whatever repositories it is given.

    Every read names a snapshot (see ``IngestionLog``); left out, it is the
    latest complete one, taken once per call.
    """

    def __init__(
        self,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
        calculator: UptimeCalculator,
        inputs: ReportInputSource | None = None,
        *,
        log: IngestionLog,
    ) -> None:
        self._status = status_repository
        self._inputs = inputs or RepositoryInputSource(status_repository, hours_repository, timezone_repository)
        self._calculator = calculator
        self._log = log

    def snapshot(self) -> int:
        """The state of the data a report started now reads: the latest complete ingestion."""
        return self._log.latest_complete()

    def now(self, snapshot: int | None = None, as_of_us: int | None = None) -> int | None:
        """The report's "now": the latest poll of any store (at or before ``as_of_us``), None without one."""
        return self._status.latest_timestamp(snapshot=self._or_latest(snapshot), until_us=as_of_us)

    def store_ids(self, snapshot: int | None = None) -> list[str]:
        return self._status.store_ids(snapshot=self._or_latest(snapshot))

    def compute(
        self, now: int | None = None, stores: StoreRange | None = None, snapshot: int | None = None
    ) -> ReportRows:
        """Figures at ``now`` for every store (in ``stores`` when given) with a poll at or before it.

        Polls after ``now`` are left out. Parts of a report computed over
        disjoint store ranges with the same ``now`` and snapshot join into
        exactly the whole report.
        """
        snapshot = self._or_latest(snapshot)
        if now is None:
            now = self.now(snapshot)
        if now is None:
            return ReportRows.empty()
        inputs = self._inputs.read(earliest_poll_needed(now), stores, snapshot=snapshot)
        polls = inputs.polls.until(now)  # a report as of an earlier instant
        if len(polls) == 0:
            return ReportRows.empty()
        return self._calculator.compute(now, polls, inputs.hours, inputs.timezones)

    def csv(self, as_of: datetime | None = None, chunk_size: int = 2000) -> str:
        """The whole report as CSV text; see ``csv_pieces``."""
        return "".join(self.csv_pieces(as_of, chunk_size))

    def csv_pieces(self, as_of: datetime | None = None, chunk_size: int = 2000) -> Iterator[str]:
        """The report as CSV text, header first, then the lines of ``chunk_size`` stores at a time.

        Computed in parts, as the workers do, so memory holds one part at a
        time whatever the size of the fleet. As of an instant, ``now`` is the
        latest poll at or before it and later polls are left out; before every
        poll the report is its header alone.
        """
        snapshot = self.snapshot()
        now = self.now(snapshot, None if as_of is None else to_micros(as_of))
        yield REPORT_HEADER + "\n"
        if now is None:
            return
        for part in split_stores(self.store_ids(snapshot), chunk_size):
            yield render_lines(self.compute(now, part, snapshot))

    def store_detail(self, store_id: str) -> StoreDetail:
        """One store at the data's current ``now``; ``StoreNotFound`` if it has no poll.

        Its figures are the ones its row of a report computed now has: the
        store is computed as a part of one store, which the report's parts are.
        """
        snapshot = self.snapshot()
        now = self.now(snapshot)
        if now is None:
            raise StoreNotFound(store_id)
        inputs = self._inputs.read(earliest_poll_needed(now), StoreRange(store_id, store_id), snapshot=snapshot)
        polls = inputs.polls.until(now)  # a report as of an earlier instant
        if store_id not in polls.store_ids:
            raise StoreNotFound(store_id)
        week = self._calculator.store_week(now, polls, inputs.hours, inputs.timezones)
        index = week.store_ids.index(store_id)
        window = week.windows.week
        zone = inputs.timezones.of(store_id)
        days = local_days_touching(ZoneClock(zone), window)
        mine = polls.store_index == polls.store_ids.index(store_id)
        in_week = mine & (polls.timestamp_us >= window.start)
        order = polls.timestamp_us[in_week].argsort(kind="stable")
        return StoreDetail(
            store_id=store_id,
            timezone=zone,
            now=now,
            windows=week.windows,
            figures=measure(week).figures(store_id),
            business_hours=tuple(week.schedule.intervals_of(index)),
            status=_merged_segments(week.timeline.segments_of(index), window),
            polls=tuple(
                StatusPoll(int(instant), bool(active))
                for instant, active in zip(
                    polls.timestamp_us[in_week][order].tolist(), polls.active[in_week][order].tolist()
                )
            ),
            days=tuple(
                LocalDay(date_of(day), Interval(start, end))
                for day, start, end in zip(days.days.tolist(), days.starts.tolist(), days.ends.tolist())
            ),
        )

    def trend(self, now: int, days: int, stores: StoreRange | None = None, snapshot: int | None = None) -> TrendSeries:
        """The daily trend at ``now`` over ``days`` days of every store (in ``stores``) with a poll at or before it.

        Read and computed as ``compute`` is, reaching back ``days`` days
        instead of a week; parts over disjoint store ranges join into the whole.
        """
        check_days(days)
        snapshot = self._or_latest(snapshot)
        inputs = self._inputs.read(earliest_trend_poll(now, days), stores, snapshot=snapshot)
        polls = inputs.polls.until(now)  # a trend as of an earlier instant
        if len(polls) == 0:
            return TrendSeries.empty(now, days)
        return daily_series(self._calculator, now, days, polls, inputs.hours, inputs.timezones)

    def trend_pieces(self, days: int, as_of: datetime | None = None, chunk_size: int = 2000) -> Iterator[str]:
        """The trend as CSV text, header first, then the lines of ``chunk_size`` stores at a time.

        ``now`` is fixed as for a report (the latest poll, at or before
        ``as_of``); before every poll the file is its header alone.
        """
        check_days(days)
        snapshot = self.snapshot()
        now = self.now(snapshot, None if as_of is None else to_micros(as_of))
        yield TREND_HEADER + "\n"
        if now is None:
            return
        for part in split_stores(self.store_ids(snapshot), chunk_size):
            yield render_trend_lines(self.trend(now, days, part, snapshot))

    def store_trend(self, store_id: str, days: int, as_of: datetime | None = None) -> TrendSeries:
        """One store's trend, reading only its own polls and rows; ``StoreNotFound`` without a poll by ``now``."""
        check_days(days)
        snapshot = self.snapshot()
        now = self.now(snapshot, None if as_of is None else to_micros(as_of))
        if now is None:
            raise StoreNotFound(store_id)
        series = self.trend(now, days, StoreRange(store_id, store_id), snapshot)
        if store_id not in series.store_ids:
            raise StoreNotFound(store_id)
        return series

    def _or_latest(self, snapshot: int | None) -> int:
        return self.snapshot() if snapshot is None else snapshot
