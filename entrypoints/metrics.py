"""Prometheus figures of the service, and ``GET /metrics`` that serves them.

The domain stays free of them: the views and the worker tasks count around
the service calls. Under ``serve`` and ``worker`` the figures of every
process are shared through ``PROMETHEUS_MULTIPROC_DIR`` (see
``entrypoints.metrics_dir``); without it (tests, ``flask run``) each process
serves its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess, values


METRICS_PATH = "/metrics"

REPORTS_TRIGGERED = Counter("reports_triggered", "Reports triggered through the API.")
REPORTS_COMPLETED = Counter("reports_completed", "Reports whose CSV was written.")
REPORTS_FAILED = Counter("reports_failed", "Reports that ended Failed.")
INGEST_ROWS = Counter(
    "ingest_rows",
    "Data rows ingested, by file and outcome: loaded (new to the database), already_stored, duplicate, rejected.",
    ["file", "outcome"],
)
# A report of the real data takes seconds to minutes; queues wait up to minutes.
_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, float("inf"))
REPORT_DURATION = Histogram(
    "report_duration_seconds", "From the trigger to the completed CSV.", buckets=_DURATION_BUCKETS
)
REPORT_QUEUE_WAIT = Histogram(
    "report_queue_wait_seconds",
    "From the trigger until a worker starts planning the report.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, float("inf")),
)

bp = Blueprint("metrics", __name__)


@bp.route(METRICS_PATH, methods=["GET"])
def metrics() -> Response:
    return Response(scrape(), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def shares_figures() -> bool:
    """Whether this process keeps its figures in the shared folder.

    prometheus_client decides it once, when first imported, from
    ``PROMETHEUS_MULTIPROC_DIR`` (exported by ``metrics_dir`` under ``serve``
    and ``worker``): asking it keeps one answer for the whole process.
    """
    return values.ValueClass is not values.MutexValue


def scrape() -> bytes:
    """The figures in Prometheus' text format: of every process sharing the folder, or of this one."""
    if shares_figures():
        registry = CollectorRegistry()
        try:
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        except ValueError:
            # The variable set but empty, or no folder: this process's own figures.
            return generate_latest(REGISTRY)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def seconds_since(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def count_ingested(summary: Mapping[str, Any]) -> None:
    """``ingest_rows_total`` from one ingestion's summary (``IngestSummary.to_dict()``)."""
    for key, counts in summary.items():
        if not isinstance(counts, Mapping):
            continue
        name = f"{key}.csv"
        # Each row in one outcome: the outcomes of a file add up to its rows.
        INGEST_ROWS.labels(file=name, outcome="loaded").inc(int(counts["new"]))
        INGEST_ROWS.labels(file=name, outcome="already_stored").inc(int(counts["already_stored"]))
        INGEST_ROWS.labels(file=name, outcome="duplicate").inc(int(counts["duplicates"]))
        INGEST_ROWS.labels(file=name, outcome="rejected").inc(int(counts["rejected"]))


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a process that exited (gunicorn's ``child_exit``)."""
    if shares_figures():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
