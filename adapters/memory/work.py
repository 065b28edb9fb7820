"""The in-memory ledger of units of work and the workers' heartbeats (the ports of
``domain.ports.work``): for tests, as the SQL ones behave."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from domain.model.work_units import UnitState, WorkerBeat, WorkUnit
from domain.ports.work import WorkerRegistry, WorkLedger


class InMemoryWorkLedger(WorkLedger):
    """Units of work by id; every change under one lock, as a database row lock would make it."""

    def __init__(self) -> None:
        self.units_by_id: dict[str, WorkUnit] = {}
        self._lock = threading.Lock()

    def add(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        with self._lock:
            for unit in units:
                known = self.units_by_id.get(unit.unit_id)
                if known is None:
                    self.units_by_id[unit.unit_id] = unit
                elif reopen and known.is_finished:
                    self.units_by_id[unit.unit_id] = attrs.evolve(
                        known,
                        state=UnitState.QUEUED,
                        queued_at=unit.queued_at,
                        holder=None,
                        lease_until=None,
                        attempts=0,
                        error=None,
                        publish_error=None,
                    )

    def get(self, unit_id: str) -> WorkUnit | None:
        return self.units_by_id.get(unit_id)

    def claim(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> WorkUnit | None:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or not _claimable(unit, at):
                return None
            claimed = attrs.evolve(
                unit,
                state=UnitState.LEASED,
                holder=holder,
                lease_until=lease_until,
                beat_at=at,
                attempts=unit.attempts + 1,
            )
            self.units_by_id[unit_id] = claimed
            return claimed

    def renew(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> bool:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or unit.state is not UnitState.LEASED or unit.holder != holder:
                return False
            self.units_by_id[unit_id] = attrs.evolve(unit, lease_until=lease_until, beat_at=at)
            return True

    def release(self, unit_id: str, holder: str | None, at: datetime, error: str) -> bool:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or unit.state is not UnitState.LEASED or holder not in (None, unit.holder):
                return False
            self.units_by_id[unit_id] = attrs.evolve(unit, lease_until=at, error=error)
            return True

    def finish(self, unit_id: str, at: datetime, state: UnitState, error: str | None) -> bool:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or unit.is_finished:
                return False
            changes: dict[str, Any] = {"state": state, "lease_until": None}
            if error is not None:
                changes["error"] = error
            self.units_by_id[unit_id] = attrs.evolve(unit, **changes)
            return True

    def record_publish(self, unit_id: str, at: datetime, error: str | None) -> None:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is not None:
                self.units_by_id[unit_id] = attrs.evolve(unit, publish_error=error)

    def due(self, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> list[WorkUnit]:
        with self._lock:
            found = [unit for unit in self.units_by_id.values() if _due(unit, at, retry_before, quiet_since)]
        return sorted(found, key=lambda unit: (unit.queued_at, unit.unit_id))

    def requeue(self, unit_id: str, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> bool:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or not _due(unit, at, retry_before, quiet_since):
                return False
            self.units_by_id[unit_id] = attrs.evolve(
                unit, state=UnitState.QUEUED, holder=None, lease_until=None, queued_at=at
            )
            return True

    def give_up(self, unit_id: str, at: datetime, error: str) -> bool:
        with self._lock:
            unit = self.units_by_id.get(unit_id)
            if unit is None or not _lease_expired(unit, at):
                return False
            self.units_by_id[unit_id] = attrs.evolve(unit, state=UnitState.FAILED, lease_until=None, error=error)
            return True

    def last_beat(self) -> datetime | None:
        beats = [unit.beat_at for unit in self.units_by_id.values() if unit.beat_at is not None]
        return max(beats, default=None)

    def units(self, run_id: str) -> list[WorkUnit]:
        return sorted(
            (unit for unit in self.units_by_id.values() if unit.run_id == run_id), key=lambda unit: unit.unit_id
        )

    def forget(self, run_id: str) -> None:
        with self._lock:
            for unit_id in [unit.unit_id for unit in self.units_by_id.values() if unit.run_id == run_id]:
                del self.units_by_id[unit_id]


def _lease_expired(unit: WorkUnit, at: datetime) -> bool:
    return unit.state is UnitState.LEASED and unit.lease_until is not None and unit.lease_until <= at


def _claimable(unit: WorkUnit, at: datetime) -> bool:
    return unit.state is UnitState.QUEUED or _lease_expired(unit, at)


def _due(unit: WorkUnit, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> bool:
    if _lease_expired(unit, at):
        return True
    if unit.state is not UnitState.QUEUED:
        return False
    if unit.publish_error is not None:
        return unit.queued_at <= retry_before
    return quiet_since is not None and unit.queued_at <= quiet_since


class InMemoryWorkerRegistry(WorkerRegistry):
    """Worker heartbeats by worker id."""

    def __init__(self) -> None:
        self.beats: dict[str, WorkerBeat] = {}

    def beat(self, beat: WorkerBeat) -> None:
        self.beats[beat.worker_id] = beat

    def forget(self, worker_id: str) -> None:
        self.beats.pop(worker_id, None)

    def get(self, worker_id: str) -> WorkerBeat | None:
        return self.beats.get(worker_id)

    def latest_seen(self) -> datetime | None:
        return max((beat.seen_at for beat in self.beats.values()), default=None)

    def forget_seen_before(self, cutoff: datetime) -> int:
        gone = [worker_id for worker_id, beat in self.beats.items() if beat.seen_at < cutoff]
        for worker_id in gone:
            del self.beats[worker_id]
        return len(gone)
