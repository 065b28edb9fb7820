"""The running service when its parts fail: a worker killed mid-report, Redis down, a flushed queue.

A report must never stay Running forever: it completes (its lost work is
delivered again) or it turns Failed with a reason.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from service_fixtures import (
    LoadedDatabase,
    RedisServer,
    ServiceRunner,
    real_2023_sqlite,
    redis_server,
    registry_row,
    registry_rows,
    service,
    sqlite_copy,
    wait_for,
)

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["real_2023_sqlite", "redis_server", "service"]

TASK_QUEUE = "store-monitor"  # the Redis list of queued tasks
UNACKED = "unacked"  # kombu's hash of delivered, unacknowledged messages


def configure(
    service: ServiceRunner, redis: RedisServer, template: tuple[Path, bytes], sqlite_url: str, **settings: str
) -> LoadedDatabase:
    database = sqlite_copy(template, sqlite_url)
    service.settings.update(DATABASE_URL=database.url, REPORTS_DIR=str(service.folder / "reports"), **settings)
    service.use_redis(redis)
    return database


def test_a_report_completes_after_its_only_worker_is_killed_mid_run(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    chunk_size = 10  # ~800 short parts: one worker process takes several seconds
    database = configure(
        service,
        redis_server,
        real_2023_sqlite,
        sqlite_url,
        REPORT_CHUNK_SIZE=str(chunk_size),
        CELERY_VISIBILITY_TIMEOUT="5",
    )
    total = database.parts(chunk_size)
    first = service.start_worker("worker-1", concurrency=1)
    api = service.start_api()

    report_id = api.trigger()

    def some_parts_done() -> bool:
        answer = api.report(report_id)
        assert answer.content_type == "application/json", f"finished before the kill: {answer.shown()}"
        progress = answer.json()["progress"]
        return bool(progress["done"] >= 1)

    wait_for(some_parts_done, 30, "a first part done", service.diagnostics, interval=0.01)

    # Kill the worker while it holds a delivered, unacknowledged part, so that
    # part is lost with it. Its main process (which takes and acknowledges
    # messages) is frozen first, so the count read from Redis cannot change
    # before the kill.
    with redis_server.client() as client:

        def frozen_with_a_part_in_hand() -> bool:
            first.signal(signal.SIGSTOP)
            wait_for(lambda: first.state() == "T", 5, "worker-1 stopped", service.diagnostics, interval=0.001)
            if client.hlen(UNACKED) >= 1:
                return True
            first.signal(signal.SIGCONT)  # frozen between two parts: let it take the next one
            return False

        wait_for(frozen_with_a_part_in_hand, 10, "worker-1 holding a part", service.diagnostics, interval=0.003)
        first.kill()  # the whole process group, pool child included, with SIGKILL
        killed_at = time.monotonic()
        assert client.hlen(UNACKED) >= 1

    row = registry_row(database.url, report_id)
    assert row.status == "Running" and 1 <= row.progress_done < total, row

    service.start_worker("worker-2", concurrency=1)
    finished = api.complete_csv(report_id, timeout=60 - (time.monotonic() - killed_at))

    assert finished.answer.body == database.cli_csv
    row = registry_row(database.url, report_id)
    assert (row.status, row.progress_done, row.progress_total) == ("Complete", total, total)


def test_with_redis_down_a_trigger_fails_fast_leaves_no_running_report_and_the_service_recovers(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    database = configure(service, redis_server, real_2023_sqlite, sqlite_url, REPORT_CHUNK_SIZE="2000")
    service.start_worker(concurrency=1)
    api = service.start_api()
    # A report first, so the API and the worker hold connections that Redis's restart breaks.
    assert api.complete_csv(api.trigger()).answer.body == database.cli_csv

    redis_server.stop()
    started = time.monotonic()
    answer = api.post("/trigger_report")
    elapsed = time.monotonic() - started

    assert answer.status == 503, answer.shown()
    assert answer.content_type == "application/json"
    assert "broker" in answer.json()["error"]
    assert elapsed < 2.5, f"the refused trigger took {elapsed:.2f} s"
    rows = registry_rows(database.url)
    assert [row for row in rows if row.status == "Running"] == []
    [completed, failed] = rows
    assert completed.status == "Complete"
    assert failed.status == "Failed" and failed.error is not None and "could not be queued" in failed.error, failed
    polled = api.report(failed.report_id)
    assert polled.status == 200 and polled.json() == {"status": "Failed", "error": failed.error}

    health = api.get("/health")
    assert health.status == 503, health.shown()
    body = health.json()
    assert body["status"] == "unavailable" and body["database"] == "ok" and body["broker"] != "ok", body
    assert "broker" in body["error"]

    # Redis back on the same port: the same API and worker serve reports again.
    redis_server.start()
    report_id = api.trigger()
    finished = api.complete_csv(report_id, timeout=40)
    assert finished.answer.body == database.cli_csv
    assert api.get("/health").status == 200


def test_a_report_whose_queued_work_was_flushed_turns_failed_once_the_stall_time_passes(
    service: ServiceRunner, redis_server: RedisServer, real_2023_sqlite: tuple[Path, bytes], sqlite_url: str
) -> None:
    stall_seconds = 3
    database = configure(service, redis_server, real_2023_sqlite, sqlite_url, REPORT_STALL_SECONDS=str(stall_seconds))
    api = service.start_api("--no-worker")

    report_id = api.trigger()
    with redis_server.client() as client:
        assert client.llen(TASK_QUEUE) == 1, "the trigger queued no task"
        redis_server.flush()
        assert client.llen(TASK_QUEUE) == 0
    first = api.report(report_id).json()
    assert first == {"status": "Running", "progress": {"done": 0, "total": 0}}

    finished = api.wait_until_finished(report_id, timeout=stall_seconds + 12, interval=0.2)

    state = finished.answer.json()
    assert state["status"] == "Failed", state
    assert f"no progress for {stall_seconds} s" in state["error"]
    row = registry_row(database.url, report_id)
    assert (row.status, row.error) == ("Failed", state["error"])

