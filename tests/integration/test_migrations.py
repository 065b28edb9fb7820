"""Schema migrations (alembic, adapters/sqlalchemy/migrations) on SQLite and PostgreSQL.

A database made by the last release before migrations (its tables frozen
below as ``PREVIOUS``, exactly as commit 994a590's ``tables.py`` made them with
``create_all``, and no ``alembic_version``) is upgraded in place by
``store-monitor db upgrade`` in a real process: its data is still there and
readable, and its report is the same bytes. The head revision is held to
``tables.py`` by alembic's own autogenerate comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import launcher
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
)

from adapters.sqlalchemy.database import create_engine_for, create_schema, open_schema, transaction, upgrade_schema
from adapters.sqlalchemy.ingest_registry import SqlAlchemyIngestRegistry
from adapters.sqlalchemy.registry import SqlAlchemyReportRegistry
from adapters.sqlalchemy.report_storage import SqlAlchemyReportStorage
from adapters.sqlalchemy.migrate import config, head_revision
from adapters.sqlalchemy.schema import LEGACY_REVISION, SchemaError, SchemaUpgrade, current_revision
from adapters.sqlalchemy.status_polls import SqlAlchemyStatusRepository
from adapters.sqlalchemy.tables import REVISION, metadata
from domain.model.report import ReportStatus, RunKind

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
HEAD = "0002"

# -- the previous release's tables (994a590:adapters/sqlalchemy/tables.py), frozen ---------

PREVIOUS = MetaData()
_STORE_ID = Text().with_variant(String(collation="C"), "postgresql")
Table(
    "stores",
    PREVIOUS,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_id", _STORE_ID, nullable=False, unique=True),
)
Table(
    "ingestions",
    PREVIOUS,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
Table(
    "store_status",
    PREVIOUS,
    Column("store_pk", Integer, primary_key=True, autoincrement=False),
    Column("timestamp_us", BigInteger, primary_key=True, autoincrement=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    sqlite_with_rowid=False,
)
Table(
    "business_hours",
    PREVIOUS,
    Column("store_pk", Integer, ForeignKey("stores.id"), primary_key=True),
    Column("weekday", SmallInteger, primary_key=True, autoincrement=False),
    Column("start_us", BigInteger, primary_key=True, autoincrement=False),
    Column("end_us", BigInteger, primary_key=True, autoincrement=False),
    Column("added_version", Integer, primary_key=True, autoincrement=False),
    Column("retired_version", Integer, nullable=True),
    sqlite_with_rowid=False,
)
Table(
    "store_timezones",
    PREVIOUS,
    Column("store_pk", Integer, ForeignKey("stores.id"), primary_key=True, autoincrement=False),
    Column("added_version", Integer, primary_key=True, autoincrement=False),
    Column("timezone", Text, nullable=False),
    Column("retired_version", Integer, nullable=True),
)
Table(
    "reports",
    PREVIOUS,
    Column("report_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("report_path", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("progress_done", BigInteger, nullable=False, default=0),
    Column("progress_total", BigInteger, nullable=False, default=0),
    Column("as_of", DateTime(timezone=True), nullable=True),
    Column("snapshot", BigInteger, nullable=True),
    Column("now_us", BigInteger, nullable=True),
)
Table(
    "report_parts",
    PREVIOUS,
    Column("report_id", Text, ForeignKey("reports.report_id", ondelete="CASCADE"), primary_key=True),
    Column("part_index", Integer, primary_key=True, autoincrement=False),
    Column("lines", Text, nullable=False),
)
Table(
    "report_files",
    PREVIOUS,
    Column("report_id", Text, primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)
Table(
    "ingest_runs",
    PREVIOUS,
    Column("ingest_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("files", Text, nullable=False),
    Column("summary", Text, nullable=True),
    Column("error", Text, nullable=True),
)
Table(
    "read_positions",
    PREVIOUS,
    Column("source", Text, primary_key=True),
    Column("resume_offset", BigInteger, nullable=False),
    Column("resume_line", BigInteger, nullable=False),
    Column("checksum", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)
Table(
    "watched_files",
    PREVIOUS,
    Column("folder", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
)
Table(
    "work_units",
    PREVIOUS,
    Column("unit_id", Text, primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("task", Text, nullable=False),
    Column("args", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("holder", Text, nullable=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("beat_at", DateTime(timezone=True), nullable=True),
    Column("publish_error", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("work_units_run", "run_id"),
    Index("work_units_state", "state", "queued_at"),
)
Table(
    "workers",
    PREVIOUS,
    Column("worker_id", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

OLD_REPORT = "0b6f9c1e-4c1b-4d8e-9a57-2f9a3c1d7e10"
OLD_INGEST = "5e1c2b9a-7d3f-4a60-8c21-9b0e4f6a1d22"
AT = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def run_cli(*args: str, cwd: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "STORAGE_"))}
    env.update(
        DATABASE_URL=database_url,
        REPORTS_DIR=str(cwd / "reports"),
        BROKER_DIR=str(cwd / "broker"),
        PROMETHEUS_MULTIPROC_DIR=str(cwd / "metrics"),
    )
    env.pop("POLL_RETENTION_DAYS", None)
    env.pop("CELERY_BROKER_URL", None)
    return launcher.run(args, cwd=cwd, env=env)


def _aware(value: Any) -> Any:
    # SQLite hands back the naive UTC instant it was given.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def make_previous_release_database(target_url: str, work: Path) -> bytes:
    """A database as the previous release made and filled it; returns the report its data gives.

    The data folder is ingested by this release into a scratch SQLite file,
    whose rows (the previous release's columns only) are copied into
    ``PREVIOUS``'s tables, made by ``create_all`` as that release made them.
    A complete report with its parts and stored file, and a complete
    uploaded ingestion, are added as that release stored them.
    """
    scratch = f"sqlite:///{work / 'scratch.db'}"
    ingested = run_cli("ingest", str(DATA), cwd=work, database_url=scratch)
    assert ingested.returncode == 0, ingested.stderr
    reported = run_cli("report", "--out", str(work / "before.csv"), cwd=work, database_url=scratch)
    assert reported.returncode == 0, reported.stderr
    before = (work / "before.csv").read_bytes()

    source, target = create_engine_for(scratch), create_engine_for(target_url)
    try:
        with target.begin() as connection:
            PREVIOUS.create_all(connection)
        with source.connect() as reading, target.begin() as writing:
            for table in PREVIOUS.sorted_tables:
                current = metadata.tables[table.name]
                rows = [
                    {key: _aware(value) for key, value in row.items()}
                    for row in reading.execute(select(*[current.c[column.name] for column in table.c])).mappings()
                ]
                if rows:
                    writing.execute(insert(table), rows)
            lines = before.decode().splitlines(keepends=True)
            header, body = lines[0], lines[1:]
            half = len(body) // 2
            writing.execute(
                insert(PREVIOUS.tables["reports"]).values(
                    report_id=OLD_REPORT, status="Complete", created_at=AT, updated_at=AT, finished_at=AT,
                    report_path=f"db:{OLD_REPORT}", progress_done=2, progress_total=2, snapshot=1, now_us=None,
                )
            )
            writing.execute(
                insert(PREVIOUS.tables["report_parts"]),
                [
                    {"report_id": OLD_REPORT, "part_index": 0, "lines": "".join(body[:half])},
                    {"report_id": OLD_REPORT, "part_index": 1, "lines": "".join(body[half:])},
                ],
            )
            writing.execute(
                insert(PREVIOUS.tables["report_files"]).values(report_id=OLD_REPORT, content=before, saved_at=AT)
            )
            writing.execute(
                insert(PREVIOUS.tables["ingest_runs"]).values(
                    ingest_id=OLD_INGEST, status="Complete", created_at=AT, updated_at=AT, finished_at=AT,
                    files=json.dumps(["store_status.csv"]), summary=json.dumps({"store_status": {"rows": 0}}),
                )
            )
        assert header.startswith("store_id,")
    finally:
        source.dispose()
        target.dispose()
    return before


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'previous-release.db'}"
    else:
        url: str = request.getfixturevalue("postgres_schema_url")
        yield url


def test_a_database_of_the_previous_release_is_upgraded_in_place_keeping_its_data_and_its_report(
    database_url: str, tmp_path: Path
) -> None:
    before = make_previous_release_database(database_url, tmp_path)

    # The service refuses it, naming the revision found and the command.
    for refused in (("report", "--out", str(tmp_path / "refused.csv")), ("serve",), ("worker",)):
        result = run_cli(*refused, cwd=tmp_path, database_url=database_url)
        assert result.returncode == 2, (refused, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert "revision 0001" in result.stderr and "store-monitor db upgrade" in result.stderr, result.stderr
    assert not (tmp_path / "refused.csv").exists()

    upgraded = run_cli("db", "upgrade", cwd=tmp_path, database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == (
        f"database schema upgraded from revision 0001 (a database made before migrations) to {HEAD}\n"
    )

    again = run_cli("db", "upgrade", cwd=tmp_path, database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"database schema already at revision {HEAD}, this release's: nothing to upgrade\n"

    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == (HEAD, False)
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        # The data, through the repositories.
        status = SqlAlchemyStatusRepository(engine)
        assert status.latest_timestamp(snapshot=1) is not None
        registry = SqlAlchemyReportRegistry(engine)
        old = registry.get(OLD_REPORT)
        assert (old.status, old.kind, old.days, old.summary) == (ReportStatus.COMPLETE, RunKind.REPORT, None, None)
        assert "".join(registry.parts(OLD_REPORT)) == before.decode().split("\n", 1)[1]
        assert SqlAlchemyReportStorage(engine).load(f"db:{OLD_REPORT}") == before
        run = SqlAlchemyIngestRegistry(engine).get(OLD_INGEST)
        assert run.status == ReportStatus.COMPLETE
        assert [report.report_id for report in registry.recent(10, RunKind.REPORT)] == [OLD_REPORT]
    finally:
        engine.dispose()

    after = run_cli("report", "--out", str(tmp_path / "after.csv"), cwd=tmp_path, database_url=database_url)
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "after.csv").read_bytes() == before


def test_revision_0001_is_the_previous_release_and_the_head_is_tables_py(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        with transaction(engine, write=True) as connection:
            command.upgrade(config(connection), LEGACY_REVISION)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), PREVIOUS) == []
        with transaction(engine, write=True) as connection:
            command.upgrade(config(connection), "head")
        with engine.connect() as connection:
            # Every step from nothing, as alembic's autogenerate compares: no difference left.
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            assert current_revision(connection) == (head_revision(), False)
    finally:
        engine.dispose()


def test_a_new_database_is_made_at_the_head_and_is_tables_py(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        first = upgrade_schema(engine)
        second = upgrade_schema(engine)
        create_schema(engine)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()

    assert (first.before, first.after, second.before, second.after) == (None, HEAD, HEAD, HEAD)
    # The migrations' head is the revision the service takes for its own.
    assert head_revision() == REVISION == HEAD


def test_an_unknown_revision_is_refused_and_never_touched(database_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(database_url)
    try:
        create_schema(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")
        with pytest.raises(SchemaError, match="revision 0999, which this release does not know"):
            open_schema(engine)
        with pytest.raises(SchemaError, match="revision 0999"):
            upgrade_schema(engine)
    finally:
        engine.dispose()

    for args in (("report", "--out", str(tmp_path / "r.csv")), ("serve",), ("db", "upgrade")):
        result = run_cli(*args, cwd=tmp_path, database_url=database_url)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "revision 0999" in result.stderr, result.stderr


def test_an_older_revision_is_refused_until_upgraded(database_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(database_url)
    try:
        with transaction(engine, write=True) as connection:
            command.upgrade(config(connection), LEGACY_REVISION)
        with pytest.raises(SchemaError, match="revision 0001, older than this release's 0002: run 'store-monitor db upgrade'"):
            open_schema(engine)
    finally:
        engine.dispose()

    refused = run_cli("purge-reports", cwd=tmp_path, database_url=database_url)
    assert refused.returncode == 2 and "store-monitor db upgrade" in refused.stderr, refused.stderr
    upgraded = run_cli("db", "upgrade", cwd=tmp_path, database_url=database_url)
    assert upgraded.stdout == f"database schema upgraded from revision 0001 to {HEAD}\n", upgraded.stderr
    reported = run_cli("report", "--out", "-", cwd=tmp_path, database_url=database_url)
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.startswith("store_id,")


def test_a_database_without_tables_is_made_by_any_command(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        # Only an ingestion (or create-db) makes a SQLite file; an empty one is a database without tables.
        Path(database_url.removeprefix("sqlite:///")).touch()
    reported = run_cli("report", "--out", "-", cwd=tmp_path, database_url=database_url)
    assert reported.returncode == 0, reported.stderr
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == (HEAD, False)
            assert set(inspect(connection).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()
    made = run_cli("db", "upgrade", cwd=tmp_path, database_url=database_url)
    assert made.stdout == f"database schema already at revision {HEAD}, this release's: nothing to upgrade\n"


def test_processes_starting_at_once_upgrade_a_previous_release_database_once(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            PREVIOUS.create_all(connection)
    finally:
        engine.dispose()
    results: list[SchemaUpgrade | BaseException] = []

    def upgrade() -> None:
        own = create_engine_for(database_url)
        try:
            results.append(upgrade_schema(own))
        except BaseException as error:  # noqa: BLE001 - any failure is the test's finding
            results.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(isinstance(result, SchemaUpgrade) for result in results), results
    changed = [result for result in results if isinstance(result, SchemaUpgrade) and result.changed]
    assert [(result.before, result.after, result.stamped) for result in changed] == [(LEGACY_REVISION, HEAD, True)]
    assert len(results) == 4


def test_down_to_0001_and_up_again_keeps_every_report_and_its_parts(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        create_schema(engine)
        registry = SqlAlchemyReportRegistry(engine)
        with engine.begin() as connection:
            connection.execute(
                insert(metadata.tables["reports"]).values(
                    report_id=OLD_REPORT, status="Complete", created_at=AT, updated_at=AT,
                    progress_done=1, progress_total=1,
                )
            )
            connection.execute(insert(metadata.tables["report_parts"]).values(report_id=OLD_REPORT, part_index=0, lines="a\n"))
        with transaction(engine, write=True) as connection:
            command.downgrade(config(connection), LEGACY_REVISION)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), PREVIOUS) == []
        upgraded = upgrade_schema(engine)

        assert (upgraded.before, upgraded.after) == (LEGACY_REVISION, HEAD)
        assert registry.parts(OLD_REPORT) == ["a\n"]
        assert registry.get(OLD_REPORT).kind == RunKind.REPORT
    finally:
        engine.dispose()
