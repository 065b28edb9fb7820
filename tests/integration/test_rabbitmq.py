"""The service with RabbitMQ as its broker, by configuration alone: CELERY_BROKER_URL=amqp://...

Needs a RabbitMQ server (RABBITMQ_URL, by default guest at 127.0.0.1:5672);
skipped with the reason when none answers, unless ``REQUIRE_RABBITMQ=1``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_fixtures import ServiceRunner, real_2023_sqlite, require_empty_rabbitmq_queue, sqlite_copy

__all__ = ["real_2023_sqlite"]

pytestmark = pytest.mark.rabbitmq

RABBITMQ_URL = os.environ.get("RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def rabbitmq() -> Iterator[str]:
    """RABBITMQ_URL with the service's queue emptied of an earlier run's messages."""
    require_empty_rabbitmq_queue(RABBITMQ_URL)
    yield RABBITMQ_URL


@pytest.fixture
def runner(tmp_path: Path, rabbitmq: str) -> Iterator[ServiceRunner]:
    service = ServiceRunner(tmp_path / "service", {"CELERY_BROKER_URL": rabbitmq, "REPORT_CHUNK_SIZE": "500"})
    try:
        yield service
    finally:
        service.close()


def test_a_report_through_rabbitmq_is_the_clis(
    runner: ServiceRunner, real_2023_sqlite: tuple[Path, bytes], tmp_path: Path
) -> None:
    database = sqlite_copy(real_2023_sqlite, f"sqlite:///{tmp_path / 'db' / 'store-monitor.sqlite3'}")
    runner.settings["DATABASE_URL"] = database.url
    runner.start_worker(concurrency=2)
    api = runner.start_api()

    health = api.get("/health")
    report_id = api.trigger()
    finished = api.complete_csv(report_id, timeout=120)

    assert health.status == 200, health.shown()
    assert finished.answer.body == database.cli_csv


def test_with_rabbitmq_down_a_trigger_answers_503_quickly(runner: ServiceRunner) -> None:
    assert runner.run_cli("create-db").returncode == 0
    # Nothing listens on port 1: the broker is down.
    api = runner.start_api(overrides={"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"})

    started = time.monotonic()
    answer = api.post("/trigger_report")
    elapsed = time.monotonic() - started

    assert answer.status == 503, answer.shown()
    assert "broker" in answer.json()["error"]
    assert elapsed < 5, f"took {elapsed:.1f} s"
