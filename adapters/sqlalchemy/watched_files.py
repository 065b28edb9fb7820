"""The fingerprints of watched folders' files at their last ingestion (``watched_files``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select

from adapters.sqlalchemy.database import transaction
from adapters.sqlalchemy.tables import watched_files
from domain.model.upload_runs import FileFingerprint
from domain.ports.reading import FingerprintStore


class SqlAlchemyFingerprintStore(FingerprintStore):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, location: str) -> tuple[FileFingerprint, ...]:
        query = (
            select(watched_files.c.name, watched_files.c.size, watched_files.c.mtime_ns, watched_files.c.sha256)
            .where(watched_files.c.folder == location)
            .order_by(watched_files.c.name)
        )
        with transaction(self._engine, write=False) as connection:
            rows = connection.execute(query).all()
        return tuple(FileFingerprint(row.name, int(row.size), int(row.mtime_ns), row.sha256) for row in rows)

    def replace(self, location: str, fingerprints: Iterable[FileFingerprint]) -> None:
        rows = [
            {"folder": location, "name": f.name, "size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256}
            for f in fingerprints
        ]
        # One transaction: a reader sees the old record or the new one whole.
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(watched_files).where(watched_files.c.folder == location))
            if rows:
                connection.execute(insert(watched_files), rows)
