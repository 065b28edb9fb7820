"""The Celery worker entrypoint: ``store-monitor worker`` or ``celery -A entrypoints.worker worker``.

Each worker process builds its own container (and so its own database
engine) on first use, after the fork: engines must not cross processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery, Task, shared_task
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init, worker_process_shutdown
from celery.utils.log import get_task_logger
from dotenv import load_dotenv
from kombu.exceptions import OperationalError

from adapters.celery.queue import COMPUTE_PART_TASK, INGEST_UPLOAD_TASK, INGEST_WATCHED_FOLDER_TASK, PLAN_REPORT_TASK
from domain.errors import UptimeError
from domain.ingest_runs import IngestRunService
from domain.ports import RepositoryError, StoreRange
from domain.report import ReportStatus
from domain.services import ReportRunService
from entrypoints import metrics
from entrypoints.container import PURGE_POLLS_TASK, PURGE_REPORTS_TASK, Container, build_container, utc_now
from entrypoints.logging_setup import configure_from_settings, report_id_var, task_id_var

load_dotenv()

logger = get_task_logger(__name__)

_process_container: Container | None = None


def process_container() -> Container:
    global _process_container
    if _process_container is None:
        _process_container = build_container(os.environ)
    return _process_container


@worker_process_init.connect
def _forget_parent_container(**_: Any) -> None:
    # A pool child starts from a copy of the parent; build afresh.
    global _process_container
    _process_container = None


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # Connected, so Celery installs no logging of its own: the worker's lines
    # have the format of every other process.
    configure_from_settings(os.environ)


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


class ReportTask(Task[Any, Any]):
    """A report task: gets its services from the process's container and fails its report on error."""

    # Database hiccups (a locked SQLite file, a PostgreSQL restart) and a
    # broker that hung while parts were being queued are retried.
    autoretry_for = (RepositoryError, OperationalError)
    max_retries = 3
    retry_backoff = True
    acks_late = True
    reject_on_worker_lost = True

    @property
    def runs(self) -> ReportRunService:
        return process_container().report_run_service()

    def on_failure(self, exc: Exception, task_id: str, args: Sequence[Any], kwargs: dict[str, Any], einfo: Any) -> None:
        report_id = args[0] if args else kwargs.get("report_id")
        if isinstance(report_id, str):
            if self.runs.fail(report_id, f"{type(exc).__name__}: {exc}"):
                metrics.REPORTS_FAILED.inc()
            logger.error("report failed: %s: %s", type(exc).__name__, exc)


@shared_task(bind=True, base=ReportTask, name=PLAN_REPORT_TASK)
def plan_report(self: ReportTask, report_id: str) -> int:
    """Split the report into parts and queue one task per part."""
    if self.request.retries == 0:
        created = self.runs.status(report_id).created_at
        metrics.REPORT_QUEUE_WAIT.observe(metrics.seconds_since(created, utc_now()))
    plan = self.runs.plan(report_id)
    logger.info("report planned: %d parts", len(plan.chunks))
    if not plan.chunks:
        # No store: the plan itself completed the report.
        _count_completed(self.runs, report_id)
    for index, chunk in enumerate(plan.chunks):
        compute_part.apply_async(args=(report_id, index, chunk.first, chunk.last))
    return len(plan.chunks)


@shared_task(bind=True, base=ReportTask, name=COMPUTE_PART_TASK)
def compute_part(self: ReportTask, report_id: str, index: int, first: str, last: str) -> bool:
    """Compute one part, at the snapshot and ``now`` of its report's recorded plan.

    The part that completes the report assembles its file.
    """
    completed = self.runs.run_chunk(report_id, index, StoreRange(first, last))
    if completed:
        _count_completed(self.runs, report_id)
    return completed


def _count_completed(runs: ReportRunService, report_id: str) -> None:
    report = runs.status(report_id)
    if report.status is not ReportStatus.COMPLETE:
        return
    metrics.REPORTS_COMPLETED.inc()
    metrics.REPORT_DURATION.observe(metrics.seconds_since(report.created_at, report.finished_at or utc_now()))
    logger.info("report complete")


@shared_task(bind=True, base=ReportTask, name=PURGE_REPORTS_TASK)
def purge_reports(self: ReportTask) -> int:
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


class IngestTask(Task[Any, Any]):
    """An ingestion task: retried on database hiccups; a run whose task fails is failed with the reason."""

    autoretry_for = (RepositoryError,)
    max_retries = 3
    retry_backoff = True
    # Delivered again if the worker dies: ingesting twice stores nothing twice.
    acks_late = True
    reject_on_worker_lost = True

    @property
    def ingestions(self) -> IngestRunService:
        return process_container().ingest_run_service()

    def on_failure(self, exc: Exception, task_id: str, args: Sequence[Any], kwargs: dict[str, Any], einfo: Any) -> None:
        ingest_id = args[0] if args else kwargs.get("ingest_id")
        if isinstance(ingest_id, str):
            self.ingestions.fail(ingest_id, f"{type(exc).__name__}: {exc}")


@shared_task(bind=True, base=IngestTask, name=INGEST_UPLOAD_TASK)
def ingest_upload(self: IngestTask, ingest_id: str) -> str:
    """Ingest the files uploaded for one run; the run ends Complete or Failed."""

    def log_step(step: str, done: int, total: int) -> None:
        logger.info("ingestion %s: %s (%d/%d)", ingest_id, step, done, total)

    logger.info("ingestion %s: started", ingest_id)
    run = self.ingestions.run(ingest_id, log_step)
    if run.summary is not None:
        metrics.count_ingested(run.summary)
    logger.info("ingestion %s: %s%s", ingest_id, run.status.value, f" ({run.error})" if run.error else "")
    return run.status.value


@shared_task(bind=True, base=IngestTask, name=INGEST_WATCHED_FOLDER_TASK)
def ingest_watched_folder(self: IngestTask) -> bool:
    """Ingest INGEST_WATCH_DIR if one of its files changed since its last ingestion (sent by beat)."""
    container = process_container()
    folder = str(container.config.ingest_watch_dir())
    if not folder:
        return False
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
        argv += ["--beat", f"--schedule={schedule}"]
    app.worker_main(argv)
