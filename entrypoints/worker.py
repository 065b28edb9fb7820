"""The Celery worker entrypoint: ``store-monitor worker`` or ``celery -A entrypoints.worker worker``.

Each worker process builds its own container (and so its own database
engine) on first use, after the fork: engines must not cross processes.

Every task that does a unit of work (``domain.use_cases.work``) claims its unit
first and does nothing when the claim fails (the unit is done, or held by a
live lease): duplicate and late messages are harmless. While it works, a
thread renews its lease. The worker's main process records a heartbeat every
``WATCHDOG_SECONDS``; the ``watchdog`` task, sent by beat as often, queues
again the units whose lease expired or whose message was lost.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Celery, shared_task
from celery.signals import setup_logging, task_failure, task_postrun, task_prerun, worker_process_shutdown
from celery.utils.log import get_task_logger

from domain.model.errors import UptimeError
from domain.model.report import Report, ReportStatus, RunKind
from domain.model.work_units import (
    COMPUTE_PART_TASK,
    INGEST_UPLOAD_TASK,
    INGEST_WATCHED_FOLDER_TASK,
    PLAN_REPORT_TASK,
    WATCHED_FOLDER_RUN,
    unit_id_for,
)
from domain.ports.data import RepositoryError, StoreRange
from domain.use_cases.work import unit_for
from entrypoints import metrics
from entrypoints.container import PURGE_POLLS_TASK, PURGE_REPORTS_TASK, WATCHDOG_TASK, Container, utc_now
from entrypoints.logging_setup import report_id_var, task_id_var
from entrypoints.unit_task import UnitTask, fail_run
from entrypoints.worker_process import process_container, work_tracker

logger = get_task_logger(__name__)


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # Connected, so Celery installs no logging of its own: the worker's lines
    # have the format of every other process, set up by its container's resource.
    process_container().logs.init()


# The tasks whose first argument is a report id.
_REPORT_TASKS = frozenset({PLAN_REPORT_TASK, COMPUTE_PART_TASK})


@task_prerun.connect
def _enter_task(task_id: str | None = None, task: Any = None, args: Sequence[Any] | None = None, **_: Any) -> None:
    task_id_var.set(task_id)
    name = getattr(task, "name", None)
    report_id = args[0] if args and name in _REPORT_TASKS else None
    report_id_var.set(report_id if isinstance(report_id, str) else None)


@task_postrun.connect
def _leave_task(**_: Any) -> None:
    task_id_var.set(None)
    report_id_var.set(None)


@worker_process_shutdown.connect
def _forget_process_figures(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())
















@shared_task(bind=True, base=UnitTask, name=PLAN_REPORT_TASK)
def plan_report(self: UnitTask, report_id: str, kind: str = RunKind.REPORT.value) -> int:
    """Plan the run (a report, or a trend: ``kind`` only names it): its parts are queued by the use case."""
    with self.unit([report_id] if kind == RunKind.REPORT.value else [report_id, kind]) as unit:
        if unit is None:
            return 0
        plan = self.runs.plan(report_id)
        if plan.run is not None and unit.attempts == 1 and self.request.retries == 0:
            _record_queue_wait(plan.run)
        logger.info("%s planned: %d parts", kind, len(plan.chunks))
        if plan.unqueued is not None:
            logger.warning("%s planned, but its parts could not all be queued yet: %s", kind, plan.unqueued)
        if not plan.chunks and plan.run is not None:
            # No store: the plan itself completed the run.
            _record_completed(plan.run)
        return len(plan.chunks)


@shared_task(bind=True, base=UnitTask, name=COMPUTE_PART_TASK)
def compute_part(self: UnitTask, report_id: str, index: int, first: str, last: str) -> bool:
    """Compute one part, at the snapshot and ``now`` of its report's recorded plan.

    The part that completes the report assembles its file.
    """
    with self.unit([report_id, index, first, last]) as unit:
        if unit is None:
            return False
        completed = self.runs.run_chunk(report_id, index, StoreRange(first, last))
        if completed is not None:
            _record_completed(completed)
        return completed is not None


def _record_queue_wait(run: Report) -> None:
    # The report figures count reports only.
    if run.kind is RunKind.REPORT:
        metrics.REPORT_QUEUE_WAIT.observe(metrics.seconds_since(run.created_at, utc_now()))


def _record_completed(run: Report) -> None:
    if run.status is not ReportStatus.COMPLETE:
        return
    if run.kind is RunKind.REPORT:
        metrics.REPORTS_COMPLETED.inc()
        metrics.REPORT_DURATION.observe(metrics.seconds_since(run.created_at, run.finished_at or utc_now()))
    logger.info("%s complete", run.kind.value)


@shared_task(bind=True, base=UnitTask, name=PURGE_REPORTS_TASK)
def purge_reports(self: UnitTask) -> int:
    """Delete the reports finished more than REPORT_RETENTION_DAYS ago (sent hourly by beat)."""
    days = process_container().report_retention_days()
    if days <= 0:
        return 0
    deleted = self.runs.purge(timedelta(days=days))
    logger.info("purged %d reports finished more than %d days ago", deleted, days)
    return deleted


@shared_task(name=PURGE_POLLS_TASK)
def purge_polls() -> int:
    """Delete the polls more than POLL_RETENTION_DAYS older than the latest, but each store's latest (hourly)."""
    container = process_container()
    days = container.poll_retention_days()
    if days <= 0:
        return 0
    deleted = container.ingest_service().purge_polls(timedelta(days=days))
    logger.info("purged %d polls more than %d days older than the latest", deleted, days)
    return deleted


@shared_task(bind=True, base=UnitTask, name=INGEST_UPLOAD_TASK)
def ingest_upload(self: UnitTask, ingest_id: str) -> str:
    """Ingest the files uploaded for one run; the run ends Complete or Failed."""

    def log_step(step: str, done: int, total: int) -> None:
        logger.info("ingestion %s: %s (%d/%d)", ingest_id, step, done, total)

    logger.info("ingestion %s: started", ingest_id)
    with self.unit([ingest_id]) as unit:
        if unit is None:
            return "skipped"
        run = self.ingestions.run(ingest_id, log_step)
        if run.summary is not None:
            metrics.count_ingested(run.summary)
        logger.info("ingestion %s: %s%s", ingest_id, run.status.value, f" ({run.error})" if run.error else "")
        return run.status.value


@shared_task(bind=True, base=UnitTask, name=INGEST_WATCHED_FOLDER_TASK)
def ingest_watched_folder(self: UnitTask) -> bool:
    """Ingest INGEST_WATCH_DIR if one of its files changed since its last ingestion (sent by beat).

    Each check is the watched folder's unit of work, queued again by the
    watchdog if its worker is lost; a check while another one holds the
    unit does nothing.
    """
    container = process_container()
    folder = str(container.config.ingest_watch_dir())
    if not folder:
        return False
    prepare = unit_for(work_tracker(), WATCHED_FOLDER_RUN, INGEST_WATCHED_FOLDER_TASK, [])
    with self.unit([], prepare) as unit:
        if unit is None:
            return False
        return _ingest_watched(container, folder)


def _ingest_watched(container: Container, folder: str) -> bool:
    try:
        summary = container.watched_folder_ingestion().ingest_if_changed(Path(folder))
    except RepositoryError:
        raise  # retried
    except UptimeError as error:
        # Bad input stays bad until the files change: say so at every check.
        logger.error("watched folder %s: not ingested: %s", folder, error)
        return False
    if summary is not None:
        metrics.count_ingested(summary.to_dict())
    if summary is None:
        logger.info("watched folder %s: unchanged since its last ingestion, skipped", folder)
        return False
    logger.info(
        "watched folder %s: ingested; new rows: %d polls, %d business hours, %d timezones",
        folder,
        summary.store_status.new,
        summary.menu_hours.new,
        summary.timezone.new,
    )
    return True


@shared_task(name=WATCHDOG_TASK, ignore_result=True, acks_late=False)
def watchdog() -> int:
    """Queue again the units whose lease expired or whose message was lost; fail those tried too often."""
    try:
        sweep = work_tracker().sweep()
    except UptimeError as error:
        # The next pass, a few seconds later, tries again.
        logger.warning("watchdog: %s", error)
        return 0
    for unit, reason in sweep.given_up:
        try:
            fail_run(unit, f"task failed: {reason}")
        except UptimeError as error:
            logger.warning("watchdog: could not fail the run of %s: %s", unit.unit_id, error)
    if sweep.requeued:
        logger.warning(
            "watchdog: queued again %d units whose worker or message was lost: %s",
            len(sweep.requeued),
            ", ".join(unit.unit_id for unit in sweep.requeued[:5]) + (", ..." if len(sweep.requeued) > 5 else ""),
        )
    if sweep.publish_error:
        logger.warning("watchdog: the broker refused them: %s", sweep.publish_error)
    return len(sweep.requeued)


@task_failure.connect
def _on_worker_lost(sender: Any = None, exception: BaseException | None = None, args: Any = None, **_: Any) -> None:
    """A pool process died with a task in hand (seen by the worker's main process): end its unit's lease now.

    The watchdog then queues the unit again at its next pass, without waiting for the lease to expire.
    """
    if not isinstance(exception, WorkerLostError):
        return
    unit_id = unit_id_for(getattr(sender, "name", ""), list(args or ()))
    if unit_id is None:
        return
    try:
        work_tracker().release(unit_id, None, f"its worker process was lost ({exception})")
        logger.warning("%s: its worker process was lost; the watchdog queues it again", unit_id)
    except UptimeError as error:
        logger.warning("%s: its worker process was lost, and its lease could not be ended: %s", unit_id, error)










def _app() -> Celery:
    return process_container().celery_app()


app = _app()


def run_worker(concurrency: int | None = None, loglevel: str = "INFO", beat: bool = False) -> None:
    """Run a worker in this process (``store-monitor worker``); ``beat`` also sends the periodic tasks."""
    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        # Run exactly one beat among all workers, or periodic tasks are sent twice.
        schedule = Path(process_container().config.broker_dir()) / "celerybeat-schedule"
        # Its folder exists with the embedded broker only; beat needs it with any broker.
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={schedule}"]
    app.worker_main(argv)
