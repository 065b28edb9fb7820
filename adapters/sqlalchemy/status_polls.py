"""Status polls in SQLite or PostgreSQL.

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

Every write is for one running ingestion (``ingestion_log.py``): it checks
that the ingestion is still running and tags the polls it adds with its
version. Every read names a snapshot and sees the polls visible at it. The
version filter rides on the per-store index probes of the poll reads: a
store's latest poll before an instant is the first row of a backward scan of
its key range that the snapshot sees (``ORDER BY ... DESC LIMIT 1``), not a
``max()`` over them.
"""

from __future__ import annotations

import json
from itertools import repeat

import numpy as np
from sqlalchemy import Connection, text

from adapters.sqlalchemy.database import driver_connection, transaction
from adapters.sqlalchemy.ingestion_log import require_running
from adapters.sqlalchemy.repository_support import (
    SqlRepository,
    copy_in_postgres,
    known_store_keys,
    range_filter,
    store_keys,
)
from domain.model.inputs import BoolArray, Int64Array, StatusPolls
from domain.ports.data import RepositoryError, StatusRepository, StoreRange

# The big read packs each store's polls into one value: per poll the instant
# as 8 big-endian bytes and the status as 1 byte (SQLite sends it hex-encoded).
_PACKED_POLL = np.dtype([("timestamp_us", ">i8"), ("active", "u1")])

# Instants are int64 microseconds: "no later bound" is the greatest one.
_NO_LATER_BOUND = 2**63 - 1


class SqlAlchemyStatusRepository(SqlRepository, StatusRepository):
    def add(self, polls: StatusPolls, *, version: int) -> int:
        if not len(polls):
            return 0
        with transaction(self._engine, write=True) as connection:
            require_running(connection, version, self._postgres)
            keys = store_keys(connection, polls.store_ids, self._postgres)
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
            return read_polls(connection, int(start_us), stores, int(snapshot), self._postgres)

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        if not len(polls):
            return 0
        with transaction(self._engine, write=False) as connection:
            keys = known_store_keys(connection, polls.store_ids, self._postgres)
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


def read_polls(
    connection: Connection, start_us: int, stores: StoreRange | None, snapshot: int, postgres: bool
) -> StatusPolls:
    if postgres:
        return _polls_since_postgres(connection, start_us, stores, snapshot)
    return _polls_since_sqlite(connection, start_us, stores, snapshot)


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
        copy_in_postgres(cursor, "incoming_polls", [store_pk, timestamp_us, active])
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
    where, params = range_filter(stores)
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
    where, params = range_filter(stores)
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
