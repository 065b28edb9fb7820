"""Test doubles for the ports without an in-memory adapter, and wiring of in-memory adapters into the container."""

from __future__ import annotations

from dependency_injector import providers

from adapters.memory import (
    InMemoryBusinessHoursRepository,
    InMemoryIngestionLog,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.ports import (
    BusinessHoursRepository,
    QueueUnavailable,
    ReportQueue,
    ReportRegistry,
    ReportStorage,
    StatusRepository,
    TimezoneRepository,
)
from domain.services import ReportRunService, RepositoryInputSource
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


def run_every_part(runs: ReportRunService, report_id: str) -> None:
    """Do a worker's job in-process: plan the report and compute each of its parts."""
    plan = runs.plan(report_id)
    for index, chunk in enumerate(plan.chunks):
        runs.run_chunk(report_id, index, chunk)
