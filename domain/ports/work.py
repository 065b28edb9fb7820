"""The work's ports: the ledger of units of work, the workers' heartbeats and the queue of messages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.model.errors import UptimeError
from domain.model.work_units import UnitState, WorkerBeat, WorkUnit


# --- units of work: the database's record of every run's work (domain/work.py) ---------
class UnitNotFound(UptimeError):
    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit of work with id {unit_id}")
        self.unit_id = unit_id


class WorkLedger(ABC):
    """The units of work of every run, with their state and lease (see ``domain.work``).

    Every change that decides who does a unit is conditional (a claim, a
    requeue), so of two workers or watchdogs acting at once exactly one
    wins. Times are aware instants.
    """

    @abstractmethod
    def add(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        """Record units; one recorded already is kept as it is (or, with ``reopen`` and finished, queued again)."""

    @abstractmethod
    def get(self, unit_id: str) -> WorkUnit | None: ...

    @abstractmethod
    def claim(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> WorkUnit | None:
        """Lease the unit to ``holder`` if it is queued, or leased with ``lease_until <= at``; count the attempt.

        Returns the unit as claimed, or None (finished, held by a live lease, unknown).
        """

    @abstractmethod
    def renew(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> bool:
        """Extend the lease if ``holder`` still holds the unit."""

    @abstractmethod
    def release(self, unit_id: str, holder: str | None, at: datetime, error: str) -> bool:
        """End the lease of a leased unit now (of ``holder``, or of anyone when None), keeping ``error``."""

    @abstractmethod
    def finish(self, unit_id: str, at: datetime, state: UnitState, error: str | None) -> bool:
        """Make an unfinished unit done or failed; False if it was finished (or unknown)."""

    @abstractmethod
    def record_publish(self, unit_id: str, at: datetime, error: str | None) -> None:
        """Keep the error of the last attempt to publish the unit (None: it was published)."""

    @abstractmethod
    def due(self, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> list[WorkUnit]:
        """The units the watchdog should queue again, oldest first.

        Leased with ``lease_until <= at``; queued with a publish error and
        ``queued_at <= retry_before``; and, when ``quiet_since`` is given,
        queued with ``queued_at <= quiet_since``.
        """

    @abstractmethod
    def requeue(self, unit_id: str, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> bool:
        """If the unit is still due (as ``due`` says), make it queued at ``at`` with no holder; say whether it was."""

    @abstractmethod
    def give_up(self, unit_id: str, at: datetime, error: str) -> bool:
        """Fail a leased unit whose lease expired at ``at``; False if it was not that any more."""

    @abstractmethod
    def last_beat(self) -> datetime | None:
        """The latest claim or lease renewal of any unit."""

    @abstractmethod
    def units(self, run_id: str) -> list[WorkUnit]:
        """The units of a run, by id."""

    @abstractmethod
    def forget(self, run_id: str) -> None:
        """Delete the units of a run."""


class WorkerRegistry(ABC):
    """The heartbeats of the worker processes."""

    @abstractmethod
    def beat(self, beat: WorkerBeat) -> None:
        """Record (or update) the worker's heartbeat."""

    @abstractmethod
    def forget(self, worker_id: str) -> None: ...

    @abstractmethod
    def get(self, worker_id: str) -> WorkerBeat | None: ...

    @abstractmethod
    def latest_seen(self) -> datetime | None:
        """The latest heartbeat of any worker; None if none ever beat."""

    @abstractmethod
    def forget_seen_before(self, cutoff: datetime) -> int:
        """Delete the heartbeats older than ``cutoff`` (workers long gone); return how many."""


class WorkQueue(ABC):
    """Where units of work are published: a message names the task and its arguments."""

    @abstractmethod
    def publish(self, task: str, args: Sequence[Any]) -> None:
        """``QueueUnavailable`` if the broker does not take the message."""

    @abstractmethod
    def ping(self) -> None:
        """Check that the broker answers; ``QueueUnavailable`` if not."""


class QueueUnavailable(UptimeError):
    """The work queue (the broker) could not take the work."""
