"""Reports survive faults: every kill, broker outage and cut database connection ends Complete.

Real processes on every broker this applies to: the embedded default
(``serve`` with its own worker), a private Redis, RabbitMQ. The units of
work live in the database with their leases; the watchdog queues again
what a fault lost. Each test measures the time from the end of the fault (the
kill, the restart, the broker back) to the report Complete, byte-identical
to ``store-monitor report``, and insists on less than ``RECOVERY_S``. The
lease and watchdog periods are short here (``LEASE_SECONDS``,
``WATCHDOG_SECONDS``), so faults heal in seconds.

Measured recovery times are printed (``pytest -s``) and, with
``TEST_ARTIFACTS_DIR`` set, appended to ``recovery-times.txt`` there.

The RabbitMQ tests are in ``test_rabbitmq.py``.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from recovery import (
    CHUNK_SIZE,
    FAST,
    RECOVERY_S,
    complete_within,
    descendants,
    embedded_worker_pids,
    kill_a_part_holder,
    kill_group,
    kill_worker_holding_a_part,
    leased_units,
    record,
    start_workers,
    wait_for_progress,
    wait_until_it_takes_parts_again,
)
from service_fixtures import (
    ApiClient,
    LoadedDatabase,
    RedisServer,
    ServiceRunner,
    load_database,
    process_state,
    real_2023_sqlite,
    redis_server,
    registry_row,
    service,
    sqlite_copy,
    wait_for,
)
from sqlalchemy import text

from adapters.sqlalchemy.database import create_engine_for
from entrypoints.worker_process import POOL_STALLED_EXIT

__all__ = ["real_2023_sqlite", "redis_server", "service"]

# --------------------------------------------------------------------------- the embedded default


@pytest.fixture
def embedded(service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str) -> LoadedDatabase:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **FAST)
    return database


def start_embedded(service: ServiceRunner, name: str = "api") -> ApiClient:
    api = service.start_api("--worker-concurrency", "2", name=name)
    service.wait_for_log(api.process, "ready.")
    return api


def test_embedded_a_killed_pool_process_neither_wedges_the_worker_nor_fails_the_report(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    kill_a_part_holder(embedded.url, service)
    killed_at = time.monotonic()

    complete_within(api, report_id, embedded, killed_at, "embedded, SIGKILL of a pool process")
    # The worker goes on taking work: a second report completes too, and the first was never failed.
    second = api.trigger()
    assert api.complete_csv(second, timeout=RECOVERY_S).answer.body == embedded.cli_csv
    assert len(embedded_worker_pids(api.process)) == 1, "the worker was replaced, not healed"


def test_embedded_a_killed_worker_is_replaced_and_its_report_completes(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    [worker] = embedded_worker_pids(api.process)
    kill_group(worker)
    killed_at = time.monotonic()

    complete_within(api, report_id, embedded, killed_at, "embedded, SIGKILL of the worker")
    assert len(embedded_worker_pids(api.process)) == 2


def test_embedded_the_whole_serve_tree_killed_then_started_again_completes_the_report(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    # As a machine losing power: the worker (a session of its own) and serve's group, at once.
    [worker] = embedded_worker_pids(api.process)
    kill_group(worker)
    api.process.kill()
    assert registry_row(embedded.url, report_id).status == "Running"

    again = start_embedded(service, name="api-again")
    restarted_at = time.monotonic()
    complete_within(again, report_id, embedded, restarted_at, "embedded, serve tree SIGKILLed and restarted")


def test_embedded_a_wedged_worker_is_replaced_and_health_names_the_worker(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    # The worker's first heartbeat is written by its own thread, just after it says it is ready.
    wait_for(
        lambda: api.get("/health").status == 200, 10, "/health 200 once it beats", service.diagnostics, interval=0.2
    )
    report_id = api.trigger()
    wait_for_progress(api, report_id, embedded.parts(CHUNK_SIZE), service)

    # Alive but taking nothing: its main process stopped (its pool keeps running).
    [worker] = embedded_worker_pids(api.process)
    os.kill(worker, signal.SIGSTOP)
    stopped_at = time.monotonic()

    def health_names_the_worker() -> bool:
        answer = api.get("/health")
        return answer.status == 503 and "worker" in answer.json()["error"]

    wait_for(health_names_the_worker, 20, "/health 503 naming the worker", service.diagnostics, interval=0.2)
    complete_within(api, report_id, embedded, stopped_at, "embedded, worker wedged (SIGSTOP)")
    assert f"embedded worker (pid {worker}) is alive but its heartbeat" in api.process.log_text()
    assert api.get("/health").status == 200


def test_embedded_a_pool_that_starts_no_task_has_its_worker_replaced(
    service: ServiceRunner, embedded: LoadedDatabase
) -> None:
    api = start_embedded(service)
    [worker] = embedded_worker_pids(api.process)
    # Its pool processes (and beat) stopped: the worker receives the report's task and none starts,
    # as when a pool process was forked holding a lock.
    stopped = descendants(worker)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    report_id = api.trigger()
    stopped_at = time.monotonic()

    complete_within(api, report_id, embedded, stopped_at, "embedded, a pool that starts no task")
    log = api.process.log_text()
    assert f"exiting (status {POOL_STALLED_EXIT}) to be started afresh" in log
    assert len(embedded_worker_pids(api.process)) == 2
    assert all(process_state(pid) in (None, "Z") for pid in stopped), "its stopped pool outlived it"


def test_embedded_an_upload_whose_pool_process_is_killed_mid_ingestion_completes(
    service: ServiceRunner, embedded: LoadedDatabase, shared_data: Path
) -> None:
    from test_ingest_service import finished_ingestion, upload

    api = start_embedded(service)
    ingest_id = upload(api, shared_data / "real-2023")

    def ingesting() -> bool:
        return any(unit == f"ingest/{ingest_id}" for unit, _ in leased_units(embedded.url))

    wait_for(ingesting, 20, "a pool process ingesting the upload", service.diagnostics, interval=0.002)
    [holder] = [pid for unit, pid in leased_units(embedded.url) if unit == f"ingest/{ingest_id}"]
    os.kill(holder, signal.SIGKILL)
    killed_at = time.monotonic()

    state = finished_ingestion(api, ingest_id, timeout=RECOVERY_S)
    elapsed = time.monotonic() - killed_at
    assert state["status"] == "Complete", state
    counts = state["summary"]["store_status"]
    assert counts["rows"] == counts["new"] + counts["already_stored"] + counts["duplicates"] + counts["rejected"]
    assert counts["new"] == 0  # the database held this data already: ingesting again stores nothing twice
    record("embedded, SIGKILL of the pool process ingesting an upload", elapsed)


def test_with_no_worker_a_report_fails_after_the_stall_time_saying_no_worker_is_alive(
    service: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update({**FAST, "DATABASE_URL": database.url, "REPORT_STALL_SECONDS": "2"})
    api = service.start_api("--no-worker")
    health = api.get("/health")
    assert health.status == 503 and health.json()["worker"] != "ok" and "worker" in health.json()["error"]

    report_id = api.trigger()
    finished = api.wait_until_finished(report_id, timeout=15, interval=0.2)

    state = finished.answer.json()
    assert state["status"] == "Failed", state
    assert state["error"].startswith("no progress for 2 s: no worker has recorded a heartbeat"), state


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def on_redis(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> LoadedDatabase:
    database = sqlite_copy(real_2023_sqlite, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **FAST)
    service.use_redis(redis_server)
    return database


def test_redis_a_killed_pool_process_and_a_killed_worker(service: ServiceRunner, on_redis: LoadedDatabase) -> None:
    beat_worker, other = start_workers(service)
    api = service.start_api()

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    pool = descendants(other.popen.pid)
    killed = kill_a_part_holder(on_redis.url, service)
    killed_at = time.monotonic()
    complete_within(api, report_id, on_redis, killed_at, "Redis, SIGKILL of a pool process")
    other = wait_until_it_takes_parts_again(other, pool, killed, service)

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    kill_worker_holding_a_part(other, on_redis.url, service)
    killed_at = time.monotonic()
    complete_within(api, report_id, on_redis, killed_at, "Redis, SIGKILL of a worker")


def test_redis_down_for_ten_seconds_at_the_trigger_and_mid_report(
    service: ServiceRunner, on_redis: LoadedDatabase, redis_server: RedisServer
) -> None:
    start_workers(service)
    api = service.start_api()

    report_id = api.trigger()
    redis_server.stop()  # with its queued messages: it keeps nothing on disk
    time.sleep(10)
    assert api.report(report_id).json()["status"] == "Running"
    redis_server.start()
    back_at = time.monotonic()
    complete_within(api, report_id, on_redis, back_at, "Redis down 10 s at the trigger")

    report_id = api.trigger()
    wait_for_progress(api, report_id, on_redis.parts(CHUNK_SIZE), service)
    redis_server.stop()
    time.sleep(10)
    redis_server.start()
    back_at = time.monotonic()

    complete_within(api, report_id, on_redis, back_at, "Redis down 10 s mid-report")


def test_a_stalled_report_with_redis_down_says_the_broker_is_unreachable(
    service: ServiceRunner, on_redis: LoadedDatabase, redis_server: RedisServer
) -> None:
    service.settings["REPORT_STALL_SECONDS"] = "3"
    api = service.start_api()
    report_id = api.trigger()  # no worker yet: the message waits in Redis
    redis_server.stop()

    finished = api.wait_until_finished(report_id, timeout=20, interval=0.2)

    error = finished.answer.json()["error"]
    assert error.startswith("no progress for 3 s: the broker is unreachable"), error


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_connections_of_the_workers_terminated_mid_report(
    service: ServiceRunner, redis_server: RedisServer, postgres_schema_url: str, shared_data: Path
) -> None:
    database = load_database(service, postgres_schema_url, shared_data / "real-2023")
    service.settings.update(DATABASE_URL=database.url, REPORT_STORAGE="database", **FAST)
    service.use_redis(redis_server)
    # The workers' connections carry a name of their own: only they are cut.
    name = f"sm-worker-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in database.url else "?"
    start_workers(service, overrides={"DATABASE_URL": f"{database.url}{separator}application_name={name}"})
    api = service.start_api()

    report_id = api.trigger()
    wait_for_progress(api, report_id, database.parts(CHUNK_SIZE), service)
    admin = create_engine_for(postgres_schema_url)
    try:
        with admin.begin() as connection:
            terminated = connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    cut_at = time.monotonic()
    assert terminated >= 1

    complete_within(api, report_id, database, cut_at, "PostgreSQL, workers' connections terminated")
