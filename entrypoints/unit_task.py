"""The base of every task that does a unit of work: claimed first, its lease kept, and its
run failed for good after its retries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.utils.log import get_task_logger
from kombu.exceptions import KombuError, OperationalError

from domain.model.errors import UptimeError
from domain.model.report import RunKind
from domain.model.work_units import (
    COMPUTE_PART_TASK,
    INGEST_UPLOAD_TASK,
    PLAN_REPORT_TASK,
    WATCHED_FOLDER_RUN,
    UnitState,
    WorkUnit,
    label_for,
    unit_id_for,
)
from domain.ports.data import RepositoryError
from domain.ports.work import QueueUnavailable
from domain.use_cases.ingest_runs import IngestRunService
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.work import WorkTracker
from entrypoints import metrics
from entrypoints.container import utc_now
from entrypoints.worker_process import LeaseKeeper, holder_id, holder_is_gone, process_container, work_tracker

logger = get_task_logger(__name__)


class UnitTask(Task[Any, Any]):
    """A task that does one unit of work: claimed first, its lease kept, failed for good after its retries.

    Database hiccups (a locked SQLite file, a PostgreSQL restart, its
    connections cut) and a broker that hung are retried; the unit's lease
    ends at once, so a retry, or the watchdog, takes it again.
    """

    autoretry_for = (RepositoryError, OperationalError)
    max_retries = 3
    retry_backoff = True

    @property
    def runs(self) -> ReportRunService:
        return process_container().report_run_service()

    @property
    def ingestions(self) -> IngestRunService:
        return process_container().ingest_run_service()

    @contextmanager
    def unit(self, args: Sequence[Any], prepare: WorkUnit | None = None) -> Iterator[WorkUnit | None]:
        """Claim the unit this task's message names; None (do nothing) if it is not to be done here.

        ``prepare`` records the unit first (a periodic task is its own message).
        """
        work = work_tracker()
        unit_id = unit_id_for(self.name, args)
        assert unit_id is not None
        holder = holder_id()
        if prepare is not None:
            work.record([prepare], reopen=True)
        unit = work.claim(unit_id, holder)
        if unit is None:
            unit = self._take_over(work, unit_id, holder)
        if unit is None:
            self._look_again_later(work, unit_id, args)
            yield None
            return
        if unit.attempts > work.max_attempts:
            reason = f"{unit.label} was started {unit.attempts - 1} times and never finished" + (
                f" (last error: {unit.error})" if unit.error else ""
            )
            work.fail(unit_id, reason)
            fail_run(unit, f"task failed: {reason}")
            yield None
            return
        with LeaseKeeper(work, unit_id, holder):
            try:
                yield unit
            except (RepositoryError, OperationalError, QueueUnavailable) as error:
                self._release(work, unit_id, holder, error)
                raise
        try:
            work.done(unit_id)
        except UptimeError as error:
            # Its work is done; if the unit's lease expires it is done again, harmlessly.
            logger.warning("%s: done, but not recorded so: %s", unit_id, error)

    def _look_again_later(self, work: WorkTracker, unit_id: str, args: Sequence[Any]) -> None:
        """A message for a unit held by a live lease comes back once that lease would have expired.

        So a broker's redelivery (Redis's visibility timeout, RabbitMQ's
        closed connection) is never lost on a lease its holder can no longer
        renew; once the unit is done, the message finds nothing to do.
        """
        unit = work.find(unit_id)
        if unit is None or unit.state is not UnitState.LEASED or unit.lease_until is None:
            logger.info("%s: done already (or its run finished): nothing to do", unit_id)
            return
        delay = max(1.0, (unit.lease_until - utc_now()).total_seconds() + 0.5)
        try:
            self.apply_async(args=tuple(args), countdown=delay)
        except (OperationalError, KombuError, OSError) as error:
            # The watchdog queues the unit again if its lease expires.
            logger.warning("%s: held by %s; not looked at again (%s)", unit_id, unit.holder, error)
            return
        logger.info("%s: held by %s until its lease ends: looked at again in %.0f s", unit_id, unit.holder, delay)

    def _take_over(self, work: WorkTracker, unit_id: str, holder: str) -> WorkUnit | None:
        """Claim a unit held by a process of this machine that is gone (a killed pool process)."""
        unit = work.find(unit_id)
        if unit is None or unit.state is not UnitState.LEASED or unit.holder is None:
            return None
        if not holder_is_gone(unit.holder):
            return None
        work.release(unit_id, unit.holder, f"its worker process ({unit.holder}) was lost")
        return work.claim(unit_id, holder)

    @staticmethod
    def _release(work: WorkTracker, unit_id: str, holder: str, error: BaseException) -> None:
        try:
            work.release(unit_id, holder, f"{type(error).__name__}: {error}")
        except UptimeError:
            pass  # the lease then expires by itself

    def on_failure(self, exc: Exception, task_id: str, args: Sequence[Any], kwargs: dict[str, Any], einfo: Any) -> None:
        unit_id = unit_id_for(self.name, args)
        if unit_id is None:
            return
        attempts = self.request.retries + 1
        label = label_for(self.name, args)
        reason = f"task failed: {label}" + (f" after {attempts} attempts" if attempts > 1 else "")
        reason += f": {type(exc).__name__}: {exc}"
        work = work_tracker()
        work.fail(unit_id, reason)
        found = work.find(unit_id)
        run_id = WATCHED_FOLDER_RUN if not args else str(args[0])
        fail_run(found if found is not None else work.unit(unit_id, run_id, self.name, args, label), reason)


def fail_run(unit: WorkUnit, reason: str) -> None:
    """Fail the run a unit belongs to, with ``reason``."""
    if unit.task in (PLAN_REPORT_TASK, COMPUTE_PART_TASK):
        failed = process_container().report_run_service().fail(unit.run_id, reason)
        if failed is not None and failed.kind is RunKind.REPORT:
            metrics.REPORTS_FAILED.inc()
        kind = failed.kind.value if failed is not None else "run"
        logger.error("%s %s failed: %s", kind, unit.run_id, reason)
    elif unit.task == INGEST_UPLOAD_TASK:
        process_container().ingest_run_service().fail(unit.run_id, reason)
        logger.error("ingestion %s failed: %s", unit.run_id, reason)
    else:
        logger.error("%s failed: %s", unit.unit_id, reason)
