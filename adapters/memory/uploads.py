"""In-memory ingestion runs (uploads and scheduled folders), by id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from domain.model.report import ReportStatus
from domain.model.upload_runs import IngestRun
from domain.ports.data import RepositoryError
from domain.ports.uploads import IngestNotFound, IngestRegistry


class InMemoryIngestRegistry(IngestRegistry):
    """Ingestion runs by id."""

    def __init__(self) -> None:
        self.runs: dict[str, IngestRun] = {}

    def add(self, run: IngestRun) -> None:
        if run.ingest_id in self.runs:
            raise RepositoryError(f"an ingestion with id {run.ingest_id} exists already")
        self.runs[run.ingest_id] = run

    def get(self, ingest_id: str) -> IngestRun:
        try:
            return self.runs[ingest_id]
        except KeyError:
            raise IngestNotFound(ingest_id) from None

    def touch(self, ingest_id: str, at: datetime) -> bool:
        if not self.get(ingest_id).is_running:
            return False
        self.runs[ingest_id] = attrs.evolve(self.runs[ingest_id], updated_at=at)
        return True

    def mark_complete(self, ingest_id: str, summary: Mapping[str, Any], finished_at: datetime) -> bool:
        return self._finish(ingest_id, finished_at, status=ReportStatus.COMPLETE, summary=dict(summary))

    def mark_failed(self, ingest_id: str, error: str, finished_at: datetime) -> bool:
        return self._finish(ingest_id, finished_at, status=ReportStatus.FAILED, error=error)

    def _finish(self, ingest_id: str, finished_at: datetime, **changes: Any) -> bool:
        if not self.get(ingest_id).is_running:
            return False
        self.runs[ingest_id] = attrs.evolve(
            self.runs[ingest_id], finished_at=finished_at, updated_at=finished_at, **changes
        )
        return True
