"""Every row of every file is counted once: ``rows == new + already_stored + duplicates + rejected``.

Random folders with valid, repeated and invalid rows, ingested one after
another (the same folder twice, or folders that overlap) into the in-memory
repositories; each file's counts must be those of a plain model of what is
stored (see ``ingest_counts``).
"""

from __future__ import annotations

from hypothesis import given, settings
from ingest_counts import Folder, check_ingestions, folder_sequences

from adapters.csv.reader import PandasCsvReader
from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.model.ingestion import FileSummary
from domain.use_cases.ingest import IngestService


def memory_service() -> IngestService:
    status = InMemoryStatusRepository()
    hours, timezones = InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
    return IngestService(PandasCsvReader(), status, hours, timezones, InMemoryIngestionLog(status, hours, timezones))


@settings(max_examples=150, deadline=None)
@given(folder_sequences())
def test_every_row_is_counted_once_in_every_ingestion(folders: list[Folder]) -> None:
    check_ingestions(memory_service(), folders)


def test_a_second_ingestion_finds_every_valid_row_already_stored() -> None:
    folder = Folder(
        status=(
            ("s1,active,2023-01-22 09:00:00 UTC", (("s1", 0), "active")),
            ("s1,inactive,2023-01-22T09:00:00Z", (("s1", 0), "inactive")),
            ("s1,maybe,2023-01-22 09:00:00 UTC", None),
        ),
        hours=(("s1,0,09:00,17:00", (("s1", 0, 32400, 61200), None)),),
        timezones=(("s1,Asia/Tokyo", ("s1", "Asia/Tokyo")),),
    )
    first, second = check_ingestions(memory_service(), [folder, folder])
    assert first.store_status == FileSummary(rows=3, new=1, duplicates=1, rejected=1, errors=first.store_status.errors)
    assert (second.store_status.new, second.store_status.already_stored) == (0, 1)
    assert (second.menu_hours.new, second.menu_hours.already_stored) == (0, 1)
    assert (second.timezone.new, second.timezone.already_stored) == (0, 1)


def test_a_later_hours_or_timezone_file_counts_what_it_changes() -> None:
    first = Folder(
        status=(("s1,active,2023-01-22 09:00:00 UTC", (("s1", 0), "active")),),
        hours=(
            ("s1,0,09:00,17:00", (("s1", 0, 32400, 61200), None)),
            ("s1,1,09:00,17:00", (("s1", 1, 32400, 61200), None)),
        ),
        timezones=(("s1,Asia/Tokyo", ("s1", "Asia/Tokyo")), ("s2,UTC", ("s2", "UTC"))),
    )
    # s1 keeps Monday, gets Wednesday and loses Tuesday; s1 moves to UTC, s2 stays.
    second = Folder(
        status=(("s1,inactive,2023-01-22 09:00:00 UTC", (("s1", 0), "inactive")),),
        hours=(
            ("s1,0,09:00:00,17:00:00", (("s1", 0, 32400, 61200), None)),
            ("s1,2,09:00,17:00", (("s1", 2, 32400, 61200), None)),
        ),
        timezones=(("s1,UTC", ("s1", "UTC")), ("s2,UTC", ("s2", "UTC"))),
    )
    _, again = check_ingestions(memory_service(), [first, second])
    assert (again.store_status.new, again.store_status.already_stored) == (0, 1)
    assert (again.menu_hours.new, again.menu_hours.already_stored) == (1, 1)
    assert (again.timezone.new, again.timezone.already_stored) == (1, 1)
