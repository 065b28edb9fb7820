"""The running service end to end: redis-server, ``store-monitor worker`` processes, ``store-monitor serve``.

Every report the API assembles must be byte for byte the CSV that
``store-monitor report --out`` writes from the same database.
"""

from __future__ import annotations

import math
import os
import re
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from service_fixtures import (
    RedisServer,
    ServiceRunner,
    Stack,
    check_running_states,
    load_database,
    real_2023_sqlite,
    redis_server,
    registry_row,
    service,
    sqlite_copy,
    sqlite_redis_stack,
    wait_for,
)

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["real_2023_sqlite", "redis_server", "service"]

REAL_2023_STORES = 8133
CHUNK_SIZE = 500


@pytest.fixture(scope="module")
def sqlite_stack(
    real_2023_sqlite: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One Redis, one worker (one process) and the API over a SQLite copy of real-2023, for this module."""
    with sqlite_redis_stack(real_2023_sqlite, tmp_path_factory.mktemp("sqlite-stack"), CHUNK_SIZE, 1) as stack:
        yield stack


def test_a_report_is_computed_in_parts_and_its_csv_is_the_clis(sqlite_stack: Stack) -> None:
    api, database = sqlite_stack.api, sqlite_stack.database
    assert database.stores == REAL_2023_STORES
    parts = math.ceil(REAL_2023_STORES / CHUNK_SIZE)

    report_id = api.trigger()
    finished = api.complete_csv(report_id)

    check_running_states(finished.running_states, expected_total=parts)
    assert finished.answer.body == database.cli_csv
    assert finished.answer.headers["content-disposition"] == f"attachment; filename=report-{report_id}.csv"
    # Every part was counted: the last one seen by the registry is the plan's total.
    row = registry_row(database.url, report_id)
    assert (row.status, row.progress_done, row.progress_total, row.error) == ("Complete", parts, parts, None)


def test_two_reports_triggered_at_once_both_complete_with_the_same_csv(sqlite_stack: Stack) -> None:
    api, database = sqlite_stack.api, sqlite_stack.database
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: api.trigger(), range(2))
    assert first != second

    first_csv = api.complete_csv(first).answer.body
    second_csv = api.complete_csv(second).answer.body

    assert first_csv == second_csv == database.cli_csv


def test_an_unknown_report_id_is_404_json(sqlite_stack: Stack) -> None:
    answer = sqlite_stack.api.report("00000000-0000-4000-8000-000000000000")
    assert answer.status == 404, answer.shown()
    assert answer.content_type == "application/json"
    assert "00000000-0000-4000-8000-000000000000" in answer.json()["error"]


@pytest.mark.parametrize(
    "report_id",
    ["not-a-uuid", "0000000000004000800000000000000", "00000000-0000-4000-8000-00000000000A", "..%2F..%2Fetc%2Fpasswd"],
)
def test_a_malformed_report_id_is_400_json(sqlite_stack: Stack, report_id: str) -> None:
    answer = sqlite_stack.api.report(report_id)
    assert answer.status == 400, answer.shown()
    assert answer.content_type == "application/json"
    assert "UUID" in answer.json()["error"]


def test_health_is_ok_with_redis_and_a_worker(sqlite_stack: Stack) -> None:
    answer = sqlite_stack.api.get("/health")
    assert answer.status == 200, answer.shown()
    assert answer.json() == {"status": "ok", "database": "ok", "broker": "ok", "worker": "ok"}
    assert answer.headers.get("cache-control") == "no-store"


@pytest.mark.postgres
def test_postgres_with_database_storage_and_two_workers(
    postgres_schema_url: str, redis_server: RedisServer, service: ServiceRunner, shared_data: Path
) -> None:
    database = load_database(service, postgres_schema_url, shared_data / "real-2023")
    reports_dir = service.folder / "reports"
    service.settings.update(
        DATABASE_URL=database.url,
        REPORT_STORAGE="database",
        REPORTS_DIR=str(reports_dir),
        REPORT_CHUNK_SIZE=str(CHUNK_SIZE),
    )
    service.use_redis(redis_server)
    service.start_worker("worker-1", concurrency=1)
    service.start_worker("worker-2", concurrency=1)
    api = service.start_api()

    report_id = api.trigger()
    finished = api.complete_csv(report_id)

    check_running_states(finished.running_states, expected_total=database.parts(CHUNK_SIZE))
    assert finished.answer.body == database.cli_csv
    assert not reports_dir.exists(), "REPORT_STORAGE=database wrote a file"
    row = registry_row(database.url, report_id)
    assert (row.status, row.progress_done) == ("Complete", database.parts(CHUNK_SIZE))


def test_the_embedded_default_serves_reports_without_any_broker_server(
    real_2023_sqlite: tuple[Path, bytes], sqlite_url: str, service: ServiceRunner
) -> None:
    """No CELERY_BROKER_URL: ``serve`` runs its own worker on a folder broker under the working directory."""
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings["DATABASE_URL"] = database.url  # every other setting at its default
    api = service.start_api("--worker-concurrency", "1")
    service.wait_for_log(api.process, "ready.")  # the embedded worker logs into serve's output

    report_id = api.trigger()
    finished = api.complete_csv(report_id)

    assert finished.answer.body == database.cli_csv
    # The defaults are relative to the working directory, and all under var/.
    assert (service.folder / "var" / "broker").is_dir()
    assert (service.folder / "var" / "reports" / f"{report_id}.csv").read_bytes() == database.cli_csv
    assert sorted(path.name for path in service.folder.iterdir()) == ["logs", "var"]


def _process_group(group: int) -> set[int]:
    """The live processes of a process group, from /proc."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp; a zombie is already gone
        if fields[0] != "Z" and int(fields[2]) == group:
            members.add(int(stat.parent.name))
    return members


def _worker_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"embedded worker started \(pid (\d+)\)", log)]


def test_serve_replaces_its_embedded_worker_when_it_dies(
    real_2023_sqlite: tuple[Path, bytes], sqlite_url: str, service: ServiceRunner
) -> None:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings["DATABASE_URL"] = database.url
    api = service.start_api("--worker-concurrency", "1")
    service.wait_for_log(api.process, "ready.")
    (first,) = _worker_pids(api.process.log_text())
    assert len(_process_group(first)) >= 3  # the worker, its pool process and beat

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: len(_worker_pids(api.process.log_text())) == 2, 20, "a second embedded worker", service.diagnostics)
    assert f"embedded worker (pid {first}) is gone" in api.process.log_text()
    # Its pool process and beat went with it.
    wait_for(lambda: not _process_group(first), 10, "the killed worker's children to go", service.diagnostics)
    wait_for(lambda: api.process.log_text().count("ready.") >= 2, 30, "the new worker ready", service.diagnostics)

    report_id = api.trigger()
    assert api.complete_csv(report_id).answer.body == database.cli_csv

    # serve killed outright: its worker, in a session of its own, stops too.
    (_, second) = _worker_pids(api.process.log_text())
    os.kill(api.process.popen.pid, signal.SIGKILL)
    wait_for(lambda: not _process_group(second), 30, "the orphaned worker to stop", service.diagnostics)
