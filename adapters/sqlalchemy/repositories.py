"""Status polls, business hours and timezones in SQLite or PostgreSQL.

Every method is one transaction and works on whole columns: no query is ever
run once per store. Bulk writes and the big read go through the driver's own
connection, inside the SQLAlchemy transaction:

- SQLite: ``executemany`` of rows sorted by the primary key (sorted rows land
  next to each other in the B-tree, several times faster than shuffled ones);
  the read packs each store's polls into one hex string in SQL and numpy
  decodes them, instead of one Python tuple per poll.
- PostgreSQL: binary ``COPY`` of a numpy-built buffer into a temporary
  table, then one INSERT ... SELECT; the read packs each store's polls into
  one ``bytea`` that numpy decodes.

Store ids live once in ``stores``; the other tables refer to a store by its
integer key (see ``tables.py``).

Every write is for one running ingestion (``ingestion_log.py``): it checks
that the ingestion is still running and tags what it adds with its version;
hours and timezones it replaces are retired, not deleted. Every read names
a snapshot and sees the rows visible at it. The version filter rides on the
per-store index probes of the poll reads: a store's latest poll before an
instant is the first row of a backward scan of its key range that the
snapshot sees (``ORDER BY ... DESC LIMIT 1``), not a ``max()`` over them.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from adapters.sqlalchemy.database import driver_connection, is_postgres, transaction
from adapters.sqlalchemy.ingestion_log import require_running
from domain.model.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports.data import (
    BusinessHoursRepository,
    ReportInputs,
    ReportInputSource,
    RepositoryError,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)

# The big read packs each store's polls into one value: per poll the instant
# as 8 big-endian bytes and the status as 1 byte (SQLite sends it hex-encoded).
_PACKED_POLL = np.dtype([("timestamp_us", ">i8"), ("active", "u1")])

# PostgreSQL's binary COPY framing, and rows per buffer handed to the driver.
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_PGCOPY_TRAILER = struct.pack("!h", -1)
_PGCOPY_BATCH_ROWS = 262_144


class _SqlRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)


# Instants are int64 microseconds: "no later bound" is the greatest one.
_NO_LATER_BOUND = 2**63 - 1


class SqlAlchemyStatusRepository(_SqlRepository, StatusRepository):
    def add(self, polls: StatusPolls, *, version: int) -> int:
        if not len(polls):
            return 0
        with transaction(self._engine, write=True) as connection:
            require_running(connection, version, self._postgres)
            keys = _store_keys(connection, polls.store_ids, self._postgres)
            store_pk, timestamp_us, active = _first_per_key(
                keys[polls.store_index], polls.timestamp_us, polls.active
            )
            if self._postgres:
                return _copy_polls_postgres(connection, store_pk, timestamp_us, active, version)
            return _insert_polls_sqlite(connection, store_pk, timestamp_us, active, version)

    def latest_timestamp(self, *, snapshot: int, until_us: int | None = None) -> int | None:
        # One backward index probe per store (from the bound, the first poll
        # the snapshot sees) instead of a scan of every poll.
        query = text(
            "SELECT max((SELECT st.timestamp_us FROM store_status st"
            " WHERE st.store_pk = s.id AND st.timestamp_us <= :until AND st.version <= :snapshot"
            " ORDER BY st.timestamp_us DESC LIMIT 1)) FROM stores s"
        )
        until = _NO_LATER_BOUND if until_us is None else int(until_us)
        with transaction(self._engine, write=False) as connection:
            latest = connection.execute(query, {"until": until, "snapshot": int(snapshot)}).scalar()
        return None if latest is None else int(latest)

    def store_ids(self, *, snapshot: int) -> list[str]:
        query = text(
            "SELECT s.store_id FROM stores s WHERE EXISTS"
            " (SELECT 1 FROM store_status st WHERE st.store_pk = s.id AND st.version <= :snapshot)"
        )
        with transaction(self._engine, write=False) as connection:
            return sorted(connection.execute(query, {"snapshot": int(snapshot)}).scalars())

    def polls_since(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> StatusPolls:
        with transaction(self._engine, write=False) as connection:
            return _read_polls(connection, int(start_us), stores, int(snapshot), self._postgres)

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        if not len(polls):
            return 0
        with transaction(self._engine, write=False) as connection:
            keys = _known_store_keys(connection, polls.store_ids, self._postgres)
            store_pk = keys[polls.store_index]
            known = store_pk >= 0
            if self._postgres:
                query = (
                    "SELECT count(*) FROM unnest(%s::bigint[], %s::bigint[]) AS i(store_pk, timestamp_us)"
                    " JOIN store_status st USING (store_pk, timestamp_us) WHERE st.version = %s"
                )
                with driver_connection(connection).cursor() as cursor:
                    cursor.execute(
                        query, (store_pk[known].tolist(), polls.timestamp_us[known].tolist(), int(version))
                    )
                    row = cursor.fetchone()
                    return int(row[0]) if row else 0
            cursor = driver_connection(connection).cursor()
            try:
                # One probe of the primary key per poll, all in one statement.
                query = (
                    "SELECT count(*) FROM json_each(?) j JOIN store_status st"
                    " ON st.store_pk = json_extract(j.value, '$[0]') AND st.timestamp_us = json_extract(j.value, '$[1]')"
                    " WHERE st.version = ?"
                )
                pairs = json.dumps(np.column_stack((store_pk[known], polls.timestamp_us[known])).tolist())
                return int(cursor.execute(query, (pairs, int(version))).fetchone()[0])
            finally:
                cursor.close()

    def purge_before(self, cutoff_us: int) -> int:
        # Each store's latest poll before the cutoff is found by one backward
        # index probe, like the reads; every older poll of the store goes.
        statement = text(
            "DELETE FROM store_status WHERE timestamp_us < :cutoff AND timestamp_us < (SELECT p.timestamp_us"
            " FROM store_status p"
            " WHERE p.store_pk = store_status.store_pk AND p.timestamp_us < :cutoff"
            " ORDER BY p.timestamp_us DESC LIMIT 1)"
        )
        with transaction(self._engine, write=True) as connection:
            return int(connection.execute(statement, {"cutoff": int(cutoff_us)}).rowcount)


# The rows of table alias ``{0}`` that snapshot ``:snapshot`` sees.
_SEEN_AT_SNAPSHOT = (
    "{0}.added_version <= :snapshot AND ({0}.retired_version IS NULL OR {0}.retired_version > :snapshot)"
)


class SqlAlchemyBusinessHoursRepository(_SqlRepository, BusinessHoursRepository):
    def replace(self, hours: BusinessHours, *, version: int) -> int:
        """Every store of ``hours.store_ids`` gets exactly its given rows from ``version`` on.

        A listed store without rows loses its current ones (open all week).
        A current row no longer given is retired with ``version`` (or
        deleted, if ``version`` itself added it: no snapshot ever saw it).
        """
        if not hours.store_ids:
            return 0
        with transaction(self._engine, write=True) as connection:
            require_running(connection, version, self._postgres)
            keys = _store_keys(connection, hours.store_ids, self._postgres)
            columns = _unique_rows(keys[hours.store_index], hours.weekday, hours.start_us, hours.end_us)
            _load_incoming_hours(connection, columns, self._postgres)
            listed = (
                "store_pk = ANY(CAST(:keys AS integer[]))"
                if self._postgres
                else "store_pk IN (SELECT value FROM json_each(:keys))"
            )
            dropped = (
                f"{listed} AND retired_version IS NULL AND NOT EXISTS (SELECT 1 FROM incoming_hours i"
                " WHERE i.store_pk = business_hours.store_pk AND i.weekday = business_hours.weekday"
                " AND i.start_us = business_hours.start_us AND i.end_us = business_hours.end_us)"
            )
            parameters = {
                "keys": keys.tolist() if self._postgres else json.dumps(keys.tolist()),
                "version": version,
            }
            connection.execute(
                text(f"DELETE FROM business_hours WHERE {dropped} AND added_version = :version"), parameters
            )
            connection.execute(
                text(f"UPDATE business_hours SET retired_version = :version WHERE {dropped}"), parameters
            )
            added = connection.execute(
                text(
                    "INSERT INTO business_hours (store_pk, weekday, start_us, end_us, added_version)"
                    " SELECT i.store_pk, i.weekday, i.start_us, i.end_us, :version FROM incoming_hours i"
                    " WHERE NOT EXISTS (SELECT 1 FROM business_hours h"
                    " WHERE h.store_pk = i.store_pk AND h.weekday = i.weekday AND h.start_us = i.start_us"
                    " AND h.end_us = i.end_us AND h.retired_version IS NULL)"
                ),
                {"version": version},
            ).rowcount
            if not self._postgres:  # PostgreSQL drops it at commit
                connection.exec_driver_sql("DROP TABLE temp.incoming_hours")
            return int(added)

    def hours(self, stores: StoreRange | None = None, *, snapshot: int) -> BusinessHours:
        with transaction(self._engine, write=False) as connection:
            return _read_hours(connection, stores, int(snapshot))


class SqlAlchemyTimezoneRepository(_SqlRepository, TimezoneRepository):
    def replace(self, timezones: StoreTimezones, *, version: int) -> int:
        """Each listed store's zone from ``version`` on; a different current one is retired.

        Only a new or different zone counts as a change.
        """
        if not len(timezones):
            return 0
        store_ids = sorted(timezones.by_store)
        with transaction(self._engine, write=True) as connection:
            require_running(connection, version, self._postgres)
            keys = _store_keys(connection, store_ids, self._postgres).tolist()
            names = [timezones.by_store[store_id] for store_id in store_ids]
            _load_incoming_timezones(connection, keys, names, self._postgres)
            changed = (
                "retired_version IS NULL AND EXISTS (SELECT 1 FROM incoming_timezones i"
                " WHERE i.store_pk = store_timezones.store_pk AND i.timezone <> store_timezones.timezone)"
            )
            parameters = {"version": version}
            connection.execute(
                text(f"DELETE FROM store_timezones WHERE {changed} AND added_version = :version"), parameters
            )
            connection.execute(
                text(f"UPDATE store_timezones SET retired_version = :version WHERE {changed}"), parameters
            )
            added = connection.execute(
                text(
                    "INSERT INTO store_timezones (store_pk, added_version, timezone)"
                    " SELECT i.store_pk, :version, i.timezone FROM incoming_timezones i"
                    " WHERE NOT EXISTS (SELECT 1 FROM store_timezones t"
                    " WHERE t.store_pk = i.store_pk AND t.retired_version IS NULL)"
                ),
                parameters,
            ).rowcount
            if not self._postgres:  # PostgreSQL drops it at commit
                connection.exec_driver_sql("DROP TABLE temp.incoming_timezones")
            return int(added)

    def timezones(self, stores: StoreRange | None = None, *, snapshot: int) -> StoreTimezones:
        with transaction(self._engine, write=False) as connection:
            return _read_timezones(connection, stores, int(snapshot))


class SqlAlchemyReportInputSource(_SqlRepository, ReportInputSource):
    """Polls, hours and timezones of a report at one snapshot, read in one transaction."""

    def read(self, start_us: int, stores: StoreRange | None = None, *, snapshot: int) -> ReportInputs:
        with transaction(self._engine, write=False) as connection:
            return ReportInputs(
                _read_polls(connection, int(start_us), stores, int(snapshot), self._postgres),
                _read_hours(connection, stores, int(snapshot)),
                _read_timezones(connection, stores, int(snapshot)),
            )


def _read_polls(
    connection: Connection, start_us: int, stores: StoreRange | None, snapshot: int, postgres: bool
) -> StatusPolls:
    if postgres:
        return _polls_since_postgres(connection, start_us, stores, snapshot)
    return _polls_since_sqlite(connection, start_us, stores, snapshot)


def _read_timezones(connection: Connection, stores: StoreRange | None, snapshot: int) -> StoreTimezones:
    where, params = _range_filter(stores, _SEEN_AT_SNAPSHOT.format("t"))
    query = text(
        "SELECT s.store_id, t.timezone"
        f" FROM store_timezones t JOIN stores s ON s.id = t.store_pk{where}"
    )
    rows = connection.execute(query, {**params, "snapshot": snapshot}).all()
    return StoreTimezones({str(row[0]): str(row[1]) for row in rows})


def _read_hours(connection: Connection, stores: StoreRange | None, snapshot: int) -> BusinessHours:
    where, params = _range_filter(stores, _SEEN_AT_SNAPSHOT.format("h"))
    query = text(
        "SELECT s.store_id, h.weekday, h.start_us, h.end_us"
        f" FROM business_hours h JOIN stores s ON s.id = h.store_pk{where}"
        " ORDER BY s.store_id, h.weekday, h.start_us, h.end_us"
    )
    rows = connection.execute(query, {**params, "snapshot": snapshot}).all()
    if not rows:
        return BusinessHours.empty()
    # Rows come sorted by id (bytewise, as Python compares), so the
    # vocabulary is the runs of equal ids: no per-row Python objects.
    store_ids, weekday, start_us, end_us = zip(*rows)
    starts_run = np.fromiter(
        (i == 0 or store_ids[i] != store_ids[i - 1] for i in range(len(store_ids))), dtype=np.bool_
    )
    vocabulary = tuple(str(store_ids[i]) for i in np.flatnonzero(starts_run))
    return BusinessHours(
        vocabulary,
        np.cumsum(starts_run) - 1,
        np.array(weekday, dtype=np.int64),
        np.array(start_us, dtype=np.int64),
        np.array(end_us, dtype=np.int64),
    )


# -- stores -------------------------------------------------------------------


def _store_keys(connection: Connection, store_ids: Sequence[str], postgres: bool) -> Int64Array:
    """The key of every id in ``store_ids`` (same order), adding unknown stores."""
    if not store_ids:
        return np.zeros(0, dtype=np.int64)
    ordered = sorted(set(store_ids))
    # The ids travel as one parameter (an array, or a JSON list for SQLite);
    # new stores are added in id order, so keys follow id order too.
    if postgres:
        insert = text(
            "INSERT INTO stores (store_id) SELECT unnest(CAST(:ids AS text[]))"
            " ON CONFLICT (store_id) DO NOTHING"
        )
        select = text("SELECT store_id, id FROM stores WHERE store_id = ANY(CAST(:ids AS text[]))")
        param: object = ordered
    else:
        insert = text(
            "INSERT INTO stores (store_id) SELECT value FROM json_each(:ids) WHERE true"
            " ON CONFLICT (store_id) DO NOTHING"
        )
        select = text(
            "SELECT s.store_id, s.id FROM json_each(:ids) j JOIN stores s ON s.store_id = j.value"
        )
        param = json.dumps(ordered)
    connection.execute(insert, {"ids": param})
    key_of = {str(row[0]): int(row[1]) for row in connection.execute(select, {"ids": param})}
    if len(key_of) != len(ordered):
        raise RepositoryError("stores could not be registered")
    return np.fromiter((key_of[store_id] for store_id in store_ids), dtype=np.int64, count=len(store_ids))


def _known_store_keys(connection: Connection, store_ids: Sequence[str], postgres: bool) -> Int64Array:
    """The key of every id in ``store_ids`` (same order), -1 for a store not stored; adds none."""
    if postgres:
        select = text("SELECT store_id, id FROM stores WHERE store_id = ANY(CAST(:ids AS text[]))")
        param: object = list(store_ids)
    else:
        select = text("SELECT s.store_id, s.id FROM json_each(:ids) j JOIN stores s ON s.store_id = j.value")
        param = json.dumps(list(store_ids))
    key_of = {str(row[0]): int(row[1]) for row in connection.execute(select, {"ids": param})}
    return np.fromiter((key_of.get(store_id, -1) for store_id in store_ids), dtype=np.int64, count=len(store_ids))


def _range_filter(stores: StoreRange | None, *conditions: str) -> tuple[str, dict[str, Any]]:
    """A WHERE clause on ``stores s`` (and ``conditions``); both databases compare ids bytewise."""
    if stores is None:
        return (" WHERE " + " AND ".join(conditions) if conditions else ""), {}
    return (
        " WHERE " + " AND ".join(("s.store_id BETWEEN :first AND :last", *conditions)),
        {"first": stores.first, "last": stores.last},
    )


# -- status polls: writing ----------------------------------------------------


def _first_per_key(
    store_pk: Int64Array, timestamp_us: Int64Array, active: BoolArray
) -> tuple[Int64Array, Int64Array, BoolArray]:
    """Rows sorted by ``(store_pk, timestamp_us)``; a repeated key keeps its first row."""
    if not _in_key_order(store_pk, timestamp_us):
        # lexsort is stable: among equal keys the input order survives.
        order = np.lexsort((timestamp_us, store_pk))
        store_pk, timestamp_us, active = store_pk[order], timestamp_us[order], active[order]
        repeated = (store_pk[1:] == store_pk[:-1]) & (timestamp_us[1:] == timestamp_us[:-1])
        if repeated.any():
            keep = np.concatenate(([True], ~repeated))
            store_pk, timestamp_us, active = store_pk[keep], timestamp_us[keep], active[keep]
    return store_pk, timestamp_us, active


def _in_key_order(store: Int64Array, timestamp_us: Int64Array) -> bool:
    """Whether the rows are strictly increasing by ``(store, timestamp_us)``."""
    next_store = store[1:] > store[:-1]
    same_store_later = (store[1:] == store[:-1]) & (timestamp_us[1:] > timestamp_us[:-1])
    return bool(np.all(next_store | same_store_later))


def _insert_polls_sqlite(
    connection: Connection, store_pk: Int64Array, timestamp_us: Int64Array, active: BoolArray, version: int
) -> int:
    cursor = driver_connection(connection).cursor()
    try:
        # rowcount sums the rows each execution changed: DO NOTHING counts 0,
        # and a poll stored already keeps its first version.
        cursor.executemany(
            "INSERT INTO store_status (store_pk, timestamp_us, active, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            zip(store_pk.tolist(), timestamp_us.tolist(), active.tolist(), repeat(version)),
        )
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _copy_polls_postgres(
    connection: Connection, store_pk: Int64Array, timestamp_us: Int64Array, active: BoolArray, version: int
) -> int:
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE incoming_polls"
        " (store_pk bigint NOT NULL, timestamp_us bigint NOT NULL, active boolean NOT NULL)"
        " ON COMMIT DROP"
    )
    with driver_connection(connection).cursor() as cursor:
        _copy_in_postgres(cursor, "incoming_polls", [store_pk, timestamp_us, active])
        # Writers of polls take turns (readers are not blocked): with no
        # concurrent insert possible, a plain INSERT of the rows not stored
        # yet is safe, and twice as fast as ON CONFLICT DO NOTHING, which
        # pays for a speculative insertion per row (2.4 s against 4.5 s for
        # 1.9M polls).
        cursor.execute("LOCK TABLE store_status IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            "INSERT INTO store_status (store_pk, timestamp_us, active, version)"
            " SELECT i.store_pk, i.timestamp_us, i.active, %s FROM incoming_polls i"
            " WHERE NOT EXISTS (SELECT 1 FROM store_status st"
            " WHERE st.store_pk = i.store_pk AND st.timestamp_us = i.timestamp_us)",
            (version,),
        )
        return int(cursor.rowcount)


# -- status polls: reading ----------------------------------------------------

# Per store (the outer loop): one backward probe of the primary key finds its
# latest poll before the start that the snapshot sees, one range scan reads on
# from there; so a store's rows are every poll at or after the start plus that
# latest earlier one. Polls of later versions are skipped where they lie.
_LATEST_BEFORE = (
    "SELECT p.timestamp_us FROM store_status p"
    " WHERE p.store_pk = s.id AND p.timestamp_us < :start AND p.version <= :snapshot"
    " ORDER BY p.timestamp_us DESC LIMIT 1"
)


def _polls_since_sqlite(
    connection: Connection, start_us: int, stores: StoreRange | None, snapshot: int
) -> StatusPolls:
    where, params = _range_filter(stores)
    # SQLite's CROSS JOIN keeps ``stores`` as the outer loop. printf turns a
    # negative instant into its two's complement, which ">i8" reads back.
    query = text(
        "SELECT s.store_id, group_concat(printf('%016x%02x', st.timestamp_us, st.active), '')"
        " FROM stores s CROSS JOIN store_status st ON st.store_pk = s.id"
        f" AND st.timestamp_us >= coalesce(({_LATEST_BEFORE}), :start) AND st.version <= :snapshot"
        # Grouping by the id the range filter walks avoids a temporary B-tree.
        f"{where} GROUP BY s.store_id"
    )
    result = connection.execute(query, {"start": start_us, "snapshot": snapshot, **params})
    return _unpack_polls([(str(row[0]), bytes.fromhex(row[1])) for row in result])


def _polls_since_postgres(
    connection: Connection, start_us: int, stores: StoreRange | None, snapshot: int
) -> StatusPolls:
    where, params = _range_filter(stores)
    conditions = " AND ".join(c for c in ("agg.packed IS NOT NULL", where.removeprefix(" WHERE ")) if c)
    query = text(
        # One index range scan per store (LATERAL): for a part of the stores,
        # the planner's hash join would read every poll of every store.
        "SELECT s.store_id, agg.packed FROM stores s"
        f" CROSS JOIN LATERAL (SELECT coalesce(({_LATEST_BEFORE}), :start)) AS b(from_us)"
        " CROSS JOIN LATERAL (SELECT string_agg(int8send(st.timestamp_us) || boolsend(st.active), ''::bytea"
        " ORDER BY st.timestamp_us) FROM store_status st"
        " WHERE st.store_pk = s.id AND st.timestamp_us >= b.from_us AND st.version <= :snapshot) AS agg(packed)"
        f" WHERE {conditions}"
    )
    result = connection.execute(query, {"start": start_us, "snapshot": snapshot, **params})
    return _unpack_polls([(str(row[0]), bytes(row[1])) for row in result])


def _unpack_polls(stores: list[tuple[str, bytes]]) -> StatusPolls:
    """Polls from one packed value per store; one numpy decode for all of them."""
    if not stores:
        return StatusPolls.empty()
    stores.sort()
    counts = np.fromiter((len(packed) for _, packed in stores), dtype=np.int64, count=len(stores))
    if np.any(counts % _PACKED_POLL.itemsize):
        raise RepositoryError("stored polls could not be decoded")
    records = np.frombuffer(b"".join(packed for _, packed in stores), dtype=_PACKED_POLL)
    store_index = np.repeat(np.arange(len(stores), dtype=np.int64), counts // _PACKED_POLL.itemsize)
    return _sorted_polls(
        tuple(store_id for store_id, _ in stores),
        store_index,
        records["timestamp_us"].astype(np.int64),
        records["active"] != 0,
    )


def _sorted_polls(
    store_ids: tuple[str, ...], store_index: Int64Array, timestamp_us: Int64Array, active: BoolArray
) -> StatusPolls:
    """Polls ordered by (store, instant); sorts only when the rows are not."""
    if not _in_key_order(store_index, timestamp_us):
        order = np.lexsort((timestamp_us, store_index))
        store_index, timestamp_us, active = store_index[order], timestamp_us[order], active[order]
    return StatusPolls(store_ids, store_index, timestamp_us, active)


# -- business hours -----------------------------------------------------------


def _unique_rows(*columns: Int64Array) -> list[Int64Array]:
    if not len(columns[0]):
        return [np.zeros(0, dtype=np.int64) for _ in columns]
    stacked = np.unique(np.column_stack(columns), axis=0)
    return [np.ascontiguousarray(stacked[:, i]) for i in range(stacked.shape[1])]


def _load_incoming_hours(connection: Connection, columns: list[Int64Array], postgres: bool) -> None:
    """The given rows, in a temporary table ``incoming_hours`` keyed like the real one."""
    if postgres:
        connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE incoming_hours (store_pk bigint, weekday bigint, start_us bigint,"
            " end_us bigint, PRIMARY KEY (store_pk, weekday, start_us, end_us)) ON COMMIT DROP"
        )
        with driver_connection(connection).cursor() as cursor:
            _copy_in_postgres(cursor, "incoming_hours", columns)
        connection.exec_driver_sql("ANALYZE incoming_hours")
        return
    # A rolled-back transaction takes its temporary table with it; a committed
    # one drops it (``replace``); this only guards against a leftover.
    connection.exec_driver_sql("DROP TABLE IF EXISTS temp.incoming_hours")
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE incoming_hours (store_pk INTEGER, weekday INTEGER, start_us INTEGER,"
        " end_us INTEGER, PRIMARY KEY (store_pk, weekday, start_us, end_us)) WITHOUT ROWID"
    )
    cursor = driver_connection(connection).cursor()
    try:
        cursor.executemany(
            "INSERT INTO incoming_hours VALUES (?, ?, ?, ?)", zip(*(column.tolist() for column in columns))
        )
    finally:
        cursor.close()


def _load_incoming_timezones(connection: Connection, keys: list[int], names: list[str], postgres: bool) -> None:
    """The given zones, in a temporary table ``incoming_timezones`` keyed by store."""
    if postgres:
        connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE incoming_timezones (store_pk integer PRIMARY KEY, timezone text NOT NULL)"
            " ON COMMIT DROP"
        )
        with driver_connection(connection).cursor() as cursor:
            cursor.execute(
                "INSERT INTO incoming_timezones SELECT * FROM unnest(%s::integer[], %s::text[])", (keys, names)
            )
        return
    connection.exec_driver_sql("DROP TABLE IF EXISTS temp.incoming_timezones")
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE incoming_timezones (store_pk INTEGER PRIMARY KEY, timezone TEXT NOT NULL)"
    )
    cursor = driver_connection(connection).cursor()
    try:
        cursor.executemany("INSERT INTO incoming_timezones VALUES (?, ?)", zip(keys, names))
    finally:
        cursor.close()


# -- PostgreSQL binary COPY -----------------------------------------------------


def _copy_in_postgres(cursor: Any, table: str, columns: Sequence[Int64Array | BoolArray]) -> None:
    """COPY equal-length int64/bool columns into ``table`` (bigint/boolean columns).

    Each row is a fixed-size record (field count, then length and big-endian
    value per field), so numpy builds the whole stream without a Python
    object per row.
    """
    fields: list[tuple[str, str]] = [("count", ">i2")]
    sizes: list[int] = []
    for i, column in enumerate(columns):
        boolean = column.dtype == np.bool_
        fields += [(f"size{i}", ">i4"), (f"value{i}", "u1" if boolean else ">i8")]
        sizes.append(1 if boolean else 8)
    record = np.dtype(fields)
    total = len(columns[0])
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PGCOPY_HEADER)
        for start in range(0, total, _PGCOPY_BATCH_ROWS):
            stop = min(total, start + _PGCOPY_BATCH_ROWS)
            batch = np.empty(stop - start, dtype=record)
            batch["count"] = len(columns)
            for i, (column, size) in enumerate(zip(columns, sizes)):
                batch[f"size{i}"] = size
                batch[f"value{i}"] = column[start:stop]
            copy.write(batch.tobytes())
        copy.write(_PGCOPY_TRAILER)
