"""Hands report work to Celery workers through the broker."""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import KombuError, OperationalError

from domain.ports import IngestQueue, QueueUnavailable, ReportQueue

PLAN_REPORT_TASK = "store_monitor.plan_report"
COMPUTE_PART_TASK = "store_monitor.compute_part"
INGEST_UPLOAD_TASK = "store_monitor.ingest_upload"
INGEST_WATCHED_FOLDER_TASK = "store_monitor.ingest_watched_folder"


class CeleryReportQueue(ReportQueue):
    """Publishes by task name, so the API needs no worker code."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def submit(self, report_id: str) -> None:
        try:
            # retry=False: an unreachable broker must fail the request within
            # the broker's connect timeout, not after kombu's retry loop.
            self._app.send_task(PLAN_REPORT_TASK, args=[report_id], retry=False)
        except (OperationalError, KombuError, OSError) as error:
            raise QueueUnavailable(f"the broker is unreachable ({_first_line(error)})") from error


    def ping(self) -> None:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except (OperationalError, KombuError, OSError) as error:
            raise QueueUnavailable(f"the broker is unreachable ({_first_line(error)})") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class CeleryIngestQueue(IngestQueue):
    """Publishes the ingestion of uploaded files by task name."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def submit(self, ingest_id: str) -> None:
        try:
            # retry=False, as for reports: fail within the connect timeout.
            self._app.send_task(INGEST_UPLOAD_TASK, args=[ingest_id], retry=False)
        except (OperationalError, KombuError, OSError) as error:
            raise QueueUnavailable(f"the broker is unreachable ({_first_line(error)})") from error
