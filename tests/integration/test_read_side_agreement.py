"""The CSV, in-memory and SQL repositories answer every read of a report alike.

The behaviour suite (test_repository_contract.py) covers the writable
repositories; the CSV ones are read-only, so here all backends load the same
folder and must give the same answers to the queries a report makes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters.csv.reader import PandasCsvReader
from adapters.csv.repositories import (
    CsvBusinessHoursRepository,
    CsvDataFolder,
    CsvStatusRepository,
    CsvTimezoneRepository,
)
from adapters.memory import InMemoryBusinessHoursRepository, InMemoryStatusRepository, InMemoryTimezoneRepository
from adapters.sqlalchemy.repositories import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository,
)
from domain.ports import BusinessHoursRepository, StatusRepository, StoreRange, TimezoneRepository
from domain.services import IngestService

Backend = tuple[StatusRepository, BusinessHoursRepository, TimezoneRepository]
HOUR = 3_600_000_000


def backends(folder: Path, engine: Engine) -> dict[str, Backend]:
    data = CsvDataFolder(folder, PandasCsvReader())
    memory: Backend = (InMemoryStatusRepository(), InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository())
    sql: Backend = (
        SqlAlchemyStatusRepository(engine),
        SqlAlchemyBusinessHoursRepository(engine),
        SqlAlchemyTimezoneRepository(engine),
    )
    for status, hours, timezones in (memory, sql):
        IngestService(PandasCsvReader(), status, hours, timezones).ingest(folder)
    return {
        "csv": (CsvStatusRepository(data), CsvBusinessHoursRepository(data), CsvTimezoneRepository(data)),
        "memory": memory,
        "sqlite": sql,
    }


@pytest.mark.parametrize("folder", ["sample", "real-2024"])
def test_every_backend_answers_the_reports_reads_alike(
    folder: str, shared_data: Path, sqlite_engine: Engine
) -> None:
    path = Path(__file__).resolve().parents[2] / "data" if folder == "sample" else shared_data / folder
    answers: dict[str, list[object]] = {}
    for name, (status, hours, timezones) in backends(path, sqlite_engine).items():
        latest = status.latest_timestamp()
        assert latest is not None
        ids = status.store_ids()
        ranges = [None, StoreRange(ids[0], ids[len(ids) // 3]), StoreRange(ids[len(ids) // 2], ids[-1])]
        answers[name] = [latest, ids]
        for stores in ranges:
            for start in (latest - 200 * HOUR, latest - 30 * HOUR, latest + 1):
                answers[name].append(status.polls_since(start, stores).rows())
            answers[name].append(hours.hours(stores).rows())
            answers[name].append(dict(timezones.timezones(stores).by_store))
    assert answers["csv"] == answers["memory"] == answers["sqlite"]
