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
    CsvIngestionLog,
    CsvStatusRepository,
    CsvTimezoneRepository,
)
from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.sqlalchemy.hours_and_timezones import SqlAlchemyBusinessHoursRepository, SqlAlchemyTimezoneRepository
from adapters.sqlalchemy.ingestion_log import SqlAlchemyIngestionLog
from adapters.sqlalchemy.status_polls import SqlAlchemyStatusRepository
from domain.ports.data import BusinessHoursRepository, IngestionLog, StatusRepository, StoreRange, TimezoneRepository
from domain.use_cases.ingest import IngestService

Backend = tuple[StatusRepository, BusinessHoursRepository, TimezoneRepository, IngestionLog]
HOUR = 3_600_000_000


def backends(folder: Path, engine: Engine) -> dict[str, Backend]:
    data = CsvDataFolder(folder, PandasCsvReader())
    status = InMemoryStatusRepository()
    hours, timezones = InMemoryBusinessHoursRepository(), InMemoryTimezoneRepository()
    memory: Backend = (status, hours, timezones, InMemoryIngestionLog(status, hours, timezones))
    sql: Backend = (
        SqlAlchemyStatusRepository(engine),
        SqlAlchemyBusinessHoursRepository(engine),
        SqlAlchemyTimezoneRepository(engine),
        SqlAlchemyIngestionLog(engine),
    )
    for backend in (memory, sql):
        IngestService(PandasCsvReader(), *backend).ingest(folder)
    return {
        "csv": (
            CsvStatusRepository(data),
            CsvBusinessHoursRepository(data),
            CsvTimezoneRepository(data),
            CsvIngestionLog(),
        ),
        "memory": memory,
        "sqlite": sql,
    }


@pytest.mark.parametrize("folder", ["sample", "real-2024"])
def test_every_backend_answers_the_reports_reads_alike(
    folder: str, shared_data: Path, sqlite_engine: Engine
) -> None:
    path = Path(__file__).resolve().parents[2] / "data" if folder == "sample" else shared_data / folder
    answers: dict[str, list[object]] = {}
    for name, (status, hours, timezones, log) in backends(path, sqlite_engine).items():
        snapshot = log.latest_complete()
        latest = status.latest_timestamp(snapshot=snapshot)
        assert latest is not None
        ids = status.store_ids(snapshot=snapshot)
        ranges = [None, StoreRange(ids[0], ids[len(ids) // 3]), StoreRange(ids[len(ids) // 2], ids[-1])]
        answers[name] = [latest, ids, status.latest_timestamp(snapshot=snapshot, until_us=latest - 30 * HOUR)]
        for stores in ranges:
            for start in (latest - 200 * HOUR, latest - 30 * HOUR, latest + 1):
                answers[name].append(status.polls_since(start, stores, snapshot=snapshot).rows())
            answers[name].append(hours.hours(stores, snapshot=snapshot).rows())
            answers[name].append(dict(timezones.timezones(stores, snapshot=snapshot).by_store))
    assert answers["csv"] == answers["memory"] == answers["sqlite"]
