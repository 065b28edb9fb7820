"""The uploads' ports: ingestions of uploaded files and where the files wait."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from domain.model.errors import UptimeError
from domain.model.upload_runs import IngestRun


# --- ingestion as a run: uploaded files, their runs, a watched folder ----------------
class IngestNotFound(UptimeError):
    def __init__(self, ingest_id: str) -> None:
        super().__init__(f"no ingestion with id {ingest_id}")
        self.ingest_id = ingest_id


class InvalidUpload(UptimeError):
    """Uploaded files that cannot be ingested: none, an unknown name, no status file."""


class UploadTooLarge(UptimeError):
    """Uploaded files larger than the limit; nothing of them is kept."""


class UploadStorageError(UptimeError):
    """Uploaded files could not be written, found or removed."""


class ByteStream(Protocol):
    """Where uploaded bytes are read from: an open file, a request's file part."""

    def read(self, size: int = -1, /) -> bytes: ...


class IngestRegistry(ABC):
    """The record of every ingestion run.

    Every method but ``add`` raises ``IngestNotFound`` for an unknown id. A
    run leaves ``Running`` once: ``mark_complete`` and ``mark_failed`` change
    only a running run and say whether they did.
    """

    @abstractmethod
    def add(self, run: IngestRun) -> None:
        """Record a new run; ``RepositoryError`` if the id exists already."""

    @abstractmethod
    def get(self, ingest_id: str) -> IngestRun: ...

    @abstractmethod
    def touch(self, ingest_id: str, at: datetime) -> bool:
        """Record progress of a running run (its ``updated_at``); False if it had finished."""

    @abstractmethod
    def mark_complete(self, ingest_id: str, summary: Mapping[str, Any], finished_at: datetime) -> bool:
        """Finish a running run with its summary (JSON-compatible, kept as given)."""

    @abstractmethod
    def mark_failed(self, ingest_id: str, error: str, finished_at: datetime) -> bool: ...


class UploadStorage(ABC):
    """Where uploaded files wait for their ingestion: one folder per run."""

    @abstractmethod
    def save(self, ingest_id: str, name: str, stream: ByteStream, max_bytes: int) -> int:
        """Store ``stream`` as the file ``name`` of the run; return its size in bytes.

        The file appears whole or not at all. ``InvalidUpload`` for a name
        that is not an input file, ``UploadTooLarge`` (and nothing kept of
        this file) past ``max_bytes``, ``UploadStorageError`` if it cannot be
        written.
        """

    @abstractmethod
    def folder(self, ingest_id: str) -> Path:
        """The folder holding the run's files; ``UploadStorageError`` if it is not there."""

    @abstractmethod
    def delete(self, ingest_id: str) -> None:
        """Remove the run's files; a run without files is fine."""

