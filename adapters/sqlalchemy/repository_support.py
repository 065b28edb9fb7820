"""What the repositories of polls, hours and timezones share: the engine and
its dialect, the integer key of each store id, the filter on a range of stores,
and PostgreSQL's binary ``COPY`` of numpy columns.

Store ids live once in ``stores``; the other tables refer to a store by its
integer key (see ``tables.py``).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from adapters.sqlalchemy.database import is_postgres
from domain.model.inputs import BoolArray, Int64Array
from domain.ports.data import RepositoryError, StoreRange

# PostgreSQL's binary COPY framing, and rows per buffer handed to the driver.
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_PGCOPY_TRAILER = struct.pack("!h", -1)
_PGCOPY_BATCH_ROWS = 262_144


class SqlRepository:
    """A repository over ``engine``, which knows its dialect."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)


# -- stores -------------------------------------------------------------------


def store_keys(connection: Connection, store_ids: Sequence[str], postgres: bool) -> Int64Array:
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


def known_store_keys(connection: Connection, store_ids: Sequence[str], postgres: bool) -> Int64Array:
    """The key of every id in ``store_ids`` (same order), -1 for a store not stored; adds none."""
    if postgres:
        select = text("SELECT store_id, id FROM stores WHERE store_id = ANY(CAST(:ids AS text[]))")
        param: object = list(store_ids)
    else:
        select = text("SELECT s.store_id, s.id FROM json_each(:ids) j JOIN stores s ON s.store_id = j.value")
        param = json.dumps(list(store_ids))
    key_of = {str(row[0]): int(row[1]) for row in connection.execute(select, {"ids": param})}
    return np.fromiter((key_of.get(store_id, -1) for store_id in store_ids), dtype=np.int64, count=len(store_ids))


def range_filter(stores: StoreRange | None, *conditions: str) -> tuple[str, dict[str, Any]]:
    """A WHERE clause on ``stores s`` (and ``conditions``); both databases compare ids bytewise."""
    if stores is None:
        return (" WHERE " + " AND ".join(conditions) if conditions else ""), {}
    return (
        " WHERE " + " AND ".join(("s.store_id BETWEEN :first AND :last", *conditions)),
        {"first": stores.first, "last": stores.last},
    )


# -- PostgreSQL binary COPY -----------------------------------------------------


def copy_in_postgres(cursor: Any, table: str, columns: Sequence[Int64Array | BoolArray]) -> None:
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
