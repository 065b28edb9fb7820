"""A run's units of work and the workers' heartbeats, as the work ledger keeps them (``domain.work`` tracks them)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs


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
