"""Engines for SQLite (the default) and PostgreSQL, and the schema (see ``schema.py``).

Nothing here connects at import time; ``create_engine_for`` does not connect
either: the first query does, and every failure reaches callers as
``RepositoryError`` with a one-line reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from domain.model.errors import clipped
from domain.ports.data import RepositoryError

if TYPE_CHECKING:
    from adapters.sqlalchemy.schema import SchemaUpgrade

SQLITE_CACHE_KIB = 128 * 1024
# User names and passwords at least this long are cut out of driver messages.
_SCRUBBED_CHARS = 3
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10

# Execution option that makes a SQLite transaction begin with the write lock.
_SQLITE_IMMEDIATE = "store_monitor_sqlite_immediate"

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://")


def create_engine_for(url: str) -> Engine:
    """An engine for a ``sqlite:///path`` or ``postgresql[+psycopg]://`` URL.

    Plain ``postgresql://``, ``postgres://`` and ``postgresql+psycopg2://``
    URLs use psycopg 3, the driver installed with the project. Raises ``RepositoryError`` for a URL that is
    not understood or a SQLite folder that cannot be made.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgres_engine(parsed)
    raise RepositoryError(f"unsupported database {backend!r} in {_safe(parsed)}: use sqlite:/// or postgresql://")


def create_schema(engine: Engine) -> None:
    """The schema at the head revision: made in a database without tables, an
    older one (a database of an earlier release) upgraded in place; safe to call on every start."""
    upgrade_schema(engine)


def upgrade_schema(engine: Engine) -> SchemaUpgrade:
    """``create_schema``, saying which revision the database was at (None: no tables) and is at."""
    # Alembic is imported by the commands that look at the schema, not by every import of this module.
    from adapters.sqlalchemy.schema import upgrade_in

    with transaction(engine, write=True) as connection:
        return upgrade_in(connection)


def open_schema(engine: Engine) -> None:
    """What the service does when it starts: the schema made in a database without
    tables; ``SchemaError`` for one at another revision than the head (only
    ``upgrade_schema``, i.e. ``store-monitor db upgrade``, migrates)."""
    from adapters.sqlalchemy.schema import at_head_in, create_if_empty_in

    with transaction(engine, write=False) as connection:
        if at_head_in(connection):
            return
    with transaction(engine, write=True) as connection:
        create_if_empty_in(connection)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction; commits when the block ends, rolls back on an error.

    A reading transaction sees one snapshot of the data on both databases
    (SQLite: a deferred ``BEGIN``; PostgreSQL: read-only REPEATABLE READ). A
    writing one takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so a
    concurrent writer waits for the busy timeout instead of failing halfway.
    Database and driver errors leave as ``RepositoryError``.
    """
    if is_postgres(engine):
        options: dict[str, Any] = {} if write else {
            "isolation_level": "REPEATABLE READ",
            "postgresql_readonly": True,
        }
    else:
        options = {_SQLITE_IMMEDIATE: write}
    driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                yield connection
    except SQLAlchemyError as error:
        raise RepositoryError(f"database error: {_describe(error, engine.url)}") from error
    except driver_error as error:
        # Bulk work runs on the driver's own cursor, whose errors are not
        # SQLAlchemy's.
        raise RepositoryError(f"database error: {_describe(error, engine.url)}") from error


def repository_error(error: Exception, url: URL | None = None) -> RepositoryError:
    """A database or driver error as ``RepositoryError``, with the driver's one-line reason
    (without the user name or password of ``url``)."""
    return RepositoryError(f"database error: {_describe(error, url)}")


def driver_connection(connection: Connection) -> Any:
    """The driver's connection under ``connection``, inside its transaction."""
    return connection.connection.driver_connection


def _describe(error: BaseException, url: URL | None = None) -> str:
    """The driver's own message, first line only, without the SQL text, nor the
    user name or password of ``url`` (a server's refusal may name the user)."""
    original = getattr(error, "orig", None)
    text = _first_line(str(original if original is not None else error))
    for secret in (url.password, url.username) if url is not None else ():
        # Short ones would blot out ordinary words; a server names a user whole, in quotes.
        if secret and len(str(secret)) >= _SCRUBBED_CHARS:
            text = text.replace(str(secret), "***")
    return text


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _parse(url: str) -> URL:
    text = url.strip()
    # SQLAlchemy knows neither the "postgres" alias nor which psycopg we ship:
    # every PostgreSQL URL goes to psycopg 3.
    for scheme in _POSTGRES_SCHEMES:
        if text.startswith(scheme):
            text = "postgresql+psycopg://" + text[len(scheme):]
            break
    try:
        parsed = make_url(text)
        # An unescaped "@" in a password leaves part of it in the host.
        if parsed.host is not None and "@" in parsed.host:
            raise ValueError("@ in the host")
        return parsed
    except (ArgumentError, ValueError):
        # Never echoed: a URL that does not parse may hold a password anywhere.
        raise RepositoryError(
            "DATABASE_URL is not a database URL: use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            " (a password holding @, : or / must be percent-encoded)"
        ) from None


def _safe(url: URL) -> str:
    """The URL without its user information, which may hold a password."""
    return url.set(username=None, password=None).render_as_string(hide_password=True)


def require_existing(url: str) -> None:
    """``RepositoryError`` naming the path when ``url`` is a SQLite file that does not exist.

    Only an ingestion creates the database: a report, ``serve`` or a worker
    on a mistyped path would otherwise make an empty one and answer from it.
    """
    parsed = _parse(url)
    path = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is not None and not path.exists():
        raise RepositoryError(
            f"no SQLite database at {clipped(str(path))}: check DATABASE_URL, or create it with"
            " 'store-monitor ingest DATA_DIR'"
        )


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_engine(url: URL) -> Engine:
    path = _sqlite_file(url)
    if path is not None:
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Readable by its owner only; SQLite gives its -wal and -shm files
            # the database file's permissions.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as error:
            raise RepositoryError(
                f"cannot create the SQLite database {clipped(str(path))!r}: {error.strerror}"
            ) from error
    engine = _create(url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers work while a loader writes; NORMAL is durable enough
    # in WAL mode; the busy timeout lets concurrent writers wait their turn
    # instead of failing at once.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 128 MiB of page cache (the default is 2 MiB): a batch of polls
        # touches the last page of nearly every store, and the next batch the
        # same pages again; with the tree's hot pages cached, a file grown by
        # a week costs about what that week does alone.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()
    # SQLAlchemy, not the sqlite3 module, decides where transactions begin:
    # the module's own handling does not begin one before a SELECT.
    dbapi_connection.isolation_level = None


def _begin_sqlite_transaction(connection: Connection) -> None:
    write = connection.get_execution_options().get(_SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        # An unreachable host fails in seconds instead of hanging a worker.
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    # Long-lived workers outlive server restarts: test a pooled connection first.
    return _create(url, connect_args=connect_args, pool_pre_ping=True)


def _create(url: URL, **options: Any) -> Engine:
    try:
        return create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError, TypeError) as error:
        raise RepositoryError(f"cannot use database URL {_safe(url)}: {_first_line(str(error))}") from error


def utc_for_db(instant: datetime, what: str) -> datetime:
    """An aware instant in UTC for a ``DateTime(timezone=True)`` column; naive ones are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise RepositoryError(f"{what} needs a timezone, got naive {instant.isoformat()}")
    return instant.astimezone(timezone.utc)


def utc_from_db(value: datetime) -> datetime:
    """An aware UTC instant from a column: SQLite hands back the naive UTC value it was given."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
