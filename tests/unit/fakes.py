"""Test doubles for the ports without an in-memory adapter, wiring of in-memory adapters into the container, and the app on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from dependency_injector import providers
from flask.testing import FlaskClient

from adapters.memory.data import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory.reading import InMemoryReadPositions
from adapters.memory.reports import InMemoryReportRegistry, InMemoryReportStorage
from adapters.memory.work import InMemoryWorkerRegistry, InMemoryWorkLedger
from domain.model.inputs import BusinessHours, StatusPolls, StoreTimezones
from domain.model.uptime import UptimeCalculator
from domain.model.work_units import INGEST_UPLOAD_TASK, PLAN_REPORT_TASK, WorkerBeat
from domain.ports.data import BusinessHoursRepository, StatusRepository, TimezoneRepository
from domain.ports.reports import ReportRegistry, ReportStorage
from domain.ports.work import QueueUnavailable, WorkQueue
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.reports import ReportService, RepositoryInputSource
from domain.use_cases.work import Clock, WorkTracker
from entrypoints.container import Container, build_container
from entrypoints.flask_app import create_app


class RecordingWorkQueue(WorkQueue):
    """Keeps every message published (its task and arguments), as a broker that answers would.

    With ``refuse`` it takes none and answers no ping, as a broker that is down.
    """

    REASON = "the broker is unreachable (connection refused)"

    def __init__(self, refuse: bool = False) -> None:
        self.messages: list[tuple[str, tuple[Any, ...]]] = []
        self.refuse = refuse

    def publish(self, task: str, args: Sequence[Any]) -> None:
        if self.refuse:
            raise QueueUnavailable(self.REASON)
        self.messages.append((task, tuple(args)))

    def ping(self) -> None:
        if self.refuse:
            raise QueueUnavailable(self.REASON)

    @property
    def submitted(self) -> list[str]:
        """The runs started, in order: the id named by each planning (a report's, a trend's) and upload ingestion."""
        return [str(args[0]) for task, args in self.messages if task in (PLAN_REPORT_TASK, INGEST_UPLOAD_TASK)]


def in_memory_work(clock: Clock, queue: WorkQueue | None = None) -> WorkTracker:
    """A tracker of units of work in memory (no worker heartbeat yet), publishing to ``queue``."""
    return WorkTracker(
        InMemoryWorkLedger(), InMemoryWorkerRegistry(), queue if queue is not None else RecordingWorkQueue(), clock
    )


def override_work(container: Container, queue: WorkQueue) -> tuple[InMemoryWorkLedger, InMemoryWorkerRegistry]:
    """In-memory units of work and heartbeats (one worker alive now), published to ``queue``."""
    ledger, workers = InMemoryWorkLedger(), InMemoryWorkerRegistry()
    now = datetime.now(timezone.utc)
    workers.beat(WorkerBeat("test-host:1", "test-host", 1, now, now))
    container.work_ledger.override(providers.Object(ledger))
    container.worker_registry.override(providers.Object(workers))
    container.work_queue.override(providers.Object(queue))
    return ledger, workers


def override_ports(
    container: Container,
    *,
    registry: ReportRegistry,
    storage: ReportStorage,
    queue: WorkQueue,
    status: StatusRepository,
    hours: BusinessHoursRepository,
    timezones: TimezoneRepository,
) -> None:
    """Point every port the API reaches at the given in-memory adapters (``reset_override`` undoes it).

    Their ingestion log starts before any ingestion: reports read the rows
    the repositories were built with.
    """
    log = InMemoryIngestionLog(
        status if isinstance(status, InMemoryStatusRepository) else None,
        hours if isinstance(hours, InMemoryBusinessHoursRepository) else None,
        timezones if isinstance(timezones, InMemoryTimezoneRepository) else None,
    )
    for provider, instance in (
        (container.report_registry, registry),
        (container.report_storage, storage),
        (container.status_repository, status),
        (container.hours_repository, hours),
        (container.timezone_repository, timezones),
        (container.report_inputs, RepositoryInputSource(status, hours, timezones)),
        (container.ingestion_log, log),
        # The ingest service's: how far each file was read (else the container's database).
        (container.read_positions, InMemoryReadPositions()),
    ):
        provider.override(providers.Object(instance))
    override_work(container, queue)


def run_every_part(runs: ReportRunService, report_id: str) -> None:
    """Do a worker's job in-process: plan the report and compute each of its parts."""
    plan = runs.plan(report_id)
    for index, chunk in enumerate(plan.chunks):
        runs.run_chunk(report_id, index, chunk)


# --- the app on a container whose every port is in memory ---------------------------------

# Where the container's database and embedded broker would keep their files: never
# created, as only in-memory adapters are reached (``AppMaker`` checks it after each test).
# Reports may be written to ``reports`` by a test that puts the files' own storage back.
NEVER_OPENED_DATABASE = "never-opened.db"
NEVER_CREATED_BROKER = "broker"


@attrs.define
class App:
    """The Flask test client of an app whose container reaches only in-memory adapters."""

    container: Container
    client: FlaskClient
    registry: InMemoryReportRegistry
    storage: InMemoryReportStorage
    queue: RecordingWorkQueue
    status: InMemoryStatusRepository
    hours: InMemoryBusinessHoursRepository
    timezones: InMemoryTimezoneRepository

    def runs(self) -> ReportRunService:
        return self.container.report_run_service()

    def reports(self) -> ReportService:
        """The report service of the same data, outside the app: what the app's answers are checked against."""
        log = InMemoryIngestionLog(self.status, self.hours, self.timezones)
        return ReportService(self.status, self.hours, self.timezones, UptimeCalculator(), log=log)

    def replace(self, provider: providers.Provider[Any], instance: object) -> None:
        provider.override(providers.Object(instance))

    def close(self) -> None:
        self.container.unwire()
        self.container.reset_override()
        self.container.shutdown_resources()


AppT = TypeVar("AppT", bound=App)


def in_memory_app(
    root: Path,
    kind: type[AppT],
    *,
    environ: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    polls: StatusPolls | None = None,
    hours: BusinessHours | None = None,
    zones: StoreTimezones | None = None,
    queue: RecordingWorkQueue | None = None,
) -> AppT:
    """The app (as ``kind``) on ``environ`` and ``settings``, its ports in memory, holding the given rows.

    The container's own database and broker settings point under ``root``
    and are never used: ``override_ports`` replaces every adapter that
    would reach them. Close it with ``App.close`` (``AppMaker`` does).
    """
    container = build_container(
        dict(environ or {}),
        {
            "database_url": "sqlite:///" + str(root / NEVER_OPENED_DATABASE),
            "reports_dir": str(root / "reports"),
            "broker_dir": str(root / NEVER_CREATED_BROKER),
            **(settings or {}),
        },
    )
    app = kind(
        container=container,
        client=create_app(container).test_client(),
        registry=InMemoryReportRegistry(),
        storage=InMemoryReportStorage(),
        queue=queue if queue is not None else RecordingWorkQueue(),
        status=InMemoryStatusRepository(polls),
        hours=InMemoryBusinessHoursRepository(hours),
        timezones=InMemoryTimezoneRepository(zones),
    )
    override_ports(
        container,
        registry=app.registry,
        storage=app.storage,
        queue=app.queue,
        status=app.status,
        hours=app.hours,
        timezones=app.timezones,
    )
    return app


class AppMaker:
    """Makes in-memory apps under one folder (see ``in_memory_app``) and closes them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[App] = []

    def __call__(
        self,
        kind: type[AppT],
        *,
        environ: Mapping[str, str] | None = None,
        settings: Mapping[str, Any] | None = None,
        polls: StatusPolls | None = None,
        hours: BusinessHours | None = None,
        zones: StoreTimezones | None = None,
        queue: RecordingWorkQueue | None = None,
    ) -> AppT:
        app = in_memory_app(
            self.root,
            kind,
            environ=environ,
            settings=settings,
            polls=polls,
            hours=hours,
            zones=zones,
            queue=queue,
        )
        self.made.append(app)
        return app

    def close(self) -> None:
        for app in self.made:
            app.close()

    def touched(self) -> list[str]:
        """What of the container's database and broker exists under the root: nothing, for a unit test."""
        return [name for name in (NEVER_OPENED_DATABASE, NEVER_CREATED_BROKER) if (self.root / name).exists()]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppMaker]:
    """``make_app(Kind, settings=..., polls=..., ...)``: an in-memory app (see ``in_memory_app``).

    The fixture the API tests share (a module takes it by importing it from
    here: a second ``conftest`` module would clash under mypy). Every app it
    made is closed after the test, which must have left no database file
    and no broker folder behind.
    """
    maker = AppMaker(tmp_path / "app")
    try:
        yield maker
    finally:
        maker.close()
    touched = maker.touched()
    assert not touched, f"a unit test reached a real adapter: {touched} exist under {maker.root}"
