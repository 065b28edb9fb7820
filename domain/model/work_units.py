"""A run's units of work and the workers' heartbeats, as the work ledger keeps them (``domain.work`` tracks them)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from domain.model.errors import quoted


class UnitState(enum.Enum):
    QUEUED = "queued"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"


def _args_tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(values)


@attrs.frozen
class WorkUnit:
    """One unit of a run's work, as the ledger keeps it.

    ``task`` and ``args`` are the message that does it (``args`` JSON
    values); ``label`` names it for people ("part 3 of report ..."). ``attempts``
    counts its claims; ``beat_at`` is its last claim or lease renewal.
    """

    unit_id: str
    run_id: str
    task: str
    args: tuple[Any, ...] = attrs.field(converter=_args_tuple)
    label: str
    queued_at: datetime
    state: UnitState = UnitState.QUEUED
    attempts: int = 0
    holder: str | None = None
    lease_until: datetime | None = None
    beat_at: datetime | None = None
    publish_error: str | None = None
    error: str | None = None

    @property
    def is_finished(self) -> bool:
        return self.state in (UnitState.DONE, UnitState.FAILED)


@attrs.frozen
class WorkerBeat:
    """A worker process's heartbeat: who it is and when it was last seen alive."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime


PLAN_REPORT_TASK = "store_monitor.plan_report"


COMPUTE_PART_TASK = "store_monitor.compute_part"


INGEST_UPLOAD_TASK = "store_monitor.ingest_upload"


INGEST_WATCHED_FOLDER_TASK = "store_monitor.ingest_watched_folder"


# The watched folder is one run, whatever folder it is.
WATCHED_FOLDER_RUN = "watched-folder"


def unit_id_for(task: str, args: Sequence[Any]) -> str | None:
    """The unit a message names (None for a task that is no unit of work, e.g. the purge)."""
    if task == PLAN_REPORT_TASK and args:
        return f"report/{args[0]}/plan"
    if task == COMPUTE_PART_TASK and len(args) >= 2:
        return f"report/{args[0]}/part/{args[1]}"
    if task == INGEST_UPLOAD_TASK and args:
        return f"ingest/{args[0]}"
    if task == INGEST_WATCHED_FOLDER_TASK:
        return f"{WATCHED_FOLDER_RUN}/ingest"
    return None


def label_for(task: str, args: Sequence[Any]) -> str:
    """The unit a message names, in words."""
    if task == PLAN_REPORT_TASK:
        # A trend's planning message names its kind after its id (a report's has its id alone).
        return f"planning the {args[1] if len(args) >= 2 else 'report'}"
    if task == COMPUTE_PART_TASK and len(args) >= 4:
        return f"part {args[1]} (stores {quoted(str(args[2]), 40)} to {quoted(str(args[3]), 40)})"
    if task == INGEST_UPLOAD_TASK:
        return "the ingestion of the uploaded files"
    if task == INGEST_WATCHED_FOLDER_TASK:
        return "the ingestion of the watched folder"
    return task
