"""Alembic migrations of the schema in ``adapters/sqlalchemy/tables.py``.

``env.py`` runs on the connection that ``adapters.sqlalchemy.schema`` hands
it (the service's own engine, inside its transaction); no ``alembic.ini`` is
read. Revision 0001 is the schema of the last release made without
migrations, 0002 and later what changed since. ``tests/integration/test_migrations.py``
holds the head to ``tables.py`` and its ``REVISION``.

A change of ``tables.py`` gets the next revision, written from
``script.py.mako`` by

    python -c "from alembic import command; from adapters.sqlalchemy.migrate import config; \
        command.revision(config(None), 'what changed', rev_id='0003')"

then filled in by hand (batch operations for SQLite), like ``versions/v0002_runs_of_a_kind.py``.
"""
