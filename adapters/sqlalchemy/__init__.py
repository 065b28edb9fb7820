"""SQLAlchemy 2 adapters: SQLite by default, PostgreSQL when the URL says so."""

from adapters.sqlalchemy.database import create_engine_for, create_schema
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry
from adapters.sqlalchemy.repositories import (
    SqlAlchemyBusinessHoursRepository,
    SqlAlchemyStatusRepository,
    SqlAlchemyTimezoneRepository,
)

__all__ = [
    "SqlAlchemyBusinessHoursRepository",
    "SqlAlchemyReportRegistry",
    "SqlAlchemyStatusRepository",
    "SqlAlchemyTimezoneRepository",
    "create_engine_for",
    "create_schema",
]
