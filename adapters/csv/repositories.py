"""Read-only repositories over a data folder, for reports without a database.

The folder is read once, on first use, and shared by the three repositories;
queries are answered by the in-memory repositories.

The folder is one fixed state of the data, never ingested into: its rows all
have ``INITIAL_VERSION``, ``CsvIngestionLog`` gives that as the only snapshot,
and a read sees that state whatever snapshot it names (so naming none is fine).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from adapters.csv.reader import PandasCsvReader
from adapters.memory import (
    InMemoryBusinessHoursRepository,
    InMemoryStatusRepository,
    InMemoryTimezoneRepository,
)
from domain.errors import UptimeError
from domain.ingestion import StatusBatch
from domain.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports import (
    INITIAL_VERSION,
    BusinessHoursRepository,
    IngestionLog,
    InputReader,
    StatusRepository,
    StoreRange,
    TimezoneRepository,
)
from domain.uptime import earliest_poll_needed

READ_ONLY_MESSAGE = "the CSV backend is read-only; ingest into a database"


class CsvDataFolder:
    """A data folder, read and validated once, on first use.

    The status file is read a batch at a time and only what a report at its
    latest poll can use is kept: the polls from ``earliest_poll_needed`` of
    the latest one seen so far, and each store's latest poll before that.
    Memory follows the week, not the length of the file's history.
    """

    def __init__(self, folder: Path, reader: InputReader | None = None, until_us: int | None = None) -> None:
        self.folder = folder
        self._reader = reader if reader is not None else PandasCsvReader()
        # A report as of an instant: later polls are left out before anything is kept.
        self._until_us = until_us
        self._lock = threading.Lock()
        self._status: InMemoryStatusRepository | None = None
        self._hours: InMemoryBusinessHoursRepository | None = None
        self._timezones: InMemoryTimezoneRepository | None = None

    def status(self) -> InMemoryStatusRepository:
        with self._lock:
            if self._status is None:
                batches = self._reader.status_batches(self.folder)
                self._status = InMemoryStatusRepository(_recent_polls(batches, self._until_us))
            return self._status

    def hours(self) -> InMemoryBusinessHoursRepository:
        with self._lock:
            if self._hours is None:
                read = self._reader.hours(self.folder)
                self._hours = InMemoryBusinessHoursRepository(read[0] if read is not None else BusinessHours.empty())
            return self._hours

    def timezones(self) -> InMemoryTimezoneRepository:
        with self._lock:
            if self._timezones is None:
                read = self._reader.timezones(self.folder)
                self._timezones = InMemoryTimezoneRepository(read[0] if read is not None else StoreTimezones())
            return self._timezones


# Rows gathered before the ones too old to matter are dropped again.
_PRUNE_ROWS = 4_000_000


def _recent_polls(batches: Iterator[StatusBatch], until_us: int | None = None) -> StatusPolls:
    """The polls a report at the latest one (at or before ``until_us``) can use, in file
    order (so the first of a repeat wins)."""
    codes: dict[str, int] = {}
    stores: list[NDArray[np.int32]] = []
    instants: list[Int64Array] = []
    active: list[BoolArray] = []
    gathered = 0
    latest: int | None = None
    for batch in batches:
        polls = batch.valid
        if until_us is not None:
            polls = polls.until(until_us)
        if not len(polls):
            continue
        code_of = np.fromiter((codes.setdefault(s, len(codes)) for s in polls.store_ids), dtype=np.int32)
        stores.append(code_of[polls.store_index])
        instants.append(polls.timestamp_us)
        active.append(polls.active)
        gathered += len(polls)
        newest = int(polls.timestamp_us.max())
        latest = newest if latest is None else max(latest, newest)
        if gathered >= _PRUNE_ROWS:
            kept = _keep_recent(np.concatenate(stores), np.concatenate(instants), np.concatenate(active), latest)
            stores, instants, active = [kept[0]], [kept[1]], [kept[2]]
            gathered = len(kept[1])
    if latest is None:
        return StatusPolls.empty()
    store, instant, status = _keep_recent(np.concatenate(stores), np.concatenate(instants), np.concatenate(active), latest)
    del stores, instants, active
    ids = sorted(codes, key=codes.__getitem__)
    order = np.argsort(np.array(ids, dtype=object)).astype(np.int32)
    position = np.empty_like(order)
    position[order] = np.arange(len(ids), dtype=np.int32)
    return StatusPolls(tuple(ids[i] for i in order.tolist()), position[store], instant, status)


def _keep_recent(
    store: NDArray[np.int32], instant: Int64Array, status: BoolArray, latest: int
) -> tuple[NDArray[np.int32], Int64Array, BoolArray]:
    """Rows from ``earliest_poll_needed(latest)`` on, and each store's latest earlier ones."""
    early = instant < earliest_poll_needed(latest)
    if not early.any():
        return store, instant, status
    newest_early = np.full(int(store.max()) + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest_early, store[early], instant[early])
    keep = ~early | (instant == newest_early[store])
    return store[keep], instant[keep], status[keep]


class CsvIngestionLog(IngestionLog):
    """The one snapshot of a data folder; nothing is ever ingested into it."""

    def begin(self) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def complete(self, version: int) -> None:
        raise UptimeError(READ_ONLY_MESSAGE)

    def abandon(self, version: int) -> None:
        """Nothing began: nothing to end."""

    def latest_complete(self) -> int:
        return INITIAL_VERSION


class CsvStatusRepository(StatusRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def add(self, polls: StatusPolls, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def purge_before(self, cutoff_us: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def stored_by(self, polls: StatusPolls, *, version: int) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def latest_timestamp(self, *, snapshot: int = INITIAL_VERSION, until_us: int | None = None) -> int | None:
        return self._data.status().latest_timestamp(snapshot=INITIAL_VERSION, until_us=until_us)

    def store_ids(self, *, snapshot: int = INITIAL_VERSION) -> list[str]:
        return self._data.status().store_ids(snapshot=INITIAL_VERSION)

    def polls_since(
        self, start_us: int, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION
    ) -> StatusPolls:
        return self._data.status().polls_since(start_us, stores, snapshot=INITIAL_VERSION)


class CsvBusinessHoursRepository(BusinessHoursRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, hours: BusinessHours, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def hours(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> BusinessHours:
        return self._data.hours().hours(stores, snapshot=INITIAL_VERSION)


class CsvTimezoneRepository(TimezoneRepository):
    def __init__(self, data: CsvDataFolder) -> None:
        self._data = data

    def replace(self, timezones: StoreTimezones, *, version: int = INITIAL_VERSION) -> int:
        raise UptimeError(READ_ONLY_MESSAGE)

    def timezones(self, stores: StoreRange | None = None, *, snapshot: int = INITIAL_VERSION) -> StoreTimezones:
        return self._data.timezones().timezones(stores, snapshot=INITIAL_VERSION)
