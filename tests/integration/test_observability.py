"""Logs, metrics and shutdown of the running service: redis-server, a worker, the API, real processes.

The API's log and the worker's log of one report both carry its report_id;
``/metrics`` counts the report while and after it runs; a worker stopped
with SIGTERM in the middle of a report leaves it to the next worker, and the
API stopped with SIGTERM exits cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from service_fixtures import (
    ApiClient,
    LoadedDatabase,
    ServiceRunner,
    real_2023_sqlite,
    running_redis,
    sqlite_copy,
    wait_for,
)

__all__ = ["real_2023_sqlite"]

CHUNK_SIZE = 500


@dataclass(frozen=True)
class Stack:
    runner: ServiceRunner
    database: LoadedDatabase


@pytest.fixture
def stack(real_2023_sqlite: tuple[Path, bytes], tmp_path: Path) -> Iterator[Stack]:
    """Redis and a SQLite copy of real-2023; the test starts the worker and the API it needs."""
    database = sqlite_copy(real_2023_sqlite, f"sqlite:///{tmp_path / 'db' / 'store-monitor.sqlite3'}")
    runner = ServiceRunner(
        tmp_path / "service",
        {
            "DATABASE_URL": database.url,
            "REPORTS_DIR": str(tmp_path / "reports"),
            "REPORT_CHUNK_SIZE": str(CHUNK_SIZE),
            # Passed through: the runner resets only the service's own settings.
            "LOG_FORMAT": "json",
        },
    )
    with running_redis(tmp_path / "redis") as server:
        runner.use_redis(server)
        try:
            yield Stack(runner, database)
        finally:
            runner.close()


def figures(api: ApiClient) -> dict[str, float]:
    """``/metrics`` as sample name (with labels) -> value."""
    answer = api.get("/metrics")
    assert answer.status == 200 and answer.content_type.startswith("text/plain"), answer.shown()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.body.decode("utf-8")):
        for sample in family.samples:
            labels = ",".join(f"{key}={value}" for key, value in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_the_api_and_the_worker_log_the_report_id_and_metrics_count_it(stack: Stack) -> None:
    runner = stack.runner
    worker = runner.start_worker(concurrency=2)
    api = runner.start_api()
    before = figures(api)

    report_id = api.trigger()
    during = figures(api)
    finished = api.complete_csv(report_id, timeout=120)
    # The last part's figures are written just after its file: give them a moment.
    wait_for(
        lambda: figures(api).get("reports_completed_total", 0) >= before.get("reports_completed_total", 0) + 1,
        10,
        "reports_completed_total counting the report",
        runner.diagnostics,
    )
    after = figures(api)

    assert finished.answer.body == stack.database.cli_csv
    assert during["reports_triggered_total"] == before.get("reports_triggered_total", 0) + 1
    assert after["reports_completed_total"] == before.get("reports_completed_total", 0) + 1
    assert after["reports_failed_total"] == before.get("reports_failed_total", 0)
    assert after["report_duration_seconds_count"] == before.get("report_duration_seconds_count", 0) + 1
    assert after["report_queue_wait_seconds_count"] == before.get("report_queue_wait_seconds_count", 0) + 1

    api_lines = json_lines(api.process.log_text())
    worker_lines = json_lines(worker.log_text())
    api_report_lines = [line for line in api_lines if line.get("report_id") == report_id]
    worker_report_lines = [line for line in worker_lines if line.get("report_id") == report_id]
    assert any(line["message"] == "report triggered" for line in api_report_lines), runner.diagnostics()
    assert any(line.get("path") == f"/get_report/{report_id}" for line in api_report_lines)
    assert any(line["message"] == "report complete" for line in worker_report_lines), runner.diagnostics()
    assert all(line.get("task_id") for line in worker_report_lines)
    for line in api_lines + worker_lines:
        assert {"time", "level", "logger", "message"} <= set(line)


def test_a_worker_stopped_mid_report_leaves_it_to_the_next_one(stack: Stack) -> None:
    runner = stack.runner
    first = runner.start_worker(name="worker-1", concurrency=1)
    api = runner.start_api()
    report_id = api.trigger()

    def started() -> bool:
        state = api.report(report_id).json()
        return bool(state["progress"]["done"] >= 1)

    wait_for(started, 60, "the first part done", runner.diagnostics)
    # Only the leader, as a service manager does: Celery's warm shutdown.
    os.kill(first.popen.pid, signal.SIGTERM)
    try:
        first.popen.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not exit within 60 s of SIGTERM\n{runner.diagnostics()}")
    assert first.popen.returncode == 0, runner.diagnostics()
    assert "Warm shutdown" in first.log_text() or "warm shutdown" in first.log_text().lower()
    assert api.report(report_id).json()["status"] == "Running"

    runner.start_worker(name="worker-2", concurrency=1)
    finished = api.complete_csv(report_id, timeout=120)

    assert finished.answer.body == stack.database.cli_csv


def test_the_api_exits_cleanly_on_sigterm_while_polled(stack: Stack) -> None:
    runner = stack.runner
    runner.start_worker(concurrency=1)
    api = runner.start_api()
    report_id = api.trigger()
    assert api.report(report_id).status == 200

    os.kill(api.process.popen.pid, signal.SIGTERM)
    started = time.monotonic()
    try:
        api.process.popen.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the API did not exit within 15 s of SIGTERM\n{runner.diagnostics()}")

    assert api.process.popen.returncode == 0, runner.diagnostics()
    assert time.monotonic() - started < 15
