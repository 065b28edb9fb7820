"""The use cases: ingest a data folder; compute a report.

Each takes its ports in its constructor and knows nothing of which adapters
stand behind them, so the CLI, the HTTP API, the workers and the tests all run
the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from domain.ingestion import IngestSummary
from domain.inputs import StoreTimezones
from domain.ports import (
    BusinessHoursRepository,
    InputReader,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.report import ReportRows, render_csv
from domain.uptime import UptimeCalculator, earliest_poll_needed


class ProgressListener(Protocol):
    """Told how far a long step has come; a terminal or a task state shows it."""

    def __call__(self, step: str, done: int, total: int) -> None: ...


def _no_progress(step: str, done: int, total: int) -> None:
    pass


class IngestService:
    """Reads a data folder, validates it, and stores what is new."""

    def __init__(
        self,
        reader: InputReader,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
    ) -> None:
        self._reader = reader
        self._status = status_repository
        self._hours = hours_repository
        self._timezones = timezone_repository

    def ingest(self, folder: Path, progress: ProgressListener = _no_progress) -> IngestSummary:
        steps = 4
        progress("reading and validating the CSV files", 0, steps)
        parsed = self._reader.read(folder)
        progress("storing status polls", 1, steps)
        new_polls = self._status.add(parsed.polls)
        progress("storing business hours", 2, steps)
        new_hours = self._hours.replace(parsed.hours)
        progress("storing timezones", 3, steps)
        new_timezones = self._timezones.replace(parsed.timezones)
        progress("done", steps, steps)
        return IngestSummary(
            store_status=parsed.polls_summary.with_new(new_polls),
            menu_hours=parsed.hours_summary.with_new(new_hours),
            timezone=parsed.timezones_summary.with_new(new_timezones),
        )


class ReportService:
    """Computes the uptime report from whatever repositories it is given."""

    def __init__(
        self,
        status_repository: StatusRepository,
        hours_repository: BusinessHoursRepository,
        timezone_repository: TimezoneRepository,
        calculator: UptimeCalculator,
    ) -> None:
        self._status = status_repository
        self._hours = hours_repository
        self._timezones = timezone_repository
        self._calculator = calculator

    def now(self) -> int | None:
        """The report's "now": the latest poll of any store, None without polls."""
        return self._status.latest_timestamp()

    def store_ids(self) -> list[str]:
        return self._status.store_ids()

    def compute(self, now: int | None = None, stores: StoreRange | None = None) -> ReportRows:
        """Figures for every polled store (in ``stores`` when given) at ``now``.

        Parts of a report computed over disjoint store ranges with the same
        ``now`` join into exactly the whole report.
        """
        if now is None:
            now = self.now()
        if now is None:
            return ReportRows.empty()
        polls = self._status.polls_since(earliest_poll_needed(now), stores)
        if len(polls) == 0:
            return ReportRows.empty()
        hours = self._hours.hours(stores)
        timezones: StoreTimezones = self._timezones.timezones(stores)
        return self._calculator.compute(now, polls, hours, timezones)

    def csv(self) -> str:
        """The whole report as CSV text."""
        return render_csv(self.compute())
