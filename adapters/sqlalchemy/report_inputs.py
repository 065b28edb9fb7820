"""A report's inputs from SQLite or PostgreSQL: polls, hours and timezones at
one snapshot, read in one transaction."""

from __future__ import annotations

from adapters.sqlalchemy.database import transaction
from adapters.sqlalchemy.hours_and_timezones import read_hours, read_timezones
from adapters.sqlalchemy.repository_support import SqlRepository
from adapters.sqlalchemy.status_polls import read_polls
from domain.ports.data import ReportInputs, ReportInputSource, StoreRange


class SqlAlchemyReportInputSource(SqlRepository, ReportInputSource):
    """Polls, hours and timezones of a report at one snapshot, read in one transaction."""

    def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
        with transaction(self._engine, write=False) as connection:
            return ReportInputs(
                read_polls(connection, int(start_us), stores, int(snapshot), self._postgres),
                read_hours(connection, stores, int(snapshot)),
                read_timezones(connection, stores, int(snapshot)),
            )
