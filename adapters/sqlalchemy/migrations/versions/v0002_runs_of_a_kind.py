"""Runs of a kind (report or trend) with their days and summaries, files
saved in pieces, and the source of an upload.

A database touched by the development builds between the two releases (which
added the ``reports`` and ``report_parts`` columns when its schema was
created) may hold some of these already: each is added only where missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDED = {
    "reports": (
        # What the run computes ("report" or "trend"); earlier runs are reports.
        sa.Column("kind", sa.Text, nullable=False, server_default="report"),
        sa.Column("days", sa.Integer, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
    ),
    "report_parts": (sa.Column("summary", sa.Text, nullable=True),),
    "ingest_runs": (sa.Column("source", sa.Text, nullable=True),),
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in _ADDED.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [column for column in columns if column.name not in present]
        if not missing:
            continue
        # ALTER TABLE ... ADD COLUMN on SQLite too: a copy of ``reports``
        # would delete its parts on the way (ON DELETE CASCADE).
        with op.batch_alter_table(table, recreate="never") as batch:
            for column in missing:
                batch.add_column(column)
    if not inspector.has_table("report_file_pieces"):
        op.create_table(
            "report_file_pieces",
            sa.Column("report_id", sa.Text, primary_key=True),
            sa.Column("piece", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("content", sa.LargeBinary, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("report_file_pieces")
    for table, columns in _ADDED.items():
        # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), never a copy of
        # the table: on SQLite, dropping the copied ``reports`` would delete
        # every report's parts (ON DELETE CASCADE).
        with op.batch_alter_table(table, recreate="never") as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
