"""The schema of the last release made without migrations (commit 994a590).

A database that release made has these tables and no ``alembic_version``;
``adapters.sqlalchemy.schema`` stamps it with this revision, then upgrades it.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Byte-order comparison of store ids on PostgreSQL; SQLite compares bytes already.
_STORE_ID = sa.Text().with_variant(sa.String(collation="C"), "postgresql")
_INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("store_id", _STORE_ID, nullable=False, unique=True),
    )
    op.create_table(
        "ingestions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("started_at", _INSTANT, nullable=False),
        sa.Column("finished_at", _INSTANT, nullable=True),
    )
    op.create_table(
        "store_status",
        sa.Column("store_pk", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "business_hours",
        sa.Column("store_pk", sa.Integer, sa.ForeignKey("stores.id"), primary_key=True),
        sa.Column("weekday", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("start_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("end_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("added_version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("retired_version", sa.Integer, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "store_timezones",
        sa.Column("store_pk", sa.Integer, sa.ForeignKey("stores.id"), primary_key=True, autoincrement=False),
        sa.Column("added_version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("retired_version", sa.Integer, nullable=True),
    )
    op.create_table(
        "reports",
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        sa.Column("finished_at", _INSTANT, nullable=True),
        sa.Column("report_path", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("progress_done", sa.BigInteger, nullable=False),
        sa.Column("progress_total", sa.BigInteger, nullable=False),
        sa.Column("as_of", _INSTANT, nullable=True),
        sa.Column("snapshot", sa.BigInteger, nullable=True),
        sa.Column("now_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "report_parts",
        sa.Column(
            "report_id", sa.Text, sa.ForeignKey("reports.report_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("part_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("lines", sa.Text, nullable=False),
    )
    op.create_table(
        "report_files",
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("saved_at", _INSTANT, nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("ingest_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        sa.Column("finished_at", _INSTANT, nullable=True),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "read_positions",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("resume_offset", sa.BigInteger, nullable=False),
        sa.Column("resume_line", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "watched_files",
        sa.Column("folder", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
    )
    op.create_table(
        "work_units",
        sa.Column("unit_id", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("holder", sa.Text, nullable=True),
        sa.Column("queued_at", _INSTANT, nullable=False),
        sa.Column("lease_until", _INSTANT, nullable=True),
        sa.Column("beat_at", _INSTANT, nullable=True),
        sa.Column("publish_error", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("work_units_run", "work_units", ["run_id"])
    op.create_index("work_units_state", "work_units", ["state", "queued_at"])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _INSTANT, nullable=False),
        sa.Column("seen_at", _INSTANT, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "workers",
        "work_units",
        "watched_files",
        "read_positions",
        "ingest_runs",
        "report_files",
        "report_parts",
        "reports",
        "store_timezones",
        "business_hours",
        "store_status",
        "ingestions",
        "stores",
    ):
        op.drop_table(table)
