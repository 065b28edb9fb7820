"""The composition root: the one place that picks concrete adapters.

Configuration comes from the environment (after ``load_dotenv`` in each
entrypoint) or from a dict in tests. Nothing connects while the container is
built: the database engine is made on first use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from celery import Celery
from dependency_injector import containers, providers
from sqlalchemy import Engine

from adapters.celery.app import make_celery
from adapters.celery.queue import CeleryReportQueue
from adapters.csv.reader import PandasCsvReader
from adapters.csv.repositories import (
    CsvBusinessHoursRepository,
    CsvDataFolder,
    CsvStatusRepository,
    CsvTimezoneRepository,
)
from adapters.report_storage import FilesystemReportStorage
from adapters.sqlalchemy.database import create_engine_for, create_schema
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry
from adapters.sqlalchemy.report_storage import SqlAlchemyReportStorage
from adapters.sqlalchemy.repositories import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository,
)
from domain.errors import UptimeError
from domain.ports import (
    BusinessHoursRepository,
    InputReader,
    ReportQueue,
    ReportRegistry,
    ReportStorage,
    StatusRepository,
    TimezoneRepository,
)
from domain.services import IngestService, ReportRunService, ReportService
from domain.uptime import UptimeCalculator

DEFAULT_DATABASE_URL = "sqlite:///var/store-monitor.db"
DEFAULT_REPORTS_DIR = "var/reports"
DEFAULT_BROKER_DIR = "var/broker"
STORAGE_BACKENDS = ("sql", "csv")
REPORT_STORAGES = ("filesystem", "database")


class ConfigurationError(UptimeError):
    """A setting that cannot work, named with the variable that holds it."""


def open_database(url: str) -> Iterator[Engine]:
    """An engine with the schema in place; disposed when the container shuts down."""
    engine = create_engine_for(url)
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_report_id() -> str:
    return str(uuid.uuid4())


def seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


def periodic_tasks(settings: Mapping[str, Any]) -> dict[str, float]:
    """Task name -> period in seconds, for ``celery beat``, from the settings.

    Each periodic job adds its entry here when its settings turn it on.
    """
    return {}


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    engine: providers.Provider[Engine] = providers.Resource(open_database, config.database_url)
    reader: providers.Provider[InputReader] = providers.Singleton(PandasCsvReader)
    csv_folder: providers.Provider[CsvDataFolder] = providers.Singleton(
        CsvDataFolder, config.csv_dir.as_(Path), reader
    )
    calculator: providers.Provider[UptimeCalculator] = providers.Singleton(UptimeCalculator)

    # Each backend's adapters are annotated with their port on their own, so
    # mypy checks every branch of the selectors below.
    sql_status_repository: providers.Provider[StatusRepository] = providers.Factory(
        SqlAlchemyStatusRepository, engine
    )
    sql_hours_repository: providers.Provider[BusinessHoursRepository] = providers.Factory(
        SqlAlchemyBusinessHoursRepository, engine
    )
    sql_timezone_repository: providers.Provider[TimezoneRepository] = providers.Factory(
        SqlAlchemyTimezoneRepository, engine
    )
    csv_status_repository: providers.Provider[StatusRepository] = providers.Factory(
        CsvStatusRepository, csv_folder
    )
    csv_hours_repository: providers.Provider[BusinessHoursRepository] = providers.Factory(
        CsvBusinessHoursRepository, csv_folder
    )
    csv_timezone_repository: providers.Provider[TimezoneRepository] = providers.Factory(
        CsvTimezoneRepository, csv_folder
    )

    status_repository: providers.Provider[StatusRepository] = providers.Selector(
        config.storage_backend, sql=sql_status_repository, csv=csv_status_repository
    )
    hours_repository: providers.Provider[BusinessHoursRepository] = providers.Selector(
        config.storage_backend, sql=sql_hours_repository, csv=csv_hours_repository
    )
    timezone_repository: providers.Provider[TimezoneRepository] = providers.Selector(
        config.storage_backend, sql=sql_timezone_repository, csv=csv_timezone_repository
    )

    report_registry: providers.Provider[ReportRegistry] = providers.Factory(SqlAlchemyReportRegistry, engine)
    filesystem_report_storage: providers.Provider[ReportStorage] = providers.Singleton(
        FilesystemReportStorage, config.reports_dir.as_(Path)
    )
    # Several API machines share reports through the database.
    database_report_storage: providers.Provider[ReportStorage] = providers.Factory(
        SqlAlchemyReportStorage, engine
    )
    report_storage: providers.Provider[ReportStorage] = providers.Selector(
        config.report_storage, filesystem=filesystem_report_storage, database=database_report_storage
    )

    ingest_service: providers.Provider[IngestService] = providers.Factory(
        IngestService, reader, status_repository, hours_repository, timezone_repository
    )
    report_service: providers.Provider[ReportService] = providers.Factory(
        ReportService, status_repository, hours_repository, timezone_repository, calculator
    )

    celery_app: providers.Provider[Celery] = providers.Singleton(
        make_celery,
        config.celery_broker_url,
        config.celery_result_backend,
        config.celery_visibility_timeout.as_int(),
        config.broker_dir.as_(Path),
        providers.Callable(periodic_tasks, config),
    )
    report_queue: providers.Provider[ReportQueue] = providers.Factory(CeleryReportQueue, celery_app)
    report_run_service: providers.Provider[ReportRunService] = providers.Factory(
        ReportRunService,
        reports=report_service,
        registry=report_registry,
        storage=report_storage,
        queue=report_queue,
        clock=providers.Object(utc_now),
        new_id=providers.Object(new_report_id),
        chunk_size=config.report_chunk_size.as_int(),
        stall_timeout=providers.Factory(seconds, config.report_stall_seconds.as_int()),
    )


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The container's settings from environment variables, with defaults."""
    return {
        "database_url": environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "storage_backend": environ.get("STORAGE_BACKEND") or "sql",
        "csv_dir": environ.get("CSV_DIR") or "data",
        "reports_dir": environ.get("REPORTS_DIR") or DEFAULT_REPORTS_DIR,
        "report_storage": environ.get("REPORT_STORAGE") or "filesystem",
        # No broker URL: the embedded file-based broker under BROKER_DIR.
        "celery_broker_url": environ.get("CELERY_BROKER_URL") or "",
        "celery_result_backend": environ.get("CELERY_RESULT_BACKEND") or "",
        "celery_visibility_timeout": environ.get("CELERY_VISIBILITY_TIMEOUT") or "120",
        "broker_dir": environ.get("BROKER_DIR") or DEFAULT_BROKER_DIR,
        "report_chunk_size": environ.get("REPORT_CHUNK_SIZE") or "2000",
        "report_stall_seconds": environ.get("REPORT_STALL_SECONDS") or "600",
    }


# setting -> (environment variable, allowed values or None for a positive integer)
_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "storage_backend": ("STORAGE_BACKEND", STORAGE_BACKENDS),
    "report_storage": ("REPORT_STORAGE", REPORT_STORAGES),
}
_POSITIVE_INTEGERS: dict[str, str] = {
    "celery_visibility_timeout": "CELERY_VISIBILITY_TIMEOUT",
    "report_chunk_size": "REPORT_CHUNK_SIZE",
    "report_stall_seconds": "REPORT_STALL_SECONDS",
}


def _validate(settings: Mapping[str, Any]) -> None:
    for key, (variable, allowed) in _CHOICES.items():
        if settings[key] not in allowed:
            raise ConfigurationError(f"{variable} must be one of {', '.join(allowed)}, not {settings[key]!r}")
    for key, variable in _POSITIVE_INTEGERS.items():
        value = str(settings[key])
        if not value.isdigit() or int(value) < 1:
            raise ConfigurationError(f"{variable} must be a positive whole number, not {value!r}")


def build_container(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Container:
    """A container configured from ``environ`` (usually ``os.environ``), then ``overrides``."""
    settings = settings_from_environment(environ)
    settings.update(overrides or {})
    _validate(settings)
    container = Container()
    container.config.from_dict(settings)
    return container
