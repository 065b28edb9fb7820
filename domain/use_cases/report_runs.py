"""A report (or a fleet trend) as a run: triggered, planned in parts, computed part by part, assembled."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import attrs

from domain.model.clock import to_micros
from domain.model.errors import UptimeError
from domain.model.fleet_trend import FleetTrend, TrendSummary, combine, fleet_trend, summarize_part
from domain.model.report import REPORT_HEADER, Report, ReportStatus, RunKind, render_lines
from domain.model.trend import TREND_HEADER, check_days, render_trend_lines
from domain.model.work_units import COMPUTE_PART_TASK, PLAN_REPORT_TASK
from domain.ports.data import StoreRange
from domain.ports.reports import ReportNotFound, ReportRegistry, ReportStorage
from domain.ports.work import QueueUnavailable
from domain.use_cases.reports import ReportService, split_stores
from domain.use_cases.work import Clock, IdFactory, WorkTracker, stall_reason, unit_for


class ReportNotReady(UptimeError):
    """The report's CSV was asked for before it completed."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report.kind.value} {report.report_id} is {report.status.value}, not Complete")
        self.report = report


class _PartGone(Exception):
    """A part went while the file was being assembled: another delivery completed the run first."""


@attrs.frozen
class ReportPlan:
    """How one report run is split: the snapshot all parts read, their ``now`` and consecutive store ranges.

    ``run`` is the run as planning left it (complete when it had no store to
    compute); ``unqueued`` says why some parts wait for the watchdog to
    publish them (the broker refused), None when all were queued.
    """

    report_id: str
    now: int
    chunks: tuple[StoreRange, ...]
    snapshot: int = 0
    run: Report | None = None
    unqueued: str | None = None


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

    Every unit of work (the planning, each part) is recorded in ``work``'s
    ledger before its message is published, and the ledger's watchdog
    queues again what a lost worker or a lost message left undone; a stalled
    run then says why.
    """

    def __init__(
        self,
        reports: ReportService,
        registry: ReportRegistry,
        storage: ReportStorage,
        work: WorkTracker,
        clock: Clock,
        new_id: IdFactory,
        chunk_size: int,
        stall_timeout: timedelta,
    ) -> None:
        self._reports = reports
        self._registry = registry
        self._storage = storage
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
            self._work.submit([unit_for(self._work, report.report_id, PLAN_REPORT_TASK, args)])
        except QueueUnavailable as error:
            self.fail(report.report_id, f"the {kind.value} could not be queued: {error}")
            raise
        return report

    def plan(self, report_id: str) -> ReportPlan:
        """Fix the report's snapshot and ``now``, split its stores and queue one unit per part.

        An empty plan means it is done (no store: the plan completed it). The
        snapshot is the latest complete ingestion; ``now`` its latest poll
        (at or before the report's ``as_of``). Both are recorded, and every
        part reads them from the record. A report planned already keeps its
        plan; one that is no longer running (failed when its queueing timed
        out, though the broker kept the message) is not planned again.
        """
        report = self._registry.get(report_id)
        if not report.is_running:
            return ReportPlan(report_id, 0, (), run=report)
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
        run = self._assemble(report_id) if not chunks else recorded
        unqueued = self._queue_parts(report_id, chunks)
        return ReportPlan(report_id, now if now is not None else 0, chunks, snapshot, run or recorded, unqueued)

    def _queue_parts(self, report_id: str, chunks: tuple[StoreRange, ...]) -> str | None:
        """Record and publish one unit per part (parts recorded already are kept); why not all were published.

        The parts are recorded even when the broker refuses one: the
        watchdog publishes them once it answers.
        """
        work = self._work
        if not chunks:
            return None
        try:
            work.submit(
                [
                    unit_for(work, report_id, COMPUTE_PART_TASK, [report_id, index, chunk.first, chunk.last])
                    for index, chunk in enumerate(chunks)
                ]
            )
        except QueueUnavailable as error:
            return str(error)
        return None

    def _split(self, snapshot: int, now: int | None) -> tuple[StoreRange, ...]:
        if now is None:
            return ()
        return split_stores(self._reports.store_ids(snapshot), self._chunk_size)

    def run_chunk(self, report_id: str, index: int, chunk: StoreRange) -> Report | None:
        """Compute and save one part, at the snapshot and ``now`` of the plan; the completed run if it completed it.

        A report's part is its lines; a trend's part its lines and the sums
        of its stores (``summarize_part``), from the same exact figures.
        """
        report = self._registry.get(report_id)
        if not report.is_running:
            return None
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
            return None
        return self._assemble(report_id)

    def fail(self, report_id: str, reason: str) -> Report | None:
        """Fail a running run with ``reason``; the failed run, None if it was not running (or is gone)."""
        try:
            failed = self._registry.mark_failed(report_id, reason, self._clock())
        except ReportNotFound:
            return None
        if not failed:
            return None
        self._forget_work(report_id)
        return self._registry.get(report_id)

    def status(self, report_id: str, kind: RunKind | None = None) -> Report:
        """The run's state; a run with no progress for too long is failed here, saying why.

        With ``kind``, a run of another kind is ``ReportNotFound``: a report's
        id names no trend, and a trend's no report.
        """
        report = self._registry.get(report_id)
        if kind is not None and report.kind is not kind:
            raise ReportNotFound(report_id)
        cause = partial(self._work.stall_cause, report_id)
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

    def _forget_work(self, report_id: str) -> None:
        """Drop a finished report's units; left behind (the database refused), they do nothing harmful."""
        try:
            self._work.forget(report_id)
        except UptimeError:
            pass

    def _assemble(self, report_id: str) -> Report | None:
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
                return None  # completed already (see below)
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
            return None
        if not self._registry.mark_complete(report_id, location, self._clock(), summary):
            return None
        self._forget_work(report_id)
        return self._registry.get(report_id)


def _days_of(report: Report) -> int:
    if report.days is None:
        raise UptimeError(f"trend {report.report_id} has no number of days")
    return report.days
