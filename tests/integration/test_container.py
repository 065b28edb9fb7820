"""The composition root: every provider resolves, for each backend, to an object of its port."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from domain.model.errors import UptimeError
from domain.ports.data import BusinessHoursRepository, IngestionLog, StatusRepository, TimezoneRepository
from domain.ports.reports import ReportRegistry, ReportStorage
from domain.ports.work import WorkQueue
from domain.use_cases.ingest import IngestService
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService
from entrypoints.container import PURGE_POLLS_TASK, PURGE_REPORTS_TASK, WATCHDOG_TASK, build_container, periodic_tasks

REPO = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "reports_dir": str(tmp_path / "reports"),
        "broker_dir": str(tmp_path / "broker"),
        "csv_dir": str(REPO / "data"),
        **extra,
    }


EXPECTED_TYPES: dict[str, type] = {
    "status_repository": StatusRepository,
    "hours_repository": BusinessHoursRepository,
    "timezone_repository": TimezoneRepository,
    "ingestion_log": IngestionLog,
    "report_registry": ReportRegistry,
    "report_storage": ReportStorage,
    "work_queue": WorkQueue,
    "ingest_service": IngestService,
    "report_service": ReportService,
    "report_run_service": ReportRunService,
}


@pytest.mark.parametrize(
    ("backend", "report_storage"), [("sql", "filesystem"), ("sql", "database"), ("csv", "filesystem")]
)
def test_every_provider_resolves_to_its_port(backend: str, report_storage: str, tmp_path: Path) -> None:
    container = build_container({}, settings(tmp_path, storage_backend=backend, report_storage=report_storage))
    try:
        for name, provider in container.providers.items():
            if isinstance(provider, providers.Configuration):
                continue
            if backend == "csv" and name.startswith("sql_"):
                continue  # the other backend's branch
            if backend == "sql" and name.startswith("csv_"):
                continue
            built = provider()
            if name in EXPECTED_TYPES:
                assert isinstance(built, EXPECTED_TYPES[name]), name
    finally:
        container.shutdown_resources()


def test_building_the_container_connects_to_nothing(tmp_path: Path) -> None:
    build_container({}, settings(tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none"))
    assert not (tmp_path / "db.sqlite").exists()


def test_the_environment_sets_the_defaults_and_overrides_win(tmp_path: Path) -> None:
    container = build_container(
        {"DATABASE_URL": "sqlite:///from-env.db", "REPORT_CHUNK_SIZE": "7"}, {"report_chunk_size": "9"}
    )
    assert container.database_url() == "sqlite:///from-env.db"
    assert container.config.report_chunk_size() == 9


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STORAGE_BACKEND", "excel"),
        ("REPORT_STORAGE", "s3"),
        ("REPORT_CHUNK_SIZE", "0"),
        ("REPORT_STALL_SECONDS", "ten"),
        ("CELERY_VISIBILITY_TIMEOUT", "-5"),
    ],
)
def test_a_bad_setting_is_an_error_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(UptimeError, match=variable):
        build_container({variable: value})


def test_reports_are_kept_30_days_unless_said_otherwise() -> None:
    assert build_container({}).report_retention_days() == 30
    assert build_container({"REPORT_RETENTION_DAYS": "0"}).report_retention_days() == 0
    assert build_container({"REPORT_RETENTION_DAYS": "365"}).report_retention_days() == 365


@pytest.mark.parametrize("value", ["-1", "thirty", "1.5", "²"])
def test_a_bad_retention_is_an_error_naming_its_variable(value: str) -> None:
    with pytest.raises(UptimeError, match="REPORT_RETENTION_DAYS"):
        build_container({"REPORT_RETENTION_DAYS": value})


@pytest.mark.parametrize(("days", "scheduled"), [("7", True), ("0", False)])
def test_beat_sends_the_poll_purge_hourly_only_with_a_poll_retention(tmp_path: Path, days: str, scheduled: bool) -> None:
    container = build_container({"POLL_RETENTION_DAYS": days, "REPORT_RETENTION_DAYS": "0"}, settings(tmp_path))
    assert container.poll_retention_days() == int(days)
    assert periodic_tasks(container.config()).get(PURGE_POLLS_TASK) == (3600.0 if scheduled else None)


def test_polls_are_kept_forever_by_default_and_a_bad_poll_retention_names_its_variable(tmp_path: Path) -> None:
    assert build_container({}, settings(tmp_path)).poll_retention_days() == 0
    with pytest.raises(UptimeError, match="POLL_RETENTION_DAYS"):
        build_container({"POLL_RETENTION_DAYS": "a week"})


@pytest.mark.parametrize(("days", "scheduled"), [("30", True), ("1", True), ("0", False)])
def test_beat_sends_the_purge_hourly_unless_reports_are_kept_forever(
    tmp_path: Path, days: str, scheduled: bool
) -> None:
    container = build_container({"REPORT_RETENTION_DAYS": days}, settings(tmp_path))
    # The watchdog of units of work always runs, every WATCHDOG_SECONDS (5 by default).
    expected = {WATCHDOG_TASK: 5.0, **({PURGE_REPORTS_TASK: 3600.0} if scheduled else {})}

    assert periodic_tasks(container.config()) == expected
    beat_schedule = container.celery_app().conf.beat_schedule
    assert beat_schedule == {name: {"task": name, "schedule": period} for name, period in expected.items()}


def test_the_lease_and_the_watchdog_period_are_settings_and_named_when_wrong(tmp_path: Path) -> None:
    container = build_container({"LEASE_SECONDS": "7", "WATCHDOG_SECONDS": "2"}, settings(tmp_path))
    work = container.work_tracker()
    assert (work.lease.total_seconds(), work.watchdog_period.total_seconds()) == (7.0, 2.0)
    assert periodic_tasks(container.config())[WATCHDOG_TASK] == 2.0
    default = build_container({}, settings(tmp_path)).work_tracker()
    assert (default.lease.total_seconds(), default.watchdog_period.total_seconds()) == (15.0, 5.0)
    for variable in ("LEASE_SECONDS", "WATCHDOG_SECONDS"):
        with pytest.raises(UptimeError, match=variable):
            build_container({variable: "0"})
