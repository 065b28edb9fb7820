"""The ports: what the core needs from the outside world, and their errors.

Adapters in ``adapters/`` implement these; use cases receive them in their
constructors. Every repository method works on whole columns, never one store
at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from domain.errors import UptimeError
from domain.ingestion import ParsedInput
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.report import Report

if TYPE_CHECKING:
    # Only for annotations: domain.ingest_runs imports this module.
    from domain.ingest_runs import FileFingerprint, FolderFingerprints, IngestRun


class RepositoryError(UptimeError):
    """Stored data could not be read or written (bad URL, database down...)."""


class ReportNotFound(UptimeError):
    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report with id {report_id}")
        self.report_id = report_id


class ReportStorageError(UptimeError):
    """A report file could not be written or read."""


class QueueUnavailable(UptimeError):
    """The work queue (the broker) could not take the work."""


@attrs.frozen
class StoreRange:
    """Stores whose id lies in ``[first, last]``, in plain string order."""

    first: str
    last: str

    def __contains__(self, store_id: object) -> bool:
        return isinstance(store_id, str) and self.first <= store_id <= self.last


class StatusRepository(ABC):
    @abstractmethod
    def add(self, polls: StatusPolls) -> int:
        """Store the polls whose ``(store, instant)`` is not stored yet; return how many."""

    @abstractmethod
    def latest_timestamp(self) -> int | None:
        """The greatest poll instant of all stores (UTC microseconds), None if empty."""

    @abstractmethod
    def store_ids(self) -> list[str]:
        """Ids of the stores with at least one poll, sorted."""

    @abstractmethod
    def polls_since(self, start_us: int, stores: StoreRange | None = None) -> StatusPolls:
        """Every poll at or after ``start_us``, plus each store's latest poll before it."""


class BusinessHoursRepository(ABC):
    @abstractmethod
    def replace(self, hours: BusinessHours) -> int:
        """Make ``hours`` the whole set of rows of every store it lists.

        Returns how many of its rows were not stored before for their store.
        """

    @abstractmethod
    def hours(self, stores: StoreRange | None = None) -> BusinessHours:
        """The stored rows (of the stores in range)."""


class TimezoneRepository(ABC):
    @abstractmethod
    def replace(self, timezones: StoreTimezones) -> int:
        """Set the timezone of every store listed; return how many changed."""

    @abstractmethod
    def timezones(self, stores: StoreRange | None = None) -> StoreTimezones:
        """The stored timezones (of the stores in range)."""


class InputReader(ABC):
    """Reads and validates a data folder of the three CSV files."""

    @abstractmethod
    def read(self, folder: Path) -> ParsedInput:
        """Raises ``InvalidInputError`` for a missing folder, status file or column."""


class ReportStorage(ABC):
    """Where finished report files live."""

    @abstractmethod
    def save(self, report_id: str, content: bytes) -> str:
        """Store the CSV atomically; return its location (opaque to callers)."""

    @abstractmethod
    def load(self, location: str) -> bytes:
        """The bytes saved at ``location``; ``ReportStorageError`` if gone."""

    @abstractmethod
    def delete(self, location: str) -> None:
        """Remove the file at ``location``; one already gone is fine.

        ``ReportStorageError`` for a location this storage never gives out.
        """


class ReportRegistry(ABC):
    """The record of every report run, its state and its computed parts.

    Every method but ``add`` raises ``ReportNotFound`` for an unknown id. A
    report leaves ``Running`` once: ``mark_complete`` and ``mark_failed`` change
    only a running report and say whether they did.
    """

    @abstractmethod
    def add(self, report: Report) -> None:
        """Record a new report; ``RepositoryError`` if the id exists already."""

    @abstractmethod
    def get(self, report_id: str) -> Report: ...

    @abstractmethod
    def plan(self, report_id: str, total_parts: int, at: datetime) -> None:
        """Record how many parts the report will have."""

    @abstractmethod
    def save_part(self, report_id: str, index: int, lines: str, at: datetime) -> int:
        """Keep part ``index`` (saving it again replaces it); return how many parts are saved."""

    @abstractmethod
    def parts(self, report_id: str) -> list[str]:
        """The saved parts, in index order."""

    @abstractmethod
    def mark_complete(self, report_id: str, report_path: str, finished_at: datetime) -> bool: ...

    @abstractmethod
    def mark_failed(self, report_id: str, error: str, finished_at: datetime) -> bool: ...

    @abstractmethod
    def ping(self) -> None:
        """Check that the registry's store answers; ``RepositoryError`` if not."""

    @abstractmethod
    def finished_before(self, cutoff: datetime) -> list[Report]:
        """The Complete and Failed reports whose ``finished_at`` is before ``cutoff``, by id."""

    @abstractmethod
    def delete_finished_before(self, cutoff: datetime) -> list[Report]:
        """Delete the reports ``finished_before(cutoff)`` gives, with their parts; return them, by id.

        A running report is never deleted, however old.
        """

    @abstractmethod
    def recent(self, limit: int) -> list[Report]:
        """The ``limit`` most recently created reports, newest first (ties: greater id first).

        A ``limit`` below 1 gives none.
        """


class ReportQueue(ABC):
    """Where report work is handed to the workers."""

    @abstractmethod
    def submit(self, report_id: str) -> None:
        """Queue the planning of a triggered report; ``QueueUnavailable`` if the broker is down."""

    @abstractmethod
    def ping(self) -> None:
        """Check that the broker answers; ``QueueUnavailable`` if not."""


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


class IngestQueue(ABC):
    """Where ingestion work is handed to the workers."""

    @abstractmethod
    def submit(self, ingest_id: str) -> None:
        """Queue the ingestion of a started run; ``QueueUnavailable`` if the broker is down."""


class FileFingerprinter(ABC):
    """Fingerprints the input files of a folder."""

    @abstractmethod
    def fingerprints(self, folder: Path) -> FolderFingerprints:
        """The input files present in ``folder`` (none if it does not exist), each with its SHA-256."""


class FingerprintStore(ABC):
    """The fingerprints of each folder's files at its last successful ingestion."""

    @abstractmethod
    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        """The recorded fingerprints of the folder at ``location``, by name; none if never recorded."""

    @abstractmethod
    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        """Make ``fingerprints`` the whole record of the folder at ``location``."""


@attrs.frozen
class ReportInputs:
    """What one report (or part of one) is computed from."""

    polls: StatusPolls
    hours: BusinessHours
    timezones: StoreTimezones


class ReportInputSource(ABC):
    """Reads a report's inputs together, so that they belong to one state of the data."""

    @abstractmethod
    def read(self, start_us: int, stores: StoreRange | None = None) -> ReportInputs:
        """``polls_since(start_us, stores)``, the hours and the timezones of those stores."""
