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
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Celery, Task, shared_task
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from celery.utils.log import get_task_logger
from dotenv import load_dotenv
from kombu.exceptions import KombuError, OperationalError

from adapters.celery.queue import COMPUTE_PART_TASK, INGEST_UPLOAD_TASK, INGEST_WATCHED_FOLDER_TASK, PLAN_REPORT_TASK
from domain.model.errors import UptimeError
from domain.model.report import ReportStatus, RunKind
from domain.model.work_units import WATCHED_FOLDER_RUN, UnitState, WorkUnit, label_for, unit_id_for
from domain.ports.data import RepositoryError, StoreRange
from domain.ports.reports import QueueUnavailable, ReportNotFound
from domain.use_cases.ingest_runs import IngestRunService
from domain.use_cases.report_runs import ReportRunService
from domain.use_cases.work import WorkTracker, unit_for
from entrypoints import metrics
from entrypoints.container import (
    PURGE_POLLS_TASK,
    PURGE_REPORTS_TASK,
    WATCHDOG_TASK,
    Container,
    build_container,
    utc_now,
)
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


def work_tracker() -> WorkTracker:
    return process_container().work_tracker()


def holder_id(pid: int | None = None) -> str:
    """Who holds a lease: this machine and process (``host:pid``)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def _holder_is_gone(holder: str) -> bool:
    """A holder on this machine whose process no longer exists (one elsewhere cannot be told)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class LeaseKeeper:
    """Renews a unit's lease every third of it, in a thread, while the task works."""

    def __init__(self, work: WorkTracker, unit_id: str, holder: str) -> None:
        self._work = work
        self._unit_id = unit_id
        self._holder = holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {unit_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self._work.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                if not self._work.renew(self._unit_id, self._holder):
                    # Another worker does the unit now; this one's result, saved too, changes nothing.
                    logger.warning("%s: the lease was lost (taken again after it expired)", self._unit_id)
                    return
            except UptimeError as error:
                # The next renewal may pass; if none does, the lease expires and the unit is done again.
                logger.warning("%s: the lease could not be renewed: %s", self._unit_id, error)


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
        if not _holder_is_gone(unit.holder):
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
        runs = process_container().report_run_service()
        kind = _kind_of(runs, unit.run_id)
        if runs.fail(unit.run_id, reason) and kind is RunKind.REPORT:
            metrics.REPORTS_FAILED.inc()
        logger.error("%s %s failed: %s", kind.value, unit.run_id, reason)
    elif unit.task == INGEST_UPLOAD_TASK:
        process_container().ingest_run_service().fail(unit.run_id, reason)
        logger.error("ingestion %s failed: %s", unit.run_id, reason)
    else:
        logger.error("%s failed: %s", unit.unit_id, reason)


def _kind_of(runs: ReportRunService, run_id: str) -> RunKind:
    """The kind of a run (a report when it cannot be told: its record is gone)."""
    try:
        return runs.kind_of(run_id)
    except ReportNotFound:
        return RunKind.REPORT


# Report and ingestion tasks are unit tasks.
ReportTask = UnitTask
IngestTask = UnitTask


@shared_task(bind=True, base=UnitTask, name=PLAN_REPORT_TASK)
def plan_report(self: UnitTask, report_id: str, kind: str = RunKind.REPORT.value) -> int:
    """Split the run (a report, or a trend: ``kind`` only names it) into parts and queue one unit per part."""
    with self.unit([report_id] if kind == RunKind.REPORT.value else [report_id, kind]) as unit:
        if unit is None:
            return 0
        if unit.attempts == 1 and self.request.retries == 0 and kind == RunKind.REPORT.value:
            created = self.runs.status(report_id).created_at
            metrics.REPORT_QUEUE_WAIT.observe(metrics.seconds_since(created, utc_now()))
        plan = self.runs.plan(report_id)
        logger.info("%s planned: %d parts", kind, len(plan.chunks))
        if not plan.chunks:
            # No store: the plan itself completed the report.
            _count_completed(self.runs, report_id)
            return 0
        try:
            self.runs.queue_parts(plan)
        except QueueUnavailable as error:
            # The parts are recorded: the watchdog publishes them once the broker answers.
            logger.warning("report planned, but its parts could not all be queued yet: %s", error)
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
        if completed:
            _count_completed(self.runs, report_id)
        return completed


def _count_completed(runs: ReportRunService, report_id: str) -> None:
    report = runs.status(report_id)
    if report.status is not ReportStatus.COMPLETE:
        return
    # The report figures count reports only.
    if report.kind is RunKind.REPORT:
        metrics.REPORTS_COMPLETED.inc()
        metrics.REPORT_DURATION.observe(metrics.seconds_since(report.created_at, report.finished_at or utc_now()))
    logger.info("%s complete", report.kind.value)


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


class Heartbeat:
    """The worker's heartbeat: its main process records itself alive every ``WATCHDOG_SECONDS``.

    The consumer's event loop ticks a clock; a loop that stopped turning
    while connected to its broker (a wedged worker) stops the heartbeat, so
    ``serve`` replaces the worker and ``/health`` says no worker is alive. A
    consumer waiting for its broker to come back is alive: it beats on.
    """

    def __init__(self, work: WorkTracker, consumer: Any = None) -> None:
        self.work = work
        self.consumer = consumer
        self.worker_id = holder_id()
        self.started_at = utc_now()
        self.loop_tick = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def tick(self) -> None:
        self.loop_tick = time.monotonic()

    def start(self) -> None:
        # The first beat too is the thread's: a database that keeps a write
        # waiting (a long SQLite transaction) must not hold up the worker's start.
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.work.leave(self.worker_id)
        except UptimeError:
            pass

    def _connected(self) -> bool:
        connection = getattr(self.consumer, "connection", None)
        try:
            return bool(connection is not None and connection.connected)
        except Exception:  # noqa: BLE001 - a connection that cannot say is not connected
            return False

    def beat(self) -> None:
        silent = time.monotonic() - self.loop_tick
        if silent > self.work.lease.total_seconds() and self._connected():
            logger.warning("the worker's event loop has not turned for %.0f s: no heartbeat recorded", silent)
            return
        try:
            self.work.beat(self.worker_id, socket.gethostname(), os.getpid(), self.started_at)
        except UptimeError as error:
            logger.warning("heartbeat not recorded: %s", error)

    def _run(self) -> None:
        self.beat()
        while not self._stop.wait(self.work.watchdog_period.total_seconds()):
            self.beat()


_heartbeat: Heartbeat | None = None


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    heartbeat = Heartbeat(work_tracker(), sender)
    timer = getattr(sender, "timer", None)
    if timer is not None:
        timer.call_repeatedly(1.0, heartbeat.tick)
    heartbeat.start()
    _heartbeat = heartbeat


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


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
