"""Reports triggered while an ingestion runs: each one is the report of one state of the data.

The database holds a "before" folder. A second folder is ingested by
``store-monitor ingest`` in its own process (new stores with their polls,
hours and zones; other hours and zones for some of the stores already
there) while reports are triggered through the API and computed in many
parts by two worker processes. Every report must be, byte for byte, the
CLI's report of the data before that ingestion or the CLI's report after it:
never a mix, never a store short.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from service_fixtures import (
    LoadedDatabase,
    RedisServer,
    ServiceRunner,
    generate_sample,
    load_database,
    redis_server,
    service,
    wait_for,
)
from sqlalchemy import select

from adapters.sqlalchemy import tables
from adapters.sqlalchemy.database import create_engine_for, utc_from_db

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["redis_server", "service"]

# Small parts, and reports triggered all through the ingestion (its process
# starting, then storing) until it completes, each once the one before the
# last has been planned: two are in flight at any time, so one planned before
# the ingestion completed is still being computed when it does (checked below).
# Unpaced, plans queue up behind the parts, and each becomes one more report of
# the larger data after.
CHUNK_SIZE = 25
MOST_REPORTS_DURING = 20
TRIGGER_EVERY_S = 0.25
FINISH_TIMEOUT_S = 300.0


def store_ids(folder: Path) -> list[str]:
    with (folder / "timezone.csv").open(newline="", encoding="utf-8") as file:
        return [row[0] for row in list(csv.reader(file))[1:]]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The folder loaded first, and the one ingested while reports run."""
    base = tmp_path_factory.mktemp("snapshot-data")
    before, later = base / "before", base / "later"
    generate_sample(before, stores=1000, seed=11)
    generate_sample(later, stores=3000, seed=12)  # other ids: new stores, with later polls
    known = store_ids(before)
    with (later / "timezone.csv").open("a", encoding="utf-8") as file:
        file.writelines(f"{store_id},Pacific/Auckland\n" for store_id in known[:100])
    with (later / "menu_hours.csv").open("a", encoding="utf-8") as file:
        file.writelines(f"{store_id},{day},06:00:00,07:00:00\n" for store_id in known[100:150] for day in range(7))
    yield before, later
    shutil.rmtree(base, ignore_errors=True)


def ingestion_completed(database: LoadedDatabase) -> datetime | None:
    """When the database's second ingestion (the one raced) completed, if it has."""
    engine = create_engine_for(database.url)
    try:
        with engine.connect() as connection:
            finished = connection.execute(
                select(tables.ingestions.c.finished_at)
                .where(tables.ingestions.c.state == "complete")
                .order_by(tables.ingestions.c.version)
            ).scalars().all()
    finally:
        engine.dispose()
    return utc_from_db(finished[1]) if len(finished) > 1 else None


def reports_of(database: LoadedDatabase, report_ids: list[str]) -> dict[str, tuple[int | None, datetime]]:
    """The snapshot each report's plan recorded, and when the report finished."""
    engine = create_engine_for(database.url)
    try:
        with engine.connect() as connection:
            report = tables.reports.c
            rows = connection.execute(select(report.report_id, report.snapshot, report.finished_at)).all()
    finally:
        engine.dispose()
    recorded = {row.report_id: (row.snapshot, utc_from_db(row.finished_at)) for row in rows}
    return {report_id: recorded[report_id] for report_id in report_ids}


def race(runner: ServiceRunner, database: LoadedDatabase, later: Path) -> None:
    runner.settings.update(DATABASE_URL=database.url, REPORT_CHUNK_SIZE=str(CHUNK_SIZE))
    runner.start_worker("worker-1", concurrency=1)
    runner.start_worker("worker-2", concurrency=1)
    api = runner.start_api()

    # Planned before the ingestion begins: it reads the state before, whatever comes while its parts run.
    first = api.trigger()

    def planned(report_id: str) -> bool:
        answer = api.report(report_id)
        return answer.content_type.startswith("text/csv") or answer.json()["progress"]["total"] > 0

    wait_for(lambda: planned(first), 60, f"report {first} planned", runner.diagnostics)
    ingestion = runner.start("ingestion", "ingest", str(later))
    during: list[str] = []
    while ingestion.alive and len(during) < MOST_REPORTS_DURING and ingestion_completed(database) is None:
        if len(during) < 2 or planned(during[-2]):
            during.append(api.trigger())
        time.sleep(TRIGGER_EVERY_S)
    assert ingestion.popen.wait(timeout=300) == 0, runner.diagnostics()
    completed = ingestion_completed(database)
    assert completed is not None
    last = api.trigger()

    after_file = runner.folder / "cli-after.csv"
    runner.run_cli("report", "--out", str(after_file))
    before, after = database.cli_csv, after_file.read_bytes()
    assert before != after
    assert after.count(b"\n") > before.count(b"\n")  # the new stores

    reports = [first, *during, last]
    served = {report_id: api.complete_csv(report_id, timeout=FINISH_TIMEOUT_S).answer.body for report_id in reports}
    kinds = {
        report_id: "before" if body == before else "after" if body == after else "mixed"
        for report_id, body in served.items()
    }
    # Each is the report of the snapshot its plan recorded.
    recorded = reports_of(database, reports)
    versions = {report_id: snapshot for report_id, (snapshot, _) in recorded.items()}
    assert list(kinds.values()).count("mixed") == 0, [(kinds[report_id], versions[report_id]) for report_id in reports]
    assert all((kinds[report_id] == "before") == (versions[report_id] == versions[first]) for report_id in reports)
    assert (kinds[first], kinds[last]) == ("before", "after")
    assert during, "the ingestion ended before a report could be triggered during it"
    # The race took place: a report of the data before was still being computed when the ingestion completed.
    assert any(kinds[report_id] == "before" and finished > completed for report_id, (_, finished) in recorded.items())


def test_reports_during_an_ingestion_are_each_the_report_before_or_after_it_on_sqlite(
    folders: tuple[Path, Path], redis_server: RedisServer, service: ServiceRunner, sqlite_url: str
) -> None:
    before, later = folders
    database = load_database(service, sqlite_url, before)
    service.use_redis(redis_server)
    race(service, database, later)


@pytest.mark.postgres
def test_reports_during_an_ingestion_are_each_the_report_before_or_after_it_on_postgres(
    folders: tuple[Path, Path], redis_server: RedisServer, service: ServiceRunner, postgres_schema_url: str
) -> None:
    before, later = folders
    database = load_database(service, postgres_schema_url, before)
    service.settings["REPORT_STORAGE"] = "database"
    service.use_redis(redis_server)
    race(service, database, later)
