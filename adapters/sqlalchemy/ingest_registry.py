"""The record of ingestion runs (``ingest_runs``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapters.sqlalchemy.database import transaction, utc_for_db, utc_from_db
from adapters.sqlalchemy.tables import ingest_runs
from domain.model.report import ReportStatus
from domain.model.upload_runs import IngestRun
from domain.ports.data import RepositoryError
from domain.ports.uploads import IngestNotFound, IngestRegistry

_RUNNING = ReportStatus.RUNNING.value


class SqlAlchemyIngestRegistry(IngestRegistry):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, run: IngestRun) -> None:
        values = {
            "ingest_id": run.ingest_id,
            "status": run.status.value,
            "created_at": utc_for_db(run.created_at, "an ingestion time"),
            "updated_at": utc_for_db(run.updated_at, "an ingestion time"),
            "finished_at": None if run.finished_at is None else utc_for_db(run.finished_at, "an ingestion time"),
            "files": json.dumps(list(run.files)),
            "summary": None if run.summary is None else json.dumps(run.summary),
            "error": run.error,
            "source": run.source,
        }
        try:
            with transaction(self._engine, write=True) as connection:
                connection.execute(insert(ingest_runs).values(**values))
        except RepositoryError as error:
            if isinstance(error.__cause__, IntegrityError):
                raise RepositoryError(f"an ingestion with id {run.ingest_id} exists already") from error
            raise

    def get(self, ingest_id: str) -> IngestRun:
        with transaction(self._engine, write=False) as connection:
            row = connection.execute(select(ingest_runs).where(ingest_runs.c.ingest_id == ingest_id)).one_or_none()
        if row is None:
            raise IngestNotFound(ingest_id)
        return _run(row)

    def touch(self, ingest_id: str, at: datetime) -> bool:
        return self._change_running(ingest_id, updated_at=utc_for_db(at, "an ingestion time"))

    def mark_complete(self, ingest_id: str, summary: Mapping[str, Any], finished_at: datetime) -> bool:
        instant = utc_for_db(finished_at, "an ingestion time")
        return self._change_running(
            ingest_id,
            status=ReportStatus.COMPLETE.value,
            summary=json.dumps(dict(summary)),
            finished_at=instant,
            updated_at=instant,
        )

    def mark_failed(self, ingest_id: str, error: str, finished_at: datetime) -> bool:
        instant = utc_for_db(finished_at, "an ingestion time")
        return self._change_running(
            ingest_id, status=ReportStatus.FAILED.value, error=error, finished_at=instant, updated_at=instant
        )

    def _change_running(self, ingest_id: str, **values: Any) -> bool:
        """Change a running run; False if it had finished (of two finishers the first to commit wins)."""
        statement = (
            update(ingest_runs)
            .where(ingest_runs.c.ingest_id == ingest_id, ingest_runs.c.status == _RUNNING)
            .values(**values)
        )
        with transaction(self._engine, write=True) as connection:
            if connection.execute(statement).rowcount == 1:
                return True
            found = connection.execute(
                select(ingest_runs.c.ingest_id).where(ingest_runs.c.ingest_id == ingest_id)
            ).first()
        if found is None:
            raise IngestNotFound(ingest_id)
        return False




def _run(row: Row[Any]) -> IngestRun:
    return IngestRun(
        ingest_id=row.ingest_id,
        status=ReportStatus(row.status),
        created_at=utc_from_db(row.created_at),
        updated_at=utc_from_db(row.updated_at),
        finished_at=None if row.finished_at is None else utc_from_db(row.finished_at),
        files=json.loads(row.files),
        summary=None if row.summary is None else json.loads(row.summary),
        error=row.error,
        source=row.source,
    )
