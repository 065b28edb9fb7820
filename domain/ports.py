"""The ports: what the core needs from the outside world, and their errors.

Adapters in ``adapters/`` implement these; use cases receive them in their
constructors. Every repository method works on whole columns, never one store
at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path

import attrs

from domain.errors import UptimeError
from domain.ingestion import ParsedInput
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.report import Report


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


class ReportQueue(ABC):
    """Where report work is handed to the workers."""

    @abstractmethod
    def submit(self, report_id: str) -> None:
        """Queue the planning of a triggered report; ``QueueUnavailable`` if the broker is down."""

    @abstractmethod
    def ping(self) -> None:
        """Check that the broker answers; ``QueueUnavailable`` if not."""
