"""The schema's revision in a database, and its upgrade (alembic, adapters/sqlalchemy/migrations).

Three states of a database:

- **no tables** of this service: the schema is made at the head revision
  (``create_all`` of ``tables.py``, then stamped; the two are held equal by
  ``tests/integration/test_migrations.py``);
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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Alembic logs at INFO its plugins as it is imported and the dialect it drives
# each time it looks at a database: no news in the service's log (``db
# upgrade`` prints what it changed). Set before alembic is imported.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Connection, inspect, text  # noqa: E402

from adapters.sqlalchemy.tables import metadata  # noqa: E402
from domain.model.errors import clipped
from domain.ports.data import RepositoryError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
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


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None))


def _config(connection: Connection | None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": a folder name holding one must stay as it is.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    # v0003_what_changed.py: a module name mypy checks like any other.
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def current_revision(connection: Connection) -> tuple[str | None, bool]:
    """The database's revision (None: no tables of this service) and whether it
    was recognised from the tables alone (a database of the last release before migrations)."""
    names = set(inspect(connection).get_table_names())
    if VERSION_TABLE in names:
        heads = MigrationContext.configure(connection).get_current_heads()
        if len(heads) == 1:
            return heads[0], False
        if heads:
            raise SchemaError(f"the database's schema has several revisions ({', '.join(sorted(heads))})")
    if names & set(metadata.tables):
        return LEGACY_REVISION, True
    return None, False


def upgrade_in(connection: Connection) -> SchemaUpgrade:
    """Bring the schema to the head revision, in a writing transaction: made
    whole in a database without tables, migrated in place in an older one.
    Nothing changes at the head; a revision this release does not know is a
    ``SchemaError``."""
    _lock(connection)
    before, stamped = current_revision(connection)
    head = head_revision()
    if before is None:
        _create_at_head(connection)
        return SchemaUpgrade(None, head)
    if before not in known_revisions():
        raise _unknown(before, head)
    if stamped:
        MigrationContext.configure(connection).stamp(_scripts(), before)
    if before != head:
        command.upgrade(_config(connection), "head")
    after, _ = current_revision(connection)
    assert after == head, f"upgraded to {after}, not {head}"
    return SchemaUpgrade(before, head, stamped)


def at_head_in(connection: Connection) -> bool:
    """True at the head revision, False in a database without tables; a
    ``SchemaError`` naming any other revision (and what to do about it)."""
    found, stamped = current_revision(connection)
    if found is None:
        return False
    head = head_revision()
    if found == head:
        return True
    if found not in known_revisions():
        raise _unknown(found, head)
    made = " (a database made before migrations)" if stamped else ""
    raise SchemaError(
        f"the database's schema is at revision {found}{made}, older than this release's {head}:"
        f" run '{UPGRADE_COMMAND}' first"
    )


def create_if_empty_in(connection: Connection) -> None:
    """In a writing transaction: the head schema made in a database without
    tables (unless another process just made it); ``at_head_in``'s refusals otherwise."""
    _lock(connection)
    if not at_head_in(connection):
        _create_at_head(connection)


def _unknown(found: str, head: str) -> SchemaError:
    return SchemaError(
        f"the database's schema is at revision {clipped(found)}, which this release does not know"
        f" (its newest is {head}): it was made by a newer release; run that release or a newer one"
    )


def _create_at_head(connection: Connection) -> None:
    metadata.create_all(connection)
    MigrationContext.configure(connection).stamp(_scripts(), "head")


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # One lock per schema, as the ingestions' (adapters/sqlalchemy/ingestion_log.py).
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"), {"key": _SCHEMA_LOCK_KEY}
        )
