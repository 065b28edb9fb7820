"""In-memory report runs: the registry of reports with their saved parts, and
the report files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from domain.model.report import Report, ReportStatus, RunKind
from domain.ports.data import RepositoryError
from domain.ports.reports import ReportNotFound, ReportRegistry, ReportStorage, ReportStorageError


class InMemoryReportRegistry(ReportRegistry):
    """Reports by id, with their saved parts."""

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.saved_parts: dict[str, dict[int, str]] = {}
        self.saved_summaries: dict[str, dict[int, Mapping[str, Any] | None]] = {}

    def add(self, report: Report) -> None:
        if report.report_id in self.reports:
            raise RepositoryError(f"a report with id {report.report_id} exists already")
        self.reports[report.report_id] = report
        self.saved_parts[report.report_id] = {}
        self.saved_summaries[report.report_id] = {}

    def get(self, report_id: str) -> Report:
        try:
            return self.reports[report_id]
        except KeyError:
            raise ReportNotFound(report_id) from None

    def plan(self, report_id: str, total_parts: int, at: datetime, *, snapshot: int, now_us: int | None) -> Report:
        if not self.get(report_id).is_planned:
            self._change(report_id, progress_total=total_parts, updated_at=at, snapshot=snapshot, now_us=now_us)
        return self.get(report_id)

    def save_part(
        self, report_id: str, index: int, lines: str, at: datetime, summary: Mapping[str, Any] | None = None
    ) -> int:
        report = self.get(report_id)
        if not report.is_running:
            # A late part: a finished report keeps its parts and progress.
            return report.progress_done
        parts = self.saved_parts[report_id]
        parts[index] = lines
        self.saved_summaries[report_id][index] = _json_copy(summary)
        self._change(report_id, progress_done=len(parts), updated_at=at)
        return len(parts)

    def parts(self, report_id: str) -> list[str]:
        self.get(report_id)
        return [lines for _, lines in sorted(self.saved_parts[report_id].items())]

    def part(self, report_id: str, index: int) -> str | None:
        self.get(report_id)
        return self.saved_parts[report_id].get(index)

    def part_summaries(self, report_id: str) -> list[Mapping[str, Any] | None]:
        self.get(report_id)
        return [_json_copy(summary) for _, summary in sorted(self.saved_summaries[report_id].items())]

    def mark_complete(
        self, report_id: str, report_path: str, finished_at: datetime, summary: Mapping[str, Any] | None = None
    ) -> bool:
        if not self.get(report_id).is_running:
            return False
        self._change(
            report_id,
            status=ReportStatus.COMPLETE,
            report_path=report_path,
            finished_at=finished_at,
            updated_at=finished_at,
            summary=_json_copy(summary),
        )
        # The assembled file holds the parts now.
        self.saved_parts[report_id] = {}
        self.saved_summaries[report_id] = {}
        return True

    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> bool:
        if not self.get(report_id).is_running:
            return False
        self._change(
            report_id, status=ReportStatus.FAILED, error=error, finished_at=finished_at, updated_at=finished_at
        )
        return True

    def ping(self) -> None:
        """Memory always answers."""

    def finished_before(self, cutoff: datetime) -> list[Report]:
        return [
            report
            for _, report in sorted(self.reports.items())
            if not report.is_running and report.finished_at is not None and report.finished_at < cutoff
        ]

    def delete_finished_before(self, cutoff: datetime) -> list[Report]:
        expired = self.finished_before(cutoff)
        for report in expired:
            del self.reports[report.report_id]
            self.saved_parts.pop(report.report_id, None)
            self.saved_summaries.pop(report.report_id, None)
        return expired

    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        if limit < 1:
            return []
        runs = [report for report in self.reports.values() if kind is None or report.kind is kind]
        newest_first = sorted(runs, key=lambda report: (report.created_at, report.report_id), reverse=True)
        return newest_first[:limit]

    def _change(self, report_id: str, **changes: Any) -> None:
        self.reports[report_id] = attrs.evolve(self.get(report_id), **changes)


def _json_copy(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A summary as a database gives it back: plain JSON values, not the caller's objects."""
    return None if summary is None else json.loads(json.dumps(dict(summary)))


class InMemoryReportStorage(ReportStorage):
    """Report files by location; the location is the report id."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    def save(self, report_id: str, content: bytes) -> str:
        self.saved[report_id] = bytes(content)
        return report_id

    def load(self, location: str) -> bytes:
        try:
            return self.saved[location]
        except KeyError:
            raise ReportStorageError(f"no report file at {location}") from None

    def delete(self, location: str) -> None:
        self.saved.pop(location, None)
