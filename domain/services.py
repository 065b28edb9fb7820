"""The use cases: ingest a data folder; compute a report.

Each takes its ports in its constructor and knows nothing of which adapters
stand behind them, so the CLI, the HTTP API, the workers and the tests all run
the same code.

One report, one state of the data: an ingestion is numbered (``IngestionLog``)
and stores everything under its version, in as many transactions as it takes;
it becomes visible when it completes. A report's plan fixes the snapshot (the
latest complete version) and its ``now``; every part, on any worker, reads
that snapshot, so nothing ingested later, and no half of an ingestion, ever
enters it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from domain.errors import UptimeError, quoted
from domain.ingestion import (
    HOURS_FILE,
    START,
    STATUS_FILE,
    TIMEZONE_FILE,
    BatchCounts,
    FileSummary,
    IngestSummary,
    ReadPosition,
    ResumePoint,
    StatusBatch,
    summarize,
)
from domain.inputs import StatusPolls
from domain.ports import (
    BusinessHoursRepository,
    IngestionLog,
    InputReader,
    ReadPositions,
    QueueUnavailable,
    ReportNotFound,
    ReportInputs,
    ReportInputSource,
    ReportQueue,
    ReportRegistry,
    ReportStorage,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.calendar import local_days_touching
from domain.clock import to_micros
from domain.interval import Interval
from domain.localtime import ZoneClock, date_of
from domain.report import REPORT_HEADER, Report, ReportRows, ReportStatus, RunKind, render_lines
from domain.uptime import ReportWindows, UptimeCalculator, earliest_poll_needed, measure
from domain.fleet_trend import FleetTrend, TrendSummary, combine, fleet_trend, summarize_part
from domain.trend import TREND_HEADER, TrendSeries, check_days, daily_series, earliest_trend_poll, render_trend_lines
from domain.work import COMPUTE_PART_TASK, PLAN_REPORT_TASK, WorkTracker, unit_for


_Rows = TypeVar("_Rows")
# Polls stored in one write during an ingestion: about 20 MB of columns.
STORE_BATCH_POLLS = 1_000_000


class ProgressListener(Protocol):
    """Told how far a long step has come; a terminal or a task state shows it."""

    def __call__(self, step: str, done: int, total: int) -> None: ...


def _no_progress(step: str, done: int, total: int) -> None:
    pass


class IngestService:
    """Reads a data folder, validates it, and stores what is new as one numbered ingestion.

    The status file is read and stored a batch at a time, so memory does not
    grow with its size; the hours and timezone files (as large as the fleet,
    not its history) are read whole. Every file's header is checked first: a
    missing column loads nothing. The ingestion begins (once it is its
    turn), stores everything under its version and completes, which makes all
    of it visible to reports at once; one that fails is abandoned, none of it
    ever visible.

    With ``positions``, a file is read only from where the last ingestion of
    it ended, when the bytes read then are still there (the same checksum):
    a status file a poller appends to costs only its new lines. An hours or
    timezone file is skipped when unchanged and no other ingestion came
    since. Anything else is read whole.
    """

    def __init__(
        self,
        reader: InputReader,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
        log: IngestionLog,
        positions: ReadPositions | None = None,
    ) -> None:
        self._reader = reader
        self._status = status_repository
        self._hours = hours_repository
        self._timezones = timezone_repository
        self._log = log
        self._positions = positions

    def ingest(
        self,
        folder: Path,
        progress: ProgressListener = _no_progress,
        source: str | None = None,
        *,
        full: bool = False,
    ) -> IngestSummary:
        """Ingest ``folder``; ``source`` names its files across ingestions (default: the folder's path).

        ``full`` reads every file whole, whatever was read of it before.
        """
        steps = 4
        progress("reading the headers", 0, steps)
        source = source if source is not None else str(folder.absolute())
        known = {
            name: None if full else self._known(source, folder, name) for name in (STATUS_FILE, HOURS_FILE, TIMEZONE_FILE)
        }
        status_from = known[STATUS_FILE]
        hours_unchanged = self._unchanged(known[HOURS_FILE], folder, HOURS_FILE)
        timezones_unchanged = self._unchanged(known[TIMEZONE_FILE], folder, TIMEZONE_FILE)
        if (
            self._read_to_end(status_from, folder, STATUS_FILE)
            and (hours_unchanged or self._reader.fingerprint(folder, HOURS_FILE) is None)
            and (timezones_unchanged or self._reader.fingerprint(folder, TIMEZONE_FILE) is None)
        ):
            # Nothing new in any file (an absent hours or timezone file changes
            # nothing): no ingestion begins, and reports keep their snapshot.
            progress("done", steps, steps)
            return IngestSummary(FileSummary(), FileSummary(), FileSummary())
        batches = self._reader.status_batches(folder, status_from.resume if status_from is not None else None)
        hours_read = None if hours_unchanged else self._reader.hours(folder)
        timezones_read = None if timezones_unchanged else self._reader.timezones(folder)
        version = self._log.begin()
        try:
            progress("storing status polls", 1, steps)
            status_summary, resume = self._store_polls(batches, version)
            progress("storing business hours", 2, steps)
            hours_summary = self._store(hours_read, lambda rows: self._hours.replace(rows, version=version))
            progress("storing timezones", 3, steps)
            timezone_summary = self._store(timezones_read, lambda rows: self._timezones.replace(rows, version=version))
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        self._remember(source, folder, STATUS_FILE, resume.offset, resume, version)
        # Read now, or skipped as unchanged since the ingestion before this one
        # stored it: either way its rows are the stored ones as of this version.
        for name in (HOURS_FILE, TIMEZONE_FILE):
            self._remember(source, folder, name, None, None, version)
        progress("done", steps, steps)
        return IngestSummary(status_summary, hours_summary, timezone_summary)

    def _store_polls(self, batches: Iterator[StatusBatch], version: int) -> tuple[FileSummary, ResumePoint]:
        counts: list[BatchCounts] = []
        new = repeated = 0
        resume = START
        pending: list[StatusPolls] = []

        def store() -> None:
            nonlocal new, repeated
            polls = StatusPolls.joined(pending)
            pending.clear()
            added = self._status.add(polls, version=version)
            if added < len(polls):
                # Polls an earlier batch of this file stored are duplicates, not already stored.
                repeated += self._status.stored_by(polls, version=version) - added
            new += added

        for batch in batches:
            pending.append(batch.valid)
            counts.append(batch.counts)
            resume = batch.resume
            # Reader batches are small; each write touches the last page of
            # nearly every store, so fewer, larger writes cost much less.
            if sum(len(part) for part in pending) >= STORE_BATCH_POLLS:
                store()
        if pending:
            store()
        return summarize(counts, repeated).with_new(new), resume

    def _store(self, read: tuple[_Rows, FileSummary] | None, replace: Callable[[_Rows], int]) -> FileSummary:
        if read is None:
            return FileSummary()
        rows, summary = read
        return summary.with_new(replace(rows))

    def _known(self, source: str, folder: Path, name: str) -> ReadPosition | None:
        """Where the last ingestion of this file ended, if the bytes it read are still there."""
        if self._positions is None:
            return None
        known = self._positions.get(f"{source}/{name}")
        if known is None:
            return None
        now = self._reader.fingerprint(folder, name, known.resume.offset)
        return known if now is not None and now.checksum == known.checksum else None

    def _unchanged(self, known: ReadPosition | None, folder: Path, name: str) -> bool:
        """An hours or timezone file read whole last time, unchanged since, by the latest
        ingestion (so nothing since could have replaced its rows): no need to read it."""
        return known is not None and known.version == self._log.latest_complete() and self._read_to_end(known, folder, name)

    def _read_to_end(self, known: ReadPosition | None, folder: Path, name: str) -> bool:
        """The file holds nothing after where its last ingestion ended (``known``, its prefix checked)."""
        if known is None:
            return False
        whole = self._reader.fingerprint(folder, name)
        return whole is not None and whole.length == known.resume.offset

    def _remember(
        self, source: str, folder: Path, name: str, length: int | None, resume: ResumePoint | None, version: int
    ) -> None:
        if self._positions is None:
            return
        read = self._reader.fingerprint(folder, name, length)
        if read is not None:
            point = resume if resume is not None else ResumePoint(read.length, 0)
            self._positions.put(ReadPosition(f"{source}/{name}", point, read.checksum, version))

    def add_polls(self, polls: StatusPolls, summary: FileSummary) -> FileSummary:
        """Store polls already read and validated (``POST /polls``) as one ingestion.

        ``summary`` counts what was read; the result adds how many were new.
        Visible to reports at once when this returns, like any ingestion.
        """
        version = self._log.begin()
        try:
            new = self._status.add(polls, version=version)
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        return summary.with_new(new)

    def purge_polls(self, keep: timedelta) -> int:
        """Delete the polls more than ``keep`` before the latest one, but each store's latest of those.

        The cutoff is the latest poll minus ``keep``; a report whose ``now``
        is at least ten days (a week and the look-back of ``earliest_poll_needed``)
        after the cutoff reads exactly what it read before (see
        ``StatusRepository.purge_before``). Done in an ingestion's turn, so no
        ingestion runs meanwhile; returns how many polls went.
        """
        if keep <= timedelta(0):
            raise ValueError("keep must be positive")
        version = self._log.begin()
        try:
            latest = self._status.latest_timestamp(snapshot=self._log.latest_complete())
            deleted = 0 if latest is None else self._status.purge_before(latest - keep // timedelta(microseconds=1))
            self._log.complete(version)
        except BaseException:
            self._log.abandon(version)
            raise
        return deleted


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


Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def stall_reason(
    timeout: timedelta, updated_at: datetime, now: datetime, cause: Callable[[], str] | None = None
) -> str | None:
    """Why a run that made no progress since ``updated_at`` is failed at ``now``; None while it may still be alive.

    ``cause`` gives the specific reason when it is known (see ``WorkTracker.stall_cause``).
    """
    if now - updated_at <= timeout:
        return None
    seconds = int(timeout.total_seconds())
    if cause is not None:
        return f"no progress for {seconds} s: {cause()}"
    return (
        f"no progress for {seconds} s: its work was lost (no worker running, the queue flushed,"
        " or the workers cannot write to the database: see their logs)"
    )


class ReportNotReady(UptimeError):
    """The report's CSV was asked for before it completed."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report.kind.value} {report.report_id} is {report.status.value}, not Complete")
        self.report = report


class _PartGone(Exception):
    """A part went while the file was being assembled: another delivery completed the run first."""


@attrs.frozen
class ReportPlan:
    """How one report run is split: the snapshot all parts read, their ``now`` and consecutive store ranges."""

    report_id: str
    now: int
    chunks: tuple[StoreRange, ...]
    snapshot: int = 0


def split_stores(store_ids: list[str], chunk_size: int) -> tuple[StoreRange, ...]:
    """Consecutive ranges of at most ``chunk_size`` sorted store ids."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    return tuple(
        StoreRange(store_ids[i], store_ids[min(i + chunk_size, len(store_ids)) - 1])
        for i in range(0, len(store_ids), chunk_size)
    )


class ReportRunService:
    """A report as a run: triggered, planned in parts, computed part by part, assembled.

    The parts can be computed in any order, by any number of workers, and
    again after a crash: saving a part twice changes nothing, and whoever
    saves the last part assembles the file, a part at a time.

    The daily trend of the fleet (``trigger_trend``) is a run of the same
    machinery, of kind ``TREND``: the same plan (one snapshot, one ``now``,
    the same parts), the same units of work and watchdog; a part computes
    trend lines instead of report lines and sums its stores
    (``domain.fleet_trend``); assembly writes the trend's header and records
    the summary of all parts beside the file.

    With ``work``, every unit (the planning, each part) is recorded in its
    ledger before its message is published, and the ledger's watchdog
    queues again what a lost worker or a lost message left undone; a stalled
    run then says why. Without it, work goes to ``queue`` and nothing
    watches it.
    """

    def __init__(
        self,
        reports: ReportService,
        registry: ReportRegistry,
        storage: ReportStorage,
        queue: ReportQueue,
        clock: Clock,
        new_id: IdFactory,
        chunk_size: int,
        stall_timeout: timedelta,
        work: WorkTracker | None = None,
    ) -> None:
        self._reports = reports
        self._registry = registry
        self._storage = storage
        self._queue = queue
        self._clock = clock
        self._new_id = new_id
        self._chunk_size = chunk_size
        self._stall_timeout = stall_timeout
        self._work = work

    def trigger(self, as_of: datetime | None = None) -> Report:
        """Record a new running report (as of ``as_of`` when given), then queue its work.

        The record is committed before the work is queued, so a worker never
        meets an unknown id; if the queue refuses, the report is failed with
        the reason and ``QueueUnavailable`` propagates.
        """
        return self._start(RunKind.REPORT, as_of, None)

    def trigger_trend(self, days: int, as_of: datetime | None = None) -> Report:
        """Record a new running trend over ``days`` days (as of ``as_of``), then queue its work, as ``trigger`` does."""
        return self._start(RunKind.TREND, as_of, check_days(days))

    def _start(self, kind: RunKind, as_of: datetime | None, days: int | None) -> Report:
        at = self._clock()
        report = Report(
            self._new_id(), ReportStatus.RUNNING, created_at=at, updated_at=at, as_of=as_of, kind=kind, days=days
        )
        self._registry.add(report)
        # A report's planning message keeps its one argument; a trend's names its kind, for its label.
        args: list[Any] = [report.report_id] if kind is RunKind.REPORT else [report.report_id, kind.value]
        try:
            if self._work is not None:
                self._work.submit([unit_for(self._work, report.report_id, PLAN_REPORT_TASK, args)])
            else:
                self._queue.submit(report.report_id)
        except QueueUnavailable as error:
            self.fail(report.report_id, f"the {kind.value} could not be queued: {error}")
            raise
        return report

    def plan(self, report_id: str) -> ReportPlan:
        """Fix the report's snapshot and ``now``, and split its stores; an empty plan means it is done.

        The snapshot is the latest complete ingestion; ``now`` its latest poll
        (at or before the report's ``as_of``). Both are recorded, and every
        part reads them from the record. A report planned already keeps its
        plan; one that is no longer running (failed when its queueing timed
        out, though the broker kept the message) is not planned again.
        """
        report = self._registry.get(report_id)
        if not report.is_running:
            return ReportPlan(report_id, 0, ())
        if report.snapshot is None:
            snapshot = self._reports.snapshot()
            as_of_us = None if report.as_of is None else to_micros(report.as_of)
            now = self._reports.now(snapshot, as_of_us)
        else:
            snapshot, now = report.snapshot, report.now_us
        chunks = self._split(snapshot, now)
        recorded = self._registry.plan(report_id, len(chunks), self._clock(), snapshot=snapshot, now_us=now)
        if (recorded.snapshot, recorded.now_us) != (snapshot, now) and recorded.snapshot is not None:
            # Another delivery of the planning task recorded its plan first.
            snapshot, now = recorded.snapshot, recorded.now_us
            chunks = self._split(snapshot, now)
        if not chunks:
            self._assemble(report_id)
        return ReportPlan(report_id, now if now is not None else 0, chunks, snapshot)

    def queue_parts(self, plan: ReportPlan) -> None:
        """Record and publish one unit per part of the plan (parts recorded already are kept).

        ``QueueUnavailable`` if the broker refused one: the parts are
        recorded, and the watchdog publishes them once it answers.
        """
        if self._work is None:
            raise UptimeError("no ledger of work to queue the parts in")
        work = self._work
        self._work.submit(
            [
                unit_for(work, plan.report_id, COMPUTE_PART_TASK, [plan.report_id, index, chunk.first, chunk.last])
                for index, chunk in enumerate(plan.chunks)
            ]
        )

    def _split(self, snapshot: int, now: int | None) -> tuple[StoreRange, ...]:
        if now is None:
            return ()
        return split_stores(self._reports.store_ids(snapshot), self._chunk_size)

    def run_chunk(self, report_id: str, index: int, chunk: StoreRange) -> bool:
        """Compute and save one part, at the snapshot and ``now`` of the plan; True when it completed the run.

        A report's part is its lines; a trend's part its lines and the sums
        of its stores (``summarize_part``), from the same exact figures.
        """
        report = self._registry.get(report_id)
        if not report.is_running:
            return False
        if report.snapshot is None or report.now_us is None:
            raise UptimeError(
                f"{report.kind.value} {report_id} has no plan with stores: its part {index} cannot be computed"
            )
        summary: Mapping[str, Any] | None = None
        if report.kind is RunKind.TREND:
            series = self._reports.trend(report.now_us, _days_of(report), chunk, report.snapshot)
            lines = render_trend_lines(series)
            summary = summarize_part(series).to_json()
        else:
            lines = render_lines(self._reports.compute(report.now_us, chunk, report.snapshot))
        saved = self._registry.save_part(report_id, index, lines, self._clock(), summary)
        if saved < report.progress_total:
            return False
        return self._assemble(report_id)

    def fail(self, report_id: str, reason: str) -> bool:
        failed = self._registry.mark_failed(report_id, reason, self._clock())
        if failed:
            self._forget_work(report_id)
        return failed

    def is_running(self, report_id: str) -> bool:
        return self._registry.get(report_id).is_running

    def kind_of(self, report_id: str) -> RunKind:
        return self._registry.get(report_id).kind

    def status(self, report_id: str, kind: RunKind | None = None) -> Report:
        """The run's state; a run with no progress for too long is failed here, saying why.

        With ``kind``, a run of another kind is ``ReportNotFound``: a report's
        id names no trend, and a trend's no report.
        """
        report = self._registry.get(report_id)
        if kind is not None and report.kind is not kind:
            raise ReportNotFound(report_id)
        cause = None if self._work is None else (lambda: self._stall_cause(report_id))
        reason = (
            stall_reason(self._stall_timeout, report.updated_at, self._clock(), cause) if report.is_running else None
        )
        if reason is not None:
            self.fail(report_id, reason)
            report = self._registry.get(report_id)
        return report

    def recent(self, limit: int, kind: RunKind = RunKind.REPORT) -> list[Report]:
        """The ``limit`` newest runs of ``kind``, newest first, each as ``status`` would give it."""
        # A run whose work was lost shows as failed here too, not as running forever.
        reports = self._registry.recent(limit, kind)
        return [self.status(report.report_id) if report.is_running else report for report in reports]

    def content(self, report_id: str, kind: RunKind | None = None) -> bytes:
        """The CSV of a complete run (of ``kind``, when given)."""
        report = self.status(report_id, kind)
        if report.status is not ReportStatus.COMPLETE or report.report_path is None:
            raise ReportNotReady(report)
        return self._storage.load(report.report_path)

    def content_pieces(self, report_id: str, kind: RunKind | None = None) -> Iterator[bytes]:
        """The CSV of a complete run in pieces, as ``content`` (a trend's file may be larger than memory)."""
        report = self.status(report_id, kind)
        if report.status is not ReportStatus.COMPLETE or report.report_path is None:
            raise ReportNotReady(report)
        return self._storage.load_pieces(report.report_path)

    def fleet_trend(self, trend_id: str) -> FleetTrend:
        """The figures of a complete trend, from the summary recorded with it: no part is read again."""
        report = self.status(trend_id, RunKind.TREND)
        if report.status is not ReportStatus.COMPLETE or report.summary is None:
            raise ReportNotReady(report)
        return fleet_trend(report.now_us, TrendSummary.from_json(report.summary))

    def purge(self, older_than: timedelta) -> int:
        """Delete the reports that finished more than ``older_than`` ago; return how many.

        Files go first, then the records: a purge stopped halfway leaves
        records whose files are gone, which the next purge deletes, never a
        file that no record names. A report still running is never purged.
        """
        if older_than <= timedelta(0):
            raise ValueError("older_than must be positive")
        cutoff = self._clock() - older_than
        expired = self._registry.finished_before(cutoff)
        removed: set[str] = set()
        for report in expired:
            if report.report_path is not None:
                self._storage.delete(report.report_path)
                removed.add(report.report_path)
        deleted = self._registry.delete_finished_before(cutoff)
        # One that finished "before the cutoff" after the list was read (a
        # machine whose clock lags) still loses its file.
        for report in deleted:
            if report.report_path is not None and report.report_path not in removed:
                self._storage.delete(report.report_path)
        return len(deleted)

    def _stall_cause(self, report_id: str) -> str:
        assert self._work is not None
        return self._work.stall_cause(report_id)

    def _forget_work(self, report_id: str) -> None:
        """Drop a finished report's units; left behind (the database refused), they do nothing harmful."""
        if self._work is None:
            return
        try:
            self._work.forget(report_id)
        except UptimeError:
            pass

    def _assemble(self, report_id: str) -> bool:
        """Join the parts in order under the kind's header, a part at a time, and complete the run.

        Memory holds one part (and a trend's summary, a few figures per day
        and at most ``SLIPPING_STORES`` stores), whatever the size of the fleet.
        """
        report = self._registry.get(report_id)
        total = report.progress_total
        summary: Mapping[str, Any] | None = None
        header = REPORT_HEADER
        if report.kind is RunKind.TREND:
            header = TREND_HEADER
            summaries = self._registry.part_summaries(report_id)
            if len(summaries) < total or any(part is None for part in summaries):
                return False  # completed already (see below)
            days = _days_of(report)
            summary = combine(days, (TrendSummary.from_json(part) for part in summaries if part is not None)).to_json()

        def pieces() -> Iterator[bytes]:
            yield (header + "\n").encode("utf-8")
            for index in range(total):
                lines = self._registry.part(report_id, index)
                if lines is None:
                    raise _PartGone()
                yield lines.encode("utf-8")

        try:
            location = self._storage.save_pieces(report_id, pieces())
        except _PartGone:
            # A redelivered last part came second: the first one already
            # assembled the file, and completion dropped the parts.
            return False
        completed = self._registry.mark_complete(report_id, location, self._clock(), summary)
        if completed:
            self._forget_work(report_id)
        return completed


def _days_of(report: Report) -> int:
    if report.days is None:
        raise UptimeError(f"trend {report.report_id} has no number of days")
    return report.days
