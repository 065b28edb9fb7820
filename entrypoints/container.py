"""The composition root: the one place that picks concrete adapters.

Its configuration is one ``Settings`` object (``entrypoints.settings``), read
from the environment or from a test's mapping. Nothing connects while the
container is built: the database engine is made on first use, and the log
handler when an entrypoint initialises ``logs``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers
from sqlalchemy import Engine

from adapters.celery.app import make_celery
from adapters.celery.queue import CeleryWorkQueue
from adapters.csv.poll_rows import CsvPollRowReader
from adapters.csv.reader import PandasCsvReader
from adapters.csv.repositories import (
    CsvBusinessHoursRepository,
    CsvDataFolder,
    CsvIngestionLog,
    CsvStatusRepository,
    CsvTimezoneRepository,
)
from adapters.folder_fingerprints import FilesystemFingerprinter
from adapters.report_storage import FilesystemReportStorage
from adapters.sqlalchemy.database import create_engine_for, open_schema
from adapters.sqlalchemy.hours_and_timezones import SqlAlchemyBusinessHoursRepository, SqlAlchemyTimezoneRepository
from adapters.sqlalchemy.ingest_registry import SqlAlchemyIngestRegistry
from adapters.sqlalchemy.ingestion_log import SqlAlchemyIngestionLog
from adapters.sqlalchemy.read_positions import SqlAlchemyReadPositions
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry
from adapters.sqlalchemy.report_inputs import SqlAlchemyReportInputSource
from adapters.sqlalchemy.report_storage import SqlAlchemyReportStorage
from adapters.sqlalchemy.status_polls import SqlAlchemyStatusRepository
from adapters.sqlalchemy.watched_files import SqlAlchemyFingerprintStore
from adapters.sqlalchemy.work_ledger import SqlAlchemyWorkerRegistry, SqlAlchemyWorkLedger
from adapters.upload_storage import FilesystemUploadStorage
from domain.model.uptime import UptimeCalculator
from domain.model.work_units import INGEST_WATCHED_FOLDER_TASK
from domain.ports.data import (
    BusinessHoursRepository,
    IngestionLog,
    ReportInputSource,
    StatusRepository,
    TimezoneRepository,
)
from domain.ports.reading import FileFingerprinter, FingerprintStore, InputReader, PollRowReader, ReadPositions
from domain.ports.reports import ReportRegistry, ReportStorage
from domain.ports.uploads import IngestRegistry, UploadStorage
from domain.ports.work import WorkerRegistry, WorkLedger, WorkQueue
from domain.use_cases.ingest import IngestService
from domain.use_cases.ingest_runs import IngestRunService, WatchedFolderIngestion
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, RepositoryInputSource
from domain.use_cases.work import WorkTracker
from entrypoints.logging_setup import logging_resource
from entrypoints.settings import ConfigurationError, Settings, one_of, revealed

if TYPE_CHECKING:
    from celery import Celery


def open_database(url: str) -> Iterator[Engine]:
    """An engine with the schema in place; disposed when the container shuts down.

    A database without tables gets this release's schema; one at another
    revision is refused (``SchemaError``): only ``store-monitor db upgrade``
    (or an ingestion, or ``create-db``) upgrades it.
    """
    engine = create_engine_for(url)
    open_schema(engine)
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


# The task that deletes reports older than REPORT_RETENTION_DAYS (entrypoints/worker.py).
PURGE_REPORTS_TASK = "store_monitor.purge_reports"
# The task that deletes polls older than POLL_RETENTION_DAYS (entrypoints/worker.py).
PURGE_POLLS_TASK = "store_monitor.purge_polls"
PURGE_PERIOD_S = 3600.0
# The watchdog of units of work (entrypoints/worker.py), every WATCHDOG_SECONDS.
WATCHDOG_TASK = "store_monitor.watchdog"


def periodic_tasks(settings: Mapping[str, Any]) -> dict[str, float]:
    """Task name -> period in seconds, for ``celery beat``, from the settings.

    Each periodic job adds its entry here when its settings turn it on.
    """
    # Work lost with a worker or a message is queued again within seconds.
    tasks: dict[str, float] = {WATCHDOG_TASK: float(settings["watchdog_seconds"])}
    # 0 days keeps reports forever: nothing to purge.
    if int(settings["report_retention_days"]) > 0:
        tasks[PURGE_REPORTS_TASK] = PURGE_PERIOD_S
    # 0 days (the default) keeps every poll.
    if int(settings["poll_retention_days"]) > 0:
        tasks[PURGE_POLLS_TASK] = PURGE_PERIOD_S
    # An empty INGEST_WATCH_DIR watches no folder.
    if settings["ingest_watch_dir"]:
        tasks[INGEST_WATCHED_FOLDER_TASK] = 60.0 * int(settings["ingest_every_minutes"])
    return tasks


class Container(containers.DeclarativeContainer):
    # Filled from one Settings object (``make_container``); its secrets stay SecretStr in here.
    config = providers.Configuration(strict=True)

    # The secrets in clear, only for what uses them.
    database_url: providers.Provider[str] = providers.Callable(revealed, config.database_url)
    api_token: providers.Provider[str] = providers.Callable(revealed, config.api_token)
    # Every process's log lines; each entrypoint initialises it once.
    logs: providers.Resource[logging.Handler] = providers.Resource(
        logging_resource, config.log_level, config.log_format, api_token
    )

    engine: providers.Provider[Engine] = providers.Resource(open_database, database_url)
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
    # The numbered ingestions, and so the snapshot each report reads; the
    # CSV folder is one fixed snapshot.
    sql_ingestion_log: providers.Provider[IngestionLog] = providers.Factory(SqlAlchemyIngestionLog, engine)
    csv_ingestion_log: providers.Provider[IngestionLog] = providers.Factory(CsvIngestionLog)
    ingestion_log: providers.Provider[IngestionLog] = providers.Selector(
        config.storage_backend, sql=sql_ingestion_log, csv=csv_ingestion_log
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

    # How far each file was ingested: a file that grew is read from there.
    read_positions: providers.Provider[ReadPositions] = providers.Factory(SqlAlchemyReadPositions, engine)
    ingest_service: providers.Provider[IngestService] = providers.Factory(
        IngestService, reader, status_repository, hours_repository, timezone_repository, ingestion_log, read_positions
    )
    # POST /polls: polls sent as text, read by the rules of the CSV reader.
    poll_row_reader: providers.Provider[PollRowReader] = providers.Singleton(CsvPollRowReader)
    polls_max_items: providers.Provider[int] = providers.Callable(int, config.polls_max_items)
    # A database reads a report's inputs in one transaction.
    sql_report_inputs: providers.Provider[ReportInputSource] = providers.Factory(
        SqlAlchemyReportInputSource, engine
    )
    csv_report_inputs: providers.Provider[ReportInputSource] = providers.Factory(
        RepositoryInputSource, csv_status_repository, csv_hours_repository, csv_timezone_repository
    )
    report_inputs: providers.Provider[ReportInputSource] = providers.Selector(
        config.storage_backend, sql=sql_report_inputs, csv=csv_report_inputs
    )
    report_service: providers.Provider[ReportService] = providers.Factory(
        ReportService,
        status_repository,
        hours_repository,
        timezone_repository,
        calculator,
        report_inputs,
        log=ingestion_log,
    )

    celery_app: providers.Provider[Celery] = providers.Singleton(
        make_celery,
        providers.Callable(revealed, config.celery_broker_url),
        providers.Callable(revealed, config.celery_result_backend),
        config.celery_visibility_timeout.as_int(),
        config.broker_dir.as_(Path),
        providers.Callable(periodic_tasks, config),
    )
    # The units of work of every run, their leases, the workers' heartbeats and the watchdog's rules.
    work_ledger: providers.Provider[WorkLedger] = providers.Factory(SqlAlchemyWorkLedger, engine)
    worker_registry: providers.Provider[WorkerRegistry] = providers.Factory(SqlAlchemyWorkerRegistry, engine)
    work_queue: providers.Provider[WorkQueue] = providers.Factory(CeleryWorkQueue, celery_app)
    work_tracker: providers.Provider[WorkTracker] = providers.Factory(
        WorkTracker,
        ledger=work_ledger,
        workers=worker_registry,
        queue=work_queue,
        clock=providers.Object(utc_now),
        lease=providers.Factory(seconds, config.lease_seconds.as_int()),
        watchdog_period=providers.Factory(seconds, config.watchdog_seconds.as_int()),
    )
    report_run_service: providers.Provider[ReportRunService] = providers.Factory(
        ReportRunService,
        reports=report_service,
        registry=report_registry,
        storage=report_storage,
        work=work_tracker,
        clock=providers.Object(utc_now),
        new_id=providers.Object(new_report_id),
        chunk_size=config.report_chunk_size.as_int(),
        stall_timeout=providers.Factory(seconds, config.report_stall_seconds.as_int()),
    )
    # How long a finished report is kept; 0 keeps it forever.
    report_retention_days: providers.Provider[int] = providers.Callable(int, config.report_retention_days)
    poll_retention_days: providers.Provider[int] = providers.Callable(int, config.poll_retention_days)

    # Ingestion of uploaded files, run by the workers, into the repositories
    # above (the read-only CSV backend fails such a run with the reason).
    ingest_registry: providers.Provider[IngestRegistry] = providers.Factory(SqlAlchemyIngestRegistry, engine)
    upload_storage: providers.Provider[UploadStorage] = providers.Singleton(
        FilesystemUploadStorage, config.uploads_dir.as_(Path)
    )
    ingest_max_bytes: providers.Provider[int] = providers.Callable(int, config.ingest_max_bytes)
    ingest_run_service: providers.Provider[IngestRunService] = providers.Factory(
        IngestRunService,
        ingest_service=ingest_service,
        registry=ingest_registry,
        uploads=upload_storage,
        work=work_tracker,
        clock=providers.Object(utc_now),
        new_id=providers.Object(new_report_id),
        stall_timeout=providers.Factory(seconds, config.report_stall_seconds.as_int()),
        max_bytes=ingest_max_bytes,
    )
    # The folder ingested on a schedule (INGEST_WATCH_DIR) and by ``ingest --if-changed``.
    fingerprinter: providers.Provider[FileFingerprinter] = providers.Singleton(FilesystemFingerprinter)
    fingerprint_store: providers.Provider[FingerprintStore] = providers.Factory(SqlAlchemyFingerprintStore, engine)
    watched_folder_ingestion: providers.Provider[WatchedFolderIngestion] = providers.Factory(
        WatchedFolderIngestion, ingest_service, fingerprinter, fingerprint_store
    )


# The data's backends, each a branch of the selectors above (README, "Adding a storage backend").
STORAGE_BACKENDS = ("sql", "csv")


def make_container(settings: Settings) -> Container:
    """A container configured by ``settings``; ``ConfigurationError`` for a backend it has no adapters for."""
    try:
        one_of(settings.storage_backend, "STORAGE_BACKEND", STORAGE_BACKENDS)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    container = Container()
    container.config.from_pydantic(settings)
    return container


def build_container(environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Container:
    """A container configured from ``environ`` (variables), then ``overrides`` (setting names)."""
    return make_container(Settings.from_environ(environ, overrides))
