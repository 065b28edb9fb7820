"""Numbered ingestions in SQLite or PostgreSQL (``ingestions``), and their turns.

An ingestion stores its rows under its version in as many transactions as it
takes; ``complete`` flips its state in one transaction, and from then on a
report planned at that snapshot sees all of it (see ``domain.ports.data.IngestionLog``).

Ingestions take turns. ``begin`` takes a lock that is held until ``complete``
or ``abandon``, and that is released by the system when its process dies:

- PostgreSQL: a session-level advisory lock, on a connection the ingestion
  keeps for itself (the server releases it when the connection closes), keyed
  by the schema, so schemas of one database do not wait for each other;
- SQLite: ``flock`` on a file beside the database, ``<database>.ingest-lock``
  (the kernel releases it when the process exits); an in-memory database
  takes a lock of the process.

So whoever holds the turn knows that every version newer than the latest
complete one belongs to an ingestion that will never complete: in the same
transaction that hands out the next version, ``begin`` deletes their rows,
puts back the rows they retired, and marks them abandoned. That transaction
first updates their ``ingestions`` rows, which each write of an ingestion
locks (``FOR SHARE``) and checks: an ingestion whose connection was lost
while its process went on cannot store anything after it was discarded, nor
complete.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

from adapters.sqlalchemy.database import is_postgres, repository_error, transaction
from domain.ports.data import INITIAL_VERSION, IngestionLog, RepositoryError

RUNNING = "running"
COMPLETE = "complete"
ABANDONED = "abandoned"

DEFAULT_WAIT_SECONDS = 600.0
_POLL_SECONDS = 0.1
# The first key of the advisory lock: ours among the locks others may take.
_ADVISORY_CLASS = 0x53544D4E  # "STMN"


class _Turn(Protocol):
    def release(self) -> None: ...


class SqlAlchemyIngestionLog(IngestionLog):
    """``begin`` waits up to ``wait_seconds`` for its turn, then raises ``RepositoryError``."""

    def __init__(self, engine: Engine, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)
        self._wait_seconds = wait_seconds
        self._turns: dict[int, _Turn] = {}
        self._turns_guard = threading.Lock()

    def begin(self) -> int:
        turn = self._take_turn()
        try:
            with transaction(self._engine, write=True) as connection:
                latest = _latest_complete(connection)
                newest = connection.execute(text("SELECT max(version) FROM ingestions")).scalar()
                if newest is not None and int(newest) > latest:
                    _discard_after(connection, latest)
                version = max(latest, int(newest or INITIAL_VERSION)) + 1
                connection.execute(
                    text("INSERT INTO ingestions (version, state, started_at) VALUES (:version, :state, :at)"),
                    {"version": version, "state": RUNNING, "at": _utc_now()},
                )
        except BaseException:
            turn.release()
            raise
        with self._turns_guard:
            self._turns[version] = turn
        return version

    def complete(self, version: int) -> None:
        with transaction(self._engine, write=True) as connection:
            completed = connection.execute(
                text(
                    "UPDATE ingestions SET state = :complete, finished_at = :at"
                    " WHERE version = :version AND state = :running"
                ),
                {"complete": COMPLETE, "running": RUNNING, "at": _utc_now(), "version": version},
            ).rowcount
            if completed != 1:
                raise RepositoryError(
                    f"ingestion {version} is not running (another ingestion took its turn and discarded it):"
                    " nothing of it is visible"
                )
        self._release(version)

    def abandon(self, version: int) -> None:
        self._release(version)

    def latest_complete(self) -> int:
        with transaction(self._engine, write=False) as connection:
            return _latest_complete(connection)

    def _release(self, version: int) -> None:
        with self._turns_guard:
            turn = self._turns.pop(version, None)
        if turn is not None:
            turn.release()

    def _take_turn(self) -> _Turn:
        if self._postgres:
            return _PostgresTurn.take(self._engine, self._wait_seconds)
        database = self._engine.url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return _ProcessTurn.take(str(self._engine.url), self._wait_seconds)
        return _FileTurn.take(Path(database + ".ingest-lock"), self._wait_seconds)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _latest_complete(connection: Connection) -> int:
    latest = connection.execute(
        text("SELECT max(version) FROM ingestions WHERE state = :complete"), {"complete": COMPLETE}
    ).scalar()
    return INITIAL_VERSION if latest is None else int(latest)


def _discard_after(connection: Connection, latest: int) -> None:
    """Undo every version after ``latest``: ingestions that never completed."""
    parameters = {"latest": latest}
    # First: this waits for any write of theirs still in flight (it locks their row).
    connection.execute(
        text(
            "UPDATE ingestions SET state = :abandoned, finished_at = :at"
            " WHERE version > :latest AND state <> :abandoned"
        ),
        {**parameters, "abandoned": ABANDONED, "at": _utc_now()},
    )
    connection.execute(text("DELETE FROM store_status WHERE version > :latest"), parameters)
    for table in ("business_hours", "store_timezones"):
        connection.execute(text(f"DELETE FROM {table} WHERE added_version > :latest"), parameters)
        connection.execute(
            text(f"UPDATE {table} SET retired_version = NULL WHERE retired_version > :latest"), parameters
        )


def require_running(connection: Connection, version: int, postgres: bool) -> None:
    """Refuse to write for an ingestion that is not running; lock its row until the write commits.

    ``begin`` of a later ingestion changes that row before it discards
    anything, so it waits for this write and then deletes what it stored.
    """
    lock = " FOR SHARE" if postgres else ""
    state = connection.execute(
        text(f"SELECT state FROM ingestions WHERE version = :version{lock}"), {"version": version}
    ).scalar()
    if state != RUNNING:
        why = "it never began" if state is None else f"it is {state}"
        raise RepositoryError(f"ingestion {version} cannot store anything: {why}")


# -- turns ---------------------------------------------------------------------


def _deadline_passed(deadline: float, wait_seconds: float) -> None:
    if time.monotonic() >= deadline:
        raise RepositoryError(f"another ingestion has been running for over {wait_seconds:g} s: try again later")
    time.sleep(_POLL_SECONDS)


class _PostgresTurn:
    """A session advisory lock, held by a connection of its own until released."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @classmethod
    def take(cls, engine: Engine, wait_seconds: float) -> _PostgresTurn:
        deadline = time.monotonic() + wait_seconds
        try:
            connection = engine.connect()
        except Exception as error:
            raise repository_error(error, engine.url) from error
        try:
            while True:
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"), {"key": _ADVISORY_CLASS}
                ).scalar()
                connection.commit()
                if taken:
                    return cls(connection)
                _deadline_passed(deadline, wait_seconds)
        except BaseException as error:
            connection.invalidate()
            connection.close()
            if isinstance(error, Exception) and not isinstance(error, RepositoryError):
                raise repository_error(error, engine.url) from error
            raise

    def release(self) -> None:
        try:
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key, hashtext(current_schema()))"), {"key": _ADVISORY_CLASS}
            )
            self._connection.commit()
        except Exception:
            # Closing the connection for good releases the lock on the server.
            self._connection.invalidate()
        finally:
            self._connection.close()


class _FileTurn:
    """An exclusive ``flock`` on a file, held by an open descriptor until released."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor

    @classmethod
    def take(cls, path: Path, wait_seconds: float) -> _FileTurn:
        deadline = time.monotonic() + wait_seconds
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise RepositoryError(f"cannot open the ingestion lock {path}: {error.strerror}") from error
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return cls(descriptor)
                except BlockingIOError:
                    _deadline_passed(deadline, wait_seconds)
        except BaseException:
            os.close(descriptor)
            raise

    def release(self) -> None:
        # Closing the descriptor releases the lock.
        os.close(self._descriptor)


class _ProcessTurn:
    """A lock of this process, for a database no other process can open."""

    _locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    @classmethod
    def take(cls, key: str, wait_seconds: float) -> _ProcessTurn:
        with cls._guard:
            lock = cls._locks.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=wait_seconds):
            raise RepositoryError(f"another ingestion has been running for over {wait_seconds:g} s: try again later")
        return cls(lock)

    def release(self) -> None:
        self._lock.release()

