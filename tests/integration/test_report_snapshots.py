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
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import launcher
import pytest
from service_fixtures import (
    REPO,
    LoadedDatabase,
    RedisServer,
    ServiceRunner,
    load_database,
    redis_server,
    service,
    wait_for,
)
from sqlalchemy import text

from adapters.sqlalchemy.database import create_engine_for

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["redis_server", "service"]

# Small parts, and reports triggered all through the ingestion (its process
# starting, then storing): the workers have a backlog of parts, so parts of
# reports planned before the ingestion completed are computed after it.
CHUNK_SIZE = 25
MOST_REPORTS_DURING = 12
TRIGGER_EVERY_S = 0.25
FINISH_TIMEOUT_S = 300.0


def generate(folder: Path, stores: int, seed: int) -> None:
    generated = launcher.run(
        ["--out", str(folder), "--scale", "sample", "--stores", str(stores), "--seed", str(seed)],
        module="benchmarks.generate_data", cwd=REPO, env=os.environ, timeout=120,
    )
    assert generated.returncode == 0, generated.stderr


def store_ids(folder: Path) -> list[str]:
    with (folder / "timezone.csv").open(newline="", encoding="utf-8") as file:
        return [row[0] for row in list(csv.reader(file))[1:]]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The folder loaded first, and the one ingested while reports run."""
    base = tmp_path_factory.mktemp("snapshot-data")
    before, later = base / "before", base / "later"
    generate(before, stores=1000, seed=11)
    generate(later, stores=6000, seed=12)  # other ids: new stores, with later polls
    known = store_ids(before)
    with (later / "timezone.csv").open("a", encoding="utf-8") as file:
        file.writelines(f"{store_id},Pacific/Auckland\n" for store_id in known[:100])
    with (later / "menu_hours.csv").open("a", encoding="utf-8") as file:
        file.writelines(f"{store_id},{day},06:00:00,07:00:00\n" for store_id in known[100:150] for day in range(7))
    yield before, later
    shutil.rmtree(base, ignore_errors=True)


def versions_of(database: LoadedDatabase, report_ids: list[str]) -> dict[str, int | None]:
    """The snapshot each report's plan recorded."""
    engine = create_engine_for(database.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT report_id, snapshot FROM reports")).all()
    finally:
        engine.dispose()
    recorded = {str(row[0]): row[1] for row in rows}
    return {report_id: recorded.get(report_id) for report_id in report_ids}


def race(runner: ServiceRunner, database: LoadedDatabase, later: Path) -> None:
    runner.settings.update(DATABASE_URL=database.url, REPORT_CHUNK_SIZE=str(CHUNK_SIZE))
    runner.start_worker("worker-1", concurrency=1)
    runner.start_worker("worker-2", concurrency=1)
    api = runner.start_api()

    # Planned before the ingestion begins: it reads the state before, whatever comes while its parts run.
    first = api.trigger()

    def planned() -> bool:
        answer = api.report(first)
        return answer.content_type.startswith("text/csv") or answer.json()["progress"]["total"] > 0

    wait_for(planned, 60, f"report {first} planned", runner.diagnostics)
    ingestion = runner.start("ingestion", "ingest", str(later))
    during: list[str] = []
    while ingestion.alive and len(during) < MOST_REPORTS_DURING:
        during.append(api.trigger())
        time.sleep(TRIGGER_EVERY_S)
    assert ingestion.popen.wait(timeout=300) == 0, runner.diagnostics()
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
    versions = versions_of(database, reports)
    assert list(kinds.values()).count("mixed") == 0, [(kinds[report_id], versions[report_id]) for report_id in reports]
    assert all((kinds[report_id] == "before") == (versions[report_id] == versions[first]) for report_id in reports)
    assert (kinds[first], kinds[last]) == ("before", "after")
    assert during, "the ingestion ended before a report could be triggered during it"


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
