"""The schema's revision in a database, and its upgrade (alembic, adapters/sqlalchemy/migrations).

Three states of a database:

- **no tables** of this service: the schema is made at this release's
  revision, the head of the migrations (``create_all`` of ``tables.py``,
  then stamped with its ``REVISION``; ``tests/integration/test_migrations.py``
  holds the tables, the head and ``REVISION`` equal);
- **tables but no** ``alembic_version``: made by the last release before
  migrations, so at revision ``0001`` (``LEGACY_REVISION``);
- a **revision** in ``alembic_version``: this release's head, an older one
  (``upgrade_schema``, i.e. ``store-monitor db upgrade``, migrates it in
  place), or one this release does not know (made by a newer release).

Each function works on a connection inside a transaction that
``adapters.sqlalchemy.database`` opens and commits (``upgrade_schema``,
``open_schema``; this module imports nothing of it); a change holds the
database's write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction advisory lock), so processes starting at once on a new or old
database make or upgrade it once.

A database at this release's revision, where nearly every process starts,
is recognised from one row: alembic (``migrate.py``, a tenth of a second
of a start) is imported only to make, upgrade or refuse a schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text

from adapters.sqlalchemy.tables import REVISION, metadata
from domain.model.errors import clipped
from domain.ports.data import RepositoryError

# The revision of a database made by the last release without migrations.
LEGACY_REVISION = "0001"
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "store-monitor db upgrade"
# The first key of the advisory lock of schema changes (ingestions use their own).
_SCHEMA_LOCK_KEY = 0x5C4E_3A00


class SchemaError(RepositoryError):
    """The database's schema is not the one this release works with."""


@dataclass(frozen=True)
class SchemaUpgrade:
    """What ``upgrade_schema`` found and left: ``before`` is None for a database without tables."""

    before: str | None
    after: str
    # True when ``before`` was recognised from the tables alone (no alembic_version).
    stamped: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def current_revision(connection: Connection) -> tuple[str | None, bool]:
    """The database's revision (None: no tables of this service) and whether it
    was recognised from the tables alone (a database of the last release before migrations)."""
    names = set(inspect(connection).get_table_names())
    if VERSION_TABLE in names:
        # The table alembic keeps (what its MigrationContext reads), read without importing alembic.
        heads = sorted(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
        if len(heads) == 1:
            return heads[0], False
        if heads:
            raise SchemaError(f"the database's schema has several revisions ({', '.join(heads)})")
    if names & set(metadata.tables):
        return LEGACY_REVISION, True
    return None, False


def upgrade_in(connection: Connection) -> SchemaUpgrade:
    """Bring the schema to this release's revision, in a writing transaction:
    made whole in a database without tables, migrated in place in an older
    one. Nothing changes at this release's revision; a revision this release
    does not know is a ``SchemaError``."""
    _lock(connection)
    before, stamped = current_revision(connection)
    if before == REVISION:
        return SchemaUpgrade(before, REVISION)
    if before is None:
        _create(connection)
        return SchemaUpgrade(None, REVISION)
    # Alembic, imported only where a schema changes or is refused.
    from adapters.sqlalchemy.migrate import known_revisions, stamp, upgrade_to_head

    if before not in known_revisions():
        raise _unknown(before)
    if stamped:
        stamp(connection, before)
    upgrade_to_head(connection)
    after, _ = current_revision(connection)
    assert after == REVISION, f"upgraded to {after}, not {REVISION}"
    return SchemaUpgrade(before, REVISION, stamped)


def at_head_in(connection: Connection) -> bool:
    """True at this release's revision, False in a database without tables; a
    ``SchemaError`` naming any other revision (and what to do about it)."""
    found, stamped = current_revision(connection)
    if found is None:
        return False
    if found == REVISION:
        return True
    from adapters.sqlalchemy.migrate import known_revisions

    if found not in known_revisions():
        raise _unknown(found)
    made = " (a database made before migrations)" if stamped else ""
    raise SchemaError(
        f"the database's schema is at revision {found}{made}, older than this release's {REVISION}:"
        f" run '{UPGRADE_COMMAND}' first"
    )


def create_if_empty_in(connection: Connection) -> None:
    """In a writing transaction: the schema made in a database without tables
    (unless another process just made it); ``at_head_in``'s refusals otherwise."""
    _lock(connection)
    if not at_head_in(connection):
        _create(connection)


def _unknown(found: str) -> SchemaError:
    return SchemaError(
        f"the database's schema is at revision {clipped(found)}, which this release does not know"
        f" (its newest is {REVISION}): it was made by a newer release; run that release or a newer one"
    )


def _create(connection: Connection) -> None:
    from adapters.sqlalchemy.migrate import stamp

    metadata.create_all(connection)
    stamp(connection, REVISION)


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # One lock per schema, as the ingestions' (adapters/sqlalchemy/ingestion_log.py).
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"), {"key": _SCHEMA_LOCK_KEY}
        )
