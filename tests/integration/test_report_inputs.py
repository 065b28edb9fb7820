"""The database reads a report's inputs at one snapshot in one transaction; they equal the repositories' answers."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from adapters.sqlalchemy.hours_and_timezones import SqlAlchemyBusinessHoursRepository, SqlAlchemyTimezoneRepository
from adapters.sqlalchemy.ingestion_log import SqlAlchemyIngestionLog
from adapters.sqlalchemy.report_inputs import SqlAlchemyReportInputSource
from adapters.sqlalchemy.status_polls import SqlAlchemyStatusRepository
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.ports.data import StoreRange
from domain.use_cases.reports import RepositoryInputSource

HOUR = 3_600_000_000
T0 = 1_674_000_000_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    built: Engine = request.getfixturevalue(fixture)
    return built


@pytest.mark.parametrize("stores", [None, StoreRange("10", "7")])
def test_one_transaction_reads_what_the_three_repositories_read(engine: Engine, stores: StoreRange | None) -> None:
    status = SqlAlchemyStatusRepository(engine)
    hours = SqlAlchemyBusinessHoursRepository(engine)
    timezones = SqlAlchemyTimezoneRepository(engine)
    log = SqlAlchemyIngestionLog(engine)
    ids = ["10", "7", "9", "0123"]
    version = log.begin()
    status.add(
        StatusPolls.from_rows([(s, T0 - k * HOUR, k % 2 == 0) for s in ids for k in range(0, 120, 5)]), version=version
    )
    hours.replace(
        BusinessHours.from_rows([(s, d, 9 * HOUR, 17 * HOUR) for s in ids[:3] for d in range(5)]), version=version
    )
    timezones.replace(StoreTimezones({"10": "Asia/Kolkata", "9": "Europe/Berlin"}), version=version)
    log.complete(version)
    snapshot = log.latest_complete()
    # A later ingestion changes everything: the snapshot's reads do not see it.
    later = log.begin()
    status.add(StatusPolls.from_rows([(s, T0 + HOUR, True) for s in [*ids, "8"]]), version=later)
    hours.replace(BusinessHours.from_rows([(s, 6, 0, 0) for s in ids]), version=later)
    timezones.replace(StoreTimezones({s: "UTC" for s in ids}), version=later)
    log.complete(later)

    start = T0 - 50 * HOUR
    together = SqlAlchemyReportInputSource(engine).read(start, stores, snapshot=snapshot)
    apart = RepositoryInputSource(status, hours, timezones).read(start, stores, snapshot=snapshot)

    assert together.polls.rows() == apart.polls.rows()
    assert together.hours.rows() == apart.hours.rows()
    assert together.timezones == apart.timezones
    expected_stores = {"10", "7"} if stores else set(ids)
    assert {row[0] for row in together.polls.rows()} == expected_stores
    assert max(row[1] for row in together.polls.rows()) == T0
    assert set(together.timezones.by_store.values()) <= {"Asia/Kolkata", "Europe/Berlin"}
    assert {row[1] for row in together.hours.rows()} == set(range(5))
