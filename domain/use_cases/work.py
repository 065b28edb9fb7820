"""Units of work, their leases, the watchdog, and why a run stalled.

The database is the record of a run's work; the broker only rings the bell.
Each unit of work (planning a report, each part of it, an ingestion) is a
row of the ``WorkLedger``:

- ``queued``: it waits for a worker; a message naming it was published (or,
  if ``publish_error`` is set, publishing it failed);
- ``leased``: a worker claimed it and holds it until ``lease_until``, which
  it renews while it works;
- ``done`` or ``failed``: finished; a message naming it changes nothing.

A message names a unit and the task *claims* it first: the claim succeeds
only for a queued unit, or a leased one whose lease expired, so a duplicate
or late message does nothing. Every unit's work is idempotent, so a unit
done twice (a lease that expired while its worker still lived) changes
nothing either.

The watchdog (``WorkTracker.sweep``), run every few seconds by any number of
workers at once, queues again the units whose lease expired (their worker
died) and the queued units no worker picked up (their message was lost),
each through a conditional update so only one watchdog publishes it. Workers
record a heartbeat, so a stalled run can say why: the broker unreachable, no
worker alive, or its task failing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from domain.model.errors import clipped
from domain.model.work_units import UnitState, WorkerBeat, WorkUnit, label_for, unit_id_for
from domain.ports.work import QueueUnavailable, UnitNotFound, WorkerRegistry, WorkLedger, WorkQueue

# A unit claimed this many times without finishing (its worker lost each
# time, or its task failing) fails its run.
MAX_ATTEMPTS = 5
DEFAULT_LEASE = timedelta(seconds=15)
DEFAULT_WATCHDOG_PERIOD = timedelta(seconds=5)
# The heartbeat of a worker process not seen for this long is deleted.
FORGET_WORKERS_AFTER = timedelta(days=1)
# A stored error is cut to this many characters.
MAX_ERROR_CHARS = 500


@attrs.frozen
class Sweep:
    """What one watchdog pass did: the units it queued again, and those it gave up on (with why)."""

    requeued: tuple[WorkUnit, ...] = ()
    given_up: tuple[tuple[WorkUnit, str], ...] = ()
    publish_error: str | None = None


Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def stall_reason(timeout: timedelta, updated_at: datetime, now: datetime, cause: Callable[[], str]) -> str | None:
    """Why a run that made no progress since ``updated_at`` is failed at ``now``; None while it may still be alive.

    ``cause`` gives the reason (``WorkTracker.stall_cause``), asked only for a stalled run.
    """
    if now - updated_at <= timeout:
        return None
    return f"no progress for {int(timeout.total_seconds())} s: {cause()}"


class WorkTracker:
    """The rules of units, leases and the watchdog, over a ledger, the workers' heartbeats and a queue.

    ``lease``: how long a claim holds without renewal (a worker renews it
    every third of it), and how long a worker's heartbeat stays fresh.
    ``watchdog_period``: how often the watchdog runs and workers beat; a
    queued unit nobody picked up within two periods, while no unit was
    claimed or renewed anywhere meanwhile (the queue is not moving), is
    published again.
    """

    def __init__(
        self,
        ledger: WorkLedger,
        workers: WorkerRegistry,
        queue: WorkQueue,
        clock: Clock,
        lease: timedelta = DEFAULT_LEASE,
        watchdog_period: timedelta = DEFAULT_WATCHDOG_PERIOD,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if lease <= timedelta(0) or watchdog_period <= timedelta(0):
            raise ValueError("lease and watchdog_period must be positive")
        self._ledger = ledger
        self._workers = workers
        self._queue = queue
        self._clock = clock
        self.lease = lease
        self.watchdog_period = watchdog_period
        self.max_attempts = max_attempts

    @property
    def pickup(self) -> timedelta:
        """How long a queued unit may wait, with the queue not moving, before it is published again."""
        return 2 * self.watchdog_period

    def unit(
        self, unit_id: str, run_id: str, task: str, args: Sequence[Any], label: str
    ) -> WorkUnit:
        """A new queued unit (not recorded yet)."""
        return WorkUnit(unit_id, run_id, task, tuple(args), label, queued_at=self._clock())

    # --- the producer's side -------------------------------------------------------

    def submit(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        """Record the units (a unit recorded already is kept as it is), then publish each.

        With ``reopen``, a finished unit is queued again (a periodic job's
        next run). ``QueueUnavailable`` if the broker refused one: the error
        is recorded on it and on the units after it, which the watchdog
        publishes again once the broker answers.
        """
        self._ledger.add(units, reopen=reopen)
        self._publish_all(list(units))

    def record(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        """Record the units without publishing them (a task already running is their message)."""
        self._ledger.add(units, reopen=reopen)

    def _publish_all(self, units: list[WorkUnit]) -> None:
        for position, unit in enumerate(units):
            try:
                self._queue.publish(unit.task, unit.args)
            except QueueUnavailable as error:
                reason = clipped(str(error), MAX_ERROR_CHARS)
                at = self._clock()
                for lost in units[position:]:
                    self._ledger.record_publish(lost.unit_id, at, reason)
                raise
            if unit.publish_error is not None:
                self._ledger.record_publish(unit.unit_id, self._clock(), None)

    # --- the worker's side ---------------------------------------------------------

    def claim(self, unit_id: str, holder: str) -> WorkUnit | None:
        """Take the unit for ``holder`` if it is queued or its lease expired; None otherwise.

        None means: done, failed, held by a live lease, or unknown (its run
        finished and its units were forgotten). The claim counts an attempt.
        """
        at = self._clock()
        return self._ledger.claim(unit_id, holder, at, at + self.lease)

    def renew(self, unit_id: str, holder: str) -> bool:
        """Extend ``holder``'s lease; False if it no longer holds the unit."""
        at = self._clock()
        return self._ledger.renew(unit_id, holder, at, at + self.lease)

    def done(self, unit_id: str) -> bool:
        return self._ledger.finish(unit_id, self._clock(), UnitState.DONE, None)

    def fail(self, unit_id: str, error: str) -> bool:
        return self._ledger.finish(unit_id, self._clock(), UnitState.FAILED, clipped(error, MAX_ERROR_CHARS))

    def release(self, unit_id: str, holder: str | None, error: str) -> bool:
        """Give a held unit back with the error that stopped it: its lease ends now.

        The watchdog queues it again at its next pass (or a retry message
        claims it first). ``holder`` None releases whoever holds it (the
        worker that saw its pool process die knows the unit, not the holder).
        """
        return self._ledger.release(unit_id, holder, self._clock(), clipped(error, MAX_ERROR_CHARS))

    def forget(self, run_id: str) -> None:
        """Drop the units of a finished run: a message for one of them then does nothing."""
        self._ledger.forget(run_id)

    def units(self, run_id: str) -> list[WorkUnit]:
        return self._ledger.units(run_id)

    def get(self, unit_id: str) -> WorkUnit:
        found = self._ledger.get(unit_id)
        if found is None:
            raise UnitNotFound(unit_id)
        return found

    def find(self, unit_id: str) -> WorkUnit | None:
        return self._ledger.get(unit_id)

    # --- heartbeats ----------------------------------------------------------------

    def beat(self, worker_id: str, host: str, pid: int, started_at: datetime) -> None:
        """Record that the worker process is alive now."""
        self._workers.beat(WorkerBeat(worker_id, host, pid, started_at, self._clock()))

    def leave(self, worker_id: str) -> None:
        """A worker stopping cleanly takes its heartbeat with it."""
        self._workers.forget(worker_id)

    def last_heartbeat(self) -> datetime | None:
        return self._workers.latest_seen()

    def worker_problem(self) -> str | None:
        """Why no worker counts as alive, or None when one beat within the lease."""
        latest = self._workers.latest_seen()
        if latest is None:
            return "no worker has recorded a heartbeat: none is running, or none can write to the database"
        age = (self._clock() - latest).total_seconds()
        if age > self.lease.total_seconds():
            return (
                f"no worker heartbeat for {age:.0f} s (more than {self.lease.total_seconds():.0f} s):"
                " no worker is running, or none can write to the database"
            )
        return None

    # --- the watchdog ----------------------------------------------------------------

    def sweep(self) -> Sweep:
        """Queue again the work that was lost; give up on units tried ``max_attempts`` times.

        Safe to run on several workers at once: each unit is taken for
        publishing by a conditional update, which only one of them makes.
        """
        at = self._clock()
        quiet_since = at - self.pickup
        last_beat = self._ledger.last_beat()
        moving = last_beat is not None and last_beat > quiet_since
        # A unit whose publish failed is tried at every pass, the others
        # once they waited ``pickup`` while nothing moved.
        retry_before = at - self.watchdog_period / 2
        requeued: list[WorkUnit] = []
        given_up: list[tuple[WorkUnit, str]] = []
        for unit in self._ledger.due(at, retry_before, None if moving else quiet_since):
            if unit.state is UnitState.LEASED and unit.attempts >= self.max_attempts:
                reason = f"{unit.label} was started {unit.attempts} times and never finished" + (
                    f" (last error: {unit.error})" if unit.error else ": its worker was lost each time"
                )
                if self._ledger.give_up(unit.unit_id, at, clipped(reason, MAX_ERROR_CHARS)):
                    given_up.append((unit, reason))
                continue
            if self._ledger.requeue(unit.unit_id, at, retry_before, None if moving else quiet_since):
                requeued.append(unit)
        publish_error: str | None = None
        if requeued:
            try:
                self._publish_all(requeued)
            except QueueUnavailable as error:
                publish_error = str(error)
        # A worker process gone for a day leaves its row to no purpose.
        self._workers.forget_seen_before(at - FORGET_WORKERS_AFTER)
        return Sweep(tuple(requeued), tuple(given_up), publish_error)

    # --- why a run stalled ---------------------------------------------------------

    def stall_cause(self, run_id: str) -> str:
        """The most specific known reason a run's work made no progress."""
        units = self._ledger.units(run_id)
        failed = [unit for unit in units if unit.state is UnitState.FAILED]
        if failed:
            return f"task failed: {failed[0].label}: {failed[0].error or 'unknown error'}"
        unpublished = [unit for unit in units if unit.publish_error is not None and not unit.is_finished]
        if unpublished:
            unit = unpublished[0]
            return f"{unit.label} could not be queued: {unit.publish_error}"
        try:
            self._queue.ping()
        except QueueUnavailable as error:
            return f"{error}: no message can reach a worker"
        problem = self.worker_problem()
        if problem is not None:
            return problem
        erred = [unit for unit in units if unit.error is not None and not unit.is_finished]
        if erred:
            unit = erred[0]
            return f"task failed: {unit.label}, attempt {unit.attempts}: {unit.error}"
        held = [unit for unit in units if unit.state is UnitState.LEASED]
        if held:
            unit = held[0]
            return f"{unit.label} is held by {unit.holder} and made no progress"
        if units:
            return (
                "its queued work was never picked up although workers are alive: the broker lost its"
                " messages (flushed?) and no watchdog ran (is a worker started with --beat?)"
            )
        return "its work was never recorded (the database refused it?)"


# --- the units of this service's runs: the message (task and arguments) that does each ---


def unit_for(tracker: WorkTracker, run_id: str, task: str, args: Sequence[Any]) -> WorkUnit:
    """A new queued unit for the message ``task(*args)`` of run ``run_id``."""
    unit_id = unit_id_for(task, args)
    if unit_id is None:
        raise ValueError(f"{task} is not a unit of work")
    return tracker.unit(unit_id, run_id, task, args, label_for(task, args))
