"""Business hours and timezones in SQLite or PostgreSQL, each row with the
versions that added and retired it.

Every method is one transaction and works on whole columns. A replacement is
for one running ingestion (``ingestion_log.py``): it checks that the ingestion
is still running, loads the given rows into a temporary table, and tags what
it adds with its version; the rows it replaces are retired, not deleted. Every
read names a snapshot and sees the rows visible at it.
"""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import Connection, text

from adapters.sqlalchemy.database import driver_connection, transaction
from adapters.sqlalchemy.ingestion_log import require_running
from adapters.sqlalchemy.repository_support import SqlRepository, copy_in_postgres, range_filter, store_keys
from domain.model.inputs import BusinessHours, Int64Array, StoreTimezones
from domain.ports.data import BusinessHoursRepository, StoreRange, TimezoneRepository

# The rows of table alias ``{0}`` that snapshot ``:snapshot`` sees.
_SEEN_AT_SNAPSHOT = (
    "{0}.added_version <= :snapshot AND ({0}.retired_version IS NULL OR {0}.retired_version > :snapshot)"
)


class SqlAlchemyBusinessHoursRepository(SqlRepository, BusinessHoursRepository):
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
            keys = store_keys(connection, hours.store_ids, self._postgres)
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
            return read_hours(connection, stores, int(snapshot))


class SqlAlchemyTimezoneRepository(SqlRepository, TimezoneRepository):
    def replace(self, timezones: StoreTimezones, *, version: int) -> int:
        """Each listed store's zone from ``version`` on; a different current one is retired.

        Only a new or different zone counts as a change.
        """
        if not len(timezones):
            return 0
        store_ids = sorted(timezones.by_store)
        with transaction(self._engine, write=True) as connection:
            require_running(connection, version, self._postgres)
            keys = store_keys(connection, store_ids, self._postgres).tolist()
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
            return read_timezones(connection, stores, int(snapshot))


def read_timezones(connection: Connection, stores: StoreRange | None, snapshot: int) -> StoreTimezones:
    where, params = range_filter(stores, _SEEN_AT_SNAPSHOT.format("t"))
    query = text(
        "SELECT s.store_id, t.timezone"
        f" FROM store_timezones t JOIN stores s ON s.id = t.store_pk{where}"
    )
    rows = connection.execute(query, {**params, "snapshot": snapshot}).all()
    return StoreTimezones({str(row[0]): str(row[1]) for row in rows})


def read_hours(connection: Connection, stores: StoreRange | None, snapshot: int) -> BusinessHours:
    where, params = range_filter(stores, _SEEN_AT_SNAPSHOT.format("h"))
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


# -- the given rows, in temporary tables ---------------------------------------


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
            copy_in_postgres(cursor, "incoming_hours", columns)
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
