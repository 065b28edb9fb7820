"""The revisions, one module each (alembic reads them as files)."""
