"""Report retention end to end: the hourly Celery task and ``store-monitor purge-reports``, on real
SQLite and real report storage (a folder, or the database)."""

from __future__ import annotations

import importlib
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import launcher
import pytest

from domain.model.report import Report, ReportStatus
from domain.ports.reports import ReportNotFound, ReportStorageError
from entrypoints.container import Container, build_container

REPO = Path(__file__).resolve().parents[2]
CONTENT = b"store_id,uptime_last_hour\n"


def settings(tmp_path: Path, report_storage: str, retention_days: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store-monitor.sqlite3'}",
        "REPORTS_DIR": str(tmp_path / "reports"),
        "BROKER_DIR": str(tmp_path / "broker"),
        "REPORT_STORAGE": report_storage,
        "REPORT_RETENTION_DAYS": retention_days,
    }


@pytest.fixture(params=["filesystem", "database"])
def report_storage(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def open_container(tmp_path: Path, report_storage: str, retention_days: str) -> Container:
    return build_container(settings(tmp_path, report_storage, retention_days))


@pytest.fixture
def container(tmp_path: Path, report_storage: str) -> Iterator[Container]:
    built = open_container(tmp_path, report_storage, "30")
    yield built
    built.shutdown_resources()


def seed(container: Container) -> None:
    """Reports of every kind: finished long ago, finished lately, and one running for ages."""
    registry, storage = container.report_registry(), container.report_storage()
    now = datetime.now(timezone.utc)

    def finished(report_id: str, age: timedelta, complete: bool) -> None:
        at = now - age
        registry.add(Report(report_id, ReportStatus.RUNNING, created_at=at, updated_at=at))
        registry.save_part(report_id, 0, "a,1\n", at)
        if complete:
            registry.mark_complete(report_id, storage.save(report_id, CONTENT), at)
        else:
            registry.mark_failed(report_id, "boom", at)

    finished("old-complete", timedelta(days=40), complete=True)
    finished("old-failed", timedelta(days=31), complete=False)
    finished("recent-complete", timedelta(days=29), complete=True)
    long_ago = now - timedelta(days=400)
    registry.add(Report("old-running", ReportStatus.RUNNING, created_at=long_ago, updated_at=long_ago))


def assert_purged(container: Container) -> None:
    registry, storage = container.report_registry(), container.report_storage()
    for gone in ("old-complete", "old-failed"):
        with pytest.raises(ReportNotFound):
            registry.get(gone)
    recent = registry.get("recent-complete")
    assert recent.report_path is not None and storage.load(recent.report_path) == CONTENT
    assert registry.get("old-running").is_running
    old_location = recent.report_path.replace("recent-complete", "old-complete")
    with pytest.raises(ReportStorageError):
        storage.load(old_location)


def assert_untouched(container: Container) -> None:
    registry = container.report_registry()
    for kept in ("old-complete", "old-failed", "recent-complete", "old-running"):
        registry.get(kept)


# --- the Celery task ---------------------------------------------------------------------


def test_the_purge_task_deletes_what_retention_allows(
    container: Container, tmp_path: Path, report_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(container)
    # The worker module builds a container from the environment when imported.
    for variable, value in settings(tmp_path, report_storage, "30").items():
        monkeypatch.setenv(variable, value)
    worker = importlib.import_module("entrypoints.worker")
    monkeypatch.setattr(importlib.import_module("entrypoints.worker_process"), "_process_container", container)

    result = worker.purge_reports.apply()

    assert result.successful(), result.traceback
    assert result.get() == 2
    assert_purged(container)
    assert worker.purge_reports.apply().get() == 0


def test_the_purge_task_deletes_nothing_when_reports_are_kept_forever(
    tmp_path: Path, report_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    forever = open_container(tmp_path, report_storage, "0")
    try:
        seed(forever)
        for variable, value in settings(tmp_path, report_storage, "0").items():
            monkeypatch.setenv(variable, value)
        worker = importlib.import_module("entrypoints.worker")
        monkeypatch.setattr(importlib.import_module("entrypoints.worker_process"), "_process_container", forever)

        assert worker.purge_reports.apply().get() == 0

        assert_untouched(forever)
    finally:
        forever.shutdown_resources()


# --- the command -------------------------------------------------------------------------


def run_purge(tmp_path: Path, report_storage: str, retention_days: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "STORAGE_", "REPORT", "CELERY_", "BROKER_", "API_TOKEN"))
    }
    env.update(settings(tmp_path, report_storage, retention_days))
    env["PYTHONPATH"] = str(REPO)
    return launcher.run(["purge-reports"], cwd=tmp_path, env=env, timeout=120)


def test_the_command_purges_and_says_how_many(container: Container, tmp_path: Path, report_storage: str) -> None:
    seed(container)

    first = run_purge(tmp_path, report_storage, "30")
    second = run_purge(tmp_path, report_storage, "30")

    assert first.returncode == 0, first.stderr
    assert first.stdout == "deleted 2 reports finished more than 30 days ago\n"
    assert_purged(container)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "deleted 0 reports finished more than 30 days ago\n"


def test_the_command_keeps_everything_when_retention_is_zero(
    container: Container, tmp_path: Path, report_storage: str
) -> None:
    seed(container)

    result = run_purge(tmp_path, report_storage, "0")

    assert result.returncode == 0, result.stderr
    assert "kept forever" in result.stdout
    assert_untouched(container)


def test_the_command_with_a_bad_retention_is_one_line_and_status_2(tmp_path: Path) -> None:
    result = run_purge(tmp_path, "filesystem", "a month")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "store-monitor: error: REPORT_RETENTION_DAYS must be a whole number, 0 or more, not 'a month'"
    ]
