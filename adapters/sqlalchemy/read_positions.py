"""How far each source file was ingested (``read_positions``)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select

from adapters.sqlalchemy.database import transaction
from adapters.sqlalchemy.tables import read_positions
from domain.model.ingestion import ReadPosition, ResumePoint
from domain.ports.reading import ReadPositions


class SqlAlchemyReadPositions(ReadPositions):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, source: str) -> ReadPosition | None:
        with transaction(self._engine, write=False) as connection:
            row = connection.execute(select(read_positions).where(read_positions.c.source == source)).one_or_none()
        if row is None:
            return None
        return ReadPosition(
            row.source, ResumePoint(int(row.resume_offset), int(row.resume_line)), row.checksum, int(row.version)
        )

    def put(self, position: ReadPosition) -> None:
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(read_positions).where(read_positions.c.source == position.source))
            connection.execute(
                insert(read_positions).values(
                    source=position.source,
                    resume_offset=position.resume.offset,
                    resume_line=position.resume.line,
                    checksum=position.checksum,
                    version=position.version,
                )
            )
