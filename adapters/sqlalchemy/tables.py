"""The database schema: SQLAlchemy Core tables on one ``MetaData``.

Domain classes are not mapped: repositories move whole columns between these
tables and numpy arrays.

Store ids are opaque strings kept once, in ``stores``; the other tables point
at a store by its integer key, which keeps the biggest table (``store_status``)
small and its primary key cheap to compare. Store ids compare in plain byte
order: SQLite's default ``BINARY`` collation does that, PostgreSQL needs
``COLLATE "C"``. For UTF-8 text byte order is code point order, the order of
Python's ``str``, so ``BETWEEN`` ranges and ``ORDER BY`` agree with the domain.

The data is versioned by ingestion (``ingestions``; see ``domain.ports.data.IngestionLog``):
a poll keeps the version that first stored it; an hours or timezone row has
the version that added it and, once a later ingestion replaced it, the one
that retired it. Snapshot ``S`` sees the rows with ``added <= S`` and not
``retired <= S``. Retired rows are kept, so a report planned earlier still
reads them.

A change here needs a migration (``adapters/sqlalchemy/migrations/versions``)
and ``REVISION`` set to it: ``tests/integration/test_migrations.py`` fails
while the head revision, ``REVISION`` and these tables differ.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# The migration (``migrations/versions``) whose schema these tables are: this release's revision.
REVISION = "0002"

metadata = MetaData()

# Byte-order comparison of store ids on PostgreSQL; SQLite compares bytes already.
StoreIdType = Text().with_variant(String(collation="C"), "postgresql")

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_id", StoreIdType, nullable=False, unique=True),
)

# One row per ingestion: ``version`` increases with each; ``state`` is
# running, complete, or abandoned (it never completed, and the next ingestion
# discarded its rows).
ingestions = Table(
    "ingestions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

# One row per (store, instant); the primary key is the order every query
# reads in. WITHOUT ROWID keeps a single B-tree on SQLite instead of a table
# plus an index of the same columns. No foreign key: PostgreSQL checks one
# per inserted row, which took 7 of 12 s loading 1.9M polls; the keys come
# from ``stores`` in the same transaction, and stores are never deleted.
# ``version`` is read from the row the key leads to: no index of its own.
store_status = Table(
    "store_status",
    metadata,
    Column("store_pk", Integer, primary_key=True, autoincrement=False),
    Column("timestamp_us", BigInteger, primary_key=True, autoincrement=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# A store's weekly opening rows are a set at each snapshot: the whole row
# with the version that added it is the key (a row dropped and added again
# later is a second row).
business_hours = Table(
    "business_hours",
    metadata,
    Column("store_pk", Integer, ForeignKey("stores.id"), primary_key=True),
    Column("weekday", SmallInteger, primary_key=True, autoincrement=False),
    Column("start_us", BigInteger, primary_key=True, autoincrement=False),
    Column("end_us", BigInteger, primary_key=True, autoincrement=False),
    Column("added_version", Integer, primary_key=True, autoincrement=False),
    Column("retired_version", Integer, nullable=True),
    sqlite_with_rowid=False,
)

# A store has at most one timezone at each snapshot.
store_timezones = Table(
    "store_timezones",
    metadata,
    Column("store_pk", Integer, ForeignKey("stores.id"), primary_key=True, autoincrement=False),
    Column("added_version", Integer, primary_key=True, autoincrement=False),
    Column("timezone", Text, nullable=False),
    Column("retired_version", Integer, nullable=True),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    # Aware UTC datetimes; adapters/sqlalchemy/registry.py normalises them.
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("report_path", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("progress_done", BigInteger, nullable=False, default=0),
    Column("progress_total", BigInteger, nullable=False, default=0),
    # The instant the report is as of (given at the trigger), and its plan:
    # the snapshot every part reads and its "now" (UTC microseconds).
    Column("as_of", DateTime(timezone=True), nullable=True),
    Column("snapshot", BigInteger, nullable=True),
    Column("now_us", BigInteger, nullable=True),
    # What the run computes ("report" or "trend"), over how many days (a
    # trend's), and once complete a trend's summary (JSON, domain.model.fleet_trend).
    Column("kind", Text, nullable=False, server_default="report"),
    Column("days", Integer, nullable=True),
    Column("summary", Text, nullable=True),
)

# The computed parts of a report run, each the CSV lines of a range of stores.
# A part's lines can run to many kilobytes: a rowid table suits such rows
# better on SQLite than a WITHOUT ROWID one.
report_parts = Table(
    "report_parts",
    metadata,
    Column("report_id", Text, ForeignKey("reports.report_id", ondelete="CASCADE"), primary_key=True),
    Column("part_index", Integer, primary_key=True, autoincrement=False),
    Column("lines", Text, nullable=False),
    # A trend's part also sums its stores (JSON, domain.model.fleet_trend).
    Column("summary", Text, nullable=True),
)

# Finished report files, for API machines that share no folder with the
# workers. No foreign key: the storage does not depend on the registry.
report_files = Table(
    "report_files",
    metadata,
    Column("report_id", Text, primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

# A file saved in pieces (ReportStorage.save_pieces) keeps its first piece in
# report_files.content and the others here, in order: no piece is larger than
# what the worker holds at once.
report_file_pieces = Table(
    "report_file_pieces",
    metadata,
    Column("report_id", Text, primary_key=True),
    Column("piece", Integer, primary_key=True, autoincrement=False),
    Column("content", LargeBinary, nullable=False),
)

# Ingestion runs of uploaded files. ``files`` is a JSON list of the uploaded
# file names, ``summary`` the JSON ingestion summary once complete.
ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("ingest_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("files", Text, nullable=False),
    Column("summary", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("source", Text, nullable=True),
)

# How far each source file was ingested (domain.model.ingestion.ReadPosition): the
# next ingestion of a file that grew reads from there.
read_positions = Table(
    "read_positions",
    metadata,
    Column("source", Text, primary_key=True),
    Column("resume_offset", BigInteger, nullable=False),
    Column("resume_line", BigInteger, nullable=False),
    Column("checksum", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)

# The files of each watched folder as last ingested: a folder is ingested
# again only when one of them changed.
watched_files = Table(
    "watched_files",
    metadata,
    Column("folder", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
)

# Units of work of every run (domain/use_cases/work.py): the database's record of what
# is to be done, who holds it and until when; the broker only carries
# messages naming them. ``args`` is the JSON list of the task's arguments.
work_units = Table(
    "work_units",
    metadata,
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

# One row per live worker process: its heartbeat, renewed every few seconds.
workers = Table(
    "workers",
    metadata,
    Column("worker_id", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
