"""Test doubles for the ports without an in-memory adapter, and wiring of in-memory adapters into the container."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from dependency_injector import providers

from adapters.memory import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from adapters.memory_work import InMemoryWorkerRegistry, InMemoryWorkLedger
from domain.ports import (
    BusinessHoursRepository,
    QueueUnavailable,
    ReportQueue,
    ReportRegistry,
    ReportStorage,
    StatusRepository,
    TimezoneRepository,
    WorkQueue,
)
from domain.services import ReportRunService, RepositoryInputSource
from domain.work import INGEST_UPLOAD_TASK, PLAN_REPORT_TASK, WorkerBeat
from entrypoints.container import Container


class RecordingQueue(ReportQueue):
    """Keeps every report id it is given, as a broker that answers would; or refuses them all."""

    def __init__(self, refuse: bool = False) -> None:
        self.submitted: list[str] = []
        self.refuse = refuse

    def submit(self, report_id: str) -> None:
        if self.refuse:
            raise QueueUnavailable("connection refused")
        self.submitted.append(report_id)

    def ping(self) -> None:
        return None


class ForwardingWorkQueue(WorkQueue):
    """Hands a report's planning and an upload's ingestion to the container's report and ingest queues.

    So the API tests see what a trigger or an upload queued where they
    always looked; other units (parts) are kept in ``published``.
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self.published: list[tuple[str, tuple[Any, ...]]] = []

    def publish(self, task: str, args: Sequence[Any]) -> None:
        if task == PLAN_REPORT_TASK:
            self._container.report_queue().submit(str(args[0]))
        elif task == INGEST_UPLOAD_TASK:
            self._container.ingest_queue().submit(str(args[0]))
        else:
            self.published.append((task, tuple(args)))

    def ping(self) -> None:
        self._container.report_queue().ping()


def override_work(container: Container) -> tuple[InMemoryWorkLedger, InMemoryWorkerRegistry]:
    """In-memory units of work and heartbeats (one worker alive now), published through the container's queues."""
    ledger, workers = InMemoryWorkLedger(), InMemoryWorkerRegistry()
    now = datetime.now(timezone.utc)
    workers.beat(WorkerBeat("test-host:1", "test-host", 1, now, now))
    container.work_ledger.override(providers.Object(ledger))
    container.worker_registry.override(providers.Object(workers))
    container.work_queue.override(providers.Object(ForwardingWorkQueue(container)))
    return ledger, workers


def override_ports(
    container: Container,
    *,
    registry: ReportRegistry,
    storage: ReportStorage,
    queue: ReportQueue,
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
        (container.report_queue, queue),
        (container.status_repository, status),
        (container.hours_repository, hours),
        (container.timezone_repository, timezones),
        (container.report_inputs, RepositoryInputSource(status, hours, timezones)),
        (container.ingestion_log, log),
    ):
        provider.override(providers.Object(instance))
    override_work(container)


def run_every_part(runs: ReportRunService, report_id: str) -> None:
    """Do a worker's job in-process: plan the report and compute each of its parts."""
    plan = runs.plan(report_id)
    for index, chunk in enumerate(plan.chunks):
        runs.run_chunk(report_id, index, chunk)
