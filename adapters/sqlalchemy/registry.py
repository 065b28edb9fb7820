"""The record of report runs (``reports``) and their computed parts (``report_parts``).

Many worker processes, on several machines, save parts of one report at the
same time, and a part may be saved twice after a crash. ``save_part`` stays
correct under that: it locks the report's row first (``SELECT ... FOR UPDATE``
on PostgreSQL; on SQLite every writing transaction holds the database's write
lock from its ``BEGIN IMMEDIATE``), so the count of saved parts it records
and returns includes every part committed before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, and_, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from adapters.sqlalchemy.database import is_postgres, transaction, utc_for_db, utc_from_db
from adapters.sqlalchemy.tables import report_parts, reports
from domain.model.report import Report, ReportStatus, RunKind
from domain.ports.data import RepositoryError
from domain.ports.reports import ReportNotFound, ReportRegistry

_RUNNING = ReportStatus.RUNNING.value


class SqlAlchemyReportRegistry(ReportRegistry):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)

    def add(self, report: Report) -> None:
        values = {
            "report_id": report.report_id,
            "status": report.status.value,
            "created_at": utc_for_db(report.created_at, "a report time"),
            "updated_at": utc_for_db(report.updated_at, "a report time"),
            "finished_at": None if report.finished_at is None else utc_for_db(report.finished_at, "a report time"),
            "report_path": report.report_path,
            "error": report.error,
            "progress_done": report.progress_done,
            "progress_total": report.progress_total,
            "as_of": None if report.as_of is None else utc_for_db(report.as_of, "a report's as_of"),
            "snapshot": report.snapshot,
            "now_us": report.now_us,
            "kind": report.kind.value,
            "days": report.days,
            "summary": _json_text(report.summary),
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

    def plan(self, report_id: str, total_parts: int, at: datetime, *, snapshot: int, now_us: int | None) -> Report:
        # Only an unplanned report changes: of two plans the first to commit wins.
        statement = (
            update(reports)
            .where(reports.c.report_id == report_id, reports.c.snapshot.is_(None))
            .values(
                progress_total=total_parts,
                updated_at=utc_for_db(at, "a report time"),
                snapshot=snapshot,
                now_us=now_us,
            )
        )
        with transaction(self._engine, write=True) as connection:
            connection.execute(statement)
            row = connection.execute(select(reports).where(reports.c.report_id == report_id)).one_or_none()
        if row is None:
            raise ReportNotFound(report_id)
        return _report(row)

    def save_part(
        self, report_id: str, index: int, lines: str, at: datetime, summary: Mapping[str, Any] | None = None
    ) -> int:
        updated_at = utc_for_db(at, "a report time")
        with transaction(self._engine, write=True) as connection:
            # Every writer of this report waits here for the one before it,
            # so the count below sees all the parts committed so far.
            locked = connection.execute(
                select(reports.c.status, reports.c.progress_done)
                .where(reports.c.report_id == report_id)
                .with_for_update()
            ).one_or_none()
            if locked is None:
                raise ReportNotFound(report_id)
            if locked.status != ReportStatus.RUNNING.value:
                # A late part (its worker was cut off while another did it):
                # a finished report keeps its file, parts and progress.
                return int(locked.progress_done)
            connection.execute(self._upsert_part(report_id, index, lines, _json_text(summary)))
            saved = connection.execute(
                select(func.count()).select_from(report_parts).where(report_parts.c.report_id == report_id)
            ).scalar_one()
            connection.execute(
                update(reports)
                .where(reports.c.report_id == report_id)
                .values(progress_done=saved, updated_at=updated_at)
            )
        return int(saved)

    def parts(self, report_id: str) -> list[str]:
        with transaction(self._engine, write=False) as connection:
            _require(connection, report_id)
            rows = connection.execute(
                select(report_parts.c.lines)
                .where(report_parts.c.report_id == report_id)
                .order_by(report_parts.c.part_index)
            ).scalars()
            return list(rows)

    def part(self, report_id: str, index: int) -> str | None:
        with transaction(self._engine, write=False) as connection:
            lines = connection.execute(
                select(report_parts.c.lines).where(
                    report_parts.c.report_id == report_id, report_parts.c.part_index == index
                )
            ).scalar_one_or_none()
            if lines is None:
                _require(connection, report_id)
        return None if lines is None else str(lines)

    def part_summaries(self, report_id: str) -> list[Mapping[str, Any] | None]:
        with transaction(self._engine, write=False) as connection:
            _require(connection, report_id)
            rows = connection.execute(
                select(report_parts.c.summary)
                .where(report_parts.c.report_id == report_id)
                .order_by(report_parts.c.part_index)
            ).scalars()
            return [_json_value(text) for text in rows]

    def mark_complete(
        self, report_id: str, report_path: str, finished_at: datetime, summary: Mapping[str, Any] | None = None
    ) -> bool:
        # The assembled file holds the parts now: they go in the same
        # transaction, so a reader sees them all or the report complete.
        return self._finish(
            report_id,
            finished_at,
            drop_parts=True,
            status=ReportStatus.COMPLETE.value,
            report_path=report_path,
            summary=_json_text(summary),
        )

    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> bool:
        return self._finish(report_id, finished_at, drop_parts=False, status=ReportStatus.FAILED.value, error=error)

    def ping(self) -> None:
        with transaction(self._engine, write=False) as connection:
            connection.execute(select(literal(1))).scalar_one()

    def finished_before(self, cutoff: datetime) -> list[Report]:
        with transaction(self._engine, write=False) as connection:
            rows = connection.execute(
                select(reports).where(_finished_before(cutoff)).order_by(reports.c.report_id)
            ).all()
        return [_report(row) for row in rows]

    def delete_finished_before(self, cutoff: datetime) -> list[Report]:
        expired = _finished_before(cutoff)
        with transaction(self._engine, write=True) as connection:
            # A failed report keeps its parts; they go first, in the same transaction.
            connection.execute(
                delete(report_parts).where(report_parts.c.report_id.in_(select(reports.c.report_id).where(expired)))
            )
            # RETURNING names exactly the rows this statement deleted: of two
            # purges at once, each report is returned by one of them only.
            rows = connection.execute(delete(reports).where(expired).returning(*reports.c)).all()
        return sorted((_report(row) for row in rows), key=lambda report: report.report_id)

    def recent(self, limit: int, kind: RunKind | None = None) -> list[Report]:
        # LIMIT with a negative count means "no limit" to SQLite: never send one.
        if limit < 1:
            return []
        query = select(reports)
        if kind is not None:
            query = query.where(reports.c.kind == kind.value)
        with transaction(self._engine, write=False) as connection:
            rows = connection.execute(
                query.order_by(reports.c.created_at.desc(), reports.c.report_id.desc()).limit(limit)
            ).all()
        return [_report(row) for row in rows]

    def _finish(self, report_id: str, finished_at: datetime, *, drop_parts: bool, **values: Any) -> bool:
        """Move a running report to its final state; False if it had one already."""
        instant = utc_for_db(finished_at, "a report time")
        # Only a running report changes: of two concurrent finishers the
        # first to commit wins and the other changes nothing.
        statement = (
            update(reports)
            .where(reports.c.report_id == report_id, reports.c.status == _RUNNING)
            .values(finished_at=instant, updated_at=instant, **values)
        )
        with transaction(self._engine, write=True) as connection:
            if connection.execute(statement).rowcount == 1:
                if drop_parts:
                    connection.execute(delete(report_parts).where(report_parts.c.report_id == report_id))
                return True
            _require(connection, report_id)
        return False

    def _upsert_part(self, report_id: str, index: int, lines: str, summary: str | None) -> Executable:
        build = postgres_insert if self._postgres else sqlite_insert
        statement = build(report_parts).values(report_id=report_id, part_index=index, lines=lines, summary=summary)
        return statement.on_conflict_do_update(
            index_elements=[report_parts.c.report_id, report_parts.c.part_index],
            set_={"lines": statement.excluded.lines, "summary": statement.excluded.summary},
        )


def _finished_before(cutoff: datetime) -> ColumnElement[bool]:
    """Complete or failed, and finished before ``cutoff``; a running report never matches."""
    return and_(
        reports.c.status.in_([ReportStatus.COMPLETE.value, ReportStatus.FAILED.value]),
        reports.c.finished_at.is_not(None),
        reports.c.finished_at < utc_for_db(cutoff, "a report time"),
    )


def _require(connection: Connection, report_id: str) -> None:
    found = connection.execute(select(reports.c.report_id).where(reports.c.report_id == report_id)).first()
    if found is None:
        raise ReportNotFound(report_id)




def _report(row: Row[Any]) -> Report:
    return Report(
        report_id=row.report_id,
        status=ReportStatus(row.status),
        created_at=utc_from_db(row.created_at),
        updated_at=utc_from_db(row.updated_at),
        finished_at=None if row.finished_at is None else utc_from_db(row.finished_at),
        report_path=row.report_path,
        error=row.error,
        progress_done=int(row.progress_done),
        progress_total=int(row.progress_total),
        as_of=None if row.as_of is None else utc_from_db(row.as_of),
        snapshot=None if row.snapshot is None else int(row.snapshot),
        now_us=None if row.now_us is None else int(row.now_us),
        kind=RunKind(row.kind),
        days=None if row.days is None else int(row.days),
        summary=_json_value(row.summary),
    )


def _json_text(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), separators=(",", ":"))


def _json_value(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
