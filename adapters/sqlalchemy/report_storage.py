"""Report files in the database (``report_files``), for API machines that share no folder with the workers.

A location is ``db:<report_id>``. ``load`` reads nothing but these tables: a
location of any other form is refused, whatever it names. A file larger than
``PIECE_BYTES`` is kept in rows of about that size, all written in one
transaction: ``report_files`` holds the first, ``report_file_pieces`` the
others in order.

A missing file or a location of another form is a ``ReportStorageError``; a
database that cannot be reached is a ``RepositoryError``, as everywhere else
(workers retry those, the API answers 503).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.sqlalchemy.database import is_postgres, transaction
from adapters.sqlalchemy.tables import report_file_pieces, report_files
from domain.ports.reports import ReportStorage, ReportStorageError

LOCATION_PREFIX = "db:"
# A file saved in pieces is stored in rows of about this many bytes.
PIECE_BYTES = 4 * 1024 * 1024


class SqlAlchemyReportStorage(ReportStorage):
    """Saves each report's bytes in one row keyed by the report id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)

    def save(self, report_id: str, content: bytes) -> str:
        return self.save_pieces(report_id, [content])

    def save_pieces(self, report_id: str, pieces: Iterable[bytes]) -> str:
        """Rows of about ``PIECE_BYTES`` each, written as the pieces come, all in one transaction."""
        if not report_id:
            raise ReportStorageError("a report file needs a report id")
        build = postgres_insert if self._postgres else sqlite_insert
        # One transaction: a reader sees the old content or the new, never a mix.
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(report_file_pieces).where(report_file_pieces.c.report_id == report_id))
            for index, content in enumerate(_blocks(pieces)):
                if index == 0:
                    statement = build(report_files).values(
                        report_id=report_id, content=content, saved_at=datetime.now(timezone.utc)
                    )
                    connection.execute(
                        statement.on_conflict_do_update(
                            index_elements=[report_files.c.report_id],
                            set_={"content": statement.excluded.content, "saved_at": statement.excluded.saved_at},
                        )
                    )
                else:
                    connection.execute(insert(report_file_pieces).values(report_id=report_id, piece=index, content=content))
        return LOCATION_PREFIX + report_id

    def load(self, location: str) -> bytes:
        report_id = _report_id(location)
        with transaction(self._engine, write=False) as connection:
            content = connection.execute(
                select(report_files.c.content).where(report_files.c.report_id == report_id)
            ).scalar_one_or_none()
            if content is None:
                raise ReportStorageError(f"no report file at {location} in the database")
            rest = connection.execute(
                select(report_file_pieces.c.content)
                .where(report_file_pieces.c.report_id == report_id)
                .order_by(report_file_pieces.c.piece)
            ).scalars()
            return b"".join([bytes(content), *(bytes(piece) for piece in rest)])

    def delete(self, location: str) -> None:
        report_id = _report_id(location)
        with transaction(self._engine, write=True) as connection:
            connection.execute(delete(report_file_pieces).where(report_file_pieces.c.report_id == report_id))
            connection.execute(delete(report_files).where(report_files.c.report_id == report_id))


def _blocks(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces joined into blocks of at least ``PIECE_BYTES`` (the last may be smaller), at least one."""
    block = bytearray()
    given = False
    for piece in pieces:
        block += piece
        if len(block) >= PIECE_BYTES:
            yield bytes(block)
            block.clear()
            given = True
    if block or not given:
        yield bytes(block)


def _report_id(location: str) -> str:
    """The report id of a ``db:<report_id>`` location; ``ReportStorageError`` for any other form."""
    report_id = location.removeprefix(LOCATION_PREFIX)
    if not location.startswith(LOCATION_PREFIX) or not report_id:
        raise ReportStorageError(f"{location!r} is not the location of a report file in the database")
    return report_id
