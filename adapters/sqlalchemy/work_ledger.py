"""The units of work (``work_units``) and the workers' heartbeats (``workers``).

Every change that decides who does a unit is one conditional ``UPDATE``
(a claim, a requeue, giving up): on PostgreSQL the row lock it takes makes a
second, concurrent one re-check its condition and change nothing; on SQLite
every writing transaction holds the database's write lock. So of two workers
claiming one unit, or two watchdogs requeuing it, exactly one succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.sqlalchemy.database import is_postgres, transaction, utc_for_db, utc_from_db
from adapters.sqlalchemy.tables import work_units, workers
from domain.model.work_units import UnitState, WorkerBeat, WorkUnit
from domain.ports.work import WorkerRegistry, WorkLedger

_QUEUED = UnitState.QUEUED.value
_LEASED = UnitState.LEASED.value
_FINISHED = (UnitState.DONE.value, UnitState.FAILED.value)
_WHAT = "a unit-of-work time"


def _t(instant: datetime) -> datetime:
    return utc_for_db(instant, _WHAT)


def _lease_expired(at: datetime) -> ColumnElement[bool]:
    return and_(
        work_units.c.state == _LEASED, work_units.c.lease_until.is_not(None), work_units.c.lease_until <= _t(at)
    )


def _due(at: datetime, retry_before: datetime, quiet_since: datetime | None) -> ColumnElement[bool]:
    queued = work_units.c.state == _QUEUED
    conditions = [
        _lease_expired(at),
        and_(queued, work_units.c.publish_error.is_not(None), work_units.c.queued_at <= _t(retry_before)),
    ]
    if quiet_since is not None:
        conditions.append(
            and_(queued, work_units.c.publish_error.is_(None), work_units.c.queued_at <= _t(quiet_since))
        )
    return or_(*conditions)


class SqlAlchemyWorkLedger(WorkLedger):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)

    def add(self, units: Sequence[WorkUnit], *, reopen: bool = False) -> None:
        if not units:
            return
        with transaction(self._engine, write=True) as connection:
            # A few hundred rows per statement keeps SQLite under its limit of bound values.
            for start in range(0, len(units), 500):
                connection.execute(self._insert([_values(unit) for unit in units[start : start + 500]], reopen))

    def _insert(self, rows: list[dict[str, Any]], reopen: bool) -> Any:
        build = postgres_insert if self._postgres else sqlite_insert
        statement = build(work_units).values(rows)
        if reopen:
            excluded = statement.excluded
            return statement.on_conflict_do_update(
                index_elements=[work_units.c.unit_id],
                set_={
                    "state": _QUEUED,
                    "queued_at": excluded.queued_at,
                    "holder": None,
                    "lease_until": None,
                    "attempts": 0,
                    "error": None,
                    "publish_error": None,
                },
                where=work_units.c.state.in_(_FINISHED),
            )
        return statement.on_conflict_do_nothing(index_elements=[work_units.c.unit_id])

    def get(self, unit_id: str) -> WorkUnit | None:
        with transaction(self._engine, write=False) as connection:
            row = connection.execute(select(work_units).where(work_units.c.unit_id == unit_id)).one_or_none()
        return None if row is None else _unit(row)

    def claim(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> WorkUnit | None:
        statement = (
            update(work_units)
            .where(work_units.c.unit_id == unit_id, or_(work_units.c.state == _QUEUED, _lease_expired(at)))
            .values(
                state=_LEASED,
                holder=holder,
                lease_until=_t(lease_until),
                beat_at=_t(at),
                attempts=work_units.c.attempts + 1,
            )
        )
        with transaction(self._engine, write=True) as connection:
            if connection.execute(statement).rowcount != 1:
                return None
            row = connection.execute(select(work_units).where(work_units.c.unit_id == unit_id)).one()
        return _unit(row)

    def renew(self, unit_id: str, holder: str, at: datetime, lease_until: datetime) -> bool:
        statement = (
            update(work_units)
            .where(work_units.c.unit_id == unit_id, work_units.c.state == _LEASED, work_units.c.holder == holder)
            .values(lease_until=_t(lease_until), beat_at=_t(at))
        )
        return self._changed(statement)

    def release(self, unit_id: str, holder: str | None, at: datetime, error: str) -> bool:
        conditions = [work_units.c.unit_id == unit_id, work_units.c.state == _LEASED]
        if holder is not None:
            conditions.append(work_units.c.holder == holder)
        return self._changed(update(work_units).where(*conditions).values(lease_until=_t(at), error=error))

    def finish(self, unit_id: str, at: datetime, state: UnitState, error: str | None) -> bool:
        values: dict[str, Any] = {"state": state.value, "lease_until": None}
        if error is not None:
            values["error"] = error
        statement = (
            update(work_units)
            .where(work_units.c.unit_id == unit_id, work_units.c.state.not_in(_FINISHED))
            .values(**values)
        )
        return self._changed(statement)

    def record_publish(self, unit_id: str, at: datetime, error: str | None) -> None:
        self._changed(update(work_units).where(work_units.c.unit_id == unit_id).values(publish_error=error))

    def due(self, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> list[WorkUnit]:
        query = (
            select(work_units)
            .where(work_units.c.state.in_([_QUEUED, _LEASED]), _due(at, retry_before, quiet_since))
            .order_by(work_units.c.queued_at, work_units.c.unit_id)
        )
        with transaction(self._engine, write=False) as connection:
            rows = connection.execute(query).all()
        return [_unit(row) for row in rows]

    def requeue(self, unit_id: str, at: datetime, retry_before: datetime, quiet_since: datetime | None) -> bool:
        statement = (
            update(work_units)
            .where(work_units.c.unit_id == unit_id, _due(at, retry_before, quiet_since))
            .values(state=_QUEUED, holder=None, lease_until=None, queued_at=_t(at))
        )
        return self._changed(statement)

    def give_up(self, unit_id: str, at: datetime, error: str) -> bool:
        statement = (
            update(work_units)
            .where(work_units.c.unit_id == unit_id, _lease_expired(at))
            .values(state=UnitState.FAILED.value, lease_until=None, error=error)
        )
        return self._changed(statement)

    def last_beat(self) -> datetime | None:
        with transaction(self._engine, write=False) as connection:
            value = connection.execute(select(func.max(work_units.c.beat_at))).scalar_one_or_none()
        return None if value is None else utc_from_db(value)

    def units(self, run_id: str) -> list[WorkUnit]:
        with transaction(self._engine, write=False) as connection:
            rows = connection.execute(
                select(work_units).where(work_units.c.run_id == run_id).order_by(work_units.c.unit_id)
            ).all()
        return [_unit(row) for row in rows]

    def forget(self, run_id: str) -> None:
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(work_units).where(work_units.c.run_id == run_id))

    def _changed(self, statement: Any) -> bool:
        with transaction(self._engine, write=True) as connection:
            return bool(connection.execute(statement).rowcount == 1)


def _values(unit: WorkUnit) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "run_id": unit.run_id,
        "task": unit.task,
        "args": json.dumps(list(unit.args)),
        "label": unit.label,
        "state": unit.state.value,
        "attempts": unit.attempts,
        "holder": unit.holder,
        "queued_at": _t(unit.queued_at),
        "lease_until": None if unit.lease_until is None else _t(unit.lease_until),
        "beat_at": None if unit.beat_at is None else _t(unit.beat_at),
        "publish_error": unit.publish_error,
        "error": unit.error,
    }


def _unit(row: Row[Any]) -> WorkUnit:
    return WorkUnit(
        unit_id=row.unit_id,
        run_id=row.run_id,
        task=row.task,
        args=json.loads(row.args),
        label=row.label,
        queued_at=utc_from_db(row.queued_at),
        state=UnitState(row.state),
        attempts=int(row.attempts),
        holder=row.holder,
        lease_until=None if row.lease_until is None else utc_from_db(row.lease_until),
        beat_at=None if row.beat_at is None else utc_from_db(row.beat_at),
        publish_error=row.publish_error,
        error=row.error,
    )


class SqlAlchemyWorkerRegistry(WorkerRegistry):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)

    def beat(self, beat: WorkerBeat) -> None:
        build = postgres_insert if self._postgres else sqlite_insert
        statement = build(workers).values(
            worker_id=beat.worker_id,
            host=beat.host,
            pid=beat.pid,
            started_at=_t(beat.started_at),
            seen_at=_t(beat.seen_at),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[workers.c.worker_id], set_={"seen_at": statement.excluded.seen_at}
        )
        with transaction(self._engine, write=True) as connection:
            connection.execute(statement)

    def forget(self, worker_id: str) -> None:
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(workers).where(workers.c.worker_id == worker_id))

    def get(self, worker_id: str) -> WorkerBeat | None:
        with transaction(self._engine, write=False) as connection:
            row = connection.execute(select(workers).where(workers.c.worker_id == worker_id)).one_or_none()
        if row is None:
            return None
        return WorkerBeat(
            row.worker_id, row.host, int(row.pid), utc_from_db(row.started_at), utc_from_db(row.seen_at)
        )

    def latest_seen(self) -> datetime | None:
        with transaction(self._engine, write=False) as connection:
            value = connection.execute(select(func.max(workers.c.seen_at))).scalar_one_or_none()
        return None if value is None else utc_from_db(value)

    def forget_seen_before(self, cutoff: datetime) -> int:
        with transaction(self._engine, write=True) as connection:
            return int(connection.execute(delete(workers).where(workers.c.seen_at < _t(cutoff))).rowcount)
