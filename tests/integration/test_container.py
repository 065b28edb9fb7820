"""The composition root: every provider resolves, for each backend, to an object of its port."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from domain.errors import UptimeError
from domain.ports import (
    BusinessHoursRepository,
    ReportQueue,
    ReportRegistry,
    ReportStorage,
    StatusRepository,
    TimezoneRepository,
)
from domain.services import IngestService, ReportRunService, ReportService
from entrypoints.container import build_container

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
    "report_registry": ReportRegistry,
    "report_storage": ReportStorage,
    "report_queue": ReportQueue,
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
    assert container.config.database_url() == "sqlite:///from-env.db"
    assert container.config.report_chunk_size() == "9"


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
