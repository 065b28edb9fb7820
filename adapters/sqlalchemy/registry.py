"""The record of report runs, in the ``reports`` table."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapters.sqlalchemy.database import transaction
from adapters.sqlalchemy.tables import reports
from domain.ports import ReportNotFound, ReportRegistry, RepositoryError
from domain.report import Report, ReportStatus


class SqlAlchemyReportRegistry(ReportRegistry):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, report: Report) -> None:
        values = {
            "report_id": report.report_id,
            "status": report.status.value,
            "created_at": _to_utc(report.created_at),
            "finished_at": None if report.finished_at is None else _to_utc(report.finished_at),
            "report_path": report.report_path,
            "error": report.error,
            "progress_done": report.progress_done,
            "progress_total": report.progress_total,
        }
        try:
            with transaction(self._engine, write=True) as connection:
                connection.execute(insert(reports).values(**values))
        except RepositoryError as error:
            if isinstance(error.__cause__, IntegrityError):
                raise RepositoryError(f"a report with id {report.report_id} exists already") from error
            raise

    def get(self, report_id: str) -> Report:
        with transaction(self._engine, write=False) as connection:
            row = connection.execute(select(reports).where(reports.c.report_id == report_id)).one_or_none()
        if row is None:
            raise ReportNotFound(report_id)
        return _report(row)

    def set_progress(self, report_id: str, done: int, total: int) -> None:
        self._update(report_id, progress_done=done, progress_total=total)

    def mark_complete(self, report_id: str, report_path: str, finished_at: datetime) -> None:
        self._update(
            report_id,
            status=ReportStatus.COMPLETE.value,
            report_path=report_path,
            finished_at=_to_utc(finished_at),
        )

    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> None:
        self._update(
            report_id,
            status=ReportStatus.FAILED.value,
            error=error,
            finished_at=_to_utc(finished_at),
        )

    def _update(self, report_id: str, **values: Any) -> None:
        statement = update(reports).where(reports.c.report_id == report_id).values(**values)
        with transaction(self._engine, write=True) as connection:
            changed = connection.execute(statement).rowcount
        if changed == 0:
            raise ReportNotFound(report_id)


def _to_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise RepositoryError(f"a report time needs a timezone, got naive {instant.isoformat()}")
    return instant.astimezone(timezone.utc)


def _from_db(value: datetime) -> datetime:
    # SQLite hands back the naive UTC value it was given; PostgreSQL an aware one.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _report(row: Row[Any]) -> Report:
    return Report(
        report_id=row.report_id,
        status=ReportStatus(row.status),
        created_at=_from_db(row.created_at),
        finished_at=None if row.finished_at is None else _from_db(row.finished_at),
        report_path=row.report_path,
        error=row.error,
        progress_done=int(row.progress_done),
        progress_total=int(row.progress_total),
    )
