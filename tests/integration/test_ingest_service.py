"""Ingestion through the running service: a private redis-server, ``store-monitor worker``
processes and ``store-monitor serve``, on the real 2024 data.

An ingestion over HTTP must count exactly what ``store-monitor ingest --json``
counts for the same files, survive the death of its worker, and never store
a row twice.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from service_fixtures import (
    ApiClient,
    HttpAnswer,
    RedisServer,
    ServiceRunner,
    redis_server,
    service,
    wait_for,
)
from sqlalchemy import func, select

from adapters.celery.app import make_celery
from adapters.sqlalchemy.database import create_engine_for
from adapters.sqlalchemy.tables import business_hours, store_status, store_timezones
from domain.model.work_units import INGEST_WATCHED_FOLDER_TASK

# Fixtures used by name below; listed so that pytest finds them in this module.
__all__ = ["redis_server", "service"]

FILES = ("store_status.csv", "menu_hours.csv", "timezone.csv")
UNACKED = "unacked"  # kombu's hash of delivered, unacknowledged messages


@pytest.fixture
def real_2024(shared_data: Path) -> Path:
    folder = shared_data / "real-2024"
    if not all((folder / name).is_file() for name in FILES):
        pytest.skip(f"the real 2024 data is not at {folder}")
    return folder


def post_files(api: ApiClient, files: dict[str, Path], timeout: float = 30.0) -> HttpAnswer:
    """``POST /ingest`` with each file in its field, as ``curl -F field=@file`` sends it."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + b"\r\n"
        for field, path in files.items()
    ) + f"--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=timeout)
    try:
        connection.request("POST", "/ingest", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def upload(api: ApiClient, folder: Path) -> str:
    answer = post_files(api, {name.removesuffix(".csv"): folder / name for name in FILES})
    assert answer.status == 202, f"{answer.shown()}\n{api.diagnostics()}"
    ingest_id = answer.json()["ingest_id"]
    assert isinstance(ingest_id, str)
    assert answer.headers["location"] == f"/ingest/{ingest_id}"
    return ingest_id


def finished_ingestion(api: ApiClient, ingest_id: str, timeout: float) -> dict[str, Any]:
    """Poll until the ingestion is no longer Running; every Running answer must be just that."""
    state: dict[str, Any] = {}

    def finished() -> bool:
        nonlocal state
        answer = api.get(f"/ingest/{ingest_id}")
        assert answer.status == 200, f"{answer.shown()}\n{api.diagnostics()}"
        state = answer.json()
        if state == {"status": "Running"}:
            return False
        return True

    wait_for(finished, timeout, f"ingestion {ingest_id} finishing", api.diagnostics, interval=0.1)
    return state


def cli_ingest(service: ServiceRunner, folder: Path, url: str) -> dict[str, Any]:
    completed = service.run_cli("ingest", str(folder), "--json", overrides={"DATABASE_URL": url})
    summary: dict[str, Any] = json.loads(completed.stdout)
    return summary


def row_counts(url: str) -> tuple[int, int, int]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            polls, hours, timezones = (
                int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (store_status, business_hours, store_timezones)
            )
        return polls, hours, timezones
    finally:
        engine.dispose()


def configure(service: ServiceRunner, redis: RedisServer, **settings: str) -> str:
    url = f"sqlite:///{service.folder / 'db' / 'store-monitor.sqlite3'}"
    service.settings.update(
        DATABASE_URL=url,
        REPORTS_DIR=str(service.folder / "reports"),
        UPLOADS_DIR=str(service.folder / "uploads"),
        **settings,
    )
    service.use_redis(redis)
    # Only an ingestion or create-db makes a SQLite database: data that only comes over HTTP needs the latter.
    assert service.run_cli("create-db").returncode == 0
    return url


def test_uploaded_files_are_ingested_with_the_clis_counts_then_reported(
    service: ServiceRunner, redis_server: RedisServer, real_2024: Path
) -> None:
    # The CLI on the same files, into a database of its own: what the upload must match.
    cli_url = f"sqlite:///{service.folder / 'cli' / 'store-monitor.sqlite3'}"
    expected = cli_ingest(service, real_2024, cli_url)
    cli_report = service.folder / "cli-report.csv"
    service.run_cli("report", "--out", str(cli_report), overrides={"DATABASE_URL": cli_url})
    url = configure(service, redis_server)
    service.start_worker(concurrency=1)
    api = service.start_api()

    ingest_id = upload(api, real_2024)
    state = finished_ingestion(api, ingest_id, timeout=60)

    assert state == {"status": "Complete", "summary": expected}
    assert expected["store_status"]["new"] > 0 and expected["menu_hours"]["new"] > 0
    assert row_counts(url) == row_counts(cli_url)
    assert list((service.folder / "uploads").iterdir()) == [], "the uploaded files were kept"
    # What was ingested over HTTP gives the CLI's report, byte for byte.
    report = api.complete_csv(api.trigger())
    assert report.answer.body == cli_report.read_bytes()


def test_an_ingestion_whose_worker_is_killed_completes_on_another_without_duplicated_rows(
    service: ServiceRunner, redis_server: RedisServer, real_2024: Path
) -> None:
    visibility_timeout = 3
    cli_url = f"sqlite:///{service.folder / 'cli' / 'store-monitor.sqlite3'}"
    expected = cli_ingest(service, real_2024, cli_url)
    url = configure(service, redis_server, CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout))
    api = service.start_api()  # CELERY_BROKER_URL is set: no worker yet
    ingest_id = upload(api, real_2024)

    # Hold the database's write lock: the ingestion starts, reads the files,
    # and waits at its first write. Killed there, its worker has stored nothing.
    lock = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")
        first = service.start_worker("worker-1", concurrency=1)
        service.wait_for_log(first, f"ingestion {ingest_id}: started")
        with redis_server.client() as client:
            assert client.hlen(UNACKED) == 1, "the ingestion's message is not held by worker-1"
        first.kill()
        killed_at = time.monotonic()
    finally:
        lock.rollback()
        lock.close()

    assert api.get(f"/ingest/{ingest_id}").json() == {"status": "Running"}
    assert row_counts(url) == (0, 0, 0)
    # The message comes back once its visibility timeout has passed since delivery.
    time.sleep(max(0.0, visibility_timeout + 1 - (time.monotonic() - killed_at)))
    second = service.start_worker("worker-2", concurrency=1)

    state = finished_ingestion(api, ingest_id, timeout=60)

    assert state == {"status": "Complete", "summary": expected}, service.diagnostics()
    # Worker-2 finished it (it logs that just after the state the API answered is stored).
    service.wait_for_log(second, f"ingestion {ingest_id}: Complete", timeout=10)
    assert row_counts(url) == row_counts(cli_url)
    # Ingesting the same files again adds nothing: no row was stored twice.
    again = cli_ingest(service, real_2024, url)
    assert [again[name]["new"] for name in ("store_status", "menu_hours", "timezone")] == [0, 0, 0]
    # Every valid row is counted, as already stored.
    assert [again[name]["already_stored"] for name in ("store_status", "menu_hours", "timezone")] == [
        expected[name]["new"] for name in ("store_status", "menu_hours", "timezone")
    ]
    assert row_counts(url) == row_counts(cli_url)


def test_the_watched_folder_task_ingests_a_changed_folder_once(
    service: ServiceRunner, redis_server: RedisServer, real_2024: Path
) -> None:
    watched = service.folder / "watched"
    watched.mkdir(parents=True)
    for name in FILES:
        (watched / name).write_bytes((real_2024 / name).read_bytes())
    url = configure(service, redis_server, INGEST_WATCH_DIR=str(watched), INGEST_EVERY_MINUTES="60")
    worker = service.start_worker(concurrency=1)
    app = make_celery(redis_server.url, None, 120, service.folder / "broker")

    def send_and_wait(count: int) -> None:
        app.send_task(INGEST_WATCHED_FOLDER_TASK)
        wait_for(
            lambda: worker.log_text().count(f"watched folder {watched}:") >= count,
            60,
            f"check {count} of the watched folder",
            service.diagnostics,
            interval=0.1,
        )

    send_and_wait(1)
    assert f"watched folder {watched}: ingested" in worker.log_text()
    counts = row_counts(url)
    assert counts[0] > 0

    send_and_wait(2)
    assert f"watched folder {watched}: unchanged since its last ingestion, skipped" in worker.log_text()

    with (watched / "timezone.csv").open("ab") as file:
        file.write(b"\na-store-never-seen,Asia/Tokyo\n")  # the file may not end its last line
    send_and_wait(3)
    assert worker.log_text().count(f"watched folder {watched}: ingested") == 2
    assert row_counts(url) == (counts[0], counts[1], counts[2] + 1)


def test_ingest_if_changed_skips_a_folder_ingested_with_the_same_files(service: ServiceRunner, real_2024: Path) -> None:
    url = f"sqlite:///{service.folder / 'store-monitor.sqlite3'}"
    folder = service.folder / "data"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes((real_2024 / name).read_bytes())

    def ingest_if_changed() -> dict[str, Any]:
        completed = service.run_cli("ingest", str(folder), "--json", "--if-changed", overrides={"DATABASE_URL": url})
        result: dict[str, Any] = json.loads(completed.stdout)
        return result

    first = ingest_if_changed()
    assert first["store_status"]["new"] > 0
    skipped = ingest_if_changed()
    assert set(skipped) == {"skipped"} and "no file changed" in skipped["skipped"]
    (folder / "menu_hours.csv").write_bytes((real_2024 / "menu_hours.csv").read_bytes() + b"\nx,1,09:00,10:00\n")
    changed = ingest_if_changed()
    assert changed["menu_hours"]["new"] == 1 and changed["store_status"]["new"] == 0
