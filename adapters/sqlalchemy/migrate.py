"""What alembic does to a schema: the revisions of ``migrations/``, a schema stamped at one, an upgrade.

Only ``schema.py`` calls it, and only where a schema is made, upgraded or
refused: a process starting on a database at this release's revision never
imports alembic.
"""

from __future__ import annotations

import logging
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
from sqlalchemy import Connection  # noqa: E402

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def config(connection: Connection | None) -> Config:
    """Alembic's configuration, running its steps on ``connection`` (see ``migrations/env.py``)."""
    settings = Config()
    # ConfigParser interpolates "%": a folder name holding one must stay as it is.
    settings.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    # v0003_what_changed.py: a module name mypy checks like any other.
    settings.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    settings.attributes["connection"] = connection
    return settings


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config(None))


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def stamp(connection: Connection, revision: str) -> None:
    """Record ``revision`` as the schema's, changing no table."""
    MigrationContext.configure(connection).stamp(_scripts(), revision)


def upgrade_to_head(connection: Connection) -> None:
    command.upgrade(config(connection), "head")
