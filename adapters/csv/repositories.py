"""Read-only repositories over a data folder, for reports without a database.

The folder is read once, on first use, and shared by the three repositories;
queries are answered by the in-memory repositories.

The folder is one fixed state of the data, never ingested into: its rows all
have ``INITIAL_VERSION``, ``CsvIngestionLog`` gives that as the only snapshot,
and a read sees that state whatever snapshot it names (so naming none is fine).
"""

from __future__ import annotations

import threading
from pathlib import Path

from adapters.csv.reader import PandasCsvReader
from adapters.memory import (
    InMemoryBusinessHoursRepository,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.errors import UptimeError
from domain.ingestion import ParsedInput
from domain.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.ports import (
    INITIAL_VERSION,
    BusinessHoursRepository,
    IngestionLog,
    InputReader,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)

READ_ONLY_MESSAGE = "the CSV backend is read-only; ingest into a database"


class CsvDataFolder:
    """A data folder, read and validated once, on first use."""

    def __init__(self, folder: Path, reader: InputReader | None = None) -> None:
        self.folder = folder
        self._reader = reader if reader is not None else PandasCsvReader()
        self._lock = threading.Lock()
        self._parsed: ParsedInput | None = None
        self._status: InMemoryStatusRepository | None = None
        self._hours: InMemoryBusinessHoursRepository | None = None
        self._timezones: InMemoryTimezoneRepository | None = None

    def parsed(self) -> ParsedInput:
        """The folder's valid rows and counts; raises ``InvalidInputError`` like the reader."""
        with self._lock:
            if self._parsed is None:
                self._parsed = self._reader.read(self.folder)
            return self._parsed

    def status(self) -> InMemoryStatusRepository:
        parsed = self.parsed()
        with self._lock:
            if self._status is None:
                self._status = InMemoryStatusRepository(parsed.polls)
            return self._status

    def hours(self) -> InMemoryBusinessHoursRepository:
        parsed = self.parsed()
        with self._lock:
            if self._hours is None:
                self._hours = InMemoryBusinessHoursRepository(parsed.hours)
            return self._hours

    def timezones(self) -> InMemoryTimezoneRepository:
        parsed = self.parsed()
        with self._lock:
            if self._timezones is None:
                self._timezones = InMemoryTimezoneRepository(parsed.timezones)
            return self._timezones


class CsvIngestionLog(IngestionLog):
    """The one snapshot of a data folder; nothing is ever ingested into it."""

    def begin(self) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def complete(self, version: int) -> None:
        raise UptimeError(READ_ONLY_MESSAGE)

    def abandon(self, version: int) -> None:
        """Nothing began: nothing to end."""

    def latest_complete(self) -> int:
        return INITIAL_VERSION


class CsvStatusRepository(StatusRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def add(self, polls: StatusPolls, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def purge_before(self, cutoff_us: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def latest_timestamp(self, *, snapshot: int = INITIAL_VERSION, until_us: int | None = None) -> int | None:
        return self._data.status().latest_timestamp(snapshot=INITIAL_VERSION, until_us=until_us)

    def store_ids(self, *, snapshot: int = INITIAL_VERSION) -> list[str]:
        return self._data.status().store_ids(snapshot=INITIAL_VERSION)

    def polls_since(
        self, start_us: int, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION
    ) -> StatusPolls:
        return self._data.status().polls_since(start_us, stores, snapshot=INITIAL_VERSION)


class CsvBusinessHoursRepository(BusinessHoursRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, hours: BusinessHours, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def hours(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> BusinessHours:
        return self._data.hours().hours(stores, snapshot=INITIAL_VERSION)


class CsvTimezoneRepository(TimezoneRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, timezones: StoreTimezones, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def timezones(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> StoreTimezones:
        return self._data.timezones().timezones(stores, snapshot=INITIAL_VERSION)
