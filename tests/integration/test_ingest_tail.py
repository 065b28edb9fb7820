"""An ingestion of a folder reads only what is new in it; a folder with nothing new begins no ingestion."""

from __future__ import annotations

from pathlib import Path

from adapters.csv.reader import CsvInputReader
from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reading import InMemoryReadPositions
from domain.use_cases.ingest import IngestService

STATUS = "store_id,status,timestamp_utc\n1,active,2023-01-22 12:00:00 UTC\n"
HOURS = "store_id,dayOfWeek,start_time_local,end_time_local\n1,0,09:00,17:00\n"


class Ingestions:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.status = InMemoryStatusRepository()
        hours, zones = InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
        self.log = InMemoryIngestionLog(self.status, hours, zones)
        self.service = IngestService(CsvInputReader(), self.status, hours, zones, self.log, InMemoryReadPositions())

    def ingest(self) -> tuple[int, int]:
        """Rows read from the status file and the hours file."""
        summary = self.service.ingest(self.folder)
        return summary.store_status.rows, summary.menu_hours.rows

    @property
    def versions(self) -> int:
        return len(self.log.states)


def test_a_folder_with_nothing_new_begins_no_ingestion_and_an_appended_line_is_read_alone(tmp_path: Path) -> None:
    (tmp_path / "store_status.csv").write_text(STATUS, encoding="utf-8")
    (tmp_path / "menu_hours.csv").write_text(HOURS, encoding="utf-8")
    runs = Ingestions(tmp_path)
    assert runs.ingest() == (1, 1)
    assert runs.versions == 1

    assert runs.ingest() == (0, 0)
    assert runs.versions == 1  # no version: reports keep their snapshot

    with (tmp_path / "store_status.csv").open("a", encoding="utf-8") as file:
        file.write("1,inactive,2023-01-22 13:00:00 UTC\n")
    assert runs.ingest() == (1, 0)
    assert runs.versions == 2 and runs.log.latest_complete() == 2
    assert len(runs.status.polls_since(0, snapshot=2)) == 2


def test_a_missing_hours_file_is_nothing_new_but_a_changed_one_is_read(tmp_path: Path) -> None:
    (tmp_path / "store_status.csv").write_text(STATUS, encoding="utf-8")
    runs = Ingestions(tmp_path)
    runs.ingest()
    assert runs.ingest() == (0, 0) and runs.versions == 1

    (tmp_path / "menu_hours.csv").write_text(HOURS, encoding="utf-8")
    assert runs.ingest() == (0, 1)
    assert runs.versions == 2


def test_an_unterminated_last_line_is_read_again_once_complete(tmp_path: Path) -> None:
    (tmp_path / "store_status.csv").write_text(STATUS + "2,active,2023-01-22 12:30:00 UTC", encoding="utf-8")
    runs = Ingestions(tmp_path)
    assert runs.ingest() == (2, 0)
    # The last line had no line end: whether complete or not, it is read again.
    assert runs.ingest() == (1, 0)
    with (tmp_path / "store_status.csv").open("a", encoding="utf-8") as file:
        file.write("\n")
    assert runs.ingest() == (1, 0)
    assert runs.ingest() == (0, 0)
