"""SQLAlchemy 2 adapters: SQLite by default, PostgreSQL when the URL says so."""

from adapters.sqlalchemy.database import create_engine_for, create_schema
from adapters.sqlalchemy.hours_and_timezones import SqlAlchemyBusinessHoursRepository, SqlAlchemyTimezoneRepository
from adapters.sqlalchemy.ingestion_log import SqlAlchemyIngestionLog
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry
from adapters.sqlalchemy.status_polls import SqlAlchemyStatusRepository

__all__ = [
    "SqlAlchemyBusinessHoursRepository",
    "SqlAlchemyIngestionLog",
    "SqlAlchemyReportRegistry",
    "SqlAlchemyStatusRepository",
    "SqlAlchemyTimezoneRepository",
    "create_engine_for",
    "create_schema",
]
