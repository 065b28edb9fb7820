"""The commands that look after the database rather than compute: ``db upgrade``, the schema checks, the purges."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.sqlalchemy.database import create_engine_for, open_schema, upgrade_schema
from entrypoints.container import Container

if TYPE_CHECKING:
    from adapters.sqlalchemy.schema import SchemaUpgrade


def upgrade_schema_at(url: str) -> SchemaUpgrade:
    """The schema at this release's revision: made, or upgraded in place."""
    engine = create_engine_for(url)
    try:
        return upgrade_schema(engine)
    finally:
        engine.dispose()


def check_schema(url: str) -> None:
    """``SchemaError`` unless the schema is this release's (a database without tables gets it)."""
    engine = create_engine_for(url)
    try:
        open_schema(engine)
    finally:
        engine.dispose()


def db_upgrade(url: str) -> int:
    upgrade = upgrade_schema_at(url)
    if upgrade.before is None:
        print(f"database schema made at revision {upgrade.after} (the database had no tables)")
    elif not upgrade.changed:
        print(f"database schema already at revision {upgrade.after}, this release's: nothing to upgrade")
    else:
        made = " (a database made before migrations)" if upgrade.stamped else ""
        print(f"database schema upgraded from revision {upgrade.before}{made} to {upgrade.after}")
    return 0


def purge_polls(container: Container) -> int:
    days = container.poll_retention_days()
    if days <= 0:
        print("POLL_RETENTION_DAYS is 0: polls are kept forever, none deleted")
        return 0
    deleted = container.ingest_service().purge_polls(timedelta(days=days))
    noun = "poll" if deleted == 1 else "polls"
    print(f"deleted {deleted} {noun} more than {days} days older than the latest, keeping each store's latest of them")
    return 0


def purge_reports(container: Container) -> int:
    days = container.report_retention_days()
    if days <= 0:
        print("REPORT_RETENTION_DAYS is 0: reports are kept forever, none deleted")
        return 0
    deleted = container.report_run_service().purge(timedelta(days=days))
    noun = "report" if deleted == 1 else "reports"
    print(f"deleted {deleted} {noun} finished more than {days} days ago")
    return 0
