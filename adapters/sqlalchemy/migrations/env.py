"""Alembic's environment: migrations run on the connection given in the config.

``adapters.sqlalchemy.schema`` puts an open connection, inside a transaction
it commits itself, in ``config.attributes["connection"]``; alembic then runs
every step in that one transaction. Offline (SQL script) mode is not used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from adapters.sqlalchemy.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through adapters.sqlalchemy.schema, which passes the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables through alembic's batch mode (copy and move) where it must.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
